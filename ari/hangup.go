package ari

import "github.com/pbxbridge/pbxbridge/adapter"

// HangupReport says how the call ended, once a hangup event arrived (adapter.HangupReporter).
func (c *call) HangupReport() (adapter.HangupInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.end, c.gone
}

// q850 is the Q.850 cause an event carries, 0 if none. A soft ChannelHangupRequest carries
// Asterisk's soft-hangup flags in cause (32 = AST_SOFTHANGUP_EXPLICIT, seen in the 22.10
// fixtures), not a Q.850 code; a SIP caller's BYE gives a ChannelHangupRequest with no cause
// at all, and StasisEnd never has one.
func q850(e evt) int {
	switch e.Type {
	case evChannelDestroyed:
		return e.Cause
	case evChannelHangupRequest:
		if !e.Soft {
			return e.Cause
		}
	}
	return 0
}

// hangupInfo is how a call ended, from its first hangup event and the code we hung up with
// (0 if we did not). known is whether the cause is reported rather than assumed.
//   - We hung up: our cause, source pbxbridge, whatever Asterisk echoes.
//   - The event has a Q.850 cause: its FreeSWITCH-style name (the names Plivo uses).
//     Normal clearing and no-cause hangups are the caller's; any other cause is
//     Asterisk's own (a failure on its side), since an answered caller can only send BYE.
//   - No cause (a BYE's ChannelHangupRequest, StasisEnd, a channel found gone):
//     NORMAL_CLEARING from the caller.
func hangupInfo(e evt, sent int) (info adapter.HangupInfo, known bool) {
	if sent != 0 {
		return adapter.HangupInfo{Cause: causeName(sent), Source: adapter.HangupByBridge}, true
	}
	code := q850(e)
	if code == 0 {
		return adapter.HangupInfo{Cause: "NORMAL_CLEARING", Source: adapter.HangupByCaller}, false
	}
	info = adapter.HangupInfo{Cause: causeName(code), Source: adapter.HangupByPBX}
	switch code {
	case causeNormal, 31: // NORMAL_CLEARING, NORMAL_UNSPECIFIED
		info.Source = adapter.HangupByCaller
	}
	return info, true
}
