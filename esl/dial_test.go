package esl

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/audio"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
	"github.com/pbxbridge/pbxbridge/translate"
)

// The endpoints the default freeswitch[].dial templates give.
const (
	bobNumber = "15550001"
	bobEP     = "sofia/gateway/pstn/15550001"
	carolEP   = "sofia/gateway/pstn/15550002"
)

func number(n string) adapter.DialTarget {
	return adapter.DialTarget{Kind: translate.TargetNumber, Address: n}
}

// noise is a reproducible white noise: the caller and the called party each say their own, so
// a recording's channels can be told apart by correlation.
func noise(seed uint64, d time.Duration) []int16 {
	s := make([]int16, int(d/(time.Second/eslsim.Rate)))
	x := seed*0x9E3779B97F4A7C15 + 1
	for i := range s {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		s[i] = int16(int64(x%6001) - 3000)
	}
	return s
}

var (
	callerAudio = noise(1, 20*time.Second)
	calleeAudio = noise(2, 20*time.Second)
)

type dialOut struct {
	res adapter.DialResult
	err error
	// after: the caller was still up after the Dial (an Answer worked)
	upAfter bool
}

type dialRun struct {
	r   *rig
	ch  *eslsim.Channel
	out dialOut
}

// dialCall places one simulated call whose handler answers and runs a Dial with spec (before,
// when set, runs first and may start a session recording; after runs after the Dial).
func dialCall(t *testing.T, sc eslsim.Script, spec adapter.DialSpec, callees map[string]eslsim.Callee,
	before func(ctx context.Context, c adapter.Call), after func(ctx context.Context, c adapter.Call), during ...func(*eslsim.Sim, *eslsim.Channel)) dialRun {
	t.Helper()
	out := make(chan dialOut, 1)
	r := newRig(t, eslsim.Options{}, func(ctx context.Context, c adapter.Call) {
		if err := c.Answer(ctx); err != nil {
			out <- dialOut{err: err}
			return
		}
		if before != nil {
			before(ctx, c)
		}
		res, err := c.Dial(ctx, spec)
		o := dialOut{res: res, err: err}
		if err == nil {
			o.upAfter = c.SendDTMF(ctx, "1") == nil
		}
		if after != nil {
			after(ctx, c)
		}
		out <- o
	})
	for ep, ce := range callees {
		r.sim.AddCallee(ep, ce)
	}
	ch, err := r.sim.Call(r.addr, sc)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range during {
		f(r.sim, ch)
	}
	select {
	case o := <-out:
		return dialRun{r, ch, o}
	case <-time.After(30 * time.Second):
		t.Fatal("Dial did not return")
	}
	return dialRun{}
}

func leg(t *testing.T, sim *eslsim.Sim, ep string) *eslsim.Leg {
	t.Helper()
	for _, l := range sim.Legs() {
		if l.Endpoint == ep {
			return l
		}
	}
	t.Fatalf("no leg to %s in %v", ep, sim.Legs())
	return nil
}

func TestDialCompleted(t *testing.T) {
	t.Parallel()
	spec := adapter.DialSpec{Targets: []adapter.DialTarget{number(bobNumber)}, CallerID: "15559999", CallerName: "Front Desk",
		Timeout: 10 * time.Second}
	began := time.Now()
	run := dialCall(t, eslsim.Script{From: "15551111", Audio: callerAudio},
		spec, map[string]eslsim.Callee{bobEP: {Ring: 300 * time.Millisecond, Audio: calleeAudio, HangupAt: 1500 * time.Millisecond}}, nil, nil)
	res := run.out.res
	if run.out.err != nil {
		t.Fatal(run.out.err)
	}
	l := leg(t, run.r.sim, bobEP)
	if res.Status != adapter.DialCompleted || res.Target != 0 || res.CalledID != l.Channel.UUID() || res.HungUpBy != "callee" ||
		res.HangupCause != "NORMAL_CLEARING" {
		t.Errorf("result %+v, leg %s", res, l)
	}
	within(t, "answered after", res.Answered.Sub(began), 200*time.Millisecond, 2*time.Second)
	within(t, "bridged for", res.Ended.Sub(res.Answered), 1300*time.Millisecond, 2*time.Second)
	if got := l.Channel.Var("origination_caller_id_number"); got != "15559999" {
		t.Errorf("caller id %q", got)
	}
	if got := l.Channel.Var("origination_caller_id_name"); got != "Front Desk" {
		t.Errorf("caller name %q", got)
	}
	if !run.out.upAfter {
		t.Error("the caller did not survive the bridge (hangup_after_bridge)")
	}
}

