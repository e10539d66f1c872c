package integration

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/audio"
	"github.com/pbxbridge/pbxbridge/integration/apptest"
)

// CarrierX FlexML <Record> end to end (record.md §1, §4; callbacks.md §2): one test per
// outcome and per attribute, asserting on what the application receives and on the stored
// file, on both PBXs (pbx_test.go). Callers (a Local channel on Asterisk, a simulated call on
// FreeSWITCH): s = 1 s, ~2.95 s of tt-weasels, '#', 10 s, hangup; long = tt-monkeys (~16 s);
// dtmf = 2 s then 1, 2, # and no audio; hang = tt-weasels then hangup; sip-key and sip = a
// SIP call's 7.05 s of speech (SIPp on Asterisk), with and without a '#' at 7.5 s.

// flexmlCtx is the deadline of one test.
func flexmlCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func redirectTo(path string) string { return `<Response><Redirect>` + path + `</Redirect></Response>` }

// storedWAV downloads a CarrierX recording that must be WAV and checks its length against
// RecordingDuration (whole seconds, nearest).
func storedWAV(t *testing.T, r apptest.Request) audio.PCM {
	t.Helper()
	p := wavFile(t, recording(t, r.Get("RecordingUrl"), "audio/wav"), 1)
	within(t, "stored duration (s) vs RecordingDuration", p.Duration().Seconds(), num(t, "RecordingDuration", r.Get("RecordingDuration")), 0.5)
	return p
}

// TestFlexMLRecordSIPKey: the key outcome on a SIP call (7.05 s of speech, then an RFC 4733
// '#'). Default finishOnKey (any key) and direction (any, through a snoop). The action is a
// JSON POST with exactly the §2.3 fields, then callbackUrl and the status callback (default
// events completed,failed) with the §2.5 fields; the file carries the audio SIPp sent.
func TestFlexMLRecordSIPKey(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := flexmlCtx(t)
		c := newCall(t, "flexml").on(p)
		c.doc = `<Response><Record action="` + c.path("after") + `" callbackUrl="` + c.path("cb") +
			`" recordingStatusCallback="` + c.path("status") + `"/><Redirect>` + c.path("never") + `</Redirect></Response>`
		c.serve("after", hangupDoc)
		c.ok("cb", "status")
		c.dial(ctx, "sip-key")

		act := c.wait(ctx, "after")
		wantJSONPost(t, "action", act)
		wantFields(t, "action", act, carrierxFields)
		carrierxCall(t, "action", act, "in-progress")
		wantValues(t, "action", act, map[string]string{"From": "15550100001", "OriginalFrom": "15550100001",
			"To": c.number, "OriginalTo": c.number, "CallerName": "sipp", "RequestUrl": env.app.URL + "/answer/flexml"})
		secs := carrierxStored(t, "action", act, "#")
		within(t, "RecordingDuration", secs, 7, 1)

		cb := c.wait(ctx, "cb")
		wantJSONPost(t, "callbackUrl", cb)
		wantFields(t, "callbackUrl", cb, carrierxFields)
		carrierxCall(t, "callbackUrl", cb, "in-progress")
		carrierxStored(t, "callbackUrl", cb, "#")
		st := c.wait(ctx, "status")
		wantJSONPost(t, "status callback", st)
		wantFields(t, "status callback", st, carrierxFields)
		carrierxStored(t, "status callback", st, "#")
		for _, r := range []apptest.Request{cb, st} {
			wantValues(t, r.Path, r, map[string]string{"CallSid": act.Get("CallSid"), "RecordingSid": act.Get("RecordingSid"),
				"RecordingDuration": act.Get("RecordingDuration")})
			if r.At.Before(act.At) {
				t.Errorf("%s came before the action", r.Path)
			}
		}

		rec := storedWAV(t, act)
		coef := correlation(sipAudio(t), rec)
		t.Logf("correlation with the sent audio: %.3f", coef)
		if coef < 0.6 {
			t.Errorf("the recording does not carry the sent audio: correlation %.3f", coef)
		}
		// CarrierX's defaults, as pbxbridge asked the PBX for them: maxLength 3600 s, timeout
		// 5 s, every key, no beep; direction any (both sides: through a snoop on Asterisk, a
		// uuid_record media bug on FreeSWITCH, which pbxbridge stops itself at 3600.5 s; the
		// bug's own limit, in whole epoch seconds, is a backstop one second beyond).
		line := recordingLine(t, act.Get("CallSid"))
		defaults := map[string]string{"max": "1h0m0s", "silence": "5s", "keys": "0123456789#*", "beep": "false",
			"mode": "snoop", "tracks": "both"}
		if p.kind() == freeswitch {
			defaults = map[string]string{"max": "3602", "silence": "5", "keys": "0123456789#*", "beep": "false",
				"mode": "uuid_record", "tracks": "both"}
		}
		for k, want := range defaults {
			if got := logValue(line, k); got != want {
				t.Errorf("pbxbridge asked %s for %s=%s, want %s (CarrierX's default)\n%s", p, k, got, want, line)
			}
		}
		c.waitStatus(ctx)
		c.notRequested("never")
	})
}

