package adapter

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/pbxbridge/pbxbridge/translate"
)

// This file runs <Dial> on any PBX: it turns the verb into a DialSpec, lets the PBX ring and
// bridge, then reports the outcome to the Dial's action in the dialect's shape and continues
// the flow as the dialect says. A Plivo Record with startOnDialAnswer armed before the Dial
// rides along as DialSpec.Record; a CarrierX recordSession started before it needs nothing
// here: the PBX keeps it running across the bridge, with its direction (in = the caller,
// out = the called party, any = both mixed).

// armedDial is a Plivo startOnDialAnswer Record waiting for the next Dial (record.md §2.1
// rule 4). Only the call's goroutine touches it.
type armedDial struct {
	r    *translate.Record
	spec RecordSpec
}

// plivoHeaderPrefix is what Plivo puts before every custom SIP header name.
const plivoHeaderPrefix = "X-PH-"

// dial executes one Dial.
func (s *session) dial(ctx context.Context, log *slog.Logger, v *translate.Dial) (*translate.Program, bool, error) {
	armed := s.armed
	s.armed = nil // a startOnDialAnswer arms the next Dial only, answered or not
	if err := s.ensureAnswered(ctx); err != nil {
		return nil, false, err
	}
	spec := s.dialSpec(ctx, log, v)
	if armed != nil {
		rs := armed.spec
		spec.Record = &rs
		s.addLive(ctx, armed.r, rs.Name, s.announced[rs.Name])
	}
	if len(v.DigitsMatch) > 0 || len(v.DigitsMatchBLeg) > 0 {
		log.Warn("Dial digitsMatch is not supported by pbxbridge: no digits events are sent")
	}
	if v.Callback != nil && s.app.Dialect == translate.Plivo {
		spec.OnAnswer = func(target int, calledID string, at time.Time) {
			s.dialEvent(ctx, log, v, spec, translate.DialEvent{Action: "answer", CalledID: calledID, Position: target + 1})
		}
	}
	log.Info("dialling", "targets", len(spec.Targets), "timeout", spec.Timeout, "time_limit", spec.TimeLimit,
		"hangup_on_star", spec.HangupOnStar, "record", spec.Record != nil)
	res, err := s.call.Dial(ctx, spec)
	hungUp := errors.Is(err, ErrHangup) || errors.Is(context.Cause(ctx), ErrHangup)
	if err != nil && !hungUp {
		// The PBX could not place the call at all: the dialect hears "failed", and the flow
		// goes on as after any failed Dial.
		log.Error("dial failed", "err", err)
		res = DialResult{Status: DialFailed, Target: -1, CalledID: res.CalledID, HangupCause: res.HangupCause}
	}
	log.Info("dial ended", "status", res.Status, "called_id", res.CalledID, "hung_up_by", res.HungUpBy,
		"cause", res.HangupCause, "bridged", bridged(res).Round(time.Millisecond))
	if armed != nil {
		s.dialRecording(ctx, log, armed, res)
	}
	if v.Callback != nil && s.app.Dialect == translate.Plivo && res.Status == DialCompleted && res.CalledID != "" {
		s.dialEvent(ctx, log, v, spec, translate.DialEvent{Action: "hangup", CalledID: res.CalledID, Position: res.Target + 1,
			HangupCause: cmpCause(res.HangupCause), Duration: bridged(res)})
	}
	if hungUp {
		s.markEnded()
	}
	if v.Action != nil {
		params, perr := translate.DialActionParams(s.app.Dialect, s.callParams(), dialParams(res))
		if perr != nil {
			return nil, false, perr
		}
		if v.ActionNotify || hungUp {
			// Plivo redirect="false", or the call is over: nobody is left to run the answer.
			s.enqueue(ctx, "action", v.Action, params)
		} else {
			next, err := s.document(ctx, "action", v.Action, params, true)
			if err != nil {
				return nil, false, err
			}
			// The action's document replaces the rest of this one, in both dialects.
			return next, next == nil, nil
		}
	}
	if hungUp {
		return nil, false, s.hangupCause(ctx, err)
	}
	return nil, false, nil
}

// dialEvent sends one Plivo dial event to the Dial's callbackUrl through the outbox. Only the
// answered target's events are sent: its answer (when it is bridged) and its hangup (when the
// bridge ends). Choice: the legs that never answered send nothing, as the Plivo framework
// skipped the race's losers.
func (s *session) dialEvent(ctx context.Context, log *slog.Logger, v *translate.Dial, spec DialSpec, ev translate.DialEvent) {
	if i := ev.Position - 1; i >= 0 && i < len(v.Targets) {
		ev.To = v.Targets[i].Address
	}
	ev.From = spec.CallerID
	if ev.From == "" {
		ev.From = s.callParams().From
	}
	params, err := translate.DialCallbackParams(s.app.Dialect, s.callParams(), ev)
	if err != nil {
		log.Error("dial event not sent", "event", ev.Action, "err", err)
		return
	}
	s.enqueue(ctx, "dialCallback", v.Callback, params)
}

func cmpCause(c string) string {
	if c == "" {
		return "NORMAL_CLEARING"
	}
	return c
}

// hangupCause is the ErrHangup to return after a caller hung up during a Dial.
func (s *session) hangupCause(ctx context.Context, err error) error {
	if err != nil && errors.Is(err, ErrHangup) {
		return err
	}
	return context.Cause(ctx)
}

// bridged is how long the parties were connected.
func bridged(r DialResult) time.Duration {
	if r.Answered.IsZero() || r.Ended.Before(r.Answered) {
		return 0
	}
	return r.Ended.Sub(r.Answered)
}

