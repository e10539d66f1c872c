package integration

import (
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/integration/eslsim"
)

// FreeSWITCH's faults (docs/freeswitch.md §3): the Record scenarios run on both PBXs
// (pbx_test.go); these are what only FreeSWITCH's event socket can do wrong, each with its
// documented outcome and no recording or callback lost.

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

// TestFreeSWITCHSocketDrop (fault): the event socket dies about 2.5 s into a recording
// (foreground FlexML and Plivo, a Plivo session in the background). pbxbridge treats the
// call as hung up: the recording made so far is stored and the action, callbackUrl and status
// callbacks go out; nothing is lost.
func TestFreeSWITCHSocketDrop(t *testing.T) {
	t.Parallel()
	t.Run("flexml record", func(t *testing.T) {
		t.Parallel()
		slot(t)
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
		// the audio recorded before the drop is stored
		rec := storedWAV(t, act)
		within(t, "stored duration (s)", rec.Duration().Seconds(), 2.5, 1)
		c.waitStatus(ctx)
	})
	// Plivo's record application (after its 0.5 s beep): the action with the after-hangup
	// parameters (its XML ignored), callbackUrl for the same recording, the MP3 stored.
	t.Run("plivo record", func(t *testing.T) {
		t.Parallel()
		slot(t)
		ctx := plivoCtx(t)
		c := newCall(t, "plivo")
		c.doc = `<Response><Record action="` + c.url("after") + `" callbackUrl="` + c.url("cb") + `"/><Redirect>` +
			c.url("never") + `</Redirect></Response>`
		c.serve("after", plivoRedirect(c.url("never2")))
		c.ok("cb")
		ch := c.fsCall(t, 30*time.Second, 0)
		time.AfterFunc(3*time.Second, ch.DropSocket)

		act := c.wait(ctx, "after")
		wantForm(t, "action", act)
		wantFields(t, "action", act, withHangup(plivoActionFields))
		plivoCallValues(t, "action", act, c, "completed")
		ms := plivoRecording(t, "action", act, "mp3")
		within(t, "RecordingDuration", num(t, "RecordingDuration", act.Get("RecordingDuration")), 2.5, 1)
		cb := c.wait(ctx, "cb")
		wantFields(t, "callbackUrl", cb, withHangup(plivoCallbackFields))
		plivoSame(t, "callbackUrl", cb, act)
		rec := mp3File(t, recording(t, act.Get("RecordUrl"), "audio/mpeg"))
		within(t, "stored duration (ms) vs RecordingDurationMs", float64(rec.Duration().Milliseconds()), ms, 100)
		c.waitStatus(ctx)
		c.notRequested("never", "never2")
	})
	// A background recording (Plivo recordSession, stereo): its action went out at start;
	// callbackUrl follows the drop with the audio so far, and the file is stored.
	t.Run("plivo recordSession", func(t *testing.T) {
		t.Parallel()
		slot(t)
		ctx := plivoCtx(t)
		c := newCall(t, "plivo")
		c.doc = `<Response><Record recordSession="true" fileFormat="wav" maxLength="60" action="` + c.url("after") +
			`" redirect="false" callbackUrl="` + c.url("cb") + `"/><Wait length="30"/><Hangup/></Response>`
		c.ok("after", "cb")
		ch := c.fsCall(t, 30*time.Second, 0)
		time.AfterFunc(3*time.Second, ch.DropSocket)

		act := c.wait(ctx, "after")
		wantValues(t, "action", act, map[string]string{"RecordingDuration": "-1", "RecordingDurationMs": "-1"})
		cb := c.wait(ctx, "cb")
		// The drop ends the call; the document's 30 s Wait must not keep it "up" (nothing
		// waits for FreeSWITCH during a Wait: the socket's watchdog notices the drop).
		t.Logf("callbackUrl %s after the action at start", cb.At.Sub(act.At).Round(time.Millisecond))
		if d := cb.At.Sub(act.At); d > 20*time.Second {
			t.Errorf("callbackUrl came %s after the start: the dropped socket went unnoticed until the 30 s Wait ended", d)
		}
		wantFields(t, "callbackUrl", cb, withHangup(plivoCallbackFields))
		wantValues(t, "callbackUrl", cb, map[string]string{"CallStatus": "completed", "RecordingID": act.Get("RecordingID"),
			"RecordUrl": act.Get("RecordUrl")})
		ms := plivoRecording(t, "callbackUrl", cb, "wav")
		within(t, "RecordingDuration", num(t, "RecordingDuration", cb.Get("RecordingDuration")), 2.5, 1)
		rec := wavFile(t, recording(t, cb.Get("RecordUrl"), "audio/wav"), 2)
		within(t, "stored duration (ms) vs RecordingDurationMs", float64(rec.Duration().Milliseconds()), ms, 50)
		c.waitStatus(ctx)
		if n := c.count("after"); n != 1 {
			t.Errorf("the action was requested %d times, want once (at start)", n)
		}
	})
}

