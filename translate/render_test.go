package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The examples below are copied verbatim from callbacks.md. The renderers must reproduce them
// exactly from neutral inputs holding the same values.

// callbacks.md §2.3, CarrierX Record action, POST JSON body.
const renderCarrierXActionExample = `{
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
  "RecordingDuration": 12,
  "RecordingSid": "3c9d2a61-7f0e-4b5a-9d1c-2e8f4a6b0c17",
  "RecordingStatus": "completed",
  "RecordingUrl": "https://bridge.example.net/f/3c9d2a61-7f0e-4b5a-9d1c-2e8f4a6b0c17",
  "TranscriptionSid": "",
  "TranscriptionStatus": "",
  "TranscriptionText": "",
  "TranscriptionUrl": "",
  "Digits": "#"
}`

// callbacks.md §2.5, CarrierX callbackUrl.
const renderCarrierXCallbackExample = `{
  "AccountSid": "",
  "ApiVersion": "2.0",
  "CallSid": "9b2e6c0f4a7d41b8a1c3e5f7092d4b6a",
  "CallStatus": "completed",
  "Direction": "inbound",
  "From": "15550100001",
  "OriginalFrom": "+15550100001",
  "OriginalTo": "15550109999",
  "RecordingDuration": 47,
  "RecordingSid": "3c9d2a61-7f0e-4b5a-9d1c-2e8f4a6b0c17",
  "RecordingStatus": "completed",
  "RecordingUrl": "https://bridge.example.net/f/3c9d2a61-7f0e-4b5a-9d1c-2e8f4a6b0c17",
  "To": "15550109999",
  "TranscriptionSid": "e1a7c3b9-5d20-4f86-b4e2-97c0d1f3a658",
  "TranscriptionStatus": "completed",
  "TranscriptionText": "hi it's sam please call me back",
  "TranscriptionUrl": "",
  "CallerName": "",
  "ForwardedFrom": "",
  "RequestUrl": "https://app.example.net/flexml/voicemail",
  "Digits": ""
}`

// callbacks.md §3.3, Plivo Record action, normal mode.
const renderPlivoActionExample = `CallUUID=5c1e7f2a-0b3d-4e6f-8a9b-1c2d3e4f5a6b&From=15550100001&To=15550109999&CallStatus=in-progress&Direction=inbound&RecordUrl=https%3A%2F%2Fbridge.example.net%2Ff%2Fd2c4e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f.mp3&Digits=%23&RecordingDuration=12&RecordingDurationMs=12380&RecordingStartMs=1795284977120&RecordingEndMs=1795284989500&RecordingID=d2c4e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f`

// callbacks.md §3.3, Plivo recordSession initial request (values elided with "…" in the spec).
const renderPlivoSessionExample = `CallUUID=5c1e7f2a-…&From=15550100001&To=15550109999&CallStatus=in-progress&Direction=inbound&RecordUrl=https%3A%2F%2Fbridge.example.net%2Ff%2F77aa…mp3&Digits=&RecordingDuration=-1&RecordingDurationMs=-1&RecordingStartMs=-1&RecordingEndMs=-1&RecordingID=77aa…`

// callbacks.md §3.4, Plivo callbackUrl.
const renderPlivoCallbackExample = `CallUUID=5c1e7f2a-…&From=15550100001&To=15550109999&CallStatus=completed&Direction=inbound&HangupCause=NORMAL_CLEARING&Duration=95&BillDuration=95&RecordUrl=https%3A%2F%2Fbridge.example.net%2Ff%2F77aa…mp3&RecordingDuration=93&RecordingDurationMs=93410&RecordingStartMs=1795284977120&RecordingEndMs=1795285070530&RecordingID=77aa…`

// callbacks.md §3.5, Plivo transcriptionUrl.
const renderPlivoTranscriptionExample = `transcription_charge=0&transcription=hi+it%27s+sam+please+call+me+back&duration=12&call_uuid=5c1e7f2a-…&transcription_rate=0&recording_id=d2c4e6f8-…&error=`

