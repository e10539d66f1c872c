package integration

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/audio"
	"github.com/pbxbridge/pbxbridge/integration/apptest"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
)

// The Dial scenarios: a caller (SIPp with g711a.pcap, speech) dials a called party with audio
// of its own (SIPp uas_callee.xml with callee_chirps.pcap, frequency sweeps) through the PJSIP
// endpoint "trunk" on the real Asterisk. What the called party does depends on the number
// dialled (calleeNumber); from the recordings the tests tell who is on which channel.

// calleeKind is what a called party does (uas_callee.xml).
type calleeKind int

const (
	calleeWaits    calleeKind = iota // answers after 2 s, talks, never hangs up
	calleeHangs                      // answers after 2 s, talks, hangs up 6 s after answering
	calleeBusy                       // refuses as busy (486)
	calleeRings                      // rings until cancelled
	calleeHeader                     // as calleeHangs with the header X-PH-Leg: 7, else 403
	calleeConfirms                   // as calleeHangs, and presses calleeConfirmKey calleeConfirmAt after answering
)

// calleeAnswer and calleeTalk are the scenario's timings.
const (
	calleeAnswer = 2 * time.Second
	calleeTalk   = 6 * time.Second
	// calleeConfirmKey is the key calleeConfirms presses (RFC 4733 on Asterisk), calleeConfirmAt
	// after its answer.
	calleeConfirmKey = '5'
	calleeConfirmAt  = time.Second
)

var calleeSeq atomic.Int32

// calleeNumber starts the called party if needed and returns a number that reaches it with
// the behaviour wanted, on the call's PBX.
func (c *call) calleeNumber(kind calleeKind) string {
	c.t.Helper()
	n := fmt.Sprintf("1555041%d%03d", int(kind), calleeSeq.Add(1)%1000)
	if c.pbx.kind() == freeswitch {
		c.simCallee(n, kind)
		return n
	}
	startCallee(c.t)
	return n
}

// simCallee scripts the FreeSWITCH simulator's called party at number n as uas_callee.xml
// behaves, reachable through the default freeswitch[].dial templates as a number, as the SIP
// URI the tests write, and as a user.
func (c *call) simCallee(n string, kind calleeKind) {
	c.t.Helper()
	var ce eslsim.Callee
	switch kind {
	case calleeWaits:
		ce = eslsim.Callee{Ring: calleeAnswer, Audio: calleeAudio(c.t).Samples}
	case calleeHangs, calleeHeader:
		// The simulated party does not look at headers: the esl tests check the legs'
		// sip_h_ variables.
		ce = eslsim.Callee{Ring: calleeAnswer, Audio: calleeAudio(c.t).Samples, HangupAt: calleeTalk}
	case calleeConfirms:
		ce = eslsim.Callee{Ring: calleeAnswer, Audio: calleeAudio(c.t).Samples, HangupAt: calleeTalk,
			DTMF: []eslsim.DTMF{{At: calleeConfirmAt, Digit: calleeConfirmKey}}}
	case calleeBusy:
		ce = eslsim.Callee{Refuse: "USER_BUSY"}
	case calleeRings:
		ce = eslsim.Callee{NoAnswer: true}
	}
	if c.callees == nil {
		c.callees = map[string]eslsim.Callee{}
	}
	for _, ep := range []string{"sofia/gateway/pstn/" + n, "sofia/external/sip:" + n + "@127.0.0.1:" + envOr("PBX_CALLEE_PORT", "5080"), "user/" + n} {
		c.callees[ep] = ce
	}
}

var callee struct {
	once sync.Once
	cmd  *exec.Cmd
	dir  string // where it runs, with its pcaps
	err  error
}