func TestDialOutcomes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		callee  *eslsim.Callee
		timeout time.Duration
		status  adapter.DialStatus
		cause   string
		leg     bool // a leg channel was created
	}{
		{"busy", &eslsim.Callee{Ring: 200 * time.Millisecond, Refuse: "USER_BUSY"}, 10 * time.Second, adapter.DialBusy, "USER_BUSY", true},
		{"rejected", &eslsim.Callee{Refuse: "CALL_REJECTED"}, 10 * time.Second, adapter.DialFailed, "CALL_REJECTED", true},
		{"no-answer", &eslsim.Callee{NoAnswer: true}, time.Second, adapter.DialNoAnswer, "NO_ANSWER", true},
		{"no-route", nil, 10 * time.Second, adapter.DialFailed, "NO_ROUTE_DESTINATION", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			callees := map[string]eslsim.Callee{}
			if tc.callee != nil {
				callees[bobEP] = *tc.callee
			}
			began := time.Now()
			run := dialCall(t, eslsim.Script{Audio: callerAudio},
				adapter.DialSpec{Targets: []adapter.DialTarget{number(bobNumber)}, Timeout: tc.timeout}, callees, nil, nil)
			res := run.out.res
			if run.out.err != nil {
				t.Fatal(run.out.err)
			}
			if res.Status != tc.status || res.HangupCause != tc.cause || res.Target != -1 || res.HungUpBy != "" || !res.Answered.IsZero() {
				t.Errorf("result %+v, want %s / %s", res, tc.status, tc.cause)
			}
			l := leg(t, run.r.sim, bobEP)
			if tc.leg && res.CalledID != l.Channel.UUID() || !tc.leg && res.CalledID != "" {
				t.Errorf("called id %q, leg %s", res.CalledID, l)
			}
			if tc.status == adapter.DialNoAnswer {
				within(t, "rang for", time.Since(began), time.Second, 3*time.Second)
			}
			if !run.out.upAfter {
				t.Error("a failed bridge hung the caller up (continue_on_fail)")
			}
		})
	}
}

// TestDialCallerHangsUpWhileRinging: the caller's hangup cancels the legs; Dial returns
// canceled with ErrHangup.
func TestDialCallerHangsUpWhileRinging(t *testing.T) {
	t.Parallel()
	run := dialCall(t, eslsim.Script{Audio: callerAudio, HangupAt: 800 * time.Millisecond},
		adapter.DialSpec{Targets: []adapter.DialTarget{number(bobNumber)}, Timeout: 10 * time.Second},
		map[string]eslsim.Callee{bobEP: {NoAnswer: true}}, nil, nil)
	if !errors.Is(run.out.err, adapter.ErrHangup) {
		t.Errorf("err %v, want ErrHangup", run.out.err)
	}
	if res := run.out.res; res.Status != adapter.DialCanceled || res.Target != -1 || res.HangupCause != "ORIGINATOR_CANCEL" {
		t.Errorf("result %+v", res)
	}
	if l := leg(t, run.r.sim, bobEP); l.Cause() != "ORIGINATOR_CANCEL" {
		t.Errorf("leg cause %q", l.Cause())
	}
}

// TestDialCallerHangsUpBridged: the caller ends the bridge.
func TestDialCallerHangsUpBridged(t *testing.T) {
	t.Parallel()
	run := dialCall(t, eslsim.Script{Audio: callerAudio, HangupAt: 1200 * time.Millisecond},
		adapter.DialSpec{Targets: []adapter.DialTarget{number(bobNumber)}, Timeout: 10 * time.Second},
		map[string]eslsim.Callee{bobEP: {Ring: 200 * time.Millisecond, Audio: calleeAudio}}, nil, nil)
	if !errors.Is(run.out.err, adapter.ErrHangup) {
		t.Errorf("err %v, want ErrHangup", run.out.err)
	}
	if res := run.out.res; res.Status != adapter.DialCompleted || res.HungUpBy != "caller" || res.Target != 0 {
		t.Errorf("result %+v", res)
	}
}

func TestDialTimeLimit(t *testing.T) {
	t.Parallel()
	run := dialCall(t, eslsim.Script{Audio: callerAudio},
		adapter.DialSpec{Targets: []adapter.DialTarget{number(bobNumber)}, Timeout: 10 * time.Second, TimeLimit: time.Second},
		map[string]eslsim.Callee{bobEP: {Ring: 200 * time.Millisecond, Audio: calleeAudio}}, nil, nil)
	res := run.out.res
	if run.out.err != nil {
		t.Fatal(run.out.err)
	}
	if res.Status != adapter.DialCompleted || res.HungUpBy != "time-limit" || res.HangupCause != "ALLOTTED_TIMEOUT" {
		t.Errorf("result %+v", res)
	}
	within(t, "bridged for", res.Ended.Sub(res.Answered), 900*time.Millisecond, 1600*time.Millisecond)
}

