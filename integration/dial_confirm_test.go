package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/integration/apptest"
)

// Dial confirmKey / confirmSound: a called party that answers must press the key before it is
// bridged. The confirming party (calleeConfirms) presses calleeConfirmKey a second after its
// answer: as RFC 4733 events on Asterisk (uas_callee.xml, 15550415...), as a DTMF of its leg in
// the FreeSWITCH simulator, whose bridge models switch_ivr_originate's group_confirm_*.

// TestPlivoDialConfirm: confirmKey with a confirmSound document (a Play); the called party
// presses the key, is bridged, and hangs up 6 s after its answer: DialStatus completed, and
// the action comes when the bridge ends, not at the answer.
func TestPlivoDialConfirm(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		c.serveAudio("press5.wav", chirp(800*time.Millisecond, 6000))
		c.serve("confirm", `<Response><Play>`+c.url("press5.wav")+`</Play></Response>`)
		c.doc = `<Response><Dial action="` + c.url("after") + `" confirmKey="5" confirmSound="` + c.url("confirm") +
			`" confirmTimeout="10" timeout="20"><Number>` + c.calleeNumber(calleeConfirms) + `</Number></Dial></Response>`
		c.serve("after", `<Response><Hangup/></Response>`)
		c.dial(ctx, "sip")
		c.wait(ctx, "confirm")
		act := c.wait(ctx, "after")
		plivoDialAction(t, act, "completed", "NORMAL_CLEARING")
		if gap := act.At.Sub(c.answered(ctx).At); gap < calleeAnswer+calleeTalk-time.Second {
			t.Errorf("the action came %s after the call started: it is due when the bridge ends", gap)
		}
		c.waitStatus(ctx)
	})
}

// TestFlexMLDialConfirmNoKey: confirmKey with a confirmSound media URL; the called party
// answers but never presses the key: it is never bridged, and the Dial ends as unanswered
// when its timeout passes (DialCallStatus noanswer, no DialCallSid).
func TestFlexMLDialConfirmNoKey(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := flexmlCtx(t)
		c := newCall(t, "flexml").on(p)
		c.serveAudio("press5.wav", chirp(800*time.Millisecond, 6000))
		c.doc = `<Response><Dial action="` + c.path("after") + `" confirmKey="5" confirmSound="` + c.url("press5.wav") +
			`" timeout="6"><Number>` + c.calleeNumber(calleeWaits) + `</Number></Dial></Response>`
		c.serve("after", `<Response><Hangup/></Response>`)
		c.dial(ctx, "sip")
		act := c.wait(ctx, "after")
		if d := carrierxDialAction(t, act, "noanswer"); d != 0 {
			t.Errorf("DialCallDuration %v, want 0: the called party was never bridged", d)
		}
		if d := act.At.Sub(c.answered(ctx).At); d < 5*time.Second || d > 12*time.Second {
			t.Errorf("the action came %s after the call started, want about 6 s (the Dial timeout)", d)
		}
		c.waitStatus(ctx)
	})
}

// TestPlivoDialConfirmTimeout: the called party answers and does not press confirmKey. On
// Asterisk its leg is hung up when confirmTimeout (3 s) passes; on FreeSWITCH, whose collect
// thread asks again after every group_confirm_read_timeout, when the Dial timeout (8 s)
// does. Either way the Dial is not answered: DialStatus no-answer.
func TestPlivoDialConfirmTimeout(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		c.doc = `<Response><Dial action="` + c.url("after") + `" confirmKey="5" confirmTimeout="3" timeout="8"><Number>` +
			c.calleeNumber(calleeWaits) + `</Number></Dial></Response>`
		c.serve("after", `<Response><Hangup/></Response>`)
		c.dial(ctx, "sip")
		act := c.wait(ctx, "after")
		plivoDialAction(t, act, "no-answer", "NO_ANSWER")
		max := 8*time.Second + 3*time.Second
		if p == asterisk {
			max = calleeAnswer + 3*time.Second + 2*time.Second
		}
		if d := act.At.Sub(c.answered(ctx).At); d < calleeAnswer+2*time.Second || d > max {
			t.Errorf("the action came %s after the call started, want at most %s", d, max)
		}
		c.waitStatus(ctx)
	})
}

