package esl

import (
	"strconv"
	"strings"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// HangupReport says how the call ended, once CHANNEL_HANGUP arrived (adapter.HangupReporter).
func (c *Call) HangupReport() (adapter.HangupInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.end, c.hungup
}

// hangupInfo is how a call ended, from its CHANNEL_HANGUP (or _COMPLETE) and the cause we
// asked for ("" if we did not hang up). FreeSWITCH's Hangup-Cause already uses the names
// Plivo's HangupCause does. Who hung up:
//   - we sent hangup: pbxbridge;
//   - variable_sip_hangup_disposition recv_bye / recv_cancel / recv_refuse: the SIP caller
//     (FreeSWITCH sets it as the request arrives, so CHANNEL_HANGUP carries it);
//   - send_*: FreeSWITCH itself, as we did not ask;
//   - no disposition (a non-SIP channel such as loopback, as in the 1.10 fixtures): normal
//     clearing and the caller's cancel are the caller's, any other cause is FreeSWITCH's
//     (a failed application: record hangs up with DESTINATION_OUT_OF_ORDER).
//
// The SIP code is variable_sip_term_status, when the channel is SIP.
func hangupInfo(e *event, sent string) adapter.HangupInfo {
	info := adapter.HangupInfo{Cause: e.get("Hangup-Cause")}
	info.SIPCode, _ = strconv.Atoi(e.get("variable_sip_term_status"))
	disp := e.get("variable_sip_hangup_disposition")
	switch {
	case sent != "":
		info.Source = adapter.HangupByBridge
		if info.Cause == "" {
			info.Cause = sent
		}
	case strings.HasPrefix(disp, "recv_"):
		info.Source = adapter.HangupByCaller
	case strings.HasPrefix(disp, "send_"):
		info.Source = adapter.HangupByPBX
	case info.Cause == "", info.Cause == "NORMAL_CLEARING", info.Cause == "ORIGINATOR_CANCEL":
		info.Source = adapter.HangupByCaller
	default:
		info.Source = adapter.HangupByPBX
	}
	if info.Cause == "" {
		info.Cause = "NORMAL_CLEARING"
	}
	return info
}