func TestDialHangupOnStar(t *testing.T) {
	t.Parallel()
	for _, star := range []bool{true, false} {
		t.Run(map[bool]string{true: "on", false: "off"}[star], func(t *testing.T) {
			t.Parallel()
			// the caller presses * 0.8 s into the bridge; the callee would hang up after 2.5 s
			run := dialCall(t, eslsim.Script{Audio: callerAudio},
				adapter.DialSpec{Targets: []adapter.DialTarget{number(bobNumber)}, Timeout: 10 * time.Second, HangupOnStar: star},
				map[string]eslsim.Callee{bobEP: {Ring: 300 * time.Millisecond, Audio: calleeAudio, HangupAt: 2500 * time.Millisecond}}, nil, nil,
				func(sim *eslsim.Sim, ch *eslsim.Channel) {
					if sim.WaitAnswered(bobEP, 10*time.Second) == nil {
						t.Error("the callee never answered")
						return
					}
					time.Sleep(800 * time.Millisecond)
					ch.PressDTMF('*')
				})
			res := run.out.res
			if run.out.err != nil {
				t.Fatal(run.out.err)
			}
			l := leg(t, run.r.sim, bobEP)
			if star {
				if res.Status != adapter.DialCompleted || res.HungUpBy != "star" || l.Received() != "" {
					t.Errorf("result %+v, the callee got %q", res, l.Received())
				}
				within(t, "bridged for", res.Ended.Sub(res.Answered), 500*time.Millisecond, 1500*time.Millisecond)
				if !run.out.upAfter {
					t.Error("the caller did not survive *")
				}
			} else if res.HungUpBy != "callee" || l.Received() != "*" {
				t.Errorf("without hangupOnStar: result %+v, the callee got %q", res, l.Received())
			}
		})
	}
}

// TestDialFirstAnswerWins: every target rings at once; the first to answer is bridged and the
// others lose the race.
func TestDialFirstAnswerWins(t *testing.T) {
	t.Parallel()
	run := dialCall(t, eslsim.Script{Audio: callerAudio},
		adapter.DialSpec{Targets: []adapter.DialTarget{number(bobNumber), number("15550002")}, Timeout: 10 * time.Second},
		map[string]eslsim.Callee{bobEP: {NoAnswer: true}, carolEP: {Ring: 300 * time.Millisecond, Audio: calleeAudio, HangupAt: 500 * time.Millisecond}}, nil, nil)
	res := run.out.res
	if run.out.err != nil {
		t.Fatal(run.out.err)
	}
	carol := leg(t, run.r.sim, carolEP)
	if res.Status != adapter.DialCompleted || res.Target != 1 || res.CalledID != carol.Channel.UUID() {
		t.Errorf("result %+v", res)
	}
	if l := leg(t, run.r.sim, bobEP); l.Cause() != "LOSE_RACE" {
		t.Errorf("loser %s", l)
	}
}

// TestDialTargets: numbers, SIP URIs and users become the configured dial strings, with the
// send digits and custom headers on their own leg.
func TestDialTargets(t *testing.T) {
	t.Parallel()
	targets := []adapter.DialTarget{
		{Kind: translate.TargetSIP, Address: "sip:alice@example.com", Headers: []translate.SIPHeader{{Name: "X-PH-Team", Value: "blue, green"}}},
		{Kind: translate.TargetUser, Address: "sip:dave@phone.example.com", SendDigits: "12w3"},
	}
	run := dialCall(t, eslsim.Script{Audio: callerAudio}, adapter.DialSpec{Targets: targets, Timeout: 10 * time.Second},
		map[string]eslsim.Callee{"sofia/external/sip:alice@example.com": {NoAnswer: true},
			"user/dave": {Ring: 200 * time.Millisecond, HangupAt: 400 * time.Millisecond}}, nil, nil)
	if run.out.err != nil || run.out.res.Target != 1 {
		t.Fatalf("result %+v, err %v", run.out.res, run.out.err)
	}
	if got := leg(t, run.r.sim, "sofia/external/sip:alice@example.com").Channel.Var("sip_h_X-PH-Team"); got != "blue, green" {
		t.Errorf("header %q", got)
	}
	if got := leg(t, run.r.sim, "user/dave").Received(); got != "123" {
		t.Errorf("send digits: the callee got %q", got)
	}
}