const (
	renderPlivoCallUUID = "5c1e7f2a-0b3d-4e6f-8a9b-1c2d3e4f5a6b"
	renderPlivoRecID    = "d2c4e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f"
	renderPlivoSession  = "77aa1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b" // fills the spec's "77aa…"
	renderCarrierXRecID = "3c9d2a61-7f0e-4b5a-9d1c-2e8f4a6b0c17"
)

// renderUnelide fills the spec's "…" placeholders with the full values the test renders.
var renderUnelide = strings.NewReplacer(
	"5c1e7f2a-…", renderPlivoCallUUID,
	"77aa…mp3", renderPlivoSession+".mp3",
	"77aa…", renderPlivoSession,
	"d2c4e6f8-…", renderPlivoRecID,
)

func renderEpochMs(n int64) time.Time { return time.UnixMilli(n) }

func renderCarrierXCall() CallParams {
	return CallParams{
		CallID:       "9b2e6c0f4a7d41b8a1c3e5f7092d4b6a",
		From:         "+15550100001",
		To:           "15550109999",
		OriginalFrom: "+15550100001",
		OriginalTo:   "15550109999",
		Direction:    "inbound",
		Status:       CallInProgress,
		// Userinfo and fragment must not reach RequestUrl.
		DocumentURL: "https://app:s3cret@app.example.net/flexml/voicemail#ct=3000",
	}
}

func renderPlivoCall() CallParams {
	return CallParams{
		CallID:    renderPlivoCallUUID,
		From:      "+15550100001",
		To:        "+15550109999",
		Direction: "inbound",
		Status:    CallInProgress,
	}
}