// startCallee runs the called party's SIPp once for the whole run (stopCallee ends it), from
// a directory of its own holding its pcaps: callee_chirps.pcap and the generated
// callee_key5.pcap (calleeConfirmKey as RFC 4733 events calleeConfirmAt after the answer, in
// a µ-law stream of silence).
func startCallee(t *testing.T) {
	t.Helper()
	callee.once.Do(func() {
		dir, err := filepath.Abs(filepath.Join(asteriskDir, "sipp"))
		if err != nil {
			callee.err = err
			return
		}
		run, err := os.MkdirTemp("", "pbxbridge-callee-")
		if err != nil {
			callee.err = err
			return
		}
		callee.dir = run
		key, err := keysPcapAs(0, 0xff, nil, nil, []keyPress{{at: calleeConfirmAt, digit: calleeConfirmKey}})
		if err == nil {
			err = os.WriteFile(filepath.Join(run, "callee_key5.pcap"), key, 0o644)
		}
		// the scenario beside its pcaps: run.sh's chrooted sipp takes them from its directory
		for _, f := range []string{"callee_chirps.pcap", "uas_callee.xml"} {
			if err == nil {
				err = os.Symlink(filepath.Join(dir, f), filepath.Join(run, f))
			}
		}
		if err != nil {
			callee.err = fmt.Errorf("preparing the called party's pcaps: %w", err)
			return
		}
		port := envOr("PBX_CALLEE_PORT", "5080")
		cmd := exec.Command(filepath.Join(dir, "..", "run.sh"), "sipp", "-sf", filepath.Join(run, "uas_callee.xml"), "-i", "127.0.0.1", "-p", port,
			"-mi", "127.0.0.1", "-mp", "15000", "-nostdin")
		cmd.Dir = run // play_pcap_audio is relative
		log, err := os.CreateTemp("", "pbxbridge-callee-*.log")
		if err != nil {
			callee.err = err
			return
		}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			callee.err = fmt.Errorf("starting the called party's SIPp: %w", err)
			return
		}
		callee.cmd = cmd
		time.Sleep(300 * time.Millisecond) // SIPp binds its ports at once; give it a moment
	})
	if callee.err != nil {
		t.Fatal(callee.err)
	}
}

// stopCallee ends the called party's SIPp, if it was started.
func stopCallee() {
	if callee.cmd != nil && callee.cmd.Process != nil {
		_ = callee.cmd.Process.Kill()
		_ = callee.cmd.Wait()
	}
	if callee.dir != "" {
		_ = os.RemoveAll(callee.dir)
	}
}

func init() {
	// SIP from sipp: 7.05 s of speech, then '*' 7.5 s after the audio starts (hangupOnStar).
	callers["sip-star"] = caller{sipp: "uac_pcap_star_remote_bye.xml", script: func(t *testing.T) eslsim.Script {
		sc := sippScript("sipp", false)(t)
		sc.DTMF = []eslsim.DTMF{{At: 7500 * time.Millisecond, Digit: '*'}}
		return sc
	}}
}

// calleeAudio is what the called party says: callee_chirps.pcap.
func calleeAudio(t *testing.T) audio.PCM {
	t.Helper()
	p, err := pcapAudio(filepath.Join(asteriskDir, "sipp", "callee_chirps.pcap"))
	if err != nil || p.Empty() {
		t.Fatalf("callee_chirps.pcap: %v", err)
	}
	return p
}

// The parts of each party's audio that every bridge of these tests carries whole: the
// caller's speech from 2.5 s to 6.5 s after its answer (the called party answers at 2 s), the
// called party's first 0.5 to 4.5 s (it talks for 6 s). correlation takes the median over the
// needle's segments, so a needle longer than what the call carried would score low however
// well the recording holds the rest.
func bridgedCaller(t *testing.T) audio.PCM {
	return cut(sipAudio(t), 2500*time.Millisecond, 6500*time.Millisecond)
}
func bridgedCallee(t *testing.T) audio.PCM {
	return cut(calleeAudio(t), 500*time.Millisecond, 4500*time.Millisecond)
}