// TestDialUnroutableTargets: a target no template can carry is skipped; none left is failed.
func TestDialUnroutableTargets(t *testing.T) {
	t.Parallel()
	run := dialCall(t, eslsim.Script{Audio: callerAudio},
		adapter.DialSpec{Targets: []adapter.DialTarget{{Kind: translate.TargetSIP, Address: "sip:a,b@x"}}, Timeout: time.Second}, nil, nil, nil)
	if run.out.err != nil || run.out.res.Status != adapter.DialFailed || len(run.r.sim.Legs()) != 0 {
		t.Errorf("result %+v, err %v, legs %v", run.out.res, run.out.err, run.r.sim.Legs())
	}
	// the others are dialled, and Target still indexes DialSpec.Targets
	run = dialCall(t, eslsim.Script{Audio: callerAudio},
		adapter.DialSpec{Targets: []adapter.DialTarget{{Kind: translate.TargetSIP, Address: "sip:a,b@x"}, number(bobNumber)}, Timeout: 5 * time.Second},
		map[string]eslsim.Callee{bobEP: {Ring: 100 * time.Millisecond, HangupAt: 300 * time.Millisecond}}, nil, nil)
	if run.out.err != nil || run.out.res.Status != adapter.DialCompleted || run.out.res.Target != 1 {
		t.Errorf("with one good target: result %+v, err %v", run.out.res, run.out.err)
	}
}

func split(t *testing.T, wav []byte) (left, right audio.PCM) {
	t.Helper()
	p, err := audio.ParseWAV(wav)
	if err != nil {
		t.Fatal(err)
	}
	if p.Channels == 1 {
		return p, audio.PCM{}
	}
	left, right = audio.PCM{Rate: p.Rate, Channels: 1}, audio.PCM{Rate: p.Rate, Channels: 1}
	for i := 0; i+1 < len(p.Samples); i += 2 {
		left.Samples = append(left.Samples, p.Samples[i])
		right.Samples = append(right.Samples, p.Samples[i+1])
	}
	return left, right
}

func pcm(s []int16) audio.PCM { return audio.PCM{Samples: s, Rate: eslsim.Rate, Channels: 1} }

// corr is how well got matches ref, and where in ref it starts.
func corr(got audio.PCM, ref []int16) (float64, time.Duration) {
	return audio.Correlate(got, pcm(ref), 20*time.Second)
}

// TestDialRecording: DialSpec.Record starts at the answer (never before) and ends with the
// bridge; its channels hold the caller (in, left) and the called party (out, right).
func TestDialRecording(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		tracks        translate.Tracks
		channels      int
		caller, calle bool // which parties the (left, for stereo) channel must carry
	}{
		{"stereo", translate.TracksBoth, 2, true, false},
		{"mixed", translate.TracksBoth, 1, true, true},
		{"in", translate.TracksIn, 1, true, false},
		{"out", translate.TracksOut, 1, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := adapter.DialSpec{Targets: []adapter.DialTarget{number(bobNumber)}, Timeout: 10 * time.Second,
				Record: &adapter.RecordSpec{Name: "dial-" + tc.name, Tracks: tc.tracks, Channels: tc.channels}}
			// the callee rings 1 s: a recording that started before the answer would hold a
			// second of the caller more
			run := dialCall(t, eslsim.Script{Audio: callerAudio}, spec,
				map[string]eslsim.Callee{bobEP: {Ring: time.Second, Audio: calleeAudio, HangupAt: 2 * time.Second}}, nil, nil)
			res := run.out.res
			if run.out.err != nil || res.Status != adapter.DialCompleted || res.RecordErr != nil || res.Recording == nil {
				t.Fatalf("result %+v, err %v", res, run.out.err)
			}
			rec := res.Recording
			if rec.Reason != adapter.EndSessionEnd {
				t.Errorf("reason %s", rec.Reason)
			}
			if d := rec.Started.Sub(res.Answered); d < -50*time.Millisecond || d > 300*time.Millisecond {
				t.Errorf("recording started %v after the answer", d)
			}
			first, second := split(t, rec.WAV)
			if tc.channels == 2 && second.Empty() || tc.channels == 1 && !second.Empty() {
				t.Fatalf("channels: want %d", tc.channels)
			}
			// a media bug over both streams reports half a second less than it ran
			within(t, "length", first.Duration(), 1200*time.Millisecond, 2100*time.Millisecond)
			check := func(what string, ch audio.PCM, caller, callee bool) {
				cr, lag := corr(ch, callerAudio)
				ce, ceLag := corr(ch, calleeAudio)
				want := 0.9
				if caller && callee {
					want = 0.55 // each is half of the mix
				}
				if caller && cr < want || !caller && cr > 0.2 {
					t.Errorf("%s: caller correlation %.2f, want caller=%v", what, cr, caller)
				}
				if callee && ce < want || !callee && ce > 0.2 {
					t.Errorf("%s: callee correlation %.2f, want callee=%v", what, ce, callee)
				}
				// the caller's audio in the file starts where the call was at the called
				// party's answer (it rang 1 s, after the Dial's own set-up, which a loaded
				// machine stretched past half a second), the callee's at its own start
				if caller {
					at := leg(t, run.r.sim, bobEP).Channel.Answered().Sub(run.ch.Answered())
					within(t, what+": called party answered", at, 900*time.Millisecond, 10*time.Second)
					within(t, what+": caller audio from", lag, at-20*time.Millisecond, at+100*time.Millisecond)
				}
				if callee {
					within(t, what+": callee audio from", ceLag, -20*time.Millisecond, 100*time.Millisecond)
				}
			}
			check("first channel", first, tc.caller, tc.calle)
			if tc.channels == 2 {
				check("right channel", second, false, true)
			}
		})
	}
}

