package ari

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/CyCoreSystems/ari/v6"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// ErrPlaybackFailed: Asterisk could not play the media (PlaybackFinished with state
// "failed": an unknown sound, an HTTP URL it could not fetch or decode).
var ErrPlaybackFailed = errors.New("playback failed")

// mediaURI turns a PlaySpec URL into an ARI media URI. Remote audio is played through
// res_http_media_cache as sound:<url> (asterisk.md §1), so no filesystem is shared between
// the bridge and Asterisk; ARI's own schemes pass through.
func mediaURI(u string) (string, error) {
	switch {
	case strings.HasPrefix(u, "http://"), strings.HasPrefix(u, "https://"):
		return "sound:" + u, nil
	case strings.HasPrefix(u, "sound:"), strings.HasPrefix(u, "tone:"), strings.HasPrefix(u, "recording:"),
		strings.HasPrefix(u, "digits:"), strings.HasPrefix(u, "number:"), strings.HasPrefix(u, "characters:"):
		return u, nil
	}
	return "", fmt.Errorf("ari: play %q: not an http(s) URL nor an ARI media URI: %w", u, adapter.ErrUnsupported)
}

// player plays one media URI on the call's channel, Loops times (0 = until stopped), by
// starting it again on each PlaybackFinished: one playback per loop keeps each one short
// and stoppable. It is driven by the operation that owns it, from that operation's watcher.
type player struct {
	c      *call
	media  string
	loops  int
	played int
	id     string    // current playback, "" when none
	first  time.Time // first PlaybackStarted
}

func (pl *player) start(ctx context.Context) error {
	id := "pbxb-pb-" + newID()
	pl.c.p.own(pl.c, routePlayback, id)
	err := pl.c.chanCmd(ctx, "play "+pl.media, func(cl ari.Client, k *ari.Key) error {
		h, err := cl.Channel().StagePlay(k, id, pl.media)
		if err != nil {
			return err
		}
		return h.Exec()
	})
	if err != nil {
		pl.c.p.disown(routePlayback, id)
		return err
	}
	pl.c.p.confirm(routePlayback, id)
	pl.id = id
	return nil
}

// observe handles an event; done is true once the last loop has finished.
func (pl *player) observe(ctx context.Context, e *evt) (done bool, err error) {
	if pl.id == "" || e.Playback != pl.id {
		return false, nil
	}
	switch e.Type {
	case evPlaybackStarted:
		if pl.first.IsZero() {
			pl.first = e.At
		}
		return false, nil
	case evPlaybackFinished, synPlaybackGone:
	default:
		return false, nil
	}
	pl.c.p.disown(routePlayback, pl.id)
	pl.id = ""
	if e.PBState == "failed" {
		return true, fmt.Errorf("ari: play %s on channel %s: %w", pl.media, pl.c.id, ErrPlaybackFailed)
	}
	pl.played++
	if pl.loops > 0 && pl.played >= pl.loops {
		return true, nil
	}
	return false, pl.start(ctx)
}

// stop ends the current playback, if any. A 404 means it had just finished.
func (pl *player) stop(ctx context.Context) {
	if pl.id == "" {
		return
	}
	id := pl.id
	pl.id = ""
	err := pl.c.p.cmd(ctx, "stop playback "+id, nil, ErrCommand, func(cl ari.Client) error {
		return cl.Playback().Stop(ari.NewKey(ari.PlaybackKey, id))
	})
	pl.c.p.disown(routePlayback, id)
	if err != nil && statusOfErr(err) != 404 {
		pl.c.log.Warn("stopping playback", "playback_id", id, "err", err)
	}
}

func statusOfErr(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// Play plays media to the caller and returns when it has played Loops times, a stop key is
// pressed (the playback is stopped at once), the call hangs up, or ctx is done.
func (c *call) Play(ctx context.Context, ps adapter.PlaySpec) (adapter.PlayResult, error) {
	media, err := mediaURI(ps.URL)
	if err != nil {
		return adapter.PlayResult{}, err
	}
	w, err := c.watch()
	if err != nil {
		return adapter.PlayResult{}, err
	}
	defer c.unwatch(w)
	pl := &player{c: c, media: media, loops: ps.Loops}
	defer pl.stop(context.WithoutCancel(ctx))
	if err := pl.start(ctx); err != nil {
		return adapter.PlayResult{}, err
	}
	for {
		select {
		case <-w.q.wake():
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), adapter.ErrHangup) {
				return adapter.PlayResult{}, c.hangupErr()
			}
			return adapter.PlayResult{}, context.Cause(ctx)
		case <-c.stopped():
			return adapter.PlayResult{}, c.stoppedErr()
		}
		for {
			e, ok := w.q.pop()
			if !ok {
				break
			}
			if e.Channel == c.id && e.isHangup() {
				return adapter.PlayResult{}, c.hangupErr()
			}
			if e.Type == evChannelDtmfReceived && e.Channel == c.id && ps.StopKeys.Has(e.Digit) {
				c.log.Debug("play stopped by key", "key", string(e.Digit))
				return adapter.PlayResult{Key: e.Digit}, nil
			}
			done, err := pl.observe(ctx, &e)
			if err != nil || done {
				return adapter.PlayResult{}, err
			}
		}
	}
}
