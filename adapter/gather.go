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

// This file runs a Gather (FlexML <Gather>, Plivo <GetDigits>, <GetInput> with keys): the
// prompts and the key collection itself are the PBX's (Call.CollectDigits, with barge-in and
// the timeouts); the engine resolves the prompts, runs the attempts, checks the keys against
// ValidDigits and requests the action in the dialect's shape.

// autoDigitTimeout is Plivo GetInput's digitEndTimeout "auto". Choice: Plivo does not say what
// auto waits; 2 s is GetDigits' documented default between keys.
const autoDigitTimeout = 2 * time.Second

// defaultGatherTimeout stands in for a zero Timeout, which the parsers never produce.
const defaultGatherTimeout = 5 * time.Second

func (s *session) gather(ctx context.Context, log *slog.Logger, v *translate.Gather) (*translate.Program, bool, error) {
	switch v.Input {
	case translate.InputSpeech:
		log.Error("speech input is not supported by pbxbridge; the verb is skipped as if nothing was said")
		return nil, false, nil
	case translate.InputDTMFAndSpeech:
		log.Warn("speech input is not supported by pbxbridge; listening for keys only")
	}
	if err := s.ensureAnswered(ctx); err != nil {
		return nil, false, err
	}
	spec := DigitSpec{
		Prompts:      s.prompts(ctx, log, v.Prompts),
		NumDigits:    v.NumDigits,
		FinishKeys:   v.FinishKeys,
		Timeout:      v.Timeout,
		DigitTimeout: v.DigitTimeout,
		Beep:         v.PlayBeep,
	}
	if spec.Timeout <= 0 {
		spec.Timeout = defaultGatherTimeout
	}
	if spec.DigitTimeout <= 0 {
		spec.DigitTimeout = autoDigitTimeout
	}
	attempts := max(v.Attempts, 1)
	digits, got := "", false
	for attempt := 1; attempt <= attempts && !got; attempt++ {
		res, err := s.call.CollectDigits(ctx, spec)
		if errors.Is(err, ErrUnsupported) {
			log.Error("digit collection not supported by this PBX; the verb is skipped", "err", err)
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("collect digits: %w", err)
		}
		alog := log.With("attempt", attempt, "of", attempts, "end", string(res.Reason), "keys", len(res.Digits))
		if v.Log {
			alog = alog.With("digits", res.Digits)
		}
		if res.Digits == "" {
			alog.Info("gather: no input")
			continue
		}
		if k, bad := invalidKey(res.Digits, v.ValidDigits); bad {
			if v.Log {
				alog = alog.With("invalid", string(k))
			}
			alog.Info("gather: a key outside validDigits")
			s.invalidSound(ctx, log, v)
			if err := context.Cause(ctx); err != nil {
				return nil, false, err
			}
			continue
		}
		alog.Info("gather: input")
		digits, got = res.Digits, true
	}
	if v.Action == nil || (!got && !v.ActionOnEmpty) {
		// No input (or nowhere to send it): the next verb runs, in both dialects.
		return nil, false, nil
	}
	in := translate.InputParams{Digits: digits}
	if v.Element() == "GetInput" {
		in.InputType = translate.InputDTMF
	}
	params, err := translate.GatherActionParams(s.app.Dialect, s.callParams(), in)
	if err != nil {
		return nil, false, err
	}
	if v.ActionNotify {
		// Plivo redirect="false": the action is told and the document goes on.
		s.enqueue(ctx, "action", v.Action, params)
		return nil, false, nil
	}
	prog, err := s.document(ctx, "action", v.Action, params, true)
	return prog, false, err
}

// invalidKey returns the first key of digits outside valid.
func invalidKey(digits string, valid translate.KeySet) (byte, bool) {
	for i := 0; i < len(digits); i++ {
		if !valid.Has(digits[i]) {
			return digits[i], true
		}
	}
	return 0, false
}

// invalidSound plays a GetDigits' invalidDigitsSound, if any. A sound that cannot be played is
// skipped, as prompts are.
func (s *session) invalidSound(ctx context.Context, log *slog.Logger, v *translate.Gather) {
	if v.InvalidDigitsSound == nil {
		return
	}
	u, err := s.e.Media.Audio(ctx, v.InvalidDigitsSound)
	if err != nil {
		log.Warn("gather: invalidDigitsSound unavailable, skipped", "url", redacted(v.InvalidDigitsSound), "err", err)
		return
	}
	if _, err := s.call.Play(ctx, PlaySpec{URL: u, Loops: 1}); err != nil && !errors.Is(err, ErrHangup) {
		log.Warn("gather: playing invalidDigitsSound", "err", err)
	}
}

// prompts resolves a Gather's nested verbs into what the PBX plays: remote audio and speech
// through Media, as Play and Say do, and Pause/Wait as silence. A prompt that cannot be
// resolved is skipped with a warning, as a Play of it would be.
func (s *session) prompts(ctx context.Context, log *slog.Logger, verbs []translate.Verb) []Prompt {
	var out []Prompt
	for _, pv := range verbs {
		switch p := pv.(type) {
		case *translate.Play:
			u, err := s.e.Media.Audio(ctx, p.URL)
			if err != nil {
				log.Warn("gather: prompt audio unavailable, skipped", "url", redacted(p.URL), "err", err)
				continue
			}
			out = append(out, Prompt{Play: &PlaySpec{URL: u, Loops: p.Loop}})
		case *translate.Say:
			if strings.TrimSpace(p.Text) == "" {
				continue
			}
			u, err := s.e.Media.Speech(ctx, p.Text, p.Voice, p.Language)
			if err != nil {
				log.Warn("gather: prompt speech unavailable, skipped", "err", err)
				continue
			}
			if p.Gap > 0 && p.Loop > 1 {
				// CarrierX loopPause: silence between the repetitions, not after the last.
				for i := 0; i < p.Loop; i++ {
					if i > 0 {
						out = append(out, Prompt{Silence: p.Gap})
					}
					out = append(out, Prompt{Play: &PlaySpec{URL: u, Loops: 1}})
				}
				continue
			}
			out = append(out, Prompt{Play: &PlaySpec{URL: u, Loops: p.Loop}})
		case *translate.Pause:
			if p.Length > 0 {
				out = append(out, Prompt{Silence: p.Length})
			}
		default:
			log.Warn("gather: prompt verb not supported; skipped", "verb", pv.Element())
		}
	}
	return out
}
