package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/audio"
	"github.com/pbxbridge/pbxbridge/integration/apptest"
)

// Plivo XML <Record> end to end (record.md §2, §4; callbacks.md §3): one test per outcome and
// per attribute, asserting on what the application receives and on the stored file. Plivo
// asks for absolute URLs, so the documents use c.url. The callers are described in
// record_flexml_test.go; every scenario runs on both PBXs.

func plivoCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func plivoRedirect(u string) string { return `<Response><Redirect>` + u + `</Redirect></Response>` }

// plivoCallValues checks the §3.1 parameters of a Local call's request.
func plivoCallValues(t *testing.T, what string, r apptest.Request, c *call, status string) {
	t.Helper()
	wantValues(t, what, r, map[string]string{"From": c.number, "CallStatus": status, "Direction": "inbound"})
	if !uuid4.MatchString(r.Get("CallUUID")) {
		t.Errorf("%s: CallUUID %q is not a UUID", what, r.Get("CallUUID"))
	}
}

// plivoSame checks that a callback names the same recording as the action, with the same
// values.
func plivoSame(t *testing.T, what string, r, act apptest.Request) {
	t.Helper()
	want := map[string]string{"CallUUID": act.Get("CallUUID"), "RecordingID": act.Get("RecordingID"), "RecordUrl": act.Get("RecordUrl")}
	for _, k := range []string{"RecordingDuration", "RecordingDurationMs", "RecordingStartMs", "RecordingEndMs"} {
		if act.Get(k) != "-1" {
			want[k] = act.Get(k)
		}
	}
	wantValues(t, what, r, want)
}

// recordingLine is pbxbridge's log line for the request it made to the PBX for a call's
// recording: the engine logs the call's id with its channel, the ARI and ESL layers the
// recording with the channel.
func recordingLine(t *testing.T, callID string) string {
	t.Helper()
	started := logLines("msg=\"call started\"", "call_id="+callID)
	if len(started) == 0 {
		t.Fatalf("no 'call started' line for call %s in pbxbridge's log", callID)
	}
	ch := logValue(started[0], "channel")
	lines := logLines("msg=recording ", "channel_id="+ch+" ")
	if len(lines) == 0 {
		t.Fatalf("no recording line for channel %s in pbxbridge's log", ch)
	}
	return lines[0]
}

// TestPlivoRecordKey: the key outcome on Local/s with the defaults: finishOnKey '#' (Open),
// maxLength 60, timeout 15, playBeep true (what pbxbridge asked Asterisk for, from its log),
// redirect true (the action's XML replaces the document). The action is a form POST with
// exactly the §3.3 parameters, callbackUrl with the §3.4 ones and the same values; the WAV
// carries the caller's audio.
func TestPlivoRecordKey(t *testing.T) {
	t.Parallel()
	onPBXs(t, plivoRecordKey)
}

func plivoRecordKey(t *testing.T, p pbx) {
	ctx := plivoCtx(t)
	c := newCall(t, "plivo").on(p)
	c.doc = `<Response><Record action="` + c.url("after") + `" callbackUrl="` + c.url("cb") + `" fileFormat="wav"/><Redirect>` +
		c.url("never") + `</Redirect></Response>`
	c.serve("after", plivoRedirect(c.url("next")))
	c.serve("next", hangupDoc)
	c.ok("cb")
	c.dial(ctx, "s")

	act := c.wait(ctx, "after")
	wantForm(t, "action", act)
	wantFields(t, "action", act, plivoActionFields)
	plivoCallValues(t, "action", act, c, "in-progress")
	wantValues(t, "action", act, map[string]string{"Digits": "#"})
	ms := plivoRecording(t, "action", act, "wav")
	within(t, "RecordingDuration", num(t, "RecordingDuration", act.Get("RecordingDuration")), 3, 1)
	c.wait(ctx, "next")

	cb := c.wait(ctx, "cb")
	wantForm(t, "callbackUrl", cb)
	wantFields(t, "callbackUrl", cb, plivoCallbackFields)
	plivoCallValues(t, "callbackUrl", cb, c, "in-progress")
	plivoRecording(t, "callbackUrl", cb, "wav")
	plivoSame(t, "callbackUrl", cb, act)

	rec := wavFile(t, recording(t, act.Get("RecordUrl"), "audio/wav"), 1)
	within(t, "stored duration (ms) vs RecordingDurationMs", float64(rec.Duration().Milliseconds()), ms, 50)
	if coef := correlation(sound(t, "tt-weasels"), rec); coef < 0.6 {
		t.Errorf("the recording does not carry tt-weasels: correlation %.3f", coef)
	}
	// On FreeSWITCH the record application (it logs no mode), whole seconds.
	line := recordingLine(t, act.Get("CallUUID"))
	defaults := map[string]string{"max": "1m0s", "silence": "15s", "keys": "#", "beep": "true", "mode": "direct"}
	if p.kind() == freeswitch {
		defaults = map[string]string{"max": "60", "silence": "15", "keys": "#", "beep": "true", "mode": ""}
	}
	for k, want := range defaults {
		if got := logValue(line, k); got != want {
			t.Errorf("pbxbridge asked %s for %s=%s, want %s (Plivo's default)\n%s", p, k, got, want, line)
		}
	}
	c.waitStatus(ctx)
	c.notRequested("never")
}