// cut is p from from to to.
func cut(p audio.PCM, from, to time.Duration) audio.PCM {
	a, b := int(from.Seconds()*float64(p.Rate)), min(len(p.Samples), int(to.Seconds()*float64(p.Rate)))
	return audio.PCM{Rate: p.Rate, Channels: 1, Samples: p.Samples[a:b]}
}

// Dial action parameters (translate.DialActionParams).
var (
	carrierxDialFields = append(append([]string{}, carrierxCallFields...), "DialCallStatus", "DialCallSid", "DialCallDuration")
	plivoDialFields    = append(append([]string{}, plivoCallFields...), "DialRingStatus", "DialHangupCause", "DialStatus", "DialALegUUID", "DialBLegUUID")
)

// carrierxDialAction checks a CarrierX Dial action request and returns DialCallDuration.
func carrierxDialAction(t *testing.T, r apptest.Request, status string) float64 {
	t.Helper()
	wantHeaders(t, "action", r)
	if r.Method != http.MethodPost || r.JSON == nil {
		t.Fatalf("action: %s %q, want a JSON POST", r.Method, r.Header.Get("Content-Type"))
	}
	if _, ok := r.JSON["DialCallDuration"].(float64); !ok {
		t.Errorf("action: DialCallDuration is %T, want a JSON number", r.JSON["DialCallDuration"])
	}
	wantFields(t, "action", r, carrierxDialFields)
	wantValues(t, "action", r, map[string]string{"DialCallStatus": status, "CallStatus": "in-progress"})
	if sid := r.Get("DialCallSid"); (status == "completed") != (sid != "") {
		t.Errorf("action: DialCallSid %q with DialCallStatus %s", sid, status)
	}
	return num(t, "DialCallDuration", r.Get("DialCallDuration"))
}

// plivoDialAction checks a Plivo Dial action request.
func plivoDialAction(t *testing.T, r apptest.Request, status, cause string) {
	t.Helper()
	wantForm(t, "action", r)
	wantFields(t, "action", r, plivoDialFields)
	wantValues(t, "action", r, map[string]string{"DialStatus": status, "DialHangupCause": cause,
		"DialALegUUID": r.Get("CallUUID"), "CallStatus": "in-progress"})
	if b := r.Get("DialBLegUUID"); (status == "completed") != (b != "") {
		t.Errorf("action: DialBLegUUID %q with DialStatus %s", b, status)
	}
}

// TestFlexMLDial: <Dial><Number> answered, the called party hangs up after 6 s: the action
// (POST JSON) gets DialCallStatus completed, the called leg's id and the bridged time, and
// its document replaces the rest of this one.
func TestFlexMLDial(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := flexmlCtx(t)
		c := newCall(t, "flexml").on(p)
		c.doc = `<Response><Dial action="` + c.path("after") + `" callerId="15550100077" timeout="20"><Number>` +
			c.calleeNumber(calleeHangs) + `</Number></Dial><Redirect>` + c.path("never") + `</Redirect></Response>`
		c.serve("after", `<Response><Hangup/></Response>`)
		c.dial(ctx, "sip")
		act := c.wait(ctx, "after")
		d := carrierxDialAction(t, act, "completed")
		within(t, "DialCallDuration", d, calleeTalk.Seconds(), 1)
		if gap := act.At.Sub(c.answered(ctx).At); gap < calleeAnswer+calleeTalk-time.Second {
			t.Errorf("the action came %s after the call started: it is due when the Dial ends", gap)
		}
		c.waitStatus(ctx)
		c.notRequested("never")
	})
}