// TestFlexMLRecordSilence: finishOnKey="none" and timeout="2" on Local/s: the '#' is ignored
// and 2 s of silence after the speech end the recording while the call is up, so the action's
// FlexML runs (a Redirect).
func TestFlexMLRecordSilence(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := flexmlCtx(t)
		c := newCall(t, "flexml").on(p)
		c.doc = `<Response><Record action="` + c.path("after") + `" finishOnKey="none" timeout="2"/></Response>`
		c.serve("after", redirectTo(c.path("next")))
		c.serve("next", hangupDoc)
		c.dial(ctx, "s")

		act := c.wait(ctx, "after")
		wantJSONPost(t, "action", act)
		wantFields(t, "action", act, carrierxFields)
		carrierxCall(t, "action", act, "in-progress")
		within(t, "RecordingDuration", carrierxStored(t, "action", act, ""), 3, 1)
		c.wait(ctx, "next")
		rec := storedWAV(t, act)
		if coef := correlation(sound(t, "tt-weasels"), rec); coef < 0.6 {
			t.Errorf("the recording does not carry tt-weasels: correlation %.3f", coef)
		}
		c.waitStatus(ctx)
	})
}

// TestFlexMLRecordTimeoutAtStart: timeout also counts the silence at the very start
// (record.md §1.2): on Local/dtmf, 2 s of silence before its keys, timeout="1" ends the
// recording before the first key. Nothing was said, so it is absent, with no Digits.
func TestFlexMLRecordTimeoutAtStart(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := flexmlCtx(t)
		c := newCall(t, "flexml").on(p)
		c.doc = `<Response><Record timeout="1" action="` + c.path("after") + `" recordingStatusCallback="` + c.path("status") +
			`" recordingStatusCallbackEvent="absent"/><Redirect>` + c.path("next") + `</Redirect></Response>`
		c.serve("next", hangupDoc)
		c.ok("after", "status")
		c.dial(ctx, "dtmf")
		st := c.wait(ctx, "status")
		carrierxNoRecording(t, "status callback", st, "absent", "")
		next := c.wait(ctx, "next")
		if d := next.At.Sub(c.answered(ctx).At); d > 1900*time.Millisecond {
			t.Errorf("the next verb ran %s after the call started: the 1 s timeout did not end the silent start", d)
		}
		c.waitStatus(ctx)
		c.notRequested("after")
	})
}

// TestFlexMLRecordMaxLength: maxLength="3" on 16 s of speech ends the recording after 3 s
// (Asterisk checks the limit each second) with no Digits; do-not-trim keeps the length.
func TestFlexMLRecordMaxLength(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := flexmlCtx(t)
		c := newCall(t, "flexml").on(p)
		c.doc = `<Response><Record action="` + c.path("after") + `" maxLength="3" trim="do-not-trim"/></Response>`
		c.serve("after", redirectTo(c.path("next")))
		c.serve("next", hangupDoc)
		c.dial(ctx, "long")

		act := c.wait(ctx, "after")
		carrierxCall(t, "action", act, "in-progress")
		within(t, "RecordingDuration", carrierxStored(t, "action", act, ""), 3, 1)
		rec := storedWAV(t, act)
		if d := rec.Duration().Seconds(); d < 2.9 || d > 4.2 {
			t.Errorf("stored duration %.2f s, want 3 s up to Asterisk's 1 s granularity", d)
		}
		c.wait(ctx, "next")
		c.waitStatus(ctx)
	})
}

// TestFlexMLRecordHangup: the caller hangs up during the recording (Local/hang). The audio is
// kept; the action goes out as a notification (CallStatus completed, its FlexML is not run),
// then callbackUrl and the status callback.
func TestFlexMLRecordHangup(t *testing.T) {
	t.Parallel()
	onPBXs(t, flexMLRecordHangup)
}

func flexMLRecordHangup(t *testing.T, p pbx) {
	ctx := flexmlCtx(t)
	c := newCall(t, "flexml").on(p)
	c.doc = `<Response><Record action="` + c.path("after") + `" callbackUrl="` + c.path("cb") +
		`" recordingStatusCallback="` + c.path("status") + `"/><Redirect>` + c.path("never") + `</Redirect></Response>`
	c.serve("after", redirectTo(c.path("never2")))
	c.ok("cb", "status")
	c.dial(ctx, "hang")

	act := c.wait(ctx, "after")
	wantJSONPost(t, "action", act)
	wantFields(t, "action", act, carrierxFields)
	carrierxCall(t, "action", act, "completed")
	within(t, "RecordingDuration", carrierxStored(t, "action", act, ""), 3, 1)
	cb := c.wait(ctx, "cb")
	carrierxCall(t, "callbackUrl", cb, "completed")
	carrierxStored(t, "callbackUrl", cb, "")
	st := c.wait(ctx, "status")
	carrierxCall(t, "status callback", st, "completed")
	carrierxStored(t, "status callback", st, "")
	rec := storedWAV(t, act)
	if coef := correlation(sound(t, "tt-weasels"), rec); coef < 0.6 {
		t.Errorf("the recording does not carry tt-weasels: correlation %.3f", coef)
	}
	c.waitStatus(ctx)
	c.notRequested("never", "never2")
}

