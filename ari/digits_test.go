package ari

import (
	"context"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
)

type digitsResult struct {
	res     adapter.DigitResult
	err     error
	elapsed time.Duration
}

func (h *harness) collect(t *testing.T, exten string, d adapter.DigitSpec) (digitsResult, string) {
	t.Helper()
	out := make(chan digitsResult, 1)
	id := h.originate(t, exten, func(ctx context.Context, c adapter.Call) {
		if err := c.Answer(ctx); err != nil {
			out <- digitsResult{err: err}
			return
		}
		t0 := time.Now()
		res, err := c.CollectDigits(ctx, d)
		out <- digitsResult{res, err, time.Since(t0)}
	})
	select {
	case r := <-out:
		return r, id
	case <-time.After(40 * time.Second):
		t.Fatal("CollectDigits did not return")
	}
	return digitsResult{}, id
}

// TestAsteriskCollectDigits: CollectDigits on the real Asterisk with a Local far end that
// sends keys (play-test "dtmf": 2 s, then 1, 2, # 350 ms apart). The first key stops a 16 s
// prompt (barge-in: its playback ends within a second of the key and no later prompt nor the
// beep starts); # ends the input and is not part of Digits. With no key, the first-key
// timeout runs from the end of the prompts.
func TestAsteriskCollectDigits(t *testing.T) {
	cfg := testConfig()
	requireAsterisk(t, cfg)
	h := startHarness(t, cfg)

	r, id := h.collect(t, "dtmf", adapter.DigitSpec{
		Prompts:    []adapter.Prompt{{Play: &adapter.PlaySpec{URL: "sound:tt-monkeys", Loops: 1}}, {Silence: time.Second}, {Play: &adapter.PlaySpec{URL: "sound:beep", Loops: 1}}},
		FinishKeys: keys("#"), Timeout: 5 * time.Second, DigitTimeout: 3 * time.Second, Beep: true,
	})
	if r.err != nil || r.res.Digits != "12" || r.res.Reason != adapter.DigitsFinishKey || r.res.Key != '#' {
		t.Fatalf("barge-in: CollectDigits = %+v, %v", r.res, r.err)
	}
	within(t, "barge-in elapsed ms", int(r.elapsed.Milliseconds()), 2000, 6000)
	var started, finished int
	var firstStart, lastEnd time.Time
	for _, e := range h.events(func(e evt) bool { return e.Target == "channel:"+id }) {
		switch e.Type {
		case evPlaybackStarted:
			started++
			if firstStart.IsZero() {
				firstStart = e.At
			}
		case evPlaybackFinished:
			finished++
			lastEnd = e.At
		}
	}
	if started != 1 || finished != 1 {
		t.Errorf("%d playbacks started, %d finished; want the first prompt only, stopped by the key", started, finished)
	} else if d := lastEnd.Sub(firstStart); d > 5*time.Second {
		t.Errorf("the prompt played %s; the key at about 2 s must stop it", d)
	}

	// "hang" sends no key: the prompt, the beep, then 1 s.
	r, _ = h.collect(t, "hang", adapter.DigitSpec{
		Prompts: []adapter.Prompt{{Play: &adapter.PlaySpec{URL: "sound:beep", Loops: 1}}, {Silence: 500 * time.Millisecond}},
		Timeout: time.Second, DigitTimeout: time.Second, Beep: true,
	})
	if r.err != nil || r.res.Digits != "" || r.res.Reason != adapter.DigitsTimeout {
		t.Fatalf("timeout: CollectDigits = %+v, %v", r.res, r.err)
	}
	within(t, "timeout elapsed ms", int(r.elapsed.Milliseconds()), 1500, 3900)
}
