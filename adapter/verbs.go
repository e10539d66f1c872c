package adapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/pbxbridge/pbxbridge/translate"
)

// verb executes one verb. next is a program that replaces the current document; done says the
// document is finished (the call was hung up or rejected by the document).
func (s *session) verb(ctx context.Context, log *slog.Logger, prog *translate.Program, v translate.Verb) (next *translate.Program, done bool, err error) {
	switch v := v.(type) {
	case *translate.Record:
		return s.record(ctx, log, v)
	case *translate.Play:
		return nil, false, s.play(ctx, v)
	case *translate.Say:
		return nil, false, s.say(ctx, v)
	case *translate.Pause:
		return nil, false, s.pause(ctx, v)
	case *translate.Hangup:
		return nil, true, s.hangup(ctx, log, v)
	case *translate.Reject:
		return nil, true, s.reject(ctx, string(v.Reason))
	case *translate.Redirect:
		p, err := s.fetch(ctx, "redirect", &v.Target, translate.RecordingParams{}, false)
		return p, err == nil, err
	case *translate.PreAnswer:
		if !s.answer {
			if err := s.call.PreAnswer(ctx); err != nil {
				return nil, false, fmt.Errorf("pre-answer: %w", err)
			}
		}
		for _, inner := range v.Verbs {
			n, d, err := s.verb(ctx, log, prog, inner)
			if err != nil || d || n != nil {
				return n, d, err
			}
		}
		return nil, false, nil
	case *translate.DTMF:
		if err := s.ensureAnswered(ctx); err != nil {
			return nil, false, err
		}
		return nil, false, s.call.SendDTMF(ctx, v.Digits)
	case *translate.Dial:
		return s.dial(ctx, log, v)
	case *translate.Gather:
		return s.gather(ctx, log, v)
	}
	log.Error("verb not supported; skipped", "type", fmt.Sprintf("%T", v))
	return nil, false, nil
}

func (s *session) play(ctx context.Context, v *translate.Play) error {
	if err := s.ensureAnswered(ctx); err != nil {
		return err
	}
	u, err := s.e.Media.Audio(ctx, v.URL)
	if err != nil {
		// A missing prompt must not end the call: the vendors skip unplayable audio.
		s.log.Warn("play: audio unavailable, skipped", "url", redacted(v.URL), "err", err)
		return nil
	}
	_, err = s.call.Play(ctx, PlaySpec{URL: u, Loops: v.Loop})
	return err
}

func (s *session) say(ctx context.Context, v *translate.Say) error {
	if err := s.ensureAnswered(ctx); err != nil {
		return err
	}
	if strings.TrimSpace(v.Text) == "" {
		return nil
	}
	u, err := s.e.Media.Speech(ctx, v.Text, v.Voice, v.Language)
	if err != nil {
		s.log.Warn("say: speech unavailable, skipped", "err", err)
		return nil
	}
	_, err = s.call.Play(ctx, PlaySpec{URL: u, Loops: v.Loop})
	return err
}

func (s *session) pause(ctx context.Context, v *translate.Pause) error {
	if v.Length <= 0 {
		return nil
	}
	t := time.NewTimer(v.Length)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (s *session) hangup(ctx context.Context, log *slog.Logger, v *translate.Hangup) error {
	if v.Schedule > 0 {
		// Plivo's scheduled hangup: the document goes on and the call ends later. The timer
		// lives as long as the call's context.
		go func() {
			t := time.NewTimer(v.Schedule)
			defer t.Stop()
			select {
			case <-t.C:
				if err := s.call.Hangup(context.WithoutCancel(ctx), "NORMAL_CLEARING"); err != nil && !errors.Is(err, ErrHangup) {
					log.Warn("scheduled hangup", "err", err)
				}
			case <-ctx.Done():
			}
		}()
		return nil
	}
	if v.Reason != "" && !s.answer {
		return s.reject(ctx, string(v.Reason))
	}
	s.setHangupCause("NORMAL_CLEARING")
	err := s.call.Hangup(ctx, "NORMAL_CLEARING")
	s.hungUp = err == nil || errors.Is(err, ErrHangup)
	if errors.Is(err, ErrHangup) {
		return nil
	}
	return err
}

func (s *session) reject(ctx context.Context, reason string) error {
	if reason == "" {
		reason = "rejected"
	}
	cause := "CALL_REJECTED"
	if reason == "busy" {
		cause = "USER_BUSY"
	}
	s.setHangupCause(cause)
	err := s.call.Reject(ctx, reason)
	s.hungUp = err == nil || errors.Is(err, ErrHangup)
	if errors.Is(err, ErrHangup) {
		return nil
	}
	return err
}

// setHangupCause is the cause the call's requests report once it has ended.
func (s *session) setHangupCause(cause string) {
	s.pmu.Lock()
	s.params.HangupCause = cause
	s.pmu.Unlock()
}