// must fails the test on a render error: renderMust(t)(ActionParams(...)).
func renderMust(t *testing.T) func(Params, error) Params {
	return func(p Params, err error) Params {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
}

func renderIndentJSON(t *testing.T, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return out.String()
}

func renderKeys(p Params) []string {
	var k []string
	for _, f := range p.Fields() {
		k = append(k, f.Key)
	}
	return k
}

func TestRenderGoldenCarrierXAction(t *testing.T) {
	r := RecordingParams{
		ID:       renderCarrierXRecID,
		URL:      "https://bridge.example.net/f/" + renderCarrierXRecID,
		Status:   StatusCompleted,
		Duration: 12380 * time.Millisecond,
		Digits:   "#",
		// Must be blanked: the transcript is never ready for action.
		Transcription: TranscriptionParams{Status: TranscriptionCompleted},
	}
	p := renderMust(t)(ActionParams(FlexML, renderCarrierXCall(), r))
	if got := renderIndentJSON(t, p.JSON()); got != renderCarrierXActionExample {
		t.Errorf("JSON:\n%s\nwant:\n%s", got, renderCarrierXActionExample)
	}
	if ct, body := p.Body(); ct != "application/json; charset=utf-8" || !bytes.Equal(body, p.JSON()) {
		t.Errorf("Body() = %q, %s", ct, body)
	}

	// §2.3's GET example is abbreviated; check what it does show.
	u := p.AppendQuery(&url.URL{Scheme: "https", Host: "app.example.net", Path: "/flexml/after-record"})
	if !strings.HasPrefix(u.RawQuery, "AccountSid=&ApiVersion=2.0&") {
		t.Errorf("GET query %q", u.RawQuery)
	}
	q := u.Query()
	for k, v := range map[string]string{"CallSid": "9b2e6c0f4a7d41b8a1c3e5f7092d4b6a", "CallStatus": "in-progress", "RecordingDuration": "12", "RecordingStatus": "completed", "Digits": "#", "TranscriptionUrl": ""} {
		if got, ok := q[k]; !ok || len(got) != 1 || got[0] != v {
			t.Errorf("GET %s = %q, want %q", k, got, v)
		}
	}
}

func TestRenderGoldenCarrierXCallback(t *testing.T) {
	c := renderCarrierXCall()
	c.Status = CallCompleted
	c.OriginalFrom = "" // falls back to From as received
	r := RecordingParams{
		ID:       renderCarrierXRecID,
		URL:      "https://bridge.example.net/f/" + renderCarrierXRecID,
		Duration: 46500 * time.Millisecond,
		Transcription: TranscriptionParams{
			ID:     "e1a7c3b9-5d20-4f86-b4e2-97c0d1f3a658",
			Status: TranscriptionCompleted,
			Text:   "hi it's sam please call me back",
		},
	}
	p := renderMust(t)(FileCallbackParams(FlexML, c, r))
	if got := renderIndentJSON(t, p.JSON()); got != renderCarrierXCallbackExample {
		t.Errorf("JSON:\n%s\nwant:\n%s", got, renderCarrierXCallbackExample)
	}
}

func TestRenderGoldenPlivo(t *testing.T) {
	session := RecordingParams{
		ID:  renderPlivoSession,
		URL: "https://bridge.example.net/f/" + renderPlivoSession + ".mp3",
	}
	ended := renderPlivoCall()
	ended.Status = CallCompleted
	ended.HangupCause = "NORMAL_CLEARING"
	ended.Duration = 95 * time.Second
	ended.BillDuration = 95 * time.Second

	tests := []struct {
		name string
		p    func() (Params, error)
		want string
	}{
		{"action normal", func() (Params, error) {
			return ActionParams(Plivo, renderPlivoCall(), RecordingParams{
				ID:       renderPlivoRecID,
				URL:      "https://bridge.example.net/f/" + renderPlivoRecID + ".mp3",
				Status:   StatusCompleted,
				Duration: 12380 * time.Millisecond,
				Start:    renderEpochMs(1795284977120),
				End:      renderEpochMs(1795284989500),
				Digits:   "#",
			})
		}, renderPlivoActionExample},
		{"action recordSession start", func() (Params, error) {
			r := session
			r.Pending = true
			r.Duration, r.Start, r.End = time.Minute, renderEpochMs(1), renderEpochMs(2) // ignored when pending
			return ActionParams(Plivo, renderPlivoCall(), r)
		}, renderPlivoSessionExample},
		{"callbackUrl", func() (Params, error) {
			r := session
			r.Pending = true // callbackUrl always carries real values
			r.Duration = 93410 * time.Millisecond
			r.Start, r.End = renderEpochMs(1795284977120), renderEpochMs(1795285070530)
			r.Digits = "#" // not a callbackUrl param
			return FileCallbackParams(Plivo, ended, r)
		}, renderPlivoCallbackExample},
		{"transcriptionUrl", func() (Params, error) {
			return TranscriptionCallbackParams(Plivo, ended, RecordingParams{
				ID:            renderPlivoRecID,
				Duration:      12380 * time.Millisecond,
				Transcription: TranscriptionParams{Status: TranscriptionCompleted, Text: "hi it's sam please call me back"},
			})
		}, renderPlivoTranscriptionExample},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := renderMust(t)(tt.p())
			want := renderUnelide.Replace(tt.want)
			if got := p.Encode(); got != want {
				t.Errorf("Encode:\n%s\nwant:\n%s", got, want)
			}
			if ct, body := p.Body(); ct != "application/x-www-form-urlencoded" || string(body) != want {
				t.Errorf("Body() = %q, %s", ct, body)
			}
			// Form carries the same values, all strings.
			wantForm, _ := url.ParseQuery(want)
			if got := p.Form(); !reflect.DeepEqual(got, wantForm) {
				t.Errorf("Form() = %v, want %v", got, wantForm)
			}
		})
	}
}