// TestDialRecordingMaxLength: the Dial's recording ends at MaxDuration while the bridge goes
// on.
func TestDialRecordingMaxLength(t *testing.T) {
	t.Parallel()
	spec := adapter.DialSpec{Targets: []adapter.DialTarget{number(bobNumber)}, Timeout: 10 * time.Second,
		Record: &adapter.RecordSpec{Name: "dial-max", Tracks: translate.TracksBoth, Channels: 2, MaxDuration: time.Second}}
	run := dialCall(t, eslsim.Script{Audio: callerAudio}, spec,
		map[string]eslsim.Callee{bobEP: {Ring: 200 * time.Millisecond, Audio: calleeAudio, HangupAt: 2500 * time.Millisecond}}, nil, nil)
	res := run.out.res
	if run.out.err != nil || res.Recording == nil || res.RecordErr != nil {
		t.Fatalf("result %+v, err %v", res, run.out.err)
	}
	if res.Recording.Reason != adapter.EndMaxLength || res.HungUpBy != "callee" {
		t.Errorf("reason %s, hung up by %s", res.Recording.Reason, res.HungUpBy)
	}
	left, _ := split(t, res.Recording.WAV)
	within(t, "length", left.Duration(), 900*time.Millisecond, 1200*time.Millisecond)
}

// TestDialRecordingNobodyAnswers: no answer, no recording.
func TestDialRecordingNobodyAnswers(t *testing.T) {
	t.Parallel()
	spec := adapter.DialSpec{Targets: []adapter.DialTarget{number(bobNumber)}, Timeout: 10 * time.Second,
		Record: &adapter.RecordSpec{Name: "dial-none", Tracks: translate.TracksBoth}}
	run := dialCall(t, eslsim.Script{Audio: callerAudio}, spec, map[string]eslsim.Callee{bobEP: {Refuse: "USER_BUSY"}}, nil, nil)
	if res := run.out.res; run.out.err != nil || res.Status != adapter.DialBusy || res.Recording != nil || res.RecordErr != nil {
		t.Errorf("result %+v, err %v", res, run.out.err)
	}
}

// TestDialSessionRecording: a session recording of the caller's channel goes on through the
// bridge: its read stream is the caller all along, its write stream the called party while
// bridged.
func TestDialSessionRecording(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		tracks   translate.Tracks
		channels int
	}{
		{"in", translate.TracksIn, 1},
		{"out", translate.TracksOut, 1},
		{"both-stereo", translate.TracksBoth, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var rec adapter.Recording
			var recErr error
			var result adapter.RecordResult
			run := dialCall(t, eslsim.Script{Audio: callerAudio},
				adapter.DialSpec{Targets: []adapter.DialTarget{number(bobNumber)}, Timeout: 10 * time.Second},
				map[string]eslsim.Callee{bobEP: {Ring: 500 * time.Millisecond, Audio: calleeAudio, HangupAt: 2 * time.Second}},
				func(ctx context.Context, c adapter.Call) {
					rec, recErr = c.StartRecording(ctx, adapter.RecordSpec{Name: "sess-" + tc.name, Tracks: tc.tracks, Channels: tc.channels, MaxDuration: time.Minute})
				},
				func(ctx context.Context, c adapter.Call) {
					if recErr != nil {
						return
					}
					recErr = rec.Stop(ctx)
					<-rec.Done()
					result, recErr = rec.Result()
				})
			if recErr != nil || run.out.err != nil {
				t.Fatalf("recording: %v, dial: %v", recErr, run.out.err)
			}
			if run.out.res.Status != adapter.DialCompleted {
				t.Fatalf("dial %+v", run.out.res)
			}
			first, second := split(t, result.WAV)
			// the bridge ran from about 0.5 s to 2.5 s into the recording, which reports half a
			// second less than it ran
			bridged := func(p audio.PCM) audio.PCM {
				from, to := 700*eslsim.Rate/1000, 1900*eslsim.Rate/1000
				if len(p.Samples) < to {
					t.Fatalf("recording too short: %v", p.Duration())
				}
				return pcm(p.Samples[from:to])
			}
			switch tc.name {
			case "in":
				if c, _ := corr(first, callerAudio); c < 0.9 {
					t.Errorf("the read stream is not the caller: %.2f", c)
				}
				if c, _ := corr(bridged(first), calleeAudio); c > 0.2 {
					t.Errorf("the read stream holds the callee: %.2f", c)
				}
			case "out":
				if c, _ := corr(bridged(first), calleeAudio); c < 0.9 {
					t.Errorf("the write stream while bridged is not the callee: %.2f", c)
				}
				if c, _ := corr(bridged(first), callerAudio); c > 0.2 {
					t.Errorf("the write stream holds the caller: %.2f", c)
				}
			default:
				if c, _ := corr(first, callerAudio); c < 0.9 {
					t.Errorf("left is not the caller: %.2f", c)
				}
				if c, _ := corr(bridged(second), calleeAudio); c < 0.9 {
					t.Errorf("right while bridged is not the callee: %.2f", c)
				}
				if c, _ := corr(bridged(second), callerAudio); c > 0.2 {
					t.Errorf("right holds the caller: %.2f", c)
				}
			}
		})
	}
}