// TestPlivoRecordSilence: timeout="2" on a SIP call (7 s of speech, no key): 2 s of silence
// after the speech end the recording while the call is up; Digits is empty; the file is the
// speech (tail trimmed to 200 ms, as Asterisk does) and carries the audio SIPp sent.
func TestPlivoRecordSilence(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		c.doc = `<Response><Record action="` + c.url("after") + `" timeout="2" maxLength="30" playBeep="false" fileFormat="wav"/></Response>`
		c.serve("after", hangupDoc)
		c.dial(ctx, "sip")

		act := c.wait(ctx, "after")
		wantFields(t, "action", act, plivoActionFields)
		wantValues(t, "action", act, map[string]string{"Digits": "", "CallStatus": "in-progress", "To": c.number})
		ms := plivoRecording(t, "action", act, "wav")
		within(t, "RecordingDuration", num(t, "RecordingDuration", act.Get("RecordingDuration")), 7, 1)
		rec := wavFile(t, recording(t, act.Get("RecordUrl"), "audio/wav"), 1)
		within(t, "stored duration (ms) vs RecordingDurationMs", float64(rec.Duration().Milliseconds()), ms, 50)
		if coef := correlation(sipAudio(t), rec); coef < 0.6 {
			t.Errorf("the recording does not carry the sent audio: correlation %.3f", coef)
		}
		// A silence stop keeps 200 ms of the trailing silence (record.md §3.1, Open).
		if _, trail := quietEdges(rec, 100); trail > 300*time.Millisecond {
			t.Errorf("%s of trailing silence kept after a silence stop; want about 200 ms", trail)
		}
		c.waitStatus(ctx)
	})
}

// TestPlivoRecordMaxLength: maxLength="3" on a SIP call with 7 s of speech: about 3 s recorded
// (Asterisk checks the limit each second, FreeSWITCH's record whole epoch seconds), no Digits,
// and the file is the start of what the caller sent. SIP rather than Local: a direct
// recording holds only the frames received, and RTP flows without gaps.
func TestPlivoRecordMaxLength(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		c.doc = `<Response><Record action="` + c.url("after") + `" maxLength="3" playBeep="false"/></Response>`
		c.serve("after", hangupDoc)
		c.dial(ctx, "sip")

		act := c.wait(ctx, "after")
		wantFields(t, "action", act, plivoActionFields)
		wantValues(t, "action", act, map[string]string{"Digits": "", "CallStatus": "in-progress", "To": c.number})
		ms := plivoRecording(t, "action", act, "mp3")
		within(t, "RecordingDuration", num(t, "RecordingDuration", act.Get("RecordingDuration")), 3, 1)
		// FreeSWITCH's record application compares whole epoch seconds: 3 to 4 s.
		within(t, "RecordingDuration", num(t, "RecordingDuration", act.Get("RecordingDuration")), 3.5, 1)
		if el := num(t, "RecordingEndMs", act.Get("RecordingEndMs")) - num(t, "RecordingStartMs", act.Get("RecordingStartMs")); el < 2900 || el > 4300 {
			t.Errorf("RecordingEndMs-RecordingStartMs = %.0f ms, want about 3 s", el)
		}
		rec := mp3File(t, recording(t, act.Get("RecordUrl"), "audio/mpeg"))
		within(t, "stored duration (ms) vs RecordingDurationMs", float64(rec.Duration().Milliseconds()), ms, 100)
		src := sipAudio(t)
		head := audio.PCM{Rate: 8000, Channels: 1, Samples: src.Samples[:min(len(src.Samples), int(ms)*8)]}
		if coef := correlation(head, mono8k(t, rec)); coef < 0.6 {
			t.Errorf("the recording is not the start of the sent audio: correlation %.3f", coef)
		}
		c.waitStatus(ctx)
	})
}