// TestFlexMLDialSipNoAction: <Dial><Sip> (sent through the trunk to the URI) without action:
// when the called party hangs up the flow goes on with the next verb.
func TestFlexMLDialSipNoAction(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := flexmlCtx(t)
		c := newCall(t, "flexml").on(p)
		c.doc = `<Response><Dial><Sip>sip:` + c.calleeNumber(calleeHangs) + `@127.0.0.1:` + envOr("PBX_CALLEE_PORT", "5080") +
			`</Sip></Dial><Redirect>` + c.path("next") + `</Redirect></Response>`
		c.serve("next", `<Response><Hangup/></Response>`)
		c.dial(ctx, "sip")
		next := c.wait(ctx, "next")
		if gap := next.At.Sub(c.answered(ctx).At); gap < calleeAnswer+calleeTalk-time.Second {
			t.Errorf("the next verb ran %s after the call started: it is due when the Dial ends", gap)
		}
		c.waitStatus(ctx)
	})
}

// TestFlexMLDialBusy: a busy called party: DialCallStatus busy, no DialCallSid, duration 0.
func TestFlexMLDialBusy(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := flexmlCtx(t)
		c := newCall(t, "flexml").on(p)
		c.doc = `<Response><Dial action="` + c.path("after") + `"><Number>` + c.calleeNumber(calleeBusy) + `</Number></Dial></Response>`
		c.serve("after", `<Response><Hangup/></Response>`)
		c.dial(ctx, "sip")
		act := c.wait(ctx, "after")
		if d := carrierxDialAction(t, act, "busy"); d != 0 {
			t.Errorf("DialCallDuration %v, want 0", d)
		}
		c.waitStatus(ctx)
	})
}

// TestPlivoDial: <Dial><Number> answered; the called party hangs up after 6 s. The action
// (redirect true) gets DialStatus completed, DialRingStatus true, both legs' ids, and its XML
// replaces the document.
func TestPlivoDial(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		c.doc = `<Response><Dial action="` + c.url("after") + `" callerId="15550100077" callerName="Bridge"><Number>` +
			c.calleeNumber(calleeHangs) + `</Number></Dial><Redirect>` + c.url("never") + `</Redirect></Response>`
		c.serve("after", `<Response><Hangup/></Response>`)
		c.dial(ctx, "sip")
		act := c.wait(ctx, "after")
		plivoDialAction(t, act, "completed", "NORMAL_CLEARING")
		wantValues(t, "action", act, map[string]string{"DialRingStatus": "true"})
		if gap := act.At.Sub(c.answered(ctx).At); gap < calleeAnswer+calleeTalk-time.Second {
			t.Errorf("the action came %s after the call started: it is due when the Dial ends", gap)
		}
		c.waitStatus(ctx)
		c.notRequested("never")
	})
}

// TestPlivoDialUserNotify: <Dial redirect="false"><User>: the action is a notification and the
// flow goes on with the next element.
func TestPlivoDialUserNotify(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		c.doc = `<Response><Dial action="` + c.url("after") + `" redirect="false"><User>sip:` + c.calleeNumber(calleeHangs) +
			`@127.0.0.1:` + envOr("PBX_CALLEE_PORT", "5080") + `</User></Dial><Redirect>` + c.url("next") + `</Redirect></Response>`
		c.serve("after", plivoRedirect(c.url("never")))
		c.serve("next", `<Response><Hangup/></Response>`)
		c.dial(ctx, "sip")
		act := c.wait(ctx, "after")
		plivoDialAction(t, act, "completed", "NORMAL_CLEARING")
		c.wait(ctx, "next")
		c.waitStatus(ctx)
		c.notRequested("never")
	})
}

// TestPlivoDialBusy: a busy called party: DialStatus busy, USER_BUSY, no B leg.
func TestPlivoDialBusy(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		c.doc = `<Response><Dial action="` + c.url("after") + `"><Number>` + c.calleeNumber(calleeBusy) + `</Number></Dial></Response>`
		c.serve("after", `<Response><Hangup/></Response>`)
		c.dial(ctx, "sip")
		act := c.wait(ctx, "after")
		plivoDialAction(t, act, "busy", "USER_BUSY")
		c.waitStatus(ctx)
	})
}

