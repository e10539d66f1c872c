package integration

import (
	"context"
	"testing"
	"time"
)

// TestHangupCause: the Plivo status callback's HangupCause is how the call really ended, on
// both PBXs (the engine asks the PBX, adapter.HangupReporter), not a constant.
//   - caller: the caller hangs up during a long Wait (after Speak answered): NORMAL_CLEARING,
//     reported by the PBX (Asterisk's hangup request; FreeSWITCH's CHANNEL_HANGUP with
//     recv_bye); the callback comes at the caller's hangup, long before the Wait would end.
//   - hangup verb: the application's <Hangup/>: NORMAL_CLEARING, pbxbridge's own cause.
//   - end of document: pbxbridge hangs up when the verbs run out: NORMAL_CLEARING.
//
// FreeSWITCH's own cause (DESTINATION_OUT_OF_ORDER when record cannot open its file) is
// TestFreeSWITCHRecordFileFailed's.
func TestHangupCause(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, caller, doc string
		within            time.Duration // the status callback comes this soon after the call
	}{
		{"caller", "hang", `<Response><Speak>Hello.</Speak><Wait length="40"/><Hangup/></Response>`, 25 * time.Second},
		{"hangup verb", "long", `<Response><Wait length="1"/><Hangup/><Wait length="30"/></Response>`, 20 * time.Second},
		{"end of document", "long", `<Response><Wait length="1"/></Response>`, 20 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			onPBXs(t, func(t *testing.T, p pbx) {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				c := newCall(t, "plivo").on(p)
				c.doc = tc.doc
				start := time.Now()
				c.dial(ctx, tc.caller)
				st := c.waitStatus(ctx)
				if d := st.At.Sub(start); d > tc.within {
					t.Errorf("status callback %s after the call, want within %s", d.Round(time.Millisecond), tc.within)
				}
				wantValues(t, "status callback", st, map[string]string{"CallStatus": "completed", "HangupCause": "NORMAL_CLEARING"})
				if p.kind() == freeswitch {
					<-c.fs.Done()
					if cause := c.fs.HangupCause(); cause != "NORMAL_CLEARING" {
						t.Errorf("the channel hung up with %q, want NORMAL_CLEARING", cause)
					}
				}
			})
		})
	}
}

// TestHangupCauseCancel (FreeSWITCH): a caller that hangs up before the call is answered
// sends CANCEL; FreeSWITCH ends the channel with ORIGINATOR_CANCEL (recv_cancel), and the
// status callback says so. (Asterisk's callers here are Local channels, answered already.)
func TestHangupCauseCancel(t *testing.T) {
	t.Parallel()
	slot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := newCall(t, "plivo").on(freeswitch)
	c.doc = `<Response><Wait length="40"/><Hangup/></Response>`
	start := time.Now()
	c.dial(ctx, "hang")
	st := c.waitStatus(ctx)
	if d := st.At.Sub(start); d > 25*time.Second {
		t.Errorf("status callback %s after the call, want at the caller's hangup", d.Round(time.Millisecond))
	}
	wantValues(t, "status callback", st, map[string]string{"HangupCause": "ORIGINATOR_CANCEL"})
	<-c.fs.Done()
	if cause := c.fs.HangupCause(); cause != "ORIGINATOR_CANCEL" {
		t.Errorf("the channel hung up with %q, want ORIGINATOR_CANCEL", cause)
	}
}