// TestFlexMLRecordFailed: the failed outcome. errorAction gets RecordingStatus=failed with
// empty recording fields and its FlexML runs in place of the document; the status callback
// (default events) says failed; neither action nor callbackUrl is requested.
func TestFlexMLRecordFailed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, attrs string
		get         bool // errorMethod="GET"
	}{
		{"missing container", `containerSid="no-such-container"`, false},
		{"missing file", `fileSid="0b0e0f00-0000-4000-8000-000000000000" errorMethod="GET"`, true},
		// 1000-byte quota: the capture succeeds and storing it fails.
		{"container full", `containerSid="tiny"`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			onPBXs(t, func(t *testing.T, p pbx) {
				ctx := flexmlCtx(t)
				c := newCall(t, "flexml").on(p)
				c.doc = `<Response><Record ` + tc.attrs + ` action="` + c.path("after") + `" errorAction="` + c.path("error") +
					`" callbackUrl="` + c.path("cb") + `" recordingStatusCallback="` + c.path("status") + `"/><Redirect>` +
					c.path("never") + `</Redirect></Response>`
				c.serve("error", redirectTo(c.path("next")))
				c.serve("next", hangupDoc)
				c.ok("after", "cb", "status")
				c.dial(ctx, "s")

				er := c.wait(ctx, "error")
				if tc.get {
					wantGET(t, "errorAction", er)
				} else {
					wantJSONPost(t, "errorAction", er)
				}
				wantFields(t, "errorAction", er, carrierxFields)
				carrierxCall(t, "errorAction", er, "in-progress")
				carrierxNoRecording(t, "errorAction", er, "failed", "")
				c.wait(ctx, "next")
				st := c.wait(ctx, "status")
				wantJSONPost(t, "status callback", st)
				wantFields(t, "status callback", st, carrierxFields)
				carrierxNoRecording(t, "status callback", st, "failed", "")
				c.waitStatus(ctx)
				c.notRequested("after", "cb", "never")
			})
		})
	}
	// A background recording that cannot be stored when the call ends: the status callback
	// says failed; no action, no callbackUrl (and no errorAction: the call is over).
	t.Run("session, container full", func(t *testing.T) {
		t.Parallel()
		onPBXs(t, func(t *testing.T, p pbx) {
			ctx := flexmlCtx(t)
			c := newCall(t, "flexml").on(p)
			c.doc = `<Response><Record recordSession="true" containerSid="tiny" action="` + c.path("after") + `" errorAction="` +
				c.path("error") + `" callbackUrl="` + c.path("cb") + `" recordingStatusCallback="` + c.path("status") +
				`"/><Pause length="2"/><Hangup/></Response>`
			c.ok("after", "error", "cb", "status")
			c.dial(ctx, "s")
			st := c.wait(ctx, "status")
			wantFields(t, "status callback", st, carrierxFields)
			carrierxCall(t, "status callback", st, "completed")
			carrierxNoRecording(t, "status callback", st, "failed", "")
			c.waitStatus(ctx)
			c.notRequested("after", "error", "cb")
		})
	})
	// record.md §1.1 rule 5 (Open): without errorAction the next verb runs.
	t.Run("no errorAction", func(t *testing.T) {
		t.Parallel()
		onPBXs(t, func(t *testing.T, p pbx) {
			ctx := flexmlCtx(t)
			c := newCall(t, "flexml").on(p)
			c.doc = `<Response><Record containerSid="no-such-container" action="` + c.path("after") + `"/><Redirect>` +
				c.path("next") + `</Redirect></Response>`
			c.serve("next", hangupDoc)
			c.ok("after")
			c.dial(ctx, "s")
			c.wait(ctx, "next")
			c.waitStatus(ctx)
			c.notRequested("after")
		})
	})
}

// TestFlexMLRecordEmpty: Local/dtmf sends keys and no audio, so the recording is empty
// (absent): no action, no callbackUrl, the next verb runs; the status callback goes out only
// when absent is subscribed, with the key that ended it.
func TestFlexMLRecordEmpty(t *testing.T) {
	t.Parallel()
	for _, absent := range []bool{true, false} {
		name := "default events"
		if absent {
			name = "absent subscribed"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			onPBXs(t, func(t *testing.T, p pbx) {
				ctx := flexmlCtx(t)
				c := newCall(t, "flexml").on(p)
				events := ""
				if absent {
					events = ` recordingStatusCallbackEvent="absent"`
				}
				c.doc = `<Response><Record action="` + c.path("after") + `" callbackUrl="` + c.path("cb") +
					`" recordingStatusCallback="` + c.path("status") + `"` + events + `/><Redirect>` + c.path("next") +
					`</Redirect></Response>`
				c.serve("next", hangupDoc)
				c.ok("after", "cb", "status")
				c.dial(ctx, "dtmf")

				c.wait(ctx, "next")
				if absent {
					st := c.wait(ctx, "status")
					wantJSONPost(t, "status callback", st)
					wantFields(t, "status callback", st, carrierxFields)
					carrierxCall(t, "status callback", st, "in-progress")
					carrierxNoRecording(t, "status callback", st, "absent", "1")
				}
				c.waitStatus(ctx)
				c.notRequested("after", "cb")
				if !absent {
					c.notRequested("status")
				}
			})
		})
	}
}