func TestRenderFieldSets(t *testing.T) {
	cxCall := []string{"AccountSid", "ApiVersion", "CallerName", "CallSid", "CallStatus", "Direction", "ForwardedFrom", "From", "OriginalFrom", "OriginalTo", "RequestUrl", "To"}
	cxRec := []string{"RecordingDuration", "RecordingSid", "RecordingStatus", "RecordingUrl", "TranscriptionSid", "TranscriptionStatus", "TranscriptionText", "TranscriptionUrl", "Digits"}
	cxStored := []string{"AccountSid", "ApiVersion", "CallSid", "CallStatus", "Direction", "From", "OriginalFrom", "OriginalTo", "RecordingDuration", "RecordingSid", "RecordingStatus", "RecordingUrl", "To", "TranscriptionSid", "TranscriptionStatus", "TranscriptionText", "TranscriptionUrl", "CallerName", "ForwardedFrom", "RequestUrl", "Digits"}
	rec := RecordingParams{ID: "r", URL: "u", Status: StatusCompleted, Duration: time.Second}

	outbound := CallParams{CallID: "c", From: "1", To: "2", Direction: "outbound", Status: CallInProgress, ForwardedFrom: "+15550100002", ALegUUID: "a", ALegRequestUUID: "q"}
	hungUp := CallParams{CallID: "c", Direction: "inbound", Status: CallCompleted, HangupCause: "NORMAL_CLEARING", Duration: 3 * time.Second}

	tests := []struct {
		name string
		p    Params
		want []string
	}{
		{"carrierx document", renderMust(t)(DocumentParams(FlexML, renderCarrierXCall())), cxCall},
		{"carrierx action", renderMust(t)(ActionParams(FlexML, renderCarrierXCall(), rec)), append(cxCall[:len(cxCall):len(cxCall)], cxRec...)},
		{"carrierx errorAction", ErrorActionParams(renderCarrierXCall()), append(cxCall[:len(cxCall):len(cxCall)], cxRec...)},
		{"carrierx callbackUrl", renderMust(t)(FileCallbackParams(FlexML, renderCarrierXCall(), rec)), cxStored},
		{"carrierx status", StatusCallbackParams(renderCarrierXCall(), rec), cxStored},
		{"carrierx transcribe", renderMust(t)(TranscriptionCallbackParams(FlexML, renderCarrierXCall(), rec)), cxStored},
		{"plivo document inbound", renderMust(t)(DocumentParams(Plivo, renderPlivoCall())), []string{"CallUUID", "From", "To", "CallStatus", "Direction"}},
		{"plivo document outbound forwarded", renderMust(t)(DocumentParams(Plivo, outbound)), []string{"CallUUID", "From", "To", "ForwardedFrom", "CallStatus", "Direction", "ALegUUID", "ALegRequestUUID"}},
		{"plivo document after hangup", renderMust(t)(DocumentParams(Plivo, hungUp)), []string{"CallUUID", "From", "To", "CallStatus", "Direction", "HangupCause", "Duration", "BillDuration"}},
		{"plivo action", renderMust(t)(ActionParams(Plivo, renderPlivoCall(), rec)), []string{"CallUUID", "From", "To", "CallStatus", "Direction", "RecordUrl", "Digits", "RecordingDuration", "RecordingDurationMs", "RecordingStartMs", "RecordingEndMs", "RecordingID"}},
		{"plivo callbackUrl", renderMust(t)(FileCallbackParams(Plivo, renderPlivoCall(), rec)), []string{"CallUUID", "From", "To", "CallStatus", "Direction", "RecordUrl", "RecordingDuration", "RecordingDurationMs", "RecordingStartMs", "RecordingEndMs", "RecordingID"}},
		{"plivo transcriptionUrl", renderMust(t)(TranscriptionCallbackParams(Plivo, outbound, rec)), []string{"transcription_charge", "transcription", "duration", "call_uuid", "transcription_rate", "recording_id", "error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := renderKeys(tt.p); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("keys\n got %v\nwant %v", got, tt.want)
			}
			// CarrierX: RecordingDuration is the only JSON number, nothing is omitted.
			if tt.p.Dialect() == FlexML {
				var m map[string]any
				if err := json.Unmarshal(tt.p.JSON(), &m); err != nil {
					t.Fatal(err)
				}
				if len(m) != len(tt.want) {
					t.Errorf("JSON has %d keys, want %d", len(m), len(tt.want))
				}
				for k, v := range m {
					_, isNum := v.(float64)
					if _, isStr := v.(string); isNum != (k == "RecordingDuration") || isNum == isStr {
						t.Errorf("JSON %s = %#v: wrong type", k, v)
					}
				}
			}
		})
	}
}

