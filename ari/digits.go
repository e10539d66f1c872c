package ari

import (
	"context"
	"errors"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// CollectDigits plays the prompts one after the other and collects keys from the
// ChannelDtmfReceived events of the caller's channel. A key stops the prompt playing
// (barge-in: the playback is stopped at once) and counts; the first-key timeout starts when
// the prompts (and the beep) have ended, the inter-key timeout at each key. Keys are never
// logged: the engine decides whether they may be (Plivo log="false").
func (c *call) CollectDigits(ctx context.Context, d adapter.DigitSpec) (adapter.DigitResult, error) {
	w, err := c.watch()
	if err != nil {
		return adapter.DigitResult{}, err
	}
	defer c.unwatch(w)
	g := &gathering{c: c, spec: d, timer: time.NewTimer(time.Hour)}
	g.timer.Stop()
	defer g.timer.Stop()
	defer g.stopPrompt(context.WithoutCancel(ctx))
	if err := g.nextPrompt(ctx); err != nil {
		return adapter.DigitResult{}, err
	}
	for !g.done {
		select {
		case <-w.q.wake():
		case <-g.timer.C:
			if err := g.timeout(ctx); err != nil {
				return adapter.DigitResult{}, err
			}
			continue
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), adapter.ErrHangup) {
				return g.res, c.hangupErr()
			}
			return g.res, context.Cause(ctx)
		case <-c.stopped():
			return g.res, c.stoppedErr()
		}
		for !g.done {
			e, ok := w.q.pop()
			if !ok {
				break
			}
			if e.Channel == c.id && e.isHangup() {
				return g.res, c.hangupErr()
			}
			if e.Type == evChannelDtmfReceived && e.Channel == c.id && e.Digit != 0 {
				if err := g.key(ctx, e.Digit); err != nil {
					return adapter.DigitResult{}, err
				}
				continue
			}
			if g.pl == nil {
				continue
			}
			done, perr := g.pl.observe(ctx, &e)
			if perr != nil {
				// A prompt that cannot be played is skipped, as a Play of it would be.
				c.log.Warn("gather: prompt failed, skipped", "err", perr)
				done = true
			}
			if done {
				g.pl = nil
				if err := g.nextPrompt(ctx); err != nil {
					return adapter.DigitResult{}, err
				}
			}
		}
	}
	return g.res, nil
}

// gathering is one CollectDigits in progress, driven by its loop only.
type gathering struct {
	c      *call
	spec   adapter.DigitSpec
	next   int         // index of the next prompt
	pl     *player     // the prompt or beep playing, nil when none
	silent bool        // a Silence prompt is running on timer
	beeped bool        // the beep has been started
	input  bool        // the prompts are over (or were cut short): waiting for keys
	timer  *time.Timer // silence, first-key or inter-key timeout
	res    adapter.DigitResult
	done   bool
}

func (g *gathering) arm(d time.Duration) {
	g.timer.Stop()
	select {
	case <-g.timer.C:
	default:
	}
	g.timer.Reset(d)
}

// nextPrompt starts the next prompt, the beep after the last one, or the wait for the first
// key.
func (g *gathering) nextPrompt(ctx context.Context) error {
	for g.next < len(g.spec.Prompts) {
		p := g.spec.Prompts[g.next]
		g.next++
		if p.Play == nil {
			if p.Silence <= 0 {
				continue
			}
			g.silent = true
			g.arm(p.Silence)
			return nil
		}
		media, err := mediaURI(p.Play.URL)
		if err != nil {
			g.c.log.Warn("gather: prompt skipped", "err", err)
			continue
		}
		g.pl = &player{c: g.c, media: media, loops: p.Play.Loops}
		if err := g.pl.start(ctx); err != nil {
			if errors.Is(err, adapter.ErrHangup) || errors.Is(err, adapter.ErrPBXDown) {
				return err
			}
			g.c.log.Warn("gather: prompt skipped", "err", err)
			g.pl = nil
			continue
		}
		return nil
	}
	if g.spec.Beep && !g.beeped {
		g.beeped = true
		g.pl = &player{c: g.c, media: "sound:beep", loops: 1}
		if err := g.pl.start(ctx); err == nil {
			return nil
		} else if errors.Is(err, adapter.ErrHangup) || errors.Is(err, adapter.ErrPBXDown) {
			return err
		}
		g.pl = nil
	}
	g.input = true
	g.arm(g.spec.Timeout)
	return nil
}

// stopPrompt ends the prompts at once: a key was pressed, or the collection is over.
func (g *gathering) stopPrompt(ctx context.Context) {
	if g.pl != nil {
		g.pl.stop(ctx)
		g.pl = nil
	}
	g.silent = false
	g.next = len(g.spec.Prompts)
	g.beeped = true
}

func (g *gathering) timeout(ctx context.Context) error {
	if !g.input {
		if g.silent {
			g.silent = false
			return g.nextPrompt(ctx)
		}
		return nil
	}
	g.res.Reason = adapter.DigitsTimeout
	g.done = true
	return nil
}

// key takes one key from the caller.
func (g *gathering) key(ctx context.Context, k byte) error {
	if !g.input {
		g.stopPrompt(ctx)
		g.input = true
	}
	if g.spec.FinishKeys.Has(k) {
		g.res.Reason, g.res.Key, g.done = adapter.DigitsFinishKey, k, true
		return nil
	}
	g.res.Digits += string(k)
	if g.spec.NumDigits > 0 && len(g.res.Digits) >= g.spec.NumDigits {
		g.res.Reason, g.done = adapter.DigitsComplete, true
		return nil
	}
	g.arm(g.spec.DigitTimeout)
	return nil
}