// TestFlexMLRecordMethodGET: method="GET" puts the action's fields in the query; callbackUrl
// stays a JSON POST (CarrierX has no method for it).
func TestFlexMLRecordMethodGET(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := flexmlCtx(t)
		c := newCall(t, "flexml").on(p)
		c.doc = `<Response><Record action="` + c.path("after") + `" method="GET" callbackUrl="` + c.path("cb") + `"/></Response>`
		c.serve("after", hangupDoc)
		c.ok("cb")
		c.dial(ctx, "s")

		act := c.wait(ctx, "after")
		wantGET(t, "action", act)
		wantFields(t, "action", act, carrierxFields)
		carrierxCall(t, "action", act, "in-progress")
		within(t, "RecordingDuration", carrierxStored(t, "action", act, "#"), 3, 1)
		cb := c.wait(ctx, "cb")
		wantJSONPost(t, "callbackUrl", cb)
		wantFields(t, "callbackUrl", cb, carrierxFields)
		wantValues(t, "callbackUrl", cb, map[string]string{"RecordingSid": act.Get("RecordingSid"), "RecordingDuration": act.Get("RecordingDuration")})
		storedWAV(t, act)
		c.waitStatus(ctx)
	})
}

// TestFlexMLRecordStatusCallback: recordingStatusCallbackMethod and the event filter.
func TestFlexMLRecordStatusCallback(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, attrs string
		want        string // the status sent, "" = none
	}{
		{"GET completed", `recordingStatusCallbackMethod="GET" recordingStatusCallbackEvent="completed"`, "completed"},
		{"completed not subscribed", `recordingStatusCallbackEvent="failed,absent"`, ""},
		{"failed not subscribed", `recordingStatusCallbackEvent="completed" containerSid="no-such-container"`, ""},
		{"failed subscribed", `recordingStatusCallbackEvent="failed" recordingStatusCallbackMethod="GET" containerSid="no-such-container"`, "failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			onPBXs(t, func(t *testing.T, p pbx) {
				ctx := flexmlCtx(t)
				c := newCall(t, "flexml").on(p)
				c.doc = `<Response><Record ` + tc.attrs + ` action="` + c.path("after") + `" recordingStatusCallback="` +
					c.path("status") + `"/><Redirect>` + c.path("next") + `</Redirect></Response>`
				c.serve("after", redirectTo(c.path("next")))
				c.serve("next", hangupDoc)
				c.ok("status")
				c.dial(ctx, "s")
				c.wait(ctx, "next")
				if tc.want == "" {
					c.waitStatus(ctx)
					c.notRequested("status")
					return
				}
				st := c.wait(ctx, "status")
				if tc.want == "completed" {
					wantGET(t, "status callback", st)
					wantFields(t, "status callback", st, carrierxFields)
					carrierxStored(t, "status callback", st, "#")
					act := c.wait(ctx, "after")
					wantValues(t, "status callback", st, map[string]string{"RecordingSid": act.Get("RecordingSid"),
						"RecordingDuration": act.Get("RecordingDuration"), "RecordingUrl": act.Get("RecordingUrl")})
				} else {
					wantGET(t, "status callback", st)
					wantFields(t, "status callback", st, carrierxFields)
					carrierxNoRecording(t, "status callback", st, tc.want, "")
				}
				c.waitStatus(ctx)
			})
		})
	}
}

// TestFlexMLRecordDirection: direction on a SIP call. in and any carry the caller's audio; out
// is what the caller hears, which during a foreground Record is silence.
func TestFlexMLRecordDirection(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"in", "out", "any"} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			onPBXs(t, func(t *testing.T, p pbx) {
				ctx := flexmlCtx(t)
				c := newCall(t, "flexml").on(p)
				attrs := `direction="` + dir + `"`
				if dir == "in" {
					attrs += ` finishOnKey="#"` // a direct recording with Asterisk's own terminateOn
				}
				if dir == "out" {
					attrs += ` trim="do-not-trim" timeout="30"` // silence is all there is to keep
				}
				c.doc = `<Response><Record ` + attrs + ` action="` + c.path("after") + `"/></Response>`
				c.serve("after", hangupDoc)
				c.dial(ctx, "sip-key")

				act := c.wait(ctx, "after")
				secs := carrierxStored(t, "action", act, "#")
				rec := storedWAV(t, act)
				coef := correlation(sipAudio(t), rec)
				t.Logf("direction %s: %.2f s, peak %d, correlation with the sent audio %.3f", dir, rec.Duration().Seconds(), peak(rec), coef)
				if dir == "out" {
					within(t, "RecordingDuration", secs, 7.5, 1)
					if peak(rec) > 1000 || coef > 0.3 {
						t.Errorf("direction=out holds the caller's audio (peak %d, correlation %.3f)", peak(rec), coef)
					}
					return
				}
				within(t, "RecordingDuration", secs, 7, 1)
				if coef < 0.6 {
					t.Errorf("the recording does not carry the sent audio: correlation %.3f", coef)
				}
			})
		})
	}
}

