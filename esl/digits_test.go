package esl

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
)

type digitsOut struct {
	res     adapter.DigitResult
	err     error
	elapsed time.Duration
}

// collect places one simulated call whose handler answers and runs CollectDigits with d.
func collect(t *testing.T, sc eslsim.Script, d adapter.DigitSpec) (digitsOut, *eslsim.Channel) {
	t.Helper()
	out := make(chan digitsOut, 1)
	r := newRig(t, eslsim.Options{}, func(ctx context.Context, c adapter.Call) {
		if err := c.Answer(ctx); err != nil {
			out <- digitsOut{err: err}
			return
		}
		start := time.Now()
		res, err := c.CollectDigits(ctx, d)
		out <- digitsOut{res, err, time.Since(start)}
		_ = c.Hangup(ctx, "NORMAL_CLEARING")
	})
	ch, err := r.sim.Call(r.addr, sc)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-out:
		return o, ch
	case <-time.After(15 * time.Second):
		t.Fatal("CollectDigits did not return")
	}
	return digitsOut{}, nil
}

func pressAt(at ...any) []eslsim.DTMF {
	var out []eslsim.DTMF
	for i := 0; i+1 < len(at); i += 2 {
		out = append(out, eslsim.DTMF{At: at[i].(time.Duration), Digit: at[i+1].(byte)})
	}
	return out
}

func tonePrompt(ms int) adapter.Prompt {
	return adapter.Prompt{Play: &adapter.PlaySpec{URL: "tone:%(" + strconv.Itoa(ms) + ",0,440)", Loops: 1}}
}

// A key during the first prompt stops it and the prompts after it; the keys after it are
// collected until the finish key, which is not part of Digits.
func TestCollectDigitsBargeIn(t *testing.T) {
	ms := time.Millisecond
	o, ch := collect(t, eslsim.Script{NoMedia: true, DTMF: pressAt(500*ms, byte('1'), 900*ms, byte('2'), 1300*ms, byte('#')), HangupAt: 20 * time.Second},
		adapter.DigitSpec{Prompts: []adapter.Prompt{tonePrompt(2000), {Silence: time.Second}, tonePrompt(1000)},
			FinishKeys: mustKeys(t, "#"), Timeout: 5 * time.Second, DigitTimeout: 3 * time.Second, Beep: true})
	if o.err != nil || o.res.Digits != "12" || o.res.Reason != adapter.DigitsFinishKey || o.res.Key != '#' {
		t.Fatalf("CollectDigits = %+v, %v", o.res, o.err)
	}
	within(t, "collection", o.elapsed, 1200*ms, 1900*ms)
	if v := ch.Var("playback_terminators"); v != "0123456789#*" {
		t.Errorf("playback_terminators = %q; every key must stop a prompt", v)
	}
}

// With no key the first-key timeout runs from the end of the prompts (and the beep).
func TestCollectDigitsFirstKeyTimeout(t *testing.T) {
	ms := time.Millisecond
	o, _ := collect(t, eslsim.Script{NoMedia: true, HangupAt: 20 * time.Second},
		adapter.DigitSpec{Prompts: []adapter.Prompt{tonePrompt(1000), {Silence: 500 * ms}},
			Timeout: 700 * ms, DigitTimeout: 3 * time.Second, Beep: true})
	if o.err != nil || o.res.Digits != "" || o.res.Reason != adapter.DigitsTimeout {
		t.Fatalf("CollectDigits = %+v, %v", o.res, o.err)
	}
	// 1 s tone + 0.5 s silence + 0.5 s beep + 0.7 s timeout
	within(t, "collection", o.elapsed, 2700*ms, 3300*ms)
}

// After a key the inter-key timeout ends the input; numDigits ends it at once when reached.
func TestCollectDigitsInterKeyAndNumDigits(t *testing.T) {
	ms := time.Millisecond
	o, _ := collect(t, eslsim.Script{NoMedia: true, DTMF: pressAt(1200*ms, byte('5')), HangupAt: 20 * time.Second},
		adapter.DigitSpec{Prompts: []adapter.Prompt{tonePrompt(1000)}, FinishKeys: mustKeys(t, "#"),
			Timeout: 3 * time.Second, DigitTimeout: 400 * ms})
	if o.err != nil || o.res.Digits != "5" || o.res.Reason != adapter.DigitsTimeout {
		t.Fatalf("inter-key: CollectDigits = %+v, %v", o.res, o.err)
	}
	within(t, "inter-key collection", o.elapsed, 1500*ms, 2000*ms)

	o, _ = collect(t, eslsim.Script{NoMedia: true, DTMF: pressAt(200*ms, byte('7'), 400*ms, byte('8'), 600*ms, byte('9')), HangupAt: 20 * time.Second},
		adapter.DigitSpec{Prompts: []adapter.Prompt{tonePrompt(3000)}, NumDigits: 2, Timeout: 3 * time.Second, DigitTimeout: 3 * time.Second})
	if o.err != nil || o.res.Digits != "78" || o.res.Reason != adapter.DigitsComplete {
		t.Fatalf("numDigits: CollectDigits = %+v, %v", o.res, o.err)
	}
	within(t, "numDigits collection", o.elapsed, 300*ms, 900*ms)
}

// A hangup while waiting for keys ends the collection with ErrHangup.
func TestCollectDigitsHangup(t *testing.T) {
	o, _ := collect(t, eslsim.Script{NoMedia: true, HangupAt: 1500 * time.Millisecond},
		adapter.DigitSpec{Prompts: []adapter.Prompt{tonePrompt(500)}, Timeout: 10 * time.Second, DigitTimeout: time.Second})
	if o.err == nil {
		t.Fatalf("CollectDigits = %+v after a hangup, want ErrHangup", o.res)
	}
}