// TestPlivoDialNoAnswer: timeout="3" on a party that only rings: DialStatus no-answer about
// 3 s after the Dial started.
func TestPlivoDialNoAnswer(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		c.doc = `<Response><Dial action="` + c.url("after") + `" timeout="3"><Number>` + c.calleeNumber(calleeRings) + `</Number></Dial></Response>`
		c.serve("after", `<Response><Hangup/></Response>`)
		c.dial(ctx, "sip")
		act := c.wait(ctx, "after")
		plivoDialAction(t, act, "no-answer", "NO_ANSWER")
		// Not before the timeout, and long before the 30 s default: the timeout ended it.
		if d := act.At.Sub(c.answered(ctx).At); d < 2500*time.Millisecond || d > 8*time.Second {
			t.Errorf("the action came %s after the call started, want about 3 s (timeout)", d)
		}
		c.waitStatus(ctx)
	})
}

// TestFlexMLDialNoAnswer: the same in CarrierX's words: DialCallStatus noanswer.
func TestFlexMLDialNoAnswer(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := flexmlCtx(t)
		c := newCall(t, "flexml").on(p)
		c.doc = `<Response><Dial action="` + c.path("after") + `" timeout="3"><Number>` + c.calleeNumber(calleeRings) + `</Number></Dial></Response>`
		c.serve("after", `<Response><Hangup/></Response>`)
		c.dial(ctx, "sip")
		act := c.wait(ctx, "after")
		carrierxDialAction(t, act, "noanswer")
		c.waitStatus(ctx)
	})
}

// TestPlivoDialTimeLimit: timeLimit="3" with a party that never hangs up: the bridge ends
// after 3 s, DialStatus completed, DialHangupCause ALLOTTED_TIMEOUT (FreeSWITCH's cause for
// it, which Plivo reports).
func TestPlivoDialTimeLimit(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		c.doc = `<Response><Dial action="` + c.url("after") + `" timeLimit="3"><Number>` + c.calleeNumber(calleeWaits) + `</Number></Dial></Response>`
		c.serve("after", `<Response><Hangup/></Response>`)
		c.dial(ctx, "sip")
		act := c.wait(ctx, "after")
		plivoDialAction(t, act, "completed", "ALLOTTED_TIMEOUT")
		// Not before answer + limit, and long before the party (who never hangs up) would.
		if d := act.At.Sub(c.answered(ctx).At); d < calleeAnswer+2500*time.Millisecond || d > calleeAnswer+8*time.Second {
			t.Errorf("the action came %s after the call started, want about %s (answer + timeLimit)", d, calleeAnswer+3*time.Second)
		}
		c.waitStatus(ctx)
	})
}

// TestFlexMLDialHangupOnStar: the caller presses * 7.5 s into its audio (5.5 s into the
// bridge) with hangupOnStar: the Dial ends, the action runs, the call goes on.
func TestFlexMLDialHangupOnStar(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := flexmlCtx(t)
		c := newCall(t, "flexml").on(p)
		c.doc = `<Response><Dial action="` + c.path("after") + `" hangupOnStar="true"><Number>` + c.calleeNumber(calleeWaits) + `</Number></Dial></Response>`
		c.serve("after", `<Response><Hangup/></Response>`)
		c.dial(ctx, "sip-star")
		act := c.wait(ctx, "after")
		d := carrierxDialAction(t, act, "completed")
		within(t, "DialCallDuration", d, 5.5, 1)
		c.waitStatus(ctx)
	})
}

// TestPlivoDialStartOnDialAnswer: a startOnDialAnswer Record (stereo, the default) before a
// Dial whose party answers after 2 s and hangs up 6 s later. The action goes out when the
// element runs, with -1 values; callbackUrl brings a file of the bridge only: left the caller,
// right the called party, starting at the answer (RecordingStartMs 2 s after the Record ran,
// and none of the caller's first 1.5 s of speech in it), about 6 s long.
func TestPlivoDialStartOnDialAnswer(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) { plivoDialRecording(t, p, "stereo") })
}