// dialParams is the neutral outcome the action request reports.
func dialParams(r DialResult) translate.DialParams {
	p := translate.DialParams{Duration: bridged(r), HangupCause: r.HangupCause, Rang: r.CalledID != ""}
	switch r.Status {
	case DialCompleted:
		p.Outcome, p.CalledID = translate.DialAnswered, r.CalledID
	case DialBusy:
		p.Outcome = translate.DialBusy
	case DialNoAnswer:
		p.Outcome = translate.DialNoAnswer
	case DialCanceled:
		p.Outcome = translate.DialCanceled
	default:
		p.Outcome = translate.DialFailed
	}
	if p.HangupCause == "" {
		p.HangupCause = dialCause(r.Status)
	}
	return p
}

// dialCause is the Q.850 name an outcome implies when the PBX gave none.
func dialCause(st DialStatus) string {
	switch st {
	case DialCompleted:
		return "NORMAL_CLEARING"
	case DialBusy:
		return "USER_BUSY"
	case DialNoAnswer:
		return "NO_ANSWER"
	case DialCanceled:
		return "ORIGINATOR_CANCEL"
	}
	return "NORMAL_TEMPORARY_FAILURE"
}

// dialSpec turns the verb into the PBX request.
func (s *session) dialSpec(ctx context.Context, log *slog.Logger, v *translate.Dial) DialSpec {
	spec := DialSpec{
		CallerID:     v.CallerID,
		CallerName:   v.CallerName,
		Timeout:      v.Timeout,
		TimeLimit:    v.TimeLimit,
		HangupOnStar: v.HangupOnStar,
	}
	for _, t := range v.Targets {
		dt := DialTarget{Kind: t.Kind, Address: t.Address, SendDigits: t.SendDigits}
		if s.app.Dialect == translate.Plivo {
			for _, h := range append(append([]translate.SIPHeader(nil), v.SIPHeaders...), t.SIPHeaders...) {
				dt.Headers = append(dt.Headers, translate.SIPHeader{Name: plivoHeaderPrefix + h.Name, Value: h.Value})
			}
		}
		spec.Targets = append(spec.Targets, dt)
	}
	if v.RingbackDocument != nil && !v.RealRingback {
		spec.Ringback = s.ringback(ctx, log, v.RingbackDocument)
	}
	if c := v.Confirm; c != nil && len(c.Key.String()) == 1 {
		dc := &DialConfirm{Key: c.Key.String()[0], Timeout: c.Timeout}
		switch {
		case c.Audio != nil:
			if u, err := s.e.Media.Audio(ctx, c.Audio); err != nil {
				log.Warn("confirmSound unavailable: the called party hears silence while it may confirm", "err", err)
			} else {
				dc.Audio = &PlaySpec{URL: u, Loops: 1}
			}
		case c.Document != nil:
			if p := s.documentSound(ctx, log, "confirmSound", c.Document); p != nil {
				p.Loops = 1
				dc.Audio = p
			}
		}
		spec.Confirm = dc
	}
	return spec
}

// ringback fetches Plivo's dialMusic document and plays its first Play or Speak to the caller,
// looped, while the targets ring. Anything else in the document is not played (Choice: one
// looped sound is what the PBXs can keep up while ringing); a failure leaves the PBX's own
// ringing tone.
func (s *session) ringback(ctx context.Context, log *slog.Logger, t *translate.Target) *PlaySpec {
	return s.documentSound(ctx, log, "dialMusic", t)
}

// documentSound fetches a Plivo sound document (dialMusic, confirmSound) and returns its first
// Play or Speak, looped; nil when there is none or it cannot be had (logged).
func (s *session) documentSound(ctx context.Context, log *slog.Logger, what string, t *translate.Target) *PlaySpec {
	params, err := translate.DocumentParams(s.app.Dialect, s.callParams())
	if err != nil {
		return nil
	}
	prog, err := s.document(ctx, what, t, params, false)
	if err != nil {
		log.Warn(what+" unavailable: the PBX's default is heard instead", "err", err)
		return nil
	}
	for _, v := range prog.Verbs {
		var (
			u   string
			err error
		)
		switch v := v.(type) {
		case *translate.Play:
			u, err = s.e.Media.Audio(ctx, v.URL)
		case *translate.Say:
			u, err = s.e.Media.Speech(ctx, v.Text, v.Voice, v.Language)
		default:
			continue
		}
		if err != nil {
			log.Warn(what+" audio unavailable: the PBX's default is heard instead", "err", err)
			return nil
		}
		return &PlaySpec{URL: u, Loops: 0}
	}
	return nil
}

// dialRecording finishes a startOnDialAnswer recording: stored and announced through
// callbackUrl like any background recording (record.md §2.1 rules 4 and 8). Unanswered, it
// recorded nothing and sends nothing (rule 4, Open).
func (s *session) dialRecording(ctx context.Context, log *slog.Logger, a *armedDial, res DialResult) {
	name := a.spec.Name
	if res.Recording == nil && res.RecordErr == nil {
		log.Info("startOnDialAnswer: the Dial was not answered; nothing recorded", "name", name)
		s.dropLive(context.WithoutCancel(ctx), name)
		return
	}
	rec := &finishedRecording{done: make(chan struct{})}
	if res.Recording != nil {
		rec.res = *res.Recording
	}
	rec.err = res.RecordErr
	if rec.err == nil && rec.res.Reason == "" {
		rec.res.Reason = EndSessionEnd
	}
	close(rec.done)
	s.background(ctx, log, a.r, name, rec)
}

// finishedRecording is a Recording whose result is already known.
type finishedRecording struct {
	done chan struct{}
	res  RecordResult
	err  error
}

func (f *finishedRecording) Stop(context.Context) error    { return nil }
func (f *finishedRecording) Done() <-chan struct{}         { return f.done }
func (f *finishedRecording) Result() (RecordResult, error) { return f.res, f.err }