// TestFreeSWITCHReorderedEvents (fault): the simulator delivers each pair of consecutive
// events in swapped order (their Event-Sequence numbers keep the true order). pbxbridge puts
// them back in order before acting, so the shared scenarios pass unchanged: the same
// callbacks, the same fields and values, every recording stored.
func TestFreeSWITCHReorderedEvents(t *testing.T) {
	t.Parallel()
	for _, sc := range []struct {
		name string
		body func(*testing.T, pbx)
	}{
		{"FlexMLRecordFinishKey", flexMLRecordFinishKey},
		{"FlexMLRecordHangup", flexMLRecordHangup},
		{"FlexMLRecordSession", flexMLRecordSession},
		{"PlivoRecordSIP", plivoRecordSIP},
		{"PlivoRecordKey", plivoRecordKey},
		{"PlivoRecordHangup", plivoRecordHangup},
		{"PlivoRecordSession", plivoRecordSession},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			slot(t)
			sc.body(t, fsReordered)
		})
	}
}

// TestFreeSWITCHRecordFileFailed (fault): FreeSWITCH cannot open the recording file (a
// missing or unwritable record_dir). The record application hangs the call up with
// DESTINATION_OUT_OF_ORDER before RECORD_START; uuid_record answers -ERR and leaves the call
// up (freeswitch.md §4). Either way the recording's outcome is failed (record.md §4).
func TestFreeSWITCHRecordFileFailed(t *testing.T) {
	t.Parallel()
	// FlexML direction="in": the record application. The call is gone, so errorAction cannot
	// run; the status callback says failed; no action, no callbackUrl.
	t.Run("flexml record application", func(t *testing.T) {
		t.Parallel()
		slot(t)
		ctx := flexmlCtx(t)
		c := newCall(t, "flexml").on(fsNoRecordFile)
		c.doc = `<Response><Record direction="in" action="` + c.path("after") + `" errorAction="` + c.path("error") +
			`" callbackUrl="` + c.path("cb") + `" recordingStatusCallback="` + c.path("status") + `"/><Redirect>` +
			c.path("never") + `</Redirect></Response>`
		c.serve("error", redirectTo(c.path("never2")))
		c.ok("after", "cb", "status")
		c.dial(ctx, "s")
		st := c.wait(ctx, "status")
		wantJSONPost(t, "status callback", st)
		wantFields(t, "status callback", st, carrierxFields)
		carrierxCall(t, "status callback", st, "completed")
		carrierxNoRecording(t, "status callback", st, "failed", "")
		c.waitStatus(ctx)
		if cause := c.fs.HangupCause(); cause != "DESTINATION_OUT_OF_ORDER" {
			t.Errorf("the channel hung up with %q, want DESTINATION_OUT_OF_ORDER", cause)
		}
		c.notRequested("after", "cb", "never", "never2")
	})
	// FlexML's default direction (any): uuid_record fails and the call stays up, so
	// errorAction runs its FlexML, as on Asterisk (TestFlexMLRecordFailed).
	t.Run("flexml uuid_record", func(t *testing.T) {
		t.Parallel()
		slot(t)
		ctx := flexmlCtx(t)
		c := newCall(t, "flexml").on(fsNoRecordFile)
		c.doc = `<Response><Record action="` + c.path("after") + `" errorAction="` + c.path("error") +
			`" callbackUrl="` + c.path("cb") + `" recordingStatusCallback="` + c.path("status") + `"/><Redirect>` +
			c.path("never") + `</Redirect></Response>`
		c.serve("error", redirectTo(c.path("next")))
		c.serve("next", hangupDoc)
		c.ok("after", "cb", "status")
		c.dial(ctx, "s")
		er := c.wait(ctx, "error")
		wantJSONPost(t, "errorAction", er)
		wantFields(t, "errorAction", er, carrierxFields)
		carrierxCall(t, "errorAction", er, "in-progress")
		carrierxNoRecording(t, "errorAction", er, "failed", "")
		c.wait(ctx, "next")
		st := c.wait(ctx, "status")
		wantFields(t, "status callback", st, carrierxFields)
		carrierxNoRecording(t, "status callback", st, "failed", "")
		c.waitStatus(ctx)
		c.notRequested("after", "cb", "never")
	})
	// Plivo: the record application; a failed recording sends no action and no callbackUrl;
	// the call is over, so nothing runs after it.
	t.Run("plivo record application", func(t *testing.T) {
		t.Parallel()
		slot(t)
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(fsNoRecordFile)
		c.doc = `<Response><Record action="` + c.url("after") + `" callbackUrl="` + c.url("cb") + `" playBeep="false"/><Redirect>` +
			c.url("next") + `</Redirect></Response>`
		c.serve("next", hangupDoc)
		c.ok("after", "cb")
		c.dial(ctx, "s")
		st := c.waitStatus(ctx)
		// FreeSWITCH hung up, not pbxbridge nor the caller: the callback says why.
		wantValues(t, "status callback", st, map[string]string{"CallStatus": "completed", "HangupCause": "DESTINATION_OUT_OF_ORDER"})
		if cause := c.fs.HangupCause(); cause != "DESTINATION_OUT_OF_ORDER" {
			t.Errorf("the channel hung up with %q, want DESTINATION_OUT_OF_ORDER", cause)
		}
		c.notRequested("after", "cb", "next")
	})
}