// TestDialRingback: the caller hears the Dial's ringback while the legs ring (the US ring
// tone when the Dial names none), then the called party.
func TestDialRingback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		ringback *adapter.PlaySpec
	}{
		{"default", nil},
		{"tone", &adapter.PlaySpec{URL: "tone:%(1000,0,600)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			run := dialCall(t, eslsim.Script{Audio: callerAudio},
				adapter.DialSpec{Targets: []adapter.DialTarget{number(bobNumber)}, Timeout: 10 * time.Second, Ringback: tc.ringback},
				map[string]eslsim.Callee{bobEP: {Ring: time.Second, Audio: calleeAudio, HangupAt: time.Second}}, nil, nil)
			if run.out.err != nil || run.out.res.Status != adapter.DialCompleted {
				t.Fatalf("result %+v, err %v", run.out.res, run.out.err)
			}
			heard := run.ch.Heard()
			// the legs rang from about 0.1 s to 1.1 s after the caller's answer
			if len(heard) < 2*eslsim.Rate {
				t.Fatalf("heard only %d samples", len(heard))
			}
			ring := heard[3*eslsim.Rate/10 : 9*eslsim.Rate/10]
			if e := meanAbs(ring); e < 500 {
				t.Errorf("no ringback while ringing: mean level %d", e)
			}
			if c, _ := corr(pcm(heard[14*eslsim.Rate/10:18*eslsim.Rate/10]), calleeAudio); c < 0.9 {
				t.Errorf("the caller did not hear the called party once bridged: %.2f", c)
			}
			ignore := leg(t, run.r.sim, bobEP).Vars["ignore_early_media"]
			if (tc.ringback != nil) != (ignore == "true") {
				t.Errorf("ignore_early_media %q", ignore)
			}
		})
	}
}

func meanAbs(s []int16) int {
	sum := 0
	for _, v := range s {
		sum += max(int(v), -int(v))
	}
	return sum / max(len(s), 1)
}

// TestDialUnansweredCaller: a Dial before any Answer; FreeSWITCH answers the caller when the
// called party answers.
func TestDialUnansweredCaller(t *testing.T) {
	t.Parallel()
	out := make(chan dialOut, 1)
	r := newRig(t, eslsim.Options{}, func(ctx context.Context, c adapter.Call) {
		res, err := c.Dial(ctx, adapter.DialSpec{Targets: []adapter.DialTarget{number(bobNumber)}, Timeout: 10 * time.Second})
		out <- dialOut{res: res, err: err}
	})
	r.sim.AddCallee(bobEP, eslsim.Callee{Ring: 300 * time.Millisecond, Audio: calleeAudio, HangupAt: 500 * time.Millisecond})
	ch, err := r.sim.Call(r.addr, eslsim.Script{Audio: callerAudio})
	if err != nil {
		t.Fatal(err)
	}
	o := <-out
	if o.err != nil || o.res.Status != adapter.DialCompleted || o.res.HungUpBy != "callee" {
		t.Errorf("result %+v, err %v", o.res, o.err)
	}
	if ch.Answered().IsZero() || ch.Answered().Before(o.res.Answered.Add(-50*time.Millisecond)) {
		t.Errorf("caller answered at %v, the called party at %v", ch.Answered(), o.res.Answered)
	}
}