// TestPlivoRecordHangup: the caller hangs up during the recording (Local/hang). The audio is
// kept; the action is requested with the call's after-hangup parameters and its XML ignored;
// callbackUrl follows.
func TestPlivoRecordHangup(t *testing.T) {
	t.Parallel()
	onPBXs(t, plivoRecordHangup)
}

func plivoRecordHangup(t *testing.T, p pbx) {
	ctx := plivoCtx(t)
	c := newCall(t, "plivo").on(p)
	c.doc = `<Response><Record action="` + c.url("after") + `" callbackUrl="` + c.url("cb") + `" playBeep="false"/><Redirect>` +
		c.url("never") + `</Redirect></Response>`
	c.serve("after", plivoRedirect(c.url("never2")))
	c.ok("cb")
	c.dial(ctx, "hang")

	act := c.wait(ctx, "after")
	wantForm(t, "action", act)
	wantFields(t, "action", act, withHangup(plivoActionFields))
	plivoCallValues(t, "action", act, c, "completed")
	wantValues(t, "action", act, map[string]string{"Digits": "", "HangupCause": "NORMAL_CLEARING"})
	ms := plivoRecording(t, "action", act, "mp3")
	within(t, "RecordingDuration", num(t, "RecordingDuration", act.Get("RecordingDuration")), 3, 1)
	cb := c.wait(ctx, "cb")
	wantFields(t, "callbackUrl", cb, withHangup(plivoCallbackFields))
	plivoCallValues(t, "callbackUrl", cb, c, "completed")
	plivoSame(t, "callbackUrl", cb, act)
	rec := mp3File(t, recording(t, act.Get("RecordUrl"), "audio/mpeg"))
	within(t, "stored duration (ms) vs RecordingDurationMs", float64(rec.Duration().Milliseconds()), ms, 100)
	if coef := correlation(sound(t, "tt-weasels"), rec); coef < 0.6 {
		t.Errorf("the recording does not carry tt-weasels: correlation %.3f", coef)
	}
	c.waitStatus(ctx)
	c.notRequested("never", "never2")
}

// TestPlivoRecordFailed: storing fails (the app's container is "tiny", 1000 bytes): no action,
// no callbackUrl, and the next element runs (record.md §4, Open).
func TestPlivoRecordFailed(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		c.app = "plivo-tiny"
		c.doc = `<Response><Record action="` + c.url("after") + `" callbackUrl="` + c.url("cb") + `" playBeep="false"/><Redirect>` +
			c.url("next") + `</Redirect></Response>`
		c.serve("next", hangupDoc)
		c.ok("after", "cb")
		c.dial(ctx, "s")
		c.wait(ctx, "next")
		c.waitStatus(ctx)
		c.notRequested("after", "cb")
	})
}

// TestPlivoRecordSessionFailed: a recordSession whose file cannot be stored at the end (the
// "tiny" container): its action went out at start, and no callbackUrl follows (record.md §4:
// in background modes the failure is only logged).
func TestPlivoRecordSessionFailed(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		c.app = "plivo-tiny"
		c.doc = `<Response><Record recordSession="true" maxLength="30" action="` + c.url("after") + `" redirect="false" callbackUrl="` +
			c.url("cb") + `"/><Wait length="2"/><Hangup/></Response>`
		c.ok("after", "cb")
		c.dial(ctx, "s")
		act := c.wait(ctx, "after")
		wantValues(t, "action", act, map[string]string{"RecordingDuration": "-1", "RecordingDurationMs": "-1"})
		c.waitStatus(ctx)
		c.notRequested("cb")
		if n := c.count("after"); n != 1 {
			t.Errorf("the action was requested %d times, want once (at start)", n)
		}
	})
}

