package integration

import (
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/integration/eslsim"
)

// The Record scenarios on FreeSWITCH: the same pbxbridge process and the same application
// as the Asterisk tests, with calls from the FreeSWITCH protocol simulator (FreeSWITCH cannot
// be installed here), which records into pbxbridge's shared record_dir
// (<data_dir>/freeswitch, the default) like a FreeSWITCH on the same host.

// fsCall places a simulated FreeSWITCH call to this call's number: speech for speech, then
// silence; '#' at hashAt (0 = none).
func (c *call) fsCall(t *testing.T, speech, hashAt time.Duration) *eslsim.Channel {
	t.Helper()
	sc := eslsim.Script{Audio: append(eslsim.Tone(speech, 3000), eslsim.Silence(60*time.Second)...)}
	if hashAt > 0 {
		sc.DTMF = []eslsim.DTMF{{At: hashAt, Digit: '#'}}
	}
	return c.fsScript(t, sc)
}

// fsScript places a simulated FreeSWITCH call from and to this call's number.
func (c *call) fsScript(t *testing.T, sc eslsim.Script) *eslsim.Channel {
	t.Helper()
	sim := eslsim.New(eslsim.Options{})
	t.Cleanup(sim.Close)
	sc.From, sc.To = c.number, c.number
	ch, err := sim.Call(env.fsAddr, sc)
	if err != nil {
		t.Fatalf("simulated FreeSWITCH call: %v", err)
	}
	return ch
}

// TestFreeSWITCHFlexMLRecordFinishKey is TestFlexMLRecordFinishKey on FreeSWITCH: about 3 s
// of speech then '#'; the action and callbackUrl carry the same fields and values.
func TestFreeSWITCHFlexMLRecordFinishKey(t *testing.T) {
	t.Parallel()
	ctx := plivoCtx(t)
	c := newCall(t, "flexml")
	c.doc = `<Response><Record action="` + c.path("after") + `" callbackUrl="` + c.path("recorded") + `"/></Response>`
	env.app.Document(c.path("after"), hangupDoc)
	env.app.Status(c.path("recorded"), 200)
	ch := c.fsCall(t, 10*time.Second, 3500*time.Millisecond)

	act := c.wait(ctx, "after")
	wantJSONPost(t, "action", act)
	wantFields(t, "action", act, carrierxFields)
	carrierxCall(t, "action", act, "in-progress")
	within(t, "RecordingDuration", carrierxStored(t, "action", act, "#"), 3, 1)
	cb := c.wait(ctx, "recorded")
	wantFields(t, "callbackUrl", cb, carrierxFields)
	if cb.Get("RecordingSid") != act.Get("RecordingSid") || cb.Get("RecordingDuration") != act.Get("RecordingDuration") {
		t.Errorf("callbackUrl names %q (%s s), action %q (%s s)", cb.Get("RecordingSid"), cb.Get("RecordingDuration"),
			act.Get("RecordingSid"), act.Get("RecordingDuration"))
	}
	rec := wavFile(t, recording(t, act.Get("RecordingUrl"), "audio/wav"), 1)
	within(t, "stored duration (s)", rec.Duration().Seconds(), 3, 1)
	c.waitStatus(ctx)
	<-ch.Done()
}

// TestFreeSWITCHPlivoRecordKey is TestPlivoRecordKey on FreeSWITCH: Plivo's defaults
// (finishOnKey '#', beep), the action's XML replacing the document, the §3.3/§3.4 fields.
func TestFreeSWITCHPlivoRecordKey(t *testing.T) {
	t.Parallel()
	ctx := plivoCtx(t)
	c := newCall(t, "plivo")
	c.doc = `<Response><Record action="` + c.url("after") + `" callbackUrl="` + c.url("cb") + `" fileFormat="wav"/><Redirect>` +
		c.url("never") + `</Redirect></Response>`
	c.serve("after", plivoRedirect(c.url("next")))
	c.serve("next", hangupDoc)
	c.ok("cb")
	ch := c.fsCall(t, 10*time.Second, 3500*time.Millisecond)

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
	c.waitStatus(ctx)
	c.notRequested("never")
	<-ch.Done()
}

