package translate

import (
	"errors"
	"net/url"
	"testing"
)

// Gather action requests, one example per dialect and element. They follow the shapes of the
// Record examples in callbacks.md: the call fields in table order, then the input.

// FlexML <Gather> action, POST JSON body, after the caller pressed 1 2 #.
const renderCarrierXGatherExample = `{
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
  "Digits": "12"
}`

// Plivo <GetDigits> action, POST form body.
const renderPlivoGetDigitsExample = `CallUUID=5c1e7f2a-…&From=15550100001&To=15550109999&CallStatus=in-progress&Direction=inbound&Digits=1234`

// Plivo <GetInput inputType="dtmf"> action, POST form body.
const renderPlivoGetInputExample = `CallUUID=5c1e7f2a-…&From=15550100001&To=15550109999&CallStatus=in-progress&Direction=inbound&InputType=dtmf&Digits=%2A9`

func TestRenderGatherAction(t *testing.T) {
	p := renderMust(t)(GatherActionParams(FlexML, renderCarrierXCall(), InputParams{Digits: "12"}))
	if got := renderIndentJSON(t, p.JSON()); got != renderCarrierXGatherExample {
		t.Errorf("FlexML JSON:\n%s\nwant:\n%s", got, renderCarrierXGatherExample)
	}
	// GET: every field appended, the empty ones too.
	empty := renderMust(t)(GatherActionParams(FlexML, renderCarrierXCall(), InputParams{}))
	u := empty.AppendQuery(&url.URL{Scheme: "https", Host: "app.example.net", Path: "/menu", RawQuery: "step=2"})
	if q := u.Query(); q.Get("step") != "2" || !q.Has("Digits") || q.Get("Digits") != "" || q.Get("CallSid") == "" {
		t.Errorf("FlexML GET query %q", u.RawQuery)
	}

	for _, tt := range []struct {
		name string
		in   InputParams
		want string
	}{
		{"GetDigits", InputParams{Digits: "1234"}, renderPlivoGetDigitsExample},
		{"GetInput", InputParams{Digits: "*9", InputType: InputDTMF}, renderPlivoGetInputExample},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := renderMust(t)(GatherActionParams(Plivo, renderPlivoCall(), tt.in))
			want := renderUnelide.Replace(tt.want)
			if got := p.Encode(); got != want {
				t.Errorf("Encode:\n%s\nwant:\n%s", got, want)
			}
			if ct, body := p.Body(); ct != "application/x-www-form-urlencoded" || string(body) != want {
				t.Errorf("Body() = %q, %s", ct, body)
			}
		})
	}

	// Plivo GET: a Digits already in the action URL wins (callbacks.md §1.3).
	p = renderMust(t)(GatherActionParams(Plivo, renderPlivoCall(), InputParams{Digits: "5"}))
	u = p.AppendQuery(&url.URL{Scheme: "https", Host: "app.example.net", Path: "/menu", RawQuery: "Digits=fixed"})
	if q := u.Query(); len(q["Digits"]) != 1 || q.Get("Digits") != "fixed" {
		t.Errorf("Plivo GET query %q", u.RawQuery)
	}

	if _, err := GatherActionParams("twiml", renderPlivoCall(), InputParams{}); !errors.Is(err, ErrDialect) {
		t.Errorf("unknown dialect: %v", err)
	}
}
