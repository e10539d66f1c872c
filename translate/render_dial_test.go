package translate

import (
	"testing"
	"time"
)

// Dial action requests, exactly: the shapes DialActionParams documents.

const renderCarrierXDialExample = `{
  "AccountSid": "",
  "ApiVersion": "2.0",
  "CallerName": "",
  "CallSid": "9b2e6c0f4a7d41b8a1c3e5f7092d4b6a",
  "CallStatus": "in-progress",
  "Direction": "inbound",
  "ForwardedFrom": "",
  "From": "15550100001",
  "OriginalFrom": "+15550100001",
  "OriginalTo": "15550109999",
  "RequestUrl": "https://app.example.net/flexml/voicemail",
  "To": "15550109999",
  "DialCallStatus": "completed",
  "DialCallSid": "1700000000.42",
  "DialCallDuration": 13
}`

const renderPlivoDialExample = `CallUUID=5c1e7f2a-0b3d-4e6f-8a9b-1c2d3e4f5a6b&From=15550100001&To=15550109999&CallStatus=in-progress&Direction=inbound&DialRingStatus=true&DialHangupCause=NORMAL_CLEARING&DialStatus=completed&DialALegUUID=5c1e7f2a-0b3d-4e6f-8a9b-1c2d3e4f5a6b&DialBLegUUID=b1e9c0de-0000-4000-8000-000000000001`

const renderPlivoDialBusyExample = `CallUUID=5c1e7f2a-0b3d-4e6f-8a9b-1c2d3e4f5a6b&From=15550100001&To=15550109999&CallStatus=in-progress&Direction=inbound&DialRingStatus=false&DialHangupCause=USER_BUSY&DialStatus=busy&DialALegUUID=5c1e7f2a-0b3d-4e6f-8a9b-1c2d3e4f5a6b&DialBLegUUID=`

func TestRenderGoldenCarrierXDial(t *testing.T) {
	p := renderMust(t)(DialActionParams(FlexML, renderCarrierXCall(), DialParams{
		Outcome: DialAnswered, CalledID: "1700000000.42", Rang: true, Duration: 12600 * time.Millisecond, HangupCause: "NORMAL_CLEARING",
	}))
	if got := renderIndentJSON(t, p.JSON()); got != renderCarrierXDialExample {
		t.Errorf("JSON:\n%s\nwant:\n%s", got, renderCarrierXDialExample)
	}
	for _, tt := range []struct {
		o    DialOutcome
		want string
	}{{DialBusy, "busy"}, {DialNoAnswer, "noanswer"}, {DialFailed, "failed"}, {DialCanceled, "cancel"}} {
		p := renderMust(t)(DialActionParams(FlexML, renderCarrierXCall(), DialParams{Outcome: tt.o}))
		if v, _ := p.Get("DialCallStatus"); v != tt.want {
			t.Errorf("%s: DialCallStatus %q, want %q", tt.o, v, tt.want)
		}
		if v, _ := p.Get("DialCallDuration"); v != "0" {
			t.Errorf("%s: DialCallDuration %q, want 0", tt.o, v)
		}
	}
}

func TestRenderGoldenPlivoDial(t *testing.T) {
	p := renderMust(t)(DialActionParams(Plivo, renderPlivoCall(), DialParams{
		Outcome: DialAnswered, CalledID: "b1e9c0de-0000-4000-8000-000000000001", Rang: true, Duration: 13 * time.Second, HangupCause: "NORMAL_CLEARING",
	}))
	if got := p.Encode(); got != renderPlivoDialExample {
		t.Errorf("Encode:\n%s\nwant:\n%s", got, renderPlivoDialExample)
	}
	p = renderMust(t)(DialActionParams(Plivo, renderPlivoCall(), DialParams{Outcome: DialBusy, HangupCause: "USER_BUSY"}))
	if got := p.Encode(); got != renderPlivoDialBusyExample {
		t.Errorf("busy Encode:\n%s\nwant:\n%s", got, renderPlivoDialBusyExample)
	}
	for _, tt := range []struct {
		o    DialOutcome
		want string
	}{{DialNoAnswer, "no-answer"}, {DialFailed, "failed"}, {DialCanceled, "no-answer"}} {
		p := renderMust(t)(DialActionParams(Plivo, renderPlivoCall(), DialParams{Outcome: tt.o}))
		if v, _ := p.Get("DialStatus"); v != tt.want {
			t.Errorf("%s: DialStatus %q, want %q", tt.o, v, tt.want)
		}
	}
	if _, err := DialActionParams("twiml", renderPlivoCall(), DialParams{}); err == nil {
		t.Error("unknown dialect accepted")
	}
}

// TestDialCallbackParams: Plivo's dial events, answer and hangup, with their names.
func TestDialCallbackParams(t *testing.T) {
	c := renderPlivoCall()
	p := renderMust(t)(DialCallbackParams(Plivo, c, DialEvent{Action: "answer", CalledID: "b-1", Position: 2, From: "15550100", To: "15550199"}))
	want := map[string]string{"Event": "DialAnswer", "DialAction": "answer", "DialBLegStatus": "answer", "DialALegUUID": c.CallID,
		"DialBLegUUID": "b-1", "DialBLegPosition": "2", "DialBLegFrom": "15550100", "DialBLegTo": "15550199"}
	for k, v := range want {
		if got, _ := p.Get(k); got != v {
			t.Errorf("answer %s = %q, want %q", k, got, v)
		}
	}
	if _, ok := p.Get("DialBLegHangupCause"); ok {
		t.Error("answer: DialBLegHangupCause is for hangup events")
	}
	p = renderMust(t)(DialCallbackParams(Plivo, c, DialEvent{Action: "hangup", CalledID: "b-1", Position: 1, HangupCause: "NORMAL_CLEARING", Duration: 5400 * time.Millisecond}))
	for k, v := range map[string]string{"Event": "DialHangup", "DialAction": "hangup", "DialBLegStatus": "hangup",
		"DialBLegHangupCause": "NORMAL_CLEARING", "DialBLegDuration": "5"} {
		if got, _ := p.Get(k); got != v {
			t.Errorf("hangup %s = %q, want %q", k, got, v)
		}
	}
	if _, err := DialCallbackParams(FlexML, renderCarrierXCall(), DialEvent{Action: "answer"}); err == nil {
		t.Error("FlexML dial events: want an error")
	}
	if _, err := DialCallbackParams(Plivo, c, DialEvent{Action: "ring"}); err == nil {
		t.Error("dial event ring: want an error")
	}
}