// TestPlivoRecordEmpty: Local/dtmf sends 1, 2, # and no audio. The default finishOnKey '#'
// lets 1 and 2 pass and ends on '#'; the empty recording is a normal end with zero durations
// (record.md §4, Open): the action and callbackUrl are sent and the (empty) file is stored.
func TestPlivoRecordEmpty(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		c.doc = `<Response><Record action="` + c.url("after") + `" callbackUrl="` + c.url("cb") + `" playBeep="false"/></Response>`
		c.serve("after", hangupDoc)
		c.ok("cb")
		c.dial(ctx, "dtmf")

		act := c.wait(ctx, "after")
		wantFields(t, "action", act, plivoActionFields)
		plivoCallValues(t, "action", act, c, "in-progress")
		wantValues(t, "action", act, map[string]string{"Digits": "#", "RecordingDuration": "0", "RecordingDurationMs": "0"})
		plivoRecording(t, "action", act, "mp3")
		cb := c.wait(ctx, "cb")
		wantFields(t, "callbackUrl", cb, plivoCallbackFields)
		plivoSame(t, "callbackUrl", cb, act)
		data := recording(t, act.Get("RecordUrl"), "audio/mpeg")
		if p, err := audio.DecodeMP3(data); err == nil && p.Duration() > 100*time.Millisecond {
			t.Errorf("the empty recording decodes to %s of audio", p.Duration())
		}
		c.waitStatus(ctx)
	})
}

// TestPlivoRecordGET: method="GET" and callbackMethod="GET" put the parameters in the query.
func TestPlivoRecordGET(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		c.doc = `<Response><Record action="` + c.url("after") + `" method="GET" callbackUrl="` + c.url("cb") +
			`" callbackMethod="GET" playBeep="false"/></Response>`
		c.serve("after", hangupDoc)
		c.ok("cb")
		c.dial(ctx, "s")

		act := c.wait(ctx, "after")
		wantGET(t, "action", act)
		wantFields(t, "action", act, plivoActionFields)
		wantValues(t, "action", act, map[string]string{"Digits": "#"})
		plivoRecording(t, "action", act, "mp3")
		cb := c.wait(ctx, "cb")
		wantGET(t, "callbackUrl", cb)
		wantFields(t, "callbackUrl", cb, plivoCallbackFields)
		plivoSame(t, "callbackUrl", cb, act)
		c.waitStatus(ctx)
	})
}

// TestPlivoRecordRedirectFalse: redirect="false": the action is still requested (its XML is
// ignored) and the next element runs.
func TestPlivoRecordRedirectFalse(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		c.doc = `<Response><Record action="` + c.url("after") + `" redirect="false" playBeep="false"/><Redirect>` +
			c.url("next") + `</Redirect></Response>`
		c.serve("after", plivoRedirect(c.url("never")))
		c.serve("next", hangupDoc)
		c.dial(ctx, "s")

		act := c.wait(ctx, "after")
		wantForm(t, "action", act)
		wantFields(t, "action", act, plivoActionFields)
		wantValues(t, "action", act, map[string]string{"Digits": "#"})
		plivoRecording(t, "action", act, "mp3")
		c.wait(ctx, "next")
		c.waitStatus(ctx)
		c.notRequested("never")
	})
}

// TestPlivoRecordPlayBeep: the default (playBeep true) plays the beep to the caller before
// recording; playBeep="false" plays nothing. The recording never holds it.
func TestPlivoRecordPlayBeep(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{true, false} {
		name := "false"
		if on {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			onPBXs(t, func(t *testing.T, p pbx) {
				ctx := plivoCtx(t)
				c := newCall(t, "plivo").on(p)
				attr := ""
				if !on {
					attr = ` playBeep="false"`
				}
				beep := beepOf(t, p)
				c.doc = `<Response><Record` + attr + ` fileFormat="wav" action="` + c.url("after") + `"/></Response>`
				c.serve("after", hangupDoc)
				ear := c.dialHeard(ctx, "s")
				act := c.wait(ctx, "after")
				wantValues(t, "action", act, map[string]string{"Digits": "#"})
				rec := wavFile(t, recording(t, act.Get("RecordUrl"), "audio/wav"), 1)
				heard := ear.audio(ctx)
				hc, rc := correlation(beep, heard), correlation(beep, rec)
				t.Logf("heard %.2f s, loud %s, beep correlation %.3f; in the recording %.3f", heard.Duration().Seconds(), loud(heard, 300), hc, rc)
				if on && hc < 0.8 {
					t.Errorf("the caller did not hear the beep: correlation %.3f", hc)
				}
				if !on && peak(heard) > 500 {
					t.Errorf("the caller heard something (peak %d) though playBeep is false", peak(heard))
				}
				if rc > 0.5 {
					t.Errorf("the beep is in the recording: correlation %.3f", rc)
				}
				c.waitStatus(ctx)
			})
		})
	}
}

