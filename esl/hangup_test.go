package esl

import (
	"testing"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// TestHangupInfo: who hung up and why, from CHANNEL_HANGUP's Hangup-Cause,
// variable_sip_hangup_disposition and variable_sip_term_status.
func TestHangupInfo(t *testing.T) {
	ev := func(kv ...string) *event {
		e := &event{Name: "CHANNEL_HANGUP", h: map[string]string{}}
		for i := 0; i+1 < len(kv); i += 2 {
			e.h[kv[i]] = kv[i+1]
		}
		return e
	}
	for _, tc := range []struct {
		name string
		e    *event
		sent string
		want adapter.HangupInfo
	}{
		{"caller BYE", ev("Hangup-Cause", "NORMAL_CLEARING", "variable_sip_hangup_disposition", "recv_bye", "variable_sip_term_status", "200"),
			"", adapter.HangupInfo{Cause: "NORMAL_CLEARING", SIPCode: 200, Source: adapter.HangupByCaller}},
		{"caller CANCEL", ev("Hangup-Cause", "ORIGINATOR_CANCEL", "variable_sip_hangup_disposition", "recv_cancel"),
			"", adapter.HangupInfo{Cause: "ORIGINATOR_CANCEL", Source: adapter.HangupByCaller}},
		{"caller refuses with 486", ev("Hangup-Cause", "USER_BUSY", "variable_sip_hangup_disposition", "recv_refuse", "variable_sip_term_status", "486"),
			"", adapter.HangupInfo{Cause: "USER_BUSY", SIPCode: 486, Source: adapter.HangupByCaller}},
		{"we hung up", ev("Hangup-Cause", "NORMAL_CLEARING"),
			"NORMAL_CLEARING", adapter.HangupInfo{Cause: "NORMAL_CLEARING", Source: adapter.HangupByBridge}},
		{"we rejected", ev("Hangup-Cause", "CALL_REJECTED"),
			"CALL_REJECTED", adapter.HangupInfo{Cause: "CALL_REJECTED", Source: adapter.HangupByBridge}},
		{"record cannot open its file", ev("Hangup-Cause", "DESTINATION_OUT_OF_ORDER"),
			"", adapter.HangupInfo{Cause: "DESTINATION_OUT_OF_ORDER", Source: adapter.HangupByPBX}},
		{"FreeSWITCH sent BYE", ev("Hangup-Cause", "MEDIA_TIMEOUT", "variable_sip_hangup_disposition", "send_bye"),
			"", adapter.HangupInfo{Cause: "MEDIA_TIMEOUT", Source: adapter.HangupByPBX}},
		{"loopback channel, normal clearing (1.10 fixtures)", ev("Hangup-Cause", "NORMAL_CLEARING"),
			"", adapter.HangupInfo{Cause: "NORMAL_CLEARING", Source: adapter.HangupByCaller}},
		{"no cause", ev(), "", adapter.HangupInfo{Cause: "NORMAL_CLEARING", Source: adapter.HangupByCaller}},
	} {
		if got := hangupInfo(tc.e, tc.sent); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