// TestFlexMLRecordFileFormat: wav is RIFF 8 kHz 16-bit mono (audio/wav); mp3 is MPEG audio
// frames (audio/mpeg); ul is headerless µ-law, one byte per sample (audio/basic). Each
// carries the caller's audio.
func TestFlexMLRecordFileFormat(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"wav", "mp3", "ul"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			onPBXs(t, func(t *testing.T, p pbx) {
				ctx := flexmlCtx(t)
				c := newCall(t, "flexml").on(p)
				c.doc = `<Response><Record fileFormat="` + format + `" action="` + c.path("after") + `"/></Response>`
				c.serve("after", hangupDoc)
				c.dial(ctx, "s")

				act := c.wait(ctx, "after")
				secs := carrierxStored(t, "action", act, "#")
				var rec audio.PCM
				switch format {
				case "wav":
					rec = wavFile(t, recording(t, act.Get("RecordingUrl"), "audio/wav"), 1)
				case "mp3":
					rec = mp3File(t, recording(t, act.Get("RecordingUrl"), "audio/mpeg"))
				case "ul":
					data := recording(t, act.Get("RecordingUrl"), "audio/basic")
					if len(data) >= 4 && string(data[:4]) == "RIFF" {
						t.Fatalf("µ-law file has a RIFF header")
					}
					var err error
					if rec, err = audio.Decode(data, audio.FormatULaw); err != nil {
						t.Fatal(err)
					}
					if rec.Frames() != len(data) {
						t.Errorf("µ-law: %d bytes, %d samples; want one byte per sample", len(data), rec.Frames())
					}
				}
				within(t, "stored duration (s) vs RecordingDuration", rec.Duration().Seconds(), secs, 0.5)
				within(t, "RecordingDuration", secs, 3, 1)
				if coef := correlation(sound(t, "tt-weasels"), mono8k(t, rec)); coef < 0.6 {
					t.Errorf("the %s file does not carry tt-weasels: correlation %.3f", format, coef)
				}
				c.waitStatus(ctx)
			})
		})
	}
}

// recordFile makes a stored file in a call of its own and returns the action request.
func recordFile(t *testing.T, ctx context.Context, p pbx, caller, attrs string) (apptest.Request, audio.PCM) {
	t.Helper()
	c := newCall(t, "flexml").on(p)
	c.doc = `<Response><Record ` + attrs + ` action="` + c.path("after") + `"/></Response>`
	c.serve("after", hangupDoc)
	c.dial(ctx, caller)
	act := c.wait(ctx, "after")
	carrierxStored(t, "first action", act, act.Get("Digits"))
	rec := storedWAV(t, act)
	c.waitStatus(ctx)
	return act, rec
}

// TestFlexMLRecordFileModeAppend: fileSid with the default fileMode (append) adds the new audio
// after the file's existing audio, in the existing file's format (wav, though mp3 is asked).
// RecordingSid is the file's SID and RecordingDuration is the new part.
func TestFlexMLRecordFileModeAppend(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := flexmlCtx(t)
		first, old := recordFile(t, ctx, p, "s", "")
		sid := first.Get("RecordingSid")

		c := newCall(t, "flexml").on(p)
		c.doc = `<Response><Record fileSid="` + sid + `" fileFormat="mp3" action="` + c.path("after") + `" callbackUrl="` + c.path("cb") + `"/></Response>`
		c.serve("after", hangupDoc)
		c.ok("cb")
		c.dial(ctx, "s")
		act := c.wait(ctx, "after")
		added := carrierxStored(t, "action", act, "#")
		if act.Get("RecordingSid") != sid {
			t.Errorf("RecordingSid %q, want the fileSid %q", act.Get("RecordingSid"), sid)
		}
		cb := c.wait(ctx, "cb")
		wantValues(t, "callbackUrl", cb, map[string]string{"RecordingSid": sid})
		file := wavFile(t, recording(t, act.Get("RecordingUrl"), "audio/wav"), 1)
		t.Logf("first %.2f s, file now %.2f s, RecordingDuration %v", old.Duration().Seconds(), file.Duration().Seconds(), added)
		if len(file.Samples) < len(old.Samples) || !slices.Equal(file.Samples[:len(old.Samples)], old.Samples) {
			t.Fatalf("the file does not start with its previous audio")
		}
		part := audio.PCM{Rate: 8000, Channels: 1, Samples: file.Samples[len(old.Samples):]}
		within(t, "appended part (s) vs RecordingDuration", part.Duration().Seconds(), added, 0.5)
		within(t, "appended part (s)", part.Duration().Seconds(), 3, 1)
		if coef := correlation(sound(t, "tt-weasels"), part); coef < 0.6 {
			t.Errorf("the appended part does not carry tt-weasels: correlation %.3f", coef)
		}
		c.waitStatus(ctx)
	})
}

// TestFlexMLRecordFileModeOverwrite: fileMode="overwrite" replaces a 6 s file with the new ~3 s
// recording, under the same SID.
func TestFlexMLRecordFileModeOverwrite(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := flexmlCtx(t)
		first, old := recordFile(t, ctx, p, "long", `maxLength="6" trim="do-not-trim"`)
		sid := first.Get("RecordingSid")

		c := newCall(t, "flexml").on(p)
		c.doc = `<Response><Record fileSid="` + sid + `" fileMode="overwrite" action="` + c.path("after") + `"/></Response>`
		c.serve("after", hangupDoc)
		c.dial(ctx, "s")
		act := c.wait(ctx, "after")
		secs := carrierxStored(t, "action", act, "#")
		if act.Get("RecordingSid") != sid {
			t.Errorf("RecordingSid %q, want the fileSid %q", act.Get("RecordingSid"), sid)
		}
		file := storedWAV(t, act)
		t.Logf("first %.2f s, file now %.2f s (RecordingDuration %v)", old.Duration().Seconds(), file.Duration().Seconds(), secs)
		within(t, "file (s)", file.Duration().Seconds(), 3, 1)
		if coef := correlation(sound(t, "tt-weasels"), file); coef < 0.6 {
			t.Errorf("the overwritten file does not carry tt-weasels: correlation %.3f", coef)
		}
		c.waitStatus(ctx)
	})
}

