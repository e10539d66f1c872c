package integration

import (
	"context"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/audio"
)

const hangupDoc = `<Response><Hangup/></Response>`

// within fails unless got is within tol of want.
func within(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %v, want %v ± %v", what, got, want, tol)
	}
}

func num(t *testing.T, what, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%s = %q, not a number", what, s)
	}
	return v
}

// TestFlexMLRecordFinishKey: about 3 s of speech then '#' (caller s). CarrierX's default
// finishOnKey (any key) ends it; the action gets the recording and its FlexML runs;
// callbackUrl names the same recording with the same fields.
func TestFlexMLRecordFinishKey(t *testing.T) {
	t.Parallel()
	onPBXs(t, flexMLRecordFinishKey)
}

func flexMLRecordFinishKey(t *testing.T, p pbx) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := newCall(t, "flexml").on(p)
	c.doc = `<Response><Record action="` + c.path("after") + `" callbackUrl="` + c.path("recorded") + `"/></Response>`
	env.app.Document(c.path("after"), hangupDoc)
	env.app.Status(c.path("recorded"), 200)
	c.dial(ctx, "s")

	act := c.wait(ctx, "after")
	if act.Method != "POST" || act.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("action: %s %q, want a JSON POST", act.Method, act.Header.Get("Content-Type"))
	}
	wantJSONPost(t, "action", act)
	wantFields(t, "action", act, carrierxFields)
	carrierxCall(t, "action", act, "in-progress")
	for k, want := range map[string]string{"RecordingStatus": "completed", "Digits": "#", "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2.0", "TranscriptionStatus": ""} {
		if got := act.Get(k); got != want {
			t.Errorf("action %s = %q, want %q", k, got, want)
		}
	}
	if _, isNum := act.JSON["RecordingDuration"].(float64); !isNum {
		t.Errorf("RecordingDuration is %T in the JSON body, want a number", act.JSON["RecordingDuration"])
	}
	within(t, "RecordingDuration", num(t, "RecordingDuration", act.Get("RecordingDuration")), 3, 1)
	within(t, "RecordingDuration", carrierxStored(t, "action", act, "#"), 3, 1)
	cb := c.wait(ctx, "recorded")
	wantFields(t, "callbackUrl", cb, carrierxFields)
	if cb.Get("RecordingSid") != act.Get("RecordingSid") || cb.Get("RecordingUrl") == "" {
		t.Errorf("callbackUrl names %q, action %q", cb.Get("RecordingSid"), act.Get("RecordingSid"))
	}
	if cb.Get("RecordingDuration") != act.Get("RecordingDuration") {
		t.Errorf("callbackUrl says %s s, action %s s", cb.Get("RecordingDuration"), act.Get("RecordingDuration"))
	}
	data, hdr := fetch(t, act.Get("RecordingUrl"))
	if hdr.Get("Content-Type") != "audio/wav" {
		t.Errorf("Content-Type %q, want audio/wav", hdr.Get("Content-Type"))
	}
	rec := wavFile(t, data, 1)
	if rec.Rate != 8000 || rec.Channels != 1 {
		t.Errorf("stored file is %d Hz, %d channels; want 8000 Hz mono", rec.Rate, rec.Channels)
	}
	within(t, "stored duration (s)", rec.Duration().Seconds(), num(t, "RecordingDuration", act.Get("RecordingDuration")), 0.5)
	within(t, "stored duration (s)", rec.Duration().Seconds(), 3, 1)
	c.waitStatus(ctx)
}

// TestPlivoRecordSIP: a SIP call with 7 s of G.711 speech then an RFC 4733 '#' (on
// FreeSWITCH the simulated caller says the same audio). The stored MP3 (Plivo's default
// format) must carry the audio the caller sent.
func TestPlivoRecordSIP(t *testing.T) {
	t.Parallel()
	onPBXs(t, plivoRecordSIP)
}

func plivoRecordSIP(t *testing.T, p pbx) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := newCall(t, "plivo").on(p)
	c.doc = `<Response><Record action="` + c.url("after") + `" callbackUrl="` + c.url("recorded") + `" playBeep="false" maxLength="30"/></Response>`
	env.app.Document(c.path("after"), hangupDoc)
	env.app.Status(c.path("recorded"), 200)
	c.dial(ctx, "sip-key")

	act := c.wait(ctx, "after")
	if act.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("action Content-Type %q, want a form", act.Header.Get("Content-Type"))
	}
	if act.Get("Digits") != "#" {
		t.Errorf("Digits = %q, want #", act.Get("Digits"))
	}
	secs := num(t, "RecordingDuration", act.Get("RecordingDuration"))
	ms := num(t, "RecordingDurationMs", act.Get("RecordingDurationMs"))
	within(t, "RecordingDuration", secs, 7.5, 1)
	within(t, "RecordingDuration vs RecordingDurationMs", secs, math.Round(ms/1000), 0)
	start := num(t, "RecordingStartMs", act.Get("RecordingStartMs"))
	end := num(t, "RecordingEndMs", act.Get("RecordingEndMs"))
	within(t, "RecordingEndMs-RecordingStartMs", end-start, ms, 1000)
	cb := c.wait(ctx, "recorded")
	if cb.Get("RecordingID") != act.Get("RecordingID") {
		t.Errorf("callbackUrl RecordingID %q, action %q", cb.Get("RecordingID"), act.Get("RecordingID"))
	}
	data, hdr := fetch(t, act.Get("RecordUrl"))
	if hdr.Get("Content-Type") != "audio/mpeg" {
		t.Errorf("Content-Type %q, want audio/mpeg", hdr.Get("Content-Type"))
	}
	rec, err := audio.DecodeMP3(data)
	if err != nil {
		t.Fatalf("stored mp3: %v", err)
	}
	within(t, "stored duration vs RecordingDurationMs", float64(rec.Duration().Milliseconds()), ms, 100)
	src, err := pcapAudio("/usr/share/sip-tester/g711a.pcap")
	if err != nil {
		t.Fatal(err)
	}
	rec8, err := audio.Conform(rec, 8000, 1)
	if err != nil {
		t.Fatal(err)
	}
	coef, lag := audio.Correlate(rec8, src, 2*time.Second)
	t.Logf("correlation with the sent audio: %.3f at lag %s", coef, lag)
	if coef < 0.6 {
		t.Errorf("the recording does not carry the sent audio: correlation %.3f", coef)
	}
	c.waitStatus(ctx)
}