// TestDialRecordingCallerHangsUp: the caller's hangup ends the bridge and the recording,
// which keeps what was captured.
func TestDialRecordingCallerHangsUp(t *testing.T) {
	t.Parallel()
	spec := adapter.DialSpec{Targets: []adapter.DialTarget{number(bobNumber)}, Timeout: 10 * time.Second,
		Record: &adapter.RecordSpec{Name: "dial-hang", Tracks: translate.TracksBoth, Channels: 2}}
	run := dialCall(t, eslsim.Script{Audio: callerAudio, HangupAt: 1800 * time.Millisecond}, spec,
		map[string]eslsim.Callee{bobEP: {Ring: 300 * time.Millisecond, Audio: calleeAudio}}, nil, nil)
	res := run.out.res
	if !errors.Is(run.out.err, adapter.ErrHangup) || res.HungUpBy != "caller" || res.Recording == nil || res.RecordErr != nil {
		t.Fatalf("result %+v, err %v", res, run.out.err)
	}
	if res.Recording.Reason != adapter.EndSessionEnd {
		t.Errorf("reason %s", res.Recording.Reason)
	}
	left, right := split(t, res.Recording.WAV)
	within(t, "length", left.Duration(), 700*time.Millisecond, 1500*time.Millisecond)
	if c, _ := corr(right, calleeAudio); c < 0.9 {
		t.Errorf("right is not the called party: %.2f", c)
	}
}

// TestDialRecordingAnswerRace: two legs answer at the same moment; both start their
// recording on the caller's channel (api_on_answer runs at each answer), the loser's is
// stopped and dropped, the winner's is the Dial's.
func TestDialRecordingAnswerRace(t *testing.T) {
	t.Parallel()
	spec := adapter.DialSpec{Targets: []adapter.DialTarget{number(bobNumber), number("15550002")}, Timeout: 10 * time.Second,
		Record: &adapter.RecordSpec{Name: "dial-race", Tracks: translate.TracksBoth, Channels: 2}}
	callerCh := make(chan *eslsim.Channel, 1)
	var bugsAfter []string
	run := dialCall(t, eslsim.Script{Audio: callerAudio}, spec, map[string]eslsim.Callee{
		bobEP:   {Ring: 300 * time.Millisecond, Audio: calleeAudio, HangupAt: 1500 * time.Millisecond},
		carolEP: {Ring: 300 * time.Millisecond, Audio: calleeAudio, HangupAt: 1500 * time.Millisecond},
	}, nil, func(context.Context, adapter.Call) {
		bugsAfter = (<-callerCh).Bugs() // the call is still up
	}, func(_ *eslsim.Sim, ch *eslsim.Channel) { callerCh <- ch })
	if len(bugsAfter) != 0 {
		t.Errorf("still recording on the caller's channel after the Dial: %v", bugsAfter)
	}
	res := run.out.res
	if run.out.err != nil || res.Status != adapter.DialCompleted || res.Recording == nil || res.RecordErr != nil {
		t.Fatalf("result %+v, err %v", res, run.out.err)
	}
	left, right := split(t, res.Recording.WAV)
	within(t, "length", left.Duration(), 700*time.Millisecond, 1600*time.Millisecond)
	if c, _ := corr(right, calleeAudio); c < 0.9 {
		t.Errorf("right is not the called party: %.2f", c)
	}
	// a recording left running would be written at the hangup and stay in record_dir
	select {
	case <-run.ch.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the call did not end")
	}
	if files, _ := filepath.Glob(filepath.Join(run.r.dir, "*")); len(files) != 0 {
		t.Errorf("left in record_dir: %v", files)
	}
	answeredBoth := true
	for _, ep := range []string{bobEP, carolEP} {
		answeredBoth = answeredBoth && !leg(t, run.r.sim, ep).Channel.Answered().IsZero()
	}
	if !answeredBoth {
		t.Error("only one leg answered in time: the loser's recording was not exercised")
	}
}