// TestFlexMLRecordFinishOnKey: finishOnKey is a set of keys. "2" ends on the 2 of 1, 2, #
// (Local/dtmf, no audio: absent, reported with its Digits); "*" lets the '#' of Local/s pass,
// so silence ends it with no Digits.
func TestFlexMLRecordFinishOnKey(t *testing.T) {
	t.Parallel()
	t.Run("2", func(t *testing.T) {
		t.Parallel()
		onPBXs(t, func(t *testing.T, p pbx) {
			ctx := flexmlCtx(t)
			c := newCall(t, "flexml").on(p)
			c.doc = `<Response><Record finishOnKey="2" action="` + c.path("after") + `" recordingStatusCallback="` + c.path("status") +
				`" recordingStatusCallbackEvent="absent"/><Redirect>` + c.path("next") + `</Redirect></Response>`
			c.serve("next", hangupDoc)
			c.ok("after", "status")
			c.dial(ctx, "dtmf")
			st := c.wait(ctx, "status")
			carrierxNoRecording(t, "status callback", st, "absent", "2")
			c.wait(ctx, "next")
			c.waitStatus(ctx)
			c.notRequested("after")
		})
	})
	t.Run("star", func(t *testing.T) {
		t.Parallel()
		onPBXs(t, func(t *testing.T, p pbx) {
			ctx := flexmlCtx(t)
			c := newCall(t, "flexml").on(p)
			// The Record is in a document reached by a Redirect with a query: RequestUrl names it,
			// query included.
			c.doc = redirectTo(c.path("rec") + "?step=2&amp;lang=en")
			c.serve("rec", `<Response><Record finishOnKey="*" timeout="2" action="`+c.path("after")+`"/></Response>`)
			c.serve("after", redirectTo(c.path("next")))
			c.serve("next", hangupDoc)
			c.dial(ctx, "s")
			act := c.wait(ctx, "after")
			carrierxCall(t, "action", act, "in-progress")
			wantValues(t, "action", act, map[string]string{"RequestUrl": c.url("rec") + "?step=2&lang=en"})
			within(t, "RecordingDuration", carrierxStored(t, "action", act, ""), 3, 1)
			c.wait(ctx, "next")
			c.waitStatus(ctx)
		})
	})
}

// TestFlexMLRecordPlayBeep: playBeep="true" plays the PBX's beep to the caller before
// recording (heard on the far half of the Local call, or the simulated channel's write
// stream), and it is not in the recording; the default (false) plays nothing.
func TestFlexMLRecordPlayBeep(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{true, false} {
		name := "default"
		if on {
			name = "true"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			onPBXs(t, func(t *testing.T, p pbx) {
				ctx := flexmlCtx(t)
				c := newCall(t, "flexml").on(p)
				attr := ""
				if on {
					attr = ` playBeep="true"`
				}
				beep := beepOf(t, p)
				c.doc = `<Response><Record` + attr + ` trim="do-not-trim" action="` + c.path("after") + `"/></Response>`
				c.serve("after", hangupDoc)
				ear := c.dialHeard(ctx, "s")
				act := c.wait(ctx, "after")
				carrierxStored(t, "action", act, "#")
				rec := storedWAV(t, act)
				if on {
					// The beep ends before capture starts: the recording opens with the caller's
					// silence (the caller waits 1 s before speaking), not with a tone.
					if head := (audio.PCM{Rate: 8000, Channels: 1, Samples: rec.Samples[:min(len(rec.Samples), 1600)]}); peak(head) > 500 {
						t.Errorf("the recording starts with sound (peak %d in its first 200 ms): the beep was recorded", peak(head))
					}
				}
				heard := ear.audio(ctx)
				hc := correlation(beep, heard)
				t.Logf("heard: %.2f s, loud %s, beep correlation %.3f; recording beep correlation %.3f",
					heard.Duration().Seconds(), loud(heard, 300), hc, correlation(beep, rec))
				if on {
					if hc < 0.8 {
						t.Errorf("the caller did not hear the beep: correlation %.3f", hc)
					}
				} else if peak(heard) > 500 {
					t.Errorf("the caller heard something (peak %d) though playBeep is off", peak(heard))
				}
				c.waitStatus(ctx)
			})
		})
	}
}