// TestPlivoRecordFinishOnKey: finishOnKey="*2" is a set: the 1 of Local/dtmf passes, the 2
// ends the recording (before the '#').
func TestPlivoRecordFinishOnKey(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		c.doc = `<Response><Record finishOnKey="*2" action="` + c.url("after") + `" playBeep="false"/></Response>`
		c.serve("after", hangupDoc)
		c.dial(ctx, "dtmf")
		act := c.wait(ctx, "after")
		wantFields(t, "action", act, plivoActionFields)
		wantValues(t, "action", act, map[string]string{"Digits": "2", "RecordingDuration": "0"})
		plivoRecording(t, "action", act, "mp3")
		c.waitStatus(ctx)
	})
}

// TestPlivoRecordSession: recordSession="true" on a SIP call. The action is requested at once
// with -1 for the four durations and the final RecordUrl and RecordingID; its XML (redirect
// true) replaces the document: it plays a chirp, waits and hangs up. No second action.
// callbackUrl comes after the hangup with real values (and the call's after-hangup
// parameters) for the same RecordingID. The default recordChannelType for a background
// recording is stereo: the caller on the left, what the caller heard on the right.
func TestPlivoRecordSession(t *testing.T) {
	t.Parallel()
	onPBXs(t, plivoRecordSession)
}

func plivoRecordSession(t *testing.T, p pbx) {
	ctx := plivoCtx(t)
	c := newCall(t, "plivo").on(p)
	tone := chirp(1500*time.Millisecond, 6000)
	c.serveAudio("chirp.wav", tone)
	c.doc = `<Response><Record recordSession="true" action="` + c.url("after") + `" callbackUrl="` + c.url("cb") +
		`" fileFormat="wav" maxLength="30"/><Redirect>` + c.url("never") + `</Redirect></Response>`
	c.serve("after", `<Response><Play>`+c.url("chirp.wav")+`</Play><Wait length="5"/><Hangup/></Response>`)
	c.ok("cb")
	c.dial(ctx, "sip")

	act := c.wait(ctx, "after")
	if d := act.At.Sub(c.answered(ctx).At); d > 2*time.Second {
		t.Errorf("the action came %s after the call started: it is due as soon as the recording starts", d)
	}
	wantForm(t, "action", act)
	wantFields(t, "action", act, plivoActionFields)
	wantValues(t, "action", act, map[string]string{"CallStatus": "in-progress", "To": c.number, "Digits": "",
		"RecordingDuration": "-1", "RecordingDurationMs": "-1", "RecordingStartMs": "-1", "RecordingEndMs": "-1"})
	id := act.Get("RecordingID")
	if !uuid4.MatchString(id) || !strings.HasPrefix(act.Get("RecordUrl"), env.base+"/f/"+id+".wav?") {
		t.Errorf("action at start: RecordingID %q, RecordUrl %q: want the final values", id, act.Get("RecordUrl"))
	}
	cb := c.wait(ctx, "cb")
	if gap := cb.At.Sub(act.At); gap < 6*time.Second {
		t.Errorf("callbackUrl came %s after the action: the recording did not last the call", gap)
	}
	wantForm(t, "callbackUrl", cb)
	wantFields(t, "callbackUrl", cb, withHangup(plivoCallbackFields))
	wantValues(t, "callbackUrl", cb, map[string]string{"CallStatus": "completed", "HangupCause": "NORMAL_CLEARING",
		"CallUUID": act.Get("CallUUID"), "RecordingID": id, "RecordUrl": act.Get("RecordUrl")})
	ms := plivoRecording(t, "callbackUrl", cb, "wav")
	within(t, "RecordingDuration", num(t, "RecordingDuration", cb.Get("RecordingDuration")), 6.5, 1)

	rec := wavFile(t, recording(t, cb.Get("RecordUrl"), "audio/wav"), 2)
	within(t, "stored duration (ms) vs RecordingDurationMs", float64(rec.Duration().Milliseconds()), ms, 50)
	left, right := channel(rec, 0), channel(rec, 1)
	src := sipAudio(t)
	ls, lt, rs, rt := correlation(src, left), correlation(tone, left), correlation(src, right), correlation(tone, right)
	t.Logf("left: caller %.3f, chirp %.3f; right: caller %.3f, chirp %.3f", ls, lt, rs, rt)
	if ls < 0.6 || lt > 0.5 {
		t.Errorf("the left channel is not the caller: caller %.3f, chirp %.3f", ls, lt)
	}
	if rt < 0.6 || rs > 0.5 {
		t.Errorf("the right channel is not what the caller heard: chirp %.3f, caller %.3f", rt, rs)
	}
	c.waitStatus(ctx)
	if n := c.count("after"); n != 1 {
		t.Errorf("the action was requested %d times, want once (at start)", n)
	}
	c.notRequested("never")
}

