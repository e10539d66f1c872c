package adapter

import (
	"fmt"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/translate"
)

func TestDialParams(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		r    DialResult
		want translate.DialParams
	}{
		{DialResult{Status: DialCompleted, CalledID: "b", Answered: t0, Ended: t0.Add(6200 * time.Millisecond), HangupCause: "NORMAL_CLEARING"},
			translate.DialParams{Outcome: translate.DialAnswered, CalledID: "b", Rang: true, Duration: 6200 * time.Millisecond, HangupCause: "NORMAL_CLEARING"}},
		{DialResult{Status: DialBusy, Target: -1}, translate.DialParams{Outcome: translate.DialBusy, HangupCause: "USER_BUSY"}},
		{DialResult{Status: DialNoAnswer, Target: -1, CalledID: "b"}, translate.DialParams{Outcome: translate.DialNoAnswer, Rang: true, HangupCause: "NO_ANSWER"}},
		{DialResult{Status: DialCanceled, Target: -1}, translate.DialParams{Outcome: translate.DialCanceled, HangupCause: "ORIGINATOR_CANCEL"}},
		{DialResult{Status: "", Target: -1}, translate.DialParams{Outcome: translate.DialFailed, HangupCause: "NORMAL_TEMPORARY_FAILURE"}},
	} {
		if got := dialParams(tc.r); got != tc.want {
			t.Errorf("dialParams(%+v) = %+v, want %+v", tc.r, got, tc.want)
		}
	}
}

// TestDialSpecHeaders: Plivo's custom headers (the Dial's, then the target's) go out with
// X-PH- before their names; CarrierX sends none.
func TestDialSpecHeaders(t *testing.T) {
	v := &translate.Dial{
		Targets:      []translate.DialTarget{{Kind: translate.TargetUser, Address: "sip:a@b", SendDigits: "1w2", SIPHeaders: []translate.SIPHeader{{Name: "Leg", Value: "1"}}}},
		SIPHeaders:   []translate.SIPHeader{{Name: "Acct", Value: "42"}},
		CallerID:     "15550100077",
		Timeout:      20 * time.Second,
		TimeLimit:    time.Hour,
		HangupOnStar: true,
	}
	for _, d := range []translate.Dialect{translate.Plivo, translate.FlexML} {
		s := &session{app: &config.App{Dialect: d}}
		spec := s.dialSpec(t.Context(), nil, v)
		if spec.CallerID != "15550100077" || spec.Timeout != 20*time.Second || spec.TimeLimit != time.Hour || !spec.HangupOnStar || spec.Ringback != nil {
			t.Errorf("%s: spec %+v", d, spec)
		}
		tg := spec.Targets[0]
		if tg.Kind != translate.TargetUser || tg.Address != "sip:a@b" || tg.SendDigits != "1w2" {
			t.Errorf("%s: target %+v", d, tg)
		}
		var names []string
		for _, h := range tg.Headers {
			names = append(names, h.Name+"="+h.Value)
		}
		want := "[X-PH-Acct=42 X-PH-Leg=1]"
		if d == translate.FlexML {
			want = "[]"
		}
		if got := fmt.Sprint(names); got != want {
			t.Errorf("%s: headers %s, want %s", d, got, want)
		}
	}
}