func renderGet(t *testing.T, p Params, k string) string {
	t.Helper()
	v, ok := p.Get(k)
	if !ok {
		t.Fatalf("no %s in %s", k, p.Encode())
	}
	return v
}

func TestRenderCarrierXErrorAndStatus(t *testing.T) {
	p := ErrorActionParams(renderCarrierXCall())
	for k, want := range map[string]string{"RecordingStatus": "failed", "RecordingDuration": "0", "RecordingSid": "", "RecordingUrl": "", "TranscriptionStatus": "", "Digits": "", "CallStatus": "in-progress"} {
		if got := renderGet(t, p, k); got != want {
			t.Errorf("errorAction %s = %q, want %q", k, got, want)
		}
	}

	full := RecordingParams{
		ID: "rid", URL: "https://b/f/rid", Duration: 5 * time.Second, Digits: "#",
		Transcription: TranscriptionParams{ID: "tid", Status: TranscriptionCompleted, Text: "hello"},
	}
	for _, st := range []RecordingStatus{StatusCompleted, StatusFailed, StatusAbsent} {
		r := full
		r.Status = st
		p := StatusCallbackParams(renderCarrierXCall(), r)
		blank := st != StatusCompleted
		want := map[string]string{"RecordingStatus": string(st), "RecordingSid": "rid", "RecordingUrl": "https://b/f/rid", "RecordingDuration": "5", "TranscriptionSid": "tid", "TranscriptionStatus": "completed", "TranscriptionText": "hello", "Digits": "#"}
		if blank {
			want = map[string]string{"RecordingStatus": string(st), "RecordingSid": "", "RecordingUrl": "", "RecordingDuration": "0", "TranscriptionSid": "", "TranscriptionStatus": "", "TranscriptionText": "", "Digits": "#"}
		}
		for k, w := range want {
			if got := renderGet(t, p, k); got != w {
				t.Errorf("status %s: %s = %q, want %q", st, k, got, w)
			}
		}
	}
}

func TestRenderTranscription(t *testing.T) {
	tests := []struct {
		t        TranscriptionParams
		cxStatus string
		text     string // both dialects
		plivoErr string
	}{
		{TranscriptionParams{ID: "t", Status: TranscriptionCompleted, Text: "hi"}, "completed", "hi", ""},
		{TranscriptionParams{ID: "t", Status: TranscriptionFailed, Text: "partial"}, "failed", "", "Transcription failed"},
		{TranscriptionParams{ID: "t", Status: TranscriptionTimeout, Text: "partial"}, "timeout", "", "Transcription failed"},
		{TranscriptionParams{Status: TranscriptionFailed, Failure: TranscriptionTooLong}, "failed", "", "Recording duration too long for transcription"},
		{TranscriptionParams{Status: TranscriptionFailed, Failure: TranscriptionTooLarge}, "failed", "", "Recording file size too large for transcription"},
		{TranscriptionParams{Status: TranscriptionFailed, Failure: TranscriptionTooShort}, "failed", "", "Recording duration too short for transcription"},
	}
	for _, tt := range tests {
		r := RecordingParams{ID: "rid", Status: StatusCompleted, Duration: 400 * time.Millisecond, Transcription: tt.t}
		cx := renderMust(t)(TranscriptionCallbackParams(FlexML, renderCarrierXCall(), r))
		if got := renderGet(t, cx, "TranscriptionStatus"); got != tt.cxStatus {
			t.Errorf("%+v: CarrierX status %q, want %q", tt.t, got, tt.cxStatus)
		}
		if got := renderGet(t, cx, "TranscriptionText"); got != tt.text {
			t.Errorf("%+v: CarrierX text %q, want %q", tt.t, got, tt.text)
		}
		pl := renderMust(t)(TranscriptionCallbackParams(Plivo, renderPlivoCall(), r))
		if got := renderGet(t, pl, "transcription"); got != tt.text {
			t.Errorf("%+v: Plivo text %q, want %q", tt.t, got, tt.text)
		}
		if got := renderGet(t, pl, "error"); got != tt.plivoErr {
			t.Errorf("%+v: Plivo error %q, want %q", tt.t, got, tt.plivoErr)
		}
		if got := renderGet(t, pl, "duration"); got != "1" {
			t.Errorf("Plivo duration %q, want 1", got)
		}
	}
}