// TestFlexMLRecordTrim: caller s starts with 1 s of silence and ends with silence before its
// '#'. trim-silence (the default) cuts both edges, leaving the ~2.95 s of speech; do-not-trim
// keeps them.
func TestFlexMLRecordTrim(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		var (
			mu  sync.Mutex
			got = map[string]float64{}
		)
		t.Run("calls", func(t *testing.T) {
			for _, trim := range []string{"trim-silence", "do-not-trim"} {
				t.Run(trim, func(t *testing.T) {
					t.Parallel()
					ctx := flexmlCtx(t)
					c := newCall(t, "flexml").on(p)
					c.doc = `<Response><Record trim="` + trim + `" action="` + c.path("after") + `"/></Response>`
					c.serve("after", hangupDoc)
					c.dial(ctx, "s")
					act := c.wait(ctx, "after")
					carrierxStored(t, "action", act, "#")
					rec := storedWAV(t, act)
					lead, trail := quietEdges(rec, 100)
					t.Logf("%s: %.2f s, quiet for %s at the start and %s at the end", trim, rec.Duration().Seconds(), lead, trail)
					if trim == "trim-silence" && (lead > 150*time.Millisecond || trail > 150*time.Millisecond) {
						t.Errorf("trim-silence left %s of silence at the start and %s at the end; want the 100 ms margin", lead, trail)
					}
					if trim == "do-not-trim" && lead < 400*time.Millisecond {
						t.Errorf("do-not-trim kept only %s of the silence before the speech", lead)
					}
					mu.Lock()
					got[trim] = rec.Duration().Seconds()
					mu.Unlock()
					c.waitStatus(ctx)
				})
			}
		})
		if t.Failed() {
			return
		}
		trimmed, kept := got["trim-silence"], got["do-not-trim"]
		t.Logf("trim-silence %.2f s, do-not-trim %.2f s", trimmed, kept)
		if p.kind() == freeswitch {
			// Not on FreeSWITCH: its media bug (direction any) ends its file about 0.5 s before
			// the bridge stops it at the '#' (freeswitch.md, observed on 1.10.12), so the last
			// ~0.5 s of the 2.95 s of speech is not in it (2.5 s here). Known, reported.
			t.Logf("FreeSWITCH: the speech's length is not checked (the media bug's 0.5 s lag)")
		} else {
			within(t, "trim-silence duration (s)", trimmed, 3.05, 0.35)
		}
		if kept-trimmed < 0.5 {
			t.Errorf("do-not-trim (%.2f s) is not longer than trim-silence (%.2f s) by the silence", kept, trimmed)
		}
	})
}

// TestFlexMLRecordSession: recordSession="true" on a SIP call. The next verb runs at once
// (a Redirect to a document that plays a chirp, pauses and hangs up); the recording covers the
// call until hangup, both directions mixed (the caller's speech and the chirp). When it is
// stored: the action as a notification (its FlexML is ignored), callbackUrl and the status
// callback, all with CallStatus completed.
func TestFlexMLRecordSession(t *testing.T) {
	t.Parallel()
	onPBXs(t, flexMLRecordSession)
}

func flexMLRecordSession(t *testing.T, p pbx) {
	ctx := flexmlCtx(t)
	c := newCall(t, "flexml").on(p)
	tone := chirp(1500*time.Millisecond, 6000)
	c.serveAudio("chirp.wav", tone)
	c.doc = `<Response><Record recordSession="true" action="` + c.path("after") + `" callbackUrl="` + c.path("cb") +
		`" recordingStatusCallback="` + c.path("status") + `"/><Redirect>` + c.path("next") + `</Redirect></Response>`
	c.serve("next", `<Response><Play>`+c.path("chirp.wav")+`</Play><Pause length="5"/><Hangup/></Response>`)
	c.serve("after", redirectTo(c.path("never")))
	c.ok("cb", "status")
	c.dial(ctx, "sip")

	next := c.wait(ctx, "next")
	if d := next.At.Sub(c.answered(ctx).At); d > 2*time.Second {
		t.Errorf("the verb after the Record ran %s after the call started: recordSession must not block", d)
	}
	act := c.wait(ctx, "after")
	if gap := act.At.Sub(next.At); gap < 6*time.Second {
		t.Errorf("the action came %s after the next verb's fetch: the recording did not last the call", gap)
	}
	wantJSONPost(t, "action", act)
	wantFields(t, "action", act, carrierxFields)
	carrierxCall(t, "action", act, "completed")
	secs := carrierxStored(t, "action", act, "")
	within(t, "RecordingDuration", secs, 6.5, 1)
	cb := c.wait(ctx, "cb")
	wantJSONPost(t, "callbackUrl", cb)
	wantFields(t, "callbackUrl", cb, carrierxFields)
	carrierxCall(t, "callbackUrl", cb, "completed")
	carrierxStored(t, "callbackUrl", cb, "")
	st := c.wait(ctx, "status")
	carrierxCall(t, "status callback", st, "completed")
	carrierxStored(t, "status callback", st, "")
	for _, r := range []apptest.Request{act, cb, st} {
		// The request was caused by the Record of the answer document, though the call had
		// moved on to another document by then.
		wantValues(t, r.Path, r, map[string]string{"RecordingSid": act.Get("RecordingSid"),
			"RequestUrl": env.app.URL + "/answer/flexml", "To": c.number, "From": "sipp"})
	}
	rec := storedWAV(t, act)
	speech, played := correlation(sipAudio(t), rec), correlation(tone, rec)
	t.Logf("session recording %.2f s: correlation with the caller's audio %.3f, with the chirp played %.3f", rec.Duration().Seconds(), speech, played)
	if speech < 0.5 {
		t.Errorf("the session recording does not carry the caller's audio: correlation %.3f", speech)
	}
	if played < 0.3 {
		t.Errorf("the session recording does not carry what was played to the caller: correlation %.3f", played)
	}
	c.waitStatus(ctx)
	c.notRequested("never")
}