// TestPlivoDialCallbackURL: Dial callbackUrl gets the answered leg's events through the
// outbox: DialAction answer when it is bridged (about 2 s in), hangup when it hangs up (6 s
// later), both with its DialBLegUUID (the action's), position, from and to; the hangup with
// its cause and bridged seconds.
func TestPlivoDialCallbackURL(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		to := c.calleeNumber(calleeHangs)
		c.doc = `<Response><Dial action="` + c.url("after") + `" callbackUrl="` + c.url("events") + `" callerId="15550100077"><Number>` +
			to + `</Number></Dial></Response>`
		c.ok("events")
		c.serve("after", `<Response><Hangup/></Response>`)
		c.dial(ctx, "sip")
		event := func(action string) apptest.Request {
			t.Helper()
			r, err := env.app.Wait(ctx, func(r apptest.Request) bool {
				return r.Path == c.path("events") && r.Get("DialAction") == action
			})
			if err != nil {
				t.Fatalf("dial event %s: %v", action, err)
			}
			return r
		}
		ans, hup := event("answer"), event("hangup")
		act := c.wait(ctx, "after")
		plivoDialAction(t, act, "completed", "NORMAL_CLEARING")
		b := act.Get("DialBLegUUID")
		for _, r := range []apptest.Request{ans, hup} {
			wantForm(t, "dial event", r)
			wantValues(t, "dial event", r, map[string]string{"DialBLegUUID": b, "DialALegUUID": act.Get("CallUUID"),
				"CallUUID": act.Get("CallUUID"), "DialBLegPosition": "1", "DialBLegFrom": "15550100077", "DialBLegTo": to})
		}
		wantValues(t, "answer event", ans, map[string]string{"Event": "DialAnswer", "DialBLegStatus": "answer"})
		wantValues(t, "hangup event", hup, map[string]string{"Event": "DialHangup", "DialBLegStatus": "hangup",
			"DialBLegHangupCause": "NORMAL_CLEARING"})
		within(t, "DialBLegDuration", num(t, "DialBLegDuration", hup.Get("DialBLegDuration")), calleeTalk.Seconds(), 1)
		start := c.answered(ctx).At
		if d := ans.At.Sub(start); d < calleeAnswer-500*time.Millisecond || d > calleeAnswer+2*time.Second {
			t.Errorf("the answer event came %s after the call started, want about %s (the answer)", d, calleeAnswer)
		}
		if d := hup.At.Sub(ans.At); d < calleeTalk-time.Second {
			t.Errorf("the hangup event came %s after the answer event, want about %s", d, calleeTalk)
		}
		c.waitStatus(ctx)
	})
}

// TestAsteriskDialSendDigits: sendDigits reach the called party as keys: the target is
// Asterisk itself (sip:dtmflog-<tag>, a dialplan that Read()s 3 keys and logs them), so a
// real endpoint says what it received over RFC 4733. (On FreeSWITCH, esl's TestDialTargets
// checks the simulated leg's received keys.)
func TestAsteriskDialSendDigits(t *testing.T) {
	t.Parallel()
	ctx := plivoCtx(t)
	c := newCall(t, "plivo").on(asterisk)
	tag := fmt.Sprintf("dtmflog-%d%03d", time.Now().UnixNano()%1e6, calleeSeq.Add(1)%1000)
	c.doc = `<Response><Dial action="` + c.url("after") + `"><User sendDigits="1w23">sip:` + tag + `@` + sipTarget +
		`</User></Dial></Response>`
	c.serve("after", `<Response><Hangup/></Response>`)
	c.dial(ctx, "sip")
	act := c.wait(ctx, "after")
	plivoDialAction(t, act, "completed", "NORMAL_CLEARING")
	root := envOr("PBX_ASTERISK_ROOT", filepath.Join(envOr("PBX_CACHE", "/var/cache/pbxbridge"), "asterisk-root"))
	b, err := os.ReadFile(filepath.Join(root, "var", "log", "asterisk", "messages.log"))
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, line := range strings.Split(string(b), "\n") {
		if _, rest, ok := strings.Cut(line, tag+" received "); ok {
			got = strings.TrimSpace(rest)
		}
	}
	if got != "123" {
		t.Errorf("the called party received %q, want 123 (messages.log: %q)", got, tag+" received ...")
	}
	c.waitStatus(ctx)
}