// TestPlivoDialStartOnDialAnswerMono: the same with recordChannelType="mono": both parties
// mixed in one channel.
func TestPlivoDialStartOnDialAnswerMono(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) { plivoDialRecording(t, p, "mono") })
}

func plivoDialRecording(t *testing.T, p pbx, channels string) {
	ctx := plivoCtx(t)
	c := newCall(t, "plivo").on(p)
	c.doc = `<Response><Record startOnDialAnswer="true" recordChannelType="` + channels + `" action="` + c.url("after") +
		`" redirect="false" callbackUrl="` + c.url("cb") + `" fileFormat="wav" maxLength="60"/><Dial><Number>` +
		c.calleeNumber(calleeHangs) + `</Number></Dial><Hangup/></Response>`
	c.ok("after", "cb")
	c.dial(ctx, "sip")

	act := c.wait(ctx, "after")
	wantValues(t, "action", act, map[string]string{"RecordingDuration": "-1", "RecordingStartMs": "-1"})
	cb := c.wait(ctx, "cb")
	wantFields(t, "callbackUrl", cb, withHangup(plivoCallbackFields))
	wantValues(t, "callbackUrl", cb, map[string]string{"RecordingID": act.Get("RecordingID"), "RecordUrl": act.Get("RecordUrl")})
	ms := plivoRecording(t, "callbackUrl", cb, "wav")
	startMs := num(t, "RecordingStartMs", cb.Get("RecordingStartMs"))
	// The recording spans the bridge: from the answer to the called party's hangup.
	within(t, "RecordingEndMs - RecordingStartMs", num(t, "RecordingEndMs", cb.Get("RecordingEndMs"))-startMs, float64(calleeTalk.Milliseconds()), 1000)
	// Its audio is about as long; a starved Asterisk's snoop delivers fewer frames than the
	// wall time (observed: 4.7 s of audio for 6.0 s with the Gather suite running alongside).
	if ms < float64(calleeTalk.Milliseconds())*0.7 || ms > float64(calleeTalk.Milliseconds()+1000) {
		t.Errorf("RecordingDurationMs %v, want about %d", ms, calleeTalk.Milliseconds())
	}
	armed := float64(act.At.UnixMilli())
	if d := startMs - armed; d < float64((calleeAnswer - 500*time.Millisecond).Milliseconds()) {
		t.Errorf("the recording started %.0f ms after the Record ran: it must start at the answer, %s later", d, calleeAnswer)
	}

	n := 2
	if channels == "mono" {
		n = 1
	}
	rec := wavFile(t, recording(t, cb.Get("RecordUrl"), "audio/wav"), n)
	keep(t, "dial.wav", recording(t, cb.Get("RecordUrl"), "audio/wav"))
	within(t, "stored duration (ms) vs RecordingDurationMs", float64(rec.Duration().Milliseconds()), ms, 50)
	src, other, full := bridgedCaller(t), bridgedCallee(t), sipAudio(t)
	early := cut(full, 0, 1500*time.Millisecond)
	if channels == "mono" {
		cs, ce := correlation(src, rec), correlation(other, rec)
		t.Logf("mono: caller %.3f, called party %.3f, caller's first 1.5 s %.3f", cs, ce, correlation(early, rec))
		if cs < 0.4 || ce < 0.4 {
			t.Errorf("the mono recording does not carry both parties: caller %.3f, called party %.3f", cs, ce)
		}
		// Present, its segments would score about 1 (as the rest of the speech does); speech
		// against other speech of the same voice scores up to about 0.45.
		if e := correlation(early, rec); e > 0.7 {
			t.Errorf("the recording holds the caller's speech from before the answer: correlation %.3f", e)
		}
		c.waitStatus(ctx)
		return
	}
	left, right := channel(rec, 0), channel(rec, 1)
	ls, lo, rs, ro := correlation(src, left), correlation(other, left), correlation(src, right), correlation(other, right)
	t.Logf("left: caller %.3f, called party %.3f; right: caller %.3f, called party %.3f", ls, lo, rs, ro)
	if ls < 0.6 || lo > 0.3 {
		t.Errorf("the left channel is not the caller: caller %.3f, called party %.3f", ls, lo)
	}
	if ro < 0.6 || rs > 0.3 {
		t.Errorf("the right channel is not the called party: called party %.3f, caller %.3f", ro, rs)
	}
	if e := correlation(early, left); e > 0.7 {
		t.Errorf("the left channel holds the caller's speech from before the answer: correlation %.3f", e)
	}
	// The left channel's first speech is the caller's audio about 2 s in: the answer.
	head := audio.PCM{Rate: left.Rate, Channels: 1, Samples: left.Samples[:min(len(left.Samples), left.Rate)]}
	coef, lag := audio.Correlate(head, full, 8*time.Second)
	t.Logf("the recording's first second is the caller's audio at %s (correlation %.3f)", lag, coef)
	if lag < calleeAnswer-700*time.Millisecond {
		t.Errorf("the recording's first second is the caller's audio at %s: the recording began before the answer (%s)", lag, calleeAnswer)
	}
	c.waitStatus(ctx)
}

