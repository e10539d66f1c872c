package translate

import (
	"fmt"
	"strconv"
	"time"
)

// DialOutcome is how a Dial ended, neutral; the renderers spell it per dialect.
type DialOutcome string

const (
	DialAnswered DialOutcome = "completed" // a target answered and was bridged
	DialBusy     DialOutcome = "busy"      // every target was busy
	DialNoAnswer DialOutcome = "no-answer" // nobody answered within the timeout
	DialFailed   DialOutcome = "failed"    // the call could not be placed
	DialCanceled DialOutcome = "canceled"  // the caller hung up while the targets rang
)

// DialParams is the outcome of one Dial, as its action request reports it.
type DialParams struct {
	Outcome DialOutcome
	// CalledID is the called leg's id (CarrierX DialCallSid, Plivo DialBLegUUID); "" when no
	// target answered.
	CalledID string
	// Rang: a target was reached and rang (Plivo DialRingStatus).
	Rang bool
	// Duration is how long the parties were bridged, 0 when nobody answered.
	Duration time.Duration
	// HangupCause is the called leg's Q.850 cause name (Plivo DialHangupCause).
	HangupCause string
}

// DialActionParams is the request a Dial's action URL gets when the Dial ends, executed or as
// a notification (Plivo redirect="false").
//
// CarrierX (Choice: its Dial page names no parameters): the §2.1 call fields, then
// DialCallStatus, DialCallSid and DialCallDuration, the names of the TwiML family FlexML
// follows, with the status spelt as CarrierX spells a call's final state (completed, busy,
// noanswer, failed, cancel). DialCallDuration is whole seconds, a JSON number in POST bodies.
//
// Plivo: the call parameters, then the five its Dial documents: DialRingStatus (true or
// false), DialHangupCause, DialStatus (completed, busy, failed, no-answer; Choice: a caller
// who hangs up while it rings is "no-answer", as nobody answered), DialALegUUID (the call's own
// CallUUID) and DialBLegUUID ("" when nobody answered).
func DialActionParams(d Dialect, c CallParams, r DialParams) (Params, error) {
	if err := checkDialect(d); err != nil {
		return Params{}, err
	}
	if d == FlexML {
		b := newBuilder(FlexML, 15)
		b.carrierxCall(c)
		b.str("DialCallStatus", callStatus(FlexML, CallStatus(r.Outcome)))
		b.str("DialCallSid", r.CalledID)
		b.int("DialCallDuration", WholeSeconds(r.Duration))
		return b.Params, nil
	}
	b := newBuilder(Plivo, 13)
	b.plivoCall(c)
	b.str("DialRingStatus", strconv.FormatBool(r.Rang))
	b.str("DialHangupCause", r.HangupCause)
	st := string(r.Outcome)
	if r.Outcome == DialCanceled {
		st = string(DialNoAnswer)
	}
	b.str("DialStatus", st)
	b.str("DialALegUUID", c.CallID)
	b.str("DialBLegUUID", r.CalledID)
	return b.Params, nil
}

// DialEvent is one event of an answered Dial target, for Plivo's Dial callbackUrl.
type DialEvent struct {
	// Action is "answer" (the target answered and is bridged) or "hangup" (its leg ended).
	Action   string
	CalledID string // the target's leg id (DialBLegUUID)
	Position int    // the target's place among the Dial's nouns, from 1 (DialBLegPosition)
	From     string // the caller id the target was called with (DialBLegFrom)
	To       string // the number or URI dialled (DialBLegTo)
	// HangupCause (hangup only) is the leg's Q.850 cause name; Duration how long it was bridged.
	HangupCause string
	Duration    time.Duration
}

// DialCallbackParams is the request Plivo's Dial callbackUrl gets for a dial event: the call
// parameters, then Event (DialAnswer, DialHangup), DialAction (answer, hangup), DialBLegStatus
// (the same word), DialALegUUID (the call's CallUUID), DialBLegUUID, DialBLegPosition,
// DialBLegFrom, DialBLegTo, and for hangup DialBLegHangupCause and DialBLegDuration (whole
// seconds bridged): the names Plivo sends (its Dial page, "callbackUrl request parameters", and
// the Plivo framework's DialBLegStatus/DialBLegHangupCause). Plivo only: CarrierX has no
// callbackUrl on Dial.
func DialCallbackParams(d Dialect, c CallParams, ev DialEvent) (Params, error) {
	if err := checkDialect(d); err != nil {
		return Params{}, err
	}
	if d != Plivo {
		return Params{}, fmt.Errorf("render params: dial events are Plivo's, %s has no Dial callbackUrl: %w", d, ErrDialect)
	}
	var event string
	switch ev.Action {
	case "answer":
		event = "DialAnswer"
	case "hangup":
		event = "DialHangup"
	default:
		return Params{}, fmt.Errorf("render params: dial event %q: want answer or hangup", ev.Action)
	}
	b := newBuilder(Plivo, 13)
	b.plivoCall(c)
	b.str("Event", event)
	b.str("DialAction", ev.Action)
	b.str("DialBLegStatus", ev.Action)
	b.str("DialALegUUID", c.CallID)
	b.str("DialBLegUUID", ev.CalledID)
	b.str("DialBLegPosition", strconv.Itoa(ev.Position))
	b.str("DialBLegFrom", ev.From)
	b.str("DialBLegTo", ev.To)
	if ev.Action == "hangup" {
		b.str("DialBLegHangupCause", ev.HangupCause)
		b.int("DialBLegDuration", WholeSeconds(ev.Duration))
	}
	return b.Params, nil
}
