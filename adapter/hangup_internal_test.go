package adapter

import "testing"

// reporter is a Call that reports how it ended (only HangupReport is called).
type reporter struct {
	Call
	info HangupInfo
	ok   bool
}

func (r reporter) HangupReport() (HangupInfo, bool) { return r.info, r.ok }

// TestEndCause: pbxbridge's own cause wins (it hung up: Hangup verb, Reject, end of
// document); else the PBX's report (the caller's BYE, FreeSWITCH's failed record); else
// NORMAL_CLEARING, as for a PBX that cannot report.
func TestEndCause(t *testing.T) {
	oor := reporter{info: HangupInfo{Cause: "DESTINATION_OUT_OF_ORDER", Source: HangupByPBX}, ok: true}
	for _, tc := range []struct {
		name   string
		ours   string
		c      Call
		cause  string
		source HangupSource
	}{
		{"ours wins", "USER_BUSY", oor, "USER_BUSY", HangupByBridge},
		{"the PBX's", "", oor, "DESTINATION_OUT_OF_ORDER", HangupByPBX},
		{"the caller's", "", reporter{info: HangupInfo{Cause: "NORMAL_CLEARING", Source: HangupByCaller}, ok: true}, "NORMAL_CLEARING", HangupByCaller},
		{"not reported yet", "", reporter{info: HangupInfo{Cause: "USER_BUSY"}}, "NORMAL_CLEARING", ""},
		{"no reporter", "", struct{ Call }{}, "NORMAL_CLEARING", ""},
	} {
		cause, src := endCause(tc.ours, tc.c)
		if cause != tc.cause || src != tc.source {
			t.Errorf("%s: %s from %q, want %s from %q", tc.name, cause, src, tc.cause, tc.source)
		}
	}
}