// TestDialContextCancelled: the engine gives up on a ringing Dial; its legs are cancelled and
// Dial returns the context's cause.
func TestDialContextCancelled(t *testing.T) {
	t.Parallel()
	stop := errors.New("engine stops")
	out := make(chan dialOut, 1)
	r := newRig(t, eslsim.Options{}, func(ctx context.Context, c adapter.Call) {
		_ = c.Answer(ctx)
		dctx, cancel := context.WithCancelCause(ctx)
		time.AfterFunc(800*time.Millisecond, func() { cancel(stop) })
		res, err := c.Dial(dctx, adapter.DialSpec{Targets: []adapter.DialTarget{number(bobNumber)}, Timeout: 10 * time.Second})
		out <- dialOut{res: res, err: err, upAfter: c.SendDTMF(ctx, "1") == nil}
	})
	r.sim.AddCallee(bobEP, eslsim.Callee{NoAnswer: true})
	if _, err := r.sim.Call(r.addr, eslsim.Script{Audio: callerAudio}); err != nil {
		t.Fatal(err)
	}
	o := <-out
	if !errors.Is(o.err, stop) || o.res.Status != adapter.DialCanceled || !o.upAfter {
		t.Errorf("result %+v, err %v, caller up %v", o.res, o.err, o.upAfter)
	}
	if l := leg(t, r.sim, bobEP); l.Cause() != "ORIGINATOR_CANCEL" {
		t.Errorf("leg %s", l)
	}
}

// TestDialConfirm: with DialSpec.Confirm the legs carry group_confirm_key, _file and
// _read_timeout; a party that answers without the key (a wrong one) is not bridged and loses
// the race, the one that presses it wins, and OnAnswer names it. The winner heard the confirm
// sound before the bridge.
func TestDialConfirm(t *testing.T) {
	t.Parallel()
	var answered []int
	spec := adapter.DialSpec{Targets: []adapter.DialTarget{number(bobNumber), number("15550002")}, Timeout: 10 * time.Second,
		Confirm:  &adapter.DialConfirm{Key: '5', Audio: &adapter.PlaySpec{URL: "tone:%(300,0,440)", Loops: 1}, Timeout: 2 * time.Second},
		OnAnswer: func(target int, _ string, _ time.Time) { answered = append(answered, target) }}
	run := dialCall(t, eslsim.Script{Audio: callerAudio}, spec, map[string]eslsim.Callee{
		bobEP:   {Ring: 200 * time.Millisecond, Audio: calleeAudio, DTMF: []eslsim.DTMF{{At: 100 * time.Millisecond, Digit: '1'}}},
		carolEP: {Ring: 500 * time.Millisecond, Audio: calleeAudio, HangupAt: 1500 * time.Millisecond, DTMF: []eslsim.DTMF{{At: 400 * time.Millisecond, Digit: '5'}}},
	}, nil, nil)
	if run.out.err != nil {
		t.Fatal(run.out.err)
	}
	carol, bob := leg(t, run.r.sim, carolEP), leg(t, run.r.sim, bobEP)
	if res := run.out.res; res.Status != adapter.DialCompleted || res.Target != 1 || res.CalledID != carol.Channel.UUID() {
		t.Errorf("result %+v", res)
	}
	if len(answered) != 1 || answered[0] != 1 {
		t.Errorf("OnAnswer calls %v, want [1]", answered)
	}
	if bob.Cause() != "LOSE_RACE" {
		t.Errorf("the unconfirmed party: %s", bob)
	}
	for k, v := range map[string]string{"group_confirm_key": "5", "group_confirm_file": "tone_stream://%(300,0,440)", "group_confirm_read_timeout": "2000"} {
		if got := carol.Vars[k]; got != v {
			t.Errorf("leg variable %s = %q, want %q", k, got, v)
		}
	}
	if carol.Channel.Var("group_dial_status") != "winner" {
		t.Errorf("the confirmed leg's group_dial_status %q", carol.Channel.Var("group_dial_status"))
	}
	heard := carol.Channel.Heard()
	loud := 0
	for _, s := range heard[:min(len(heard), eslsim.Rate/4)] {
		if s > 1000 || s < -1000 {
			loud++
		}
	}
	if loud == 0 {
		t.Error("the confirming party did not hear the confirm sound")
	}
}

// TestDialConfirmNobody: a party that answers but never confirms is asked again until the
// Dial's timeout ends its leg: no-answer.
func TestDialConfirmNobody(t *testing.T) {
	t.Parallel()
	spec := adapter.DialSpec{Targets: []adapter.DialTarget{number(bobNumber)}, Timeout: 2 * time.Second,
		Confirm: &adapter.DialConfirm{Key: '#', Timeout: 500 * time.Millisecond}}
	run := dialCall(t, eslsim.Script{Audio: callerAudio}, spec, map[string]eslsim.Callee{bobEP: {Ring: 200 * time.Millisecond, Audio: calleeAudio}}, nil, nil)
	if run.out.err != nil {
		t.Fatal(run.out.err)
	}
	if res := run.out.res; res.Status != adapter.DialNoAnswer {
		t.Errorf("result %+v, want no-answer", res)
	}
	if l := leg(t, run.r.sim, bobEP); l.Cause() != "NO_ANSWER" {
		t.Errorf("leg %s", l)
	}
}