// TestFlexMLRecordBackgroundAudio: backgroundAudioUrl is fetched from the app and played to the
// caller during the recording, never recorded. backgroundAudioLoop="1" (the default) plays it
// once; "0" repeats it until the recording ends, and it stops then.
func TestFlexMLRecordBackgroundAudio(t *testing.T) {
	t.Parallel()
	tone := chirp(1500*time.Millisecond, 8000)
	for _, loop := range []string{"", "0"} {
		name := "loop default"
		if loop != "" {
			name = "loop " + loop
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			onPBXs(t, func(t *testing.T, p pbx) {
				ctx := flexmlCtx(t)
				c := newCall(t, "flexml").on(p)
				c.serveAudio("bg.wav", tone)
				attr := ""
				if loop != "" {
					attr = ` backgroundAudioLoop="` + loop + `"`
				}
				c.doc = `<Response><Record backgroundAudioUrl="` + c.path("bg.wav") + `"` + attr + ` action="` + c.path("after") + `"/></Response>`
				c.serve("after", `<Response><Pause length="3"/><Hangup/></Response>`)
				ear := c.dialHeard(ctx, "s")

				act := c.wait(ctx, "after")
				within(t, "RecordingDuration", carrierxStored(t, "action", act, "#"), 3, 1)
				if !c.requested("bg.wav") {
					t.Errorf("pbxbridge never fetched backgroundAudioUrl")
				}
				rec := storedWAV(t, act)
				inRec, speech := correlation(tone, rec), correlation(sound(t, "tt-weasels"), rec)
				if inRec > 0.3 {
					t.Errorf("the background audio is in the recording: correlation %.3f", inRec)
				}
				if speech < 0.6 {
					t.Errorf("the recording does not carry the caller: correlation %.3f", speech)
				}
				heard := ear.audio(ctx)
				inHeard := correlation(tone, heard)
				l := loud(heard, 300)
				t.Logf("chirp: in the recording %.3f, heard %.3f (loud %s of %.2f s); speech in the recording %.3f",
					inRec, inHeard, l, heard.Duration().Seconds(), speech)
				if inHeard < 0.7 {
					t.Errorf("the caller did not hear the background audio: correlation %.3f", inHeard)
				}
				if loop == "" {
					within(t, "background audio heard (s)", l.Seconds(), 1.5, 0.3)
				} else if l < 3*time.Second || l > 5*time.Second {
					// The recording lasts ~4 s (until the '#'); then a 3 s pause with nothing played.
					t.Errorf("background audio heard for %s; want it repeated until the recording ended (~4 s) and no longer", l)
				}
				c.waitStatus(ctx)
			})
		})
	}
}

// TestFlexMLRecordStorageAttributes: containerSid, the metadata keys and the lifecycle. The
// keys are stored as File metadata, which no HTTP API exposes yet: the test checks that they
// are accepted and the file stored. lifecycleTtl with the default action (delete) makes the
// RecordingUrl answer 404 or 410 once TTL+2 s have passed; no_action keeps it.
func TestFlexMLRecordStorageAttributes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, attrs string
		gone        bool
	}{
		{"container and keys", `containerSid="default" integerKey1="42" integerKey2="-7" stringKey1="alpha" stringKey2="beta two"`, false},
		{"ttl delete", `lifecycleTtl="2"`, true},
		{"ttl no_action", `lifecycleTtl="2" lifecycleAction="no_action"`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			onPBXs(t, func(t *testing.T, p pbx) {
				ctx := flexmlCtx(t)
				c := newCall(t, "flexml").on(p)
				c.doc = `<Response><Record ` + tc.attrs + ` action="` + c.path("after") + `" callbackUrl="` + c.path("cb") + `"/></Response>`
				c.serve("after", hangupDoc)
				c.ok("cb")
				c.dial(ctx, "s")
				act := c.wait(ctx, "after")
				carrierxStored(t, "action", act, "#")
				storedWAV(t, act)
				c.wait(ctx, "cb")
				meta := fileMeta(t, act.Get("RecordingSid"))
				if tc.name == "container and keys" {
					want := map[string]any{"container_sid": "default", "integer_key_1": float64(42), "integer_key_2": float64(-7),
						"string_key_1": "alpha", "string_key_2": "beta two", "content_format": "wav", "lifecycle_ttl": float64(-1)}
					for k, v := range want {
						if meta[k] != v {
							t.Errorf("File %s = %v, want %v", k, meta[k], v)
						}
					}
					c.waitStatus(ctx)
					return
				}
				wantAction := "delete"
				if !tc.gone {
					wantAction = "no_action"
				}
				if meta["lifecycle_ttl"] != float64(2) || meta["lifecycle_action"] != wantAction {
					t.Errorf("File lifecycle = %v / %v, want 2 / %s", meta["lifecycle_ttl"], meta["lifecycle_action"], wantAction)
				}
				time.Sleep(time.Until(act.At.Add(4 * time.Second)))
				resp, err := http.Get(act.Get("RecordingUrl"))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				switch {
				case tc.gone && resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusGone:
					t.Errorf("RecordingUrl answers %d after lifecycleTtl+2 s, want 404 or 410", resp.StatusCode)
				case !tc.gone && resp.StatusCode != http.StatusOK:
					t.Errorf("RecordingUrl answers %d after lifecycleTtl+2 s with no_action, want 200", resp.StatusCode)
				}
				c.waitStatus(ctx)
			})
		})
	}
}
