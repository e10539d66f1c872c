package ari

import (
	"os"
	"testing"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// TestHangupInfoFixtures reads the hangup events Asterisk 22.10 sent: a SIP caller's BYE
// (no cause), soft hangup requests (cause = soft-hangup flags, not Q.850), and
// ChannelDestroyed (Q.850 16).
func TestHangupInfoFixtures(t *testing.T) {
	read := func(name string) evt {
		t.Helper()
		b, err := os.ReadFile(fixturePath(t, "by-scenario/"+name))
		if err != nil {
			t.Fatal(err)
		}
		e, ok, err := decodeFrame(b)
		if err != nil || !ok {
			t.Fatalf("%s: ok=%v err=%v", name, ok, err)
		}
		return e
	}
	caller := adapter.HangupInfo{Cause: "NORMAL_CLEARING", Source: adapter.HangupByCaller}
	for _, tc := range []struct {
		file  string
		sent  int
		want  adapter.HangupInfo
		known bool
	}{
		{"sip-direct-ChannelHangupRequest.json", 0, caller, false},
		// cause 32 with soft: AST_SOFTHANGUP_EXPLICIT, not NORMAL_CIRCUIT_CONGESTION (34) or any Q.850
		{"direct-ChannelHangupRequest.json", 0, caller, false},
		{"snoop-hangup-ChannelHangupRequest.json", 0, caller, false},
		{"direct-ChannelDestroyed.json", 0, caller, true},
		// we hung up: our cause, whatever the event says
		{"direct-ChannelHangupRequest.json", 27, adapter.HangupInfo{Cause: "DESTINATION_OUT_OF_ORDER", Source: adapter.HangupByBridge}, true},
		{"sip-direct-ChannelHangupRequest.json", 16, adapter.HangupInfo{Cause: "NORMAL_CLEARING", Source: adapter.HangupByBridge}, true},
		{"sip-direct-StasisEnd.json", 0, caller, false},
	} {
		got, known := hangupInfo(read(tc.file), tc.sent)
		if got != tc.want || known != tc.known {
			t.Errorf("%s sent %d: %+v known %v, want %+v known %v", tc.file, tc.sent, got, known, tc.want, tc.known)
		}
	}
}

// TestHangupInfoCauses maps Q.850 codes to the FreeSWITCH names Plivo's HangupCause uses.
func TestHangupInfoCauses(t *testing.T) {
	for _, tc := range []struct {
		ev   evt
		want adapter.HangupInfo
	}{
		{evt{Type: evChannelDestroyed, Cause: 16}, adapter.HangupInfo{Cause: "NORMAL_CLEARING", Source: adapter.HangupByCaller}},
		{evt{Type: evChannelDestroyed, Cause: 17}, adapter.HangupInfo{Cause: "USER_BUSY", Source: adapter.HangupByPBX}},
		{evt{Type: evChannelDestroyed, Cause: 19}, adapter.HangupInfo{Cause: "NO_ANSWER", Source: adapter.HangupByPBX}},
		{evt{Type: evChannelHangupRequest, Cause: 21}, adapter.HangupInfo{Cause: "CALL_REJECTED", Source: adapter.HangupByPBX}},
		{evt{Type: evChannelHangupRequest, Cause: 27}, adapter.HangupInfo{Cause: "DESTINATION_OUT_OF_ORDER", Source: adapter.HangupByPBX}},
		{evt{Type: evChannelDestroyed, Cause: 31}, adapter.HangupInfo{Cause: "NORMAL_UNSPECIFIED", Source: adapter.HangupByCaller}},
		{evt{Type: evChannelDestroyed, Cause: 38}, adapter.HangupInfo{Cause: "NETWORK_OUT_OF_ORDER", Source: adapter.HangupByPBX}},
		{evt{Type: evChannelHangupRequest, Cause: 27, Soft: true}, adapter.HangupInfo{Cause: "NORMAL_CLEARING", Source: adapter.HangupByCaller}},
		{evt{Type: evStasisEnd, Cause: 27}, adapter.HangupInfo{Cause: "NORMAL_CLEARING", Source: adapter.HangupByCaller}},
	} {
		if got, _ := hangupInfo(tc.ev, 0); got != tc.want {
			t.Errorf("%s cause %d soft %v: %+v, want %+v", tc.ev.Type, tc.ev.Cause, tc.ev.Soft, got, tc.want)
		}
	}
}

// TestHangupReportLater: a causeless hangup request, then a ChannelDestroyed with a cause,
// reports the cause; before any hangup event there is no report.
func TestHangupReportLater(t *testing.T) {
	p, stop := testPBX(t)
	defer stop()
	c := p.newCall(evt{Type: evStasisStart, Channel: "ch1", ChannelState: "Up"})
	if _, ok := c.HangupReport(); ok {
		t.Fatal("a report before any hangup")
	}
	c.apply(evt{Type: evChannelHangupRequest, Channel: "ch1"})
	if got, ok := c.HangupReport(); !ok || got.Cause != "NORMAL_CLEARING" || got.Source != adapter.HangupByCaller {
		t.Fatalf("after BYE: %+v %v", got, ok)
	}
	c.apply(evt{Type: evChannelDestroyed, Channel: "ch1", Cause: 27})
	if got, _ := c.HangupReport(); got.Cause != "DESTINATION_OUT_OF_ORDER" || got.Source != adapter.HangupByPBX {
		t.Fatalf("after ChannelDestroyed: %+v", got)
	}
}