// TestFlexMLDialRecordSession: a CarrierX recordSession started before a Dial goes on across
// the bridge with its direction: in = the caller only, out = the called party only (what the
// caller hears), any = both mixed.
func TestFlexMLDialRecordSession(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"in", "out", "any"} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			onPBXs(t, func(t *testing.T, p pbx) {
				ctx := flexmlCtx(t)
				c := newCall(t, "flexml").on(p)
				c.doc = `<Response><Record recordSession="true" direction="` + dir + `" fileFormat="wav" callbackUrl="` + c.path("cb") +
					`"/><Dial><Number>` + c.calleeNumber(calleeHangs) + `</Number></Dial><Hangup/></Response>`
				c.ok("cb")
				c.dial(ctx, "sip")
				cb := c.wait(ctx, "cb")
				rec := storedWAV(t, cb)
				keep(t, "session-"+dir+".wav", recording(t, cb.Get("RecordingUrl"), "audio/wav"))
				cs, ce := correlation(bridgedCaller(t), rec), correlation(bridgedCallee(t), rec)
				t.Logf("direction %s, %.2f s: caller %.3f, called party %.3f", dir, rec.Duration().Seconds(), cs, ce)
				switch dir {
				case "in":
					if cs < 0.6 || ce > 0.3 {
						t.Errorf("direction in must hold the caller only: caller %.3f, called party %.3f", cs, ce)
					}
				case "out":
					if ce < 0.6 || cs > 0.3 {
						t.Errorf("direction out must hold the called party only: called party %.3f, caller %.3f", ce, cs)
					}
				default:
					if cs < 0.4 || ce < 0.4 {
						t.Errorf("direction any must hold both parties: caller %.3f, called party %.3f", cs, ce)
					}
				}
				if !strings.HasPrefix(cb.Get("RecordingUrl"), env.base) {
					t.Errorf("RecordingUrl %q", cb.Get("RecordingUrl"))
				}
				c.waitStatus(ctx)
			})
		})
	}
}

// TestPlivoDialFirstToAnswer: two targets ring at once, a busy one and one that answers: the
// Dial is completed with the one that answered.
func TestPlivoDialFirstToAnswer(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		c.doc = `<Response><Dial action="` + c.url("after") + `"><Number>` + c.calleeNumber(calleeBusy) + `</Number><Number>` +
			c.calleeNumber(calleeHangs) + `</Number></Dial></Response>`
		c.serve("after", `<Response><Hangup/></Response>`)
		c.dial(ctx, "sip")
		act := c.wait(ctx, "after")
		plivoDialAction(t, act, "completed", "NORMAL_CLEARING")
		if gap := act.At.Sub(c.answered(ctx).At); gap < calleeAnswer+calleeTalk-time.Second {
			t.Errorf("the action came %s after the call started: the busy target must not end the Dial", gap)
		}
		c.waitStatus(ctx)
	})
}