// TestFreeSWITCHPlivoRecordSilence is TestPlivoRecordSilence on FreeSWITCH: timeout="2",
// 3 s of speech: the record application's silence hits end it; no Digits; the stored file
// keeps about 200 ms of the silent tail.
func TestFreeSWITCHPlivoRecordSilence(t *testing.T) {
	t.Parallel()
	ctx := plivoCtx(t)
	c := newCall(t, "plivo")
	c.doc = `<Response><Record action="` + c.url("after") + `" timeout="2" maxLength="30" playBeep="false" fileFormat="wav"/></Response>`
	c.serve("after", hangupDoc)
	c.fsCall(t, 3*time.Second, 0)

	act := c.wait(ctx, "after")
	wantFields(t, "action", act, plivoActionFields)
	wantValues(t, "action", act, map[string]string{"Digits": "", "CallStatus": "in-progress", "To": c.number})
	ms := plivoRecording(t, "action", act, "wav")
	within(t, "RecordingDuration", num(t, "RecordingDuration", act.Get("RecordingDuration")), 3, 1)
	rec := wavFile(t, recording(t, act.Get("RecordUrl"), "audio/wav"), 1)
	within(t, "stored duration (ms) vs RecordingDurationMs", float64(rec.Duration().Milliseconds()), ms, 50)
	if _, trail := quietEdges(rec, 100); trail > 300*time.Millisecond {
		t.Errorf("%s of trailing silence kept after a silence stop; want about 200 ms", trail)
	}
	c.waitStatus(ctx)
}

// TestFreeSWITCHPlivoRecordMaxLength is TestPlivoRecordMaxLength on FreeSWITCH: maxLength="3"
// with 10 s of speech; FreeSWITCH's whole-second limit gives 3 to 4 s; mp3 by transcoding.
func TestFreeSWITCHPlivoRecordMaxLength(t *testing.T) {
	t.Parallel()
	ctx := plivoCtx(t)
	c := newCall(t, "plivo")
	c.doc = `<Response><Record action="` + c.url("after") + `" maxLength="3" playBeep="false"/></Response>`
	c.serve("after", hangupDoc)
	c.fsCall(t, 10*time.Second, 0)

	act := c.wait(ctx, "after")
	wantFields(t, "action", act, plivoActionFields)
	wantValues(t, "action", act, map[string]string{"Digits": "", "CallStatus": "in-progress", "To": c.number})
	ms := plivoRecording(t, "action", act, "mp3")
	within(t, "RecordingDuration", num(t, "RecordingDuration", act.Get("RecordingDuration")), 3.5, 1)
	rec := mp3File(t, recording(t, act.Get("RecordUrl"), "audio/mpeg"))
	within(t, "stored duration (ms) vs RecordingDurationMs", float64(rec.Duration().Milliseconds()), ms, 100)
	c.waitStatus(ctx)
}

// TestFreeSWITCHPlivoRecordHangup is TestPlivoRecordHangup on FreeSWITCH: the caller hangs
// up after about 3 s of the recording; the audio is kept, the action has the after-hangup
// parameters and its XML is ignored, callbackUrl follows.
func TestFreeSWITCHPlivoRecordHangup(t *testing.T) {
	t.Parallel()
	ctx := plivoCtx(t)
	c := newCall(t, "plivo")
	c.doc = `<Response><Record action="` + c.url("after") + `" callbackUrl="` + c.url("cb") + `" playBeep="false"/><Redirect>` +
		c.url("never") + `</Redirect></Response>`
	c.serve("after", plivoRedirect(c.url("never2")))
	c.ok("cb")
	c.fsScript(t, eslsim.Script{Audio: eslsim.Tone(30*time.Second, 3000), HangupAt: 3 * time.Second})

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
	c.waitStatus(ctx)
	c.notRequested("never", "never2")
}

// TestFreeSWITCHSocketDrop (fault): the event socket dies 2.5 s into a FlexML recording.
// pbxbridge treats the call as hung up: the recording made so far is stored and the action
// and status callbacks go out; nothing is lost.
func TestFreeSWITCHSocketDrop(t *testing.T) {
	t.Parallel()
	ctx := plivoCtx(t)
	c := newCall(t, "flexml")
	c.doc = `<Response><Record action="` + c.path("after") + `" callbackUrl="` + c.path("recorded") + `"/></Response>`
	env.app.Document(c.path("after"), hangupDoc)
	env.app.Status(c.path("recorded"), 200)
	ch := c.fsCall(t, 30*time.Second, 0)
	// the recording (a media bug: FlexML records both directions) starts after the answer
	// and the beep, about 0.5 s in
	time.AfterFunc(3*time.Second, ch.DropSocket)

	act := c.wait(ctx, "after")
	carrierxCall(t, "action", act, "completed")
	within(t, "RecordingDuration", carrierxStored(t, "action", act, ""), 2.5, 1)
	cb := c.wait(ctx, "recorded")
	if cb.Get("RecordingSid") != act.Get("RecordingSid") {
		t.Errorf("callbackUrl names %q, action %q", cb.Get("RecordingSid"), act.Get("RecordingSid"))
	}
	c.waitStatus(ctx)
}