func TestRenderCallFields(t *testing.T) {
	statuses := []struct {
		s         CallStatus
		cx, plivo string
	}{
		{CallRinging, "in-progress", "ringing"},
		{CallInProgress, "in-progress", "in-progress"},
		{CallCompleted, "completed", "completed"},
		{CallBusy, "busy", "busy"},
		{CallFailed, "failed", "failed"},
		{CallNoAnswer, "noanswer", "no-answer"},
		{CallTimeout, "noanswer", "timeout"},
		{CallCanceled, "cancel", "completed"},
	}
	for _, tt := range statuses {
		c := CallParams{Status: tt.s}
		if got := renderGet(t, renderMust(t)(DocumentParams(FlexML, c)), "CallStatus"); got != tt.cx {
			t.Errorf("CarrierX %s = %q, want %q", tt.s, got, tt.cx)
		}
		if got := renderGet(t, renderMust(t)(DocumentParams(Plivo, c)), "CallStatus"); got != tt.plivo {
			t.Errorf("Plivo %s = %q, want %q", tt.s, got, tt.plivo)
		}
	}

	numbers := map[string]string{
		"+15550100001":      "15550100001",
		"15550100001":       "15550100001",
		"+1 (555) 010-0001": "15550100001",
		"anonymous":         "anonymous",
		"+":                 "+",
		"":                  "",
		"1+2":               "1+2",
	}
	for in, want := range numbers {
		c := CallParams{From: in, To: in}
		cx := renderMust(t)(DocumentParams(FlexML, c))
		pl := renderMust(t)(DocumentParams(Plivo, c))
		for _, p := range []Params{cx, pl} {
			if got := renderGet(t, p, "From"); got != want {
				t.Errorf("%s From(%q) = %q, want %q", p.Dialect(), in, got, want)
			}
			if got := renderGet(t, p, "To"); got != want {
				t.Errorf("%s To(%q) = %q, want %q", p.Dialect(), in, got, want)
			}
		}
		if got := renderGet(t, cx, "OriginalFrom"); got != in {
			t.Errorf("OriginalFrom(%q) = %q, want as received", in, got)
		}
	}

	if got := requestURL("://bad"); got != "" {
		t.Errorf("unparsable RequestUrl = %q, want dropped", got)
	}
	if got := requestURL("https://u:p@h.example/x?a=1#rc=2"); got != "https://h.example/x?a=1" {
		t.Errorf("RequestUrl = %q", got)
	}
}