// TestPlivoRecordSessionMono: recordChannelType="mono" with recordSession gives a 1-channel
// file of the whole call (with callbackMethod and no action).
func TestPlivoRecordSessionMono(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		c.doc = `<Response><Record recordSession="true" recordChannelType="mono" fileFormat="wav" maxLength="30" callbackUrl="` +
			c.url("cb") + `"/><Wait length="5"/><Hangup/></Response>`
		c.ok("cb")
		c.dial(ctx, "s")
		cb := c.wait(ctx, "cb")
		wantFields(t, "callbackUrl", cb, withHangup(plivoCallbackFields))
		plivoCallValues(t, "callbackUrl", cb, c, "completed")
		ms := plivoRecording(t, "callbackUrl", cb, "wav")
		within(t, "RecordingDuration", num(t, "RecordingDuration", cb.Get("RecordingDuration")), 5, 1)
		rec := wavFile(t, recording(t, cb.Get("RecordUrl"), "audio/wav"), 1)
		within(t, "stored duration (ms) vs RecordingDurationMs", float64(rec.Duration().Milliseconds()), ms, 50)
		if coef := correlation(sound(t, "tt-weasels"), rec); coef < 0.6 {
			t.Errorf("the recording does not carry tt-weasels: correlation %.3f", coef)
		}
		c.waitStatus(ctx)
	})
}

// TestPlivoRecordStartOnDialAnswer: startOnDialAnswer="true" arms the next Dial, and here no
// Dial follows. The documented Open behaviour: the action goes out when the element runs (-1
// values), nothing is recorded (its RecordUrl does not exist) and callbackUrl is never sent.
// With a Dial: TestPlivoDialStartOnDialAnswer (dial_test.go).
func TestPlivoRecordStartOnDialAnswer(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		c.doc = `<Response><Record startOnDialAnswer="true" action="` + c.url("after") + `" redirect="false" callbackUrl="` +
			c.url("cb") + `" maxLength="30"/><Redirect>` + c.url("next") + `</Redirect></Response>`
		c.serve("after", plivoRedirect(c.url("never")))
		c.serve("next", `<Response><Wait length="2"/><Hangup/></Response>`)
		c.ok("cb")
		c.dial(ctx, "s")

		act := c.wait(ctx, "after")
		if d := act.At.Sub(c.answered(ctx).At); d > 2*time.Second {
			t.Errorf("the action came %s after the call started: it is due when the element runs", d)
		}
		wantForm(t, "action", act)
		wantFields(t, "action", act, plivoActionFields)
		wantValues(t, "action", act, map[string]string{"Digits": "", "RecordingDuration": "-1", "RecordingDurationMs": "-1",
			"RecordingStartMs": "-1", "RecordingEndMs": "-1"})
		c.wait(ctx, "next")
		c.waitStatus(ctx)
		resp, err := http.Get(act.Get("RecordUrl"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("RecordUrl answers %d, want 404: nothing may be recorded without a Dial", resp.StatusCode)
		}
		c.notRequested("cb", "never")
	})
}