// TestFlexMLDialCallerHangsUp: the caller hangs up while the target rings: the action still
// goes out, as a notification (nobody is left to run its answer), with DialCallStatus cancel
// and the call completed; the called party's ringing is cancelled.
func TestFlexMLDialCallerHangsUp(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := flexmlCtx(t)
		c := newCall(t, "flexml").on(p)
		c.doc = `<Response><Dial action="` + c.path("after") + `" timeout="30"><Number>` + c.calleeNumber(calleeRings) + `</Number></Dial></Response>`
		c.serve("after", redirectTo(c.path("never")))
		c.dial(ctx, "hang") // hangs up about 4 s after its answer
		act := c.wait(ctx, "after")
		wantFields(t, "action", act, carrierxDialFields)
		wantValues(t, "action", act, map[string]string{"DialCallStatus": "cancel", "DialCallSid": "", "CallStatus": "completed"})
		if gap := act.At.Sub(c.answered(ctx).At); gap > 10*time.Second {
			t.Errorf("the action came %s after the call started: it is due when the caller hangs up", gap)
		}
		c.waitStatus(ctx)
		c.notRequested("never")
	})
}

// TestPlivoDialMusic: dialMusic names a document whose Play is what the caller hears while
// the called party rings (2 s): a recordSession's right channel (what the caller heard) holds
// it before the answer, and the called party after.
func TestPlivoDialMusic(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		tone := chirp(1500*time.Millisecond, 6000)
		c.serveAudio("music.wav", tone)
		c.serve("music", `<Response><Play>`+c.url("music.wav")+`</Play></Response>`)
		c.doc = `<Response><Record recordSession="true" fileFormat="wav" maxLength="60" callbackUrl="` + c.url("cb") +
			`"/><Dial dialMusic="` + c.url("music") + `"><Number>` + c.calleeNumber(calleeHangs) + `</Number></Dial><Hangup/></Response>`
		c.ok("cb")
		c.dial(ctx, "sip")
		cb := c.wait(ctx, "cb")
		rec := wavFile(t, recording(t, cb.Get("RecordUrl"), "audio/wav"), 2)
		right := channel(rec, 1)
		music, other := correlation(tone, right), correlation(bridgedCallee(t), right)
		t.Logf("what the caller heard: dialMusic %.3f, called party %.3f", music, other)
		if music < 0.6 {
			t.Errorf("the caller did not hear dialMusic while the party rang: correlation %.3f", music)
		}
		if other < 0.6 {
			t.Errorf("the caller did not hear the called party: correlation %.3f", other)
		}
		c.waitStatus(ctx)
	})
}

// TestPlivoDialSIPHeaders: sipHeaders on <Dial> and <User> reach the called party as X-PH-
// headers: the party answers only when "X-PH-Leg: 7" is in the INVITE.
func TestPlivoDialSIPHeaders(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := plivoCtx(t)
		c := newCall(t, "plivo").on(p)
		c.doc = `<Response><Dial action="` + c.url("after") + `" sipHeaders="Acct=42"><User sipHeaders="Leg=7">sip:` +
			c.calleeNumber(calleeHeader) + `@127.0.0.1:` + envOr("PBX_CALLEE_PORT", "5080") + `</User></Dial></Response>`
		c.serve("after", `<Response><Hangup/></Response>`)
		c.dial(ctx, "sip")
		act := c.wait(ctx, "after")
		plivoDialAction(t, act, "completed", "NORMAL_CLEARING")
		c.waitStatus(ctx)
	})
}