func TestRenderPlivoTimes(t *testing.T) {
	// Unknown start and end are -1; durations round to the nearest ms.
	p := renderMust(t)(ActionParams(Plivo, renderPlivoCall(), RecordingParams{Duration: 1499*time.Millisecond + 600*time.Microsecond}))
	for k, want := range map[string]string{"RecordingStartMs": "-1", "RecordingEndMs": "-1", "RecordingDurationMs": "1500", "RecordingDuration": "2", "Digits": ""} {
		if got := renderGet(t, p, k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// An empty Plivo recording is a normal end with zero durations.
	p = renderMust(t)(ActionParams(Plivo, renderPlivoCall(), RecordingParams{Status: StatusCompleted}))
	if got := renderGet(t, p, "RecordingDuration") + "/" + renderGet(t, p, "RecordingDurationMs"); got != "0/0" {
		t.Errorf("empty recording durations %s, want 0/0", got)
	}
}

func TestRenderWholeSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int64
	}{
		{-time.Second, 0},
		{0, 0},
		{time.Nanosecond, 1},
		{400 * time.Millisecond, 1},
		{499 * time.Millisecond, 1},
		{500 * time.Millisecond, 1},
		{999 * time.Millisecond, 1},
		{1499 * time.Millisecond, 1},
		{1500 * time.Millisecond, 2},
		{2499 * time.Millisecond, 2},
		{2500 * time.Millisecond, 3}, // halves up, not to even
		{12380 * time.Millisecond, 12},
		{93410 * time.Millisecond, 93},
	}
	for _, tt := range tests {
		if got := WholeSeconds(tt.d); got != tt.want {
			t.Errorf("WholeSeconds(%v) = %d, want %d", tt.d, got, tt.want)
		}
		p := renderMust(t)(ActionParams(FlexML, CallParams{}, RecordingParams{Duration: tt.d}))
		if got := renderGet(t, p, "RecordingDuration"); got != strconv.FormatInt(tt.want, 10) {
			t.Errorf("CarrierX RecordingDuration(%v) = %s, want %d", tt.d, got, tt.want)
		}
	}
}

func TestParamsAppendQuery(t *testing.T) {
	fields := Params{fields: []Field{{Key: "CallUUID", Value: "c"}, {Key: "x", Value: "mine"}, {Key: "Digits", Value: "#"}, {Key: "RecordingDuration", Value: "12", Int: true}}}
	tests := []struct {
		dialect Dialect
		in      string
		want    string
	}{
		{Plivo, "https://a.example/p", "https://a.example/p?CallUUID=c&x=mine&Digits=%23&RecordingDuration=12"},
		// The URL's own query is kept as it is and wins a clash, even with an empty value.
		{Plivo, "https://a.example/p?x=url&y=%7e", "https://a.example/p?x=url&y=%7e&CallUUID=c&Digits=%23&RecordingDuration=12"},
		{Plivo, "https://a.example/p?Digits", "https://a.example/p?Digits&CallUUID=c&x=mine&RecordingDuration=12"},
		// CarrierX appends every field.
		{FlexML, "https://u:p@a.example/p?x=url", "https://u:p@a.example/p?x=url&CallUUID=c&x=mine&Digits=%23&RecordingDuration=12"},
		{FlexML, "/rel", "/rel?CallUUID=c&x=mine&Digits=%23&RecordingDuration=12"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		orig := *u
		p := fields
		p.dialect = tt.dialect
		if got := p.AppendQuery(u).String(); got != tt.want {
			t.Errorf("%s AppendQuery(%s)\n got %s\nwant %s", tt.dialect, tt.in, got, tt.want)
		}
		if *u != orig {
			t.Errorf("AppendQuery modified its argument: %v", u)
		}
	}
}

func TestParamsJSONEscaping(t *testing.T) {
	p := Params{dialect: FlexML, fields: []Field{{Key: "a", Value: "x&y<\"\\\n\u2028é"}, {Key: "n", Value: "-1", Int: true}}}
	want := `{"a":"x&y<\"\\\n\u2028é","n":-1}`
	if got := string(p.JSON()); got != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
	if got := string((Params{}).JSON()); got != "{}" {
		t.Errorf("empty JSON = %s", got)
	}
}

func TestRenderUnknownDialect(t *testing.T) {
	for name, f := range map[string]func(Dialect) (Params, error){
		"document": func(d Dialect) (Params, error) { return DocumentParams(d, CallParams{}) },
		"action":   func(d Dialect) (Params, error) { return ActionParams(d, CallParams{}, RecordingParams{}) },
		"callback": func(d Dialect) (Params, error) { return FileCallbackParams(d, CallParams{}, RecordingParams{}) },
		"transcription": func(d Dialect) (Params, error) {
			return TranscriptionCallbackParams(d, CallParams{}, RecordingParams{})
		},
	} {
		if _, err := f("twiml"); !errors.Is(err, ErrDialect) {
			t.Errorf("%s: err = %v, want ErrDialect", name, err)
		}
	}
}
