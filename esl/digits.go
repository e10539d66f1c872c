package esl

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/translate"
)

// CollectDigits plays the prompts with the playback application, one execute each, with every
// key in playback_terminators: a key stops the prompt playing (barge-in) and no further prompt
// starts. Keys are read from the channel's DTMF events, which FreeSWITCH fires when the running
// application (or the park loop of the socket application between two) dequeues a key; a
// watcher takes them in event order, so a key pressed between two prompts is not lost when the
// next execute clears the mailbox. Silence prompts are playback silence_stream://<ms>, which
// keys interrupt like any prompt (Plivo's framework plays Wait the same way inside GetDigits).
// The first-key timeout starts once the prompts and the beep are over; the inter-key timeout
// at each key.
//
// play_and_get_digits is not used: it takes one prompt file, restarts it per try, and ends on
// its own regular expression, where a Gather has several prompts, attempts run by the engine,
// and a finish key set rather than a single terminator.
//
// Keys are never logged here: the engine decides whether they may be (Plivo log="false").
func (c *Call) CollectDigits(ctx context.Context, d adapter.DigitSpec) (adapter.DigitResult, error) {
	k := &keyQueue{wake: make(chan struct{}, 1)}
	remove := c.watch(func(e *event) {
		if e.Name == "DTMF" {
			if s := e.get("DTMF-Digit"); len(s) == 1 {
				k.push(s[0])
			}
		}
	})
	defer remove()
	if err := c.setTerminators(ctx, translate.AllKeys.String()); err != nil {
		return adapter.DigitResult{}, err
	}
	for _, p := range d.Prompts {
		if k.any() {
			break
		}
		target, loops := "", 1
		if p.Play == nil {
			if p.Silence <= 0 {
				continue
			}
			target = "silence_stream://" + strconv.FormatInt(p.Silence.Milliseconds(), 10)
		} else {
			target, loops = mediaTarget(p.Play.URL), p.Play.Loops
			if loops <= 0 {
				loops = 1000 // until a key stops it
			}
		}
		for i := 0; i < loops && !k.any(); i++ {
			if _, err := c.execute(ctx, "playback", target, 4*time.Hour, nil); err != nil {
				return adapter.DigitResult{}, err
			}
			if err := context.Cause(ctx); err != nil {
				return adapter.DigitResult{}, err
			}
		}
	}
	if d.Beep && !k.any() {
		if _, err := c.execute(ctx, "playback", beepTone, time.Minute, nil); err != nil {
			return adapter.DigitResult{}, err
		}
	}
	var res adapter.DigitResult
	t := time.NewTimer(d.Timeout)
	defer t.Stop()
	for {
		for key, ok := k.pop(); ok; key, ok = k.pop() {
			if d.FinishKeys.Has(key) {
				res.Reason, res.Key = adapter.DigitsFinishKey, key
				return res, nil
			}
			res.Digits += string(key)
			if d.NumDigits > 0 && len(res.Digits) >= d.NumDigits {
				res.Reason = adapter.DigitsComplete
				return res, nil
			}
			t.Reset(d.DigitTimeout)
		}
		select {
		case <-k.wake:
		case <-t.C:
			res.Reason = adapter.DigitsTimeout
			return res, nil
		case <-ctx.Done():
			if c.isHungup() || errors.Is(context.Cause(ctx), adapter.ErrHangup) {
				return res, c.hangupErr()
			}
			return res, context.Cause(ctx)
		}
	}
}

// keyQueue holds the keys of one collection. push runs in the event watcher, under the
// call's lock: it must not block.
type keyQueue struct {
	mu   sync.Mutex
	keys []byte
	wake chan struct{}
}

func (q *keyQueue) push(k byte) {
	q.mu.Lock()
	q.keys = append(q.keys, k)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *keyQueue) any() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.keys) > 0
}

func (q *keyQueue) pop() (byte, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.keys) == 0 {
		return 0, false
	}
	k := q.keys[0]
	q.keys = q.keys[1:]
	return k, true
}
