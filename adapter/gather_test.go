package adapter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/store/local"
	"github.com/pbxbridge/pbxbridge/translate"
)

// digitCall is a Call whose caller presses the keys a test scripts: each CollectDigits takes
// the next result (no input once they run out) and keeps the spec it was given.
type digitCall struct {
	mu      sync.Mutex
	results []adapter.DigitResult
	specs   []adapter.DigitSpec
	plays   []string
	hungUp  string
}

func (c *digitCall) Info() adapter.CallInfo {
	return adapter.CallInfo{ChannelID: "ch-1", PBX: "test", From: "+15550100001", To: "15550109999",
		Direction: "inbound", AppArgs: []string{"app"}, Answered: true, Arrived: time.Now()}
}
func (c *digitCall) Answer(context.Context) error    { return nil }
func (c *digitCall) PreAnswer(context.Context) error { return nil }
func (c *digitCall) Play(_ context.Context, p adapter.PlaySpec) (adapter.PlayResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.plays = append(c.plays, p.URL)
	return adapter.PlayResult{}, nil
}
func (c *digitCall) Record(context.Context, adapter.RecordSpec) (adapter.RecordResult, error) {
	return adapter.RecordResult{}, adapter.ErrUnsupported
}
func (c *digitCall) StartRecording(context.Context, adapter.RecordSpec) (adapter.Recording, error) {
	return nil, adapter.ErrUnsupported
}
func (c *digitCall) SendDTMF(context.Context, string) error { return nil }
func (c *digitCall) CollectDigits(_ context.Context, d adapter.DigitSpec) (adapter.DigitResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.specs = append(c.specs, d)
	if len(c.results) == 0 {
		return adapter.DigitResult{Reason: adapter.DigitsTimeout}, nil
	}
	r := c.results[0]
	c.results = c.results[1:]
	return r, nil
}
func (c *digitCall) Dial(context.Context, adapter.DialSpec) (adapter.DialResult, error) {
	return adapter.DialResult{Target: -1}, adapter.ErrUnsupported
}
func (c *digitCall) Hangup(_ context.Context, cause string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hungUp = cause
	return nil
}
func (c *digitCall) Reject(context.Context, string) error { return nil }

// appServer is the application: documents by path, and every request it got.
type appServer struct {
	mu   sync.Mutex
	docs map[string]string
	got  []adapter.Request
}

func (a *appServer) Send(_ context.Context, r adapter.Request) (*adapter.Response, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, r)
	doc, ok := a.docs[r.URL.Path]
	if !ok {
		return nil, fmt.Errorf("no document at %s", r.URL.Path)
	}
	return &adapter.Response{Status: 200, FinalURL: r.URL, Body: []byte(doc)}, nil
}

// requests returns the requests to path.
func (a *appServer) requests(path string) []adapter.Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []adapter.Request
	for _, r := range a.got {
		if r.URL.Path == path {
			out = append(out, r)
		}
	}
	return out
}

type fakeMedia struct{}

func (fakeMedia) Audio(_ context.Context, u *url.URL) (string, error) {
	return "media:" + u.String(), nil
}
func (fakeMedia) Speech(_ context.Context, text, _, _ string) (string, error) {
	return "tts:" + text, nil
}

type gatherRun struct {
	call *digitCall
	app  *appServer
	st   *local.Store
	logs *bytes.Buffer
}

// runGather runs one call of an app of dialect whose answer document is doc; docs are the
// other documents by path. The caller's collections return results in order.
func runGather(t *testing.T, dialect, doc string, docs map[string]string, results ...adapter.DigitResult) *gatherRun {
	t.Helper()
	st, bl, cfg := engineFixture(t, `{name: app, dialect: `+dialect+`, url: "http://app.test/doc"}`)
	app := &appServer{docs: map[string]string{"/doc": doc}}
	for k, v := range docs {
		app.docs[k] = v
	}
	var logs bytes.Buffer
	var lmu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&lmu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eng, err := adapter.New(adapter.Deps{Config: cfg, Store: st, Outbox: st, Blob: bl, Sender: app, Media: fakeMedia{},
		Links: noLinks{}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	r := &gatherRun{call: &digitCall{results: results}, app: app, st: st, logs: &logs}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eng.Handle(ctx, r.call)
	return r
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// outbox returns the pending callbacks of the run, in order.
func (r *gatherRun) outbox(t *testing.T) []adapter.Entry {
	t.Helper()
	es, err := r.st.Claim(context.Background(), "test", time.Now().Add(time.Minute), time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func requestJSON(t *testing.T, r adapter.Request) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %s: %v", r.Body, err)
	}
	return m
}

func formBody(t *testing.T, b []byte) url.Values {
	t.Helper()
	v, err := url.ParseQuery(string(b))
	if err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
	return v
}

// FlexML: numDigits reached; the action's document replaces the rest; the prompts reach the
// PBX resolved (speech and audio through Media, Pause as silence) with the FlexML timeouts.
func TestGatherFlexMLAction(t *testing.T) {
	r := runGather(t, "flexml", `<Response>
  <Gather numDigits="2" timeout="7" action="/menu">
    <Say>Enter two digits.</Say><Pause length="2"/><Play>http://media.test/p.wav</Play>
  </Gather>
  <Redirect>/never</Redirect>
</Response>`, map[string]string{"/menu": `<Response><Hangup/></Response>`},
		adapter.DigitResult{Digits: "42", Reason: adapter.DigitsComplete})

	menu := r.app.requests("/menu")
	if len(menu) != 1 {
		t.Fatalf("action requested %d times", len(menu))
	}
	body := requestJSON(t, menu[0])
	if body["Digits"] != "42" || body["CallStatus"] != "in-progress" || body["RequestUrl"] != "http://app.test/doc" {
		t.Errorf("action body %s", menu[0].Body)
	}
	if len(r.app.requests("/never")) != 0 {
		t.Error("the verb after the Gather ran although the action replaced the document")
	}
	if len(r.call.specs) != 1 {
		t.Fatalf("%d collections, want 1", len(r.call.specs))
	}
	sp := r.call.specs[0]
	if sp.NumDigits != 2 || sp.Timeout != 7*time.Second || sp.DigitTimeout != 7*time.Second || !sp.FinishKeys.Has('#') || sp.Beep {
		t.Errorf("spec %+v", sp)
	}
	want := []adapter.Prompt{
		{Play: &adapter.PlaySpec{URL: "tts:Enter two digits.", Loops: 1}},
		{Silence: 2 * time.Second},
		{Play: &adapter.PlaySpec{URL: "media:http://media.test/p.wav", Loops: 1}},
	}
	if len(sp.Prompts) != len(want) {
		t.Fatalf("prompts %+v", sp.Prompts)
	}
	for i, p := range sp.Prompts {
		if p.Silence != want[i].Silence || (p.Play == nil) != (want[i].Play == nil) || p.Play != nil && *p.Play != *want[i].Play {
			t.Errorf("prompt %d = %+v, want %+v", i, p, want[i])
		}
	}
}

// No input: the next verb runs and the action is not requested; with actionOnEmptyResult it
// is, with empty Digits.
func TestGatherNoInput(t *testing.T) {
	for _, tc := range []struct {
		attr       string
		wantAction bool
	}{{"", false}, {` actionOnEmptyResult="true"`, true}} {
		t.Run(fmt.Sprint("actionOnEmpty=", tc.wantAction), func(t *testing.T) {
			r := runGather(t, "flexml", `<Response><Gather action="/menu"`+tc.attr+`><Say>Hi</Say></Gather><Redirect>/next</Redirect></Response>`,
				map[string]string{"/menu": `<Response><Hangup/></Response>`, "/next": `<Response><Hangup/></Response>`})
			menu, next := r.app.requests("/menu"), r.app.requests("/next")
			if tc.wantAction {
				if len(menu) != 1 || len(next) != 0 {
					t.Fatalf("action %d, next %d; want the action only", len(menu), len(next))
				}
				if d, ok := requestJSON(t, menu[0])["Digits"]; !ok || d != "" {
					t.Errorf("Digits = %v, want \"\"", d)
				}
				return
			}
			if len(menu) != 0 || len(next) != 1 {
				t.Errorf("action %d, next %d; want the next verb only", len(menu), len(next))
			}
		})
	}
}

// Plivo GetDigits retries: no input, then a key outside validDigits (invalidDigitsSound plays),
// then a valid entry that is sent. Each attempt plays the prompts again.
func TestGatherPlivoRetries(t *testing.T) {
	r := runGather(t, "plivo", `<Response>
  <GetDigits action="http://app.test/menu" retries="3" validDigits="123" numDigits="1" playBeep="true"
             invalidDigitsSound="http://media.test/invalid.wav">
    <Speak>Press 1, 2 or 3.</Speak>
  </GetDigits>
  <Redirect>http://app.test/never</Redirect>
</Response>`, map[string]string{"/menu": `<Response><Hangup/></Response>`},
		adapter.DigitResult{Reason: adapter.DigitsTimeout},
		adapter.DigitResult{Digits: "9", Reason: adapter.DigitsComplete},
		adapter.DigitResult{Digits: "2", Reason: adapter.DigitsComplete})

	if n := len(r.call.specs); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	for i, sp := range r.call.specs {
		if len(sp.Prompts) != 1 || sp.Prompts[0].Play == nil || sp.Prompts[0].Play.URL != "tts:Press 1, 2 or 3." || !sp.Beep ||
			sp.Timeout != 5*time.Second || sp.DigitTimeout != 2*time.Second || sp.NumDigits != 1 {
			t.Errorf("attempt %d spec %+v", i+1, sp)
		}
	}
	if len(r.call.plays) != 1 || r.call.plays[0] != "media:http://media.test/invalid.wav" {
		t.Errorf("plays %q; want the invalid sound once", r.call.plays)
	}
	menu := r.app.requests("/menu")
	if len(menu) != 1 {
		t.Fatalf("action requested %d times", len(menu))
	}
	f := formBody(t, menu[0].Body)
	if f.Get("Digits") != "2" || f.Has("InputType") || f.Get("CallStatus") != "in-progress" {
		t.Errorf("action body %s", menu[0].Body)
	}
	if len(r.app.requests("/never")) != 0 {
		t.Error("the next verb ran after the action")
	}
}

// Plivo: every attempt without a valid entry; the next verb runs once the retries are used up.
func TestGatherPlivoRetriesExhausted(t *testing.T) {
	r := runGather(t, "plivo", `<Response>
  <GetDigits action="http://app.test/menu" retries="2" validDigits="12"><Speak>Menu</Speak></GetDigits>
  <Redirect>http://app.test/next</Redirect>
</Response>`, map[string]string{"/menu": `<Response/>`, "/next": `<Response><Hangup/></Response>`},
		adapter.DigitResult{Digits: "7", Reason: adapter.DigitsFinishKey, Key: '#'})
	if n := len(r.call.specs); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
	if len(r.call.plays) != 0 {
		t.Errorf("played %q with no invalidDigitsSound", r.call.plays)
	}
	if len(r.app.requests("/menu")) != 0 || len(r.app.requests("/next")) != 1 {
		t.Errorf("action %d, next %d; want the next verb only", len(r.app.requests("/menu")), len(r.app.requests("/next")))
	}
}

// Plivo redirect="false": the action is queued as a notification and the document goes on.
func TestGatherPlivoNotify(t *testing.T) {
	r := runGather(t, "plivo", `<Response>
  <GetDigits action="http://app.test/menu" redirect="false"/>
  <Redirect>http://app.test/next</Redirect>
</Response>`, map[string]string{"/next": `<Response><Hangup/></Response>`},
		adapter.DigitResult{Digits: "55", Reason: adapter.DigitsFinishKey, Key: '#'})
	if len(r.app.requests("/menu")) != 0 {
		t.Error("the notification was sent by the call's goroutine; it belongs to the outbox")
	}
	if len(r.app.requests("/next")) != 1 {
		t.Error("the document did not go on after the notification")
	}
	var found bool
	for _, e := range r.outbox(t) {
		if e.Kind == "action" {
			found = true
			if !strings.HasSuffix(e.URL, "/menu") || formBody(t, e.Body).Get("Digits") != "55" {
				t.Errorf("queued action %s %s", e.URL, e.Body)
			}
		}
	}
	if !found {
		t.Error("no action in the outbox")
	}
}

// GetInput with keys sends InputType=dtmf; digitEndTimeout auto becomes the bridge's choice.
func TestGatherPlivoGetInput(t *testing.T) {
	r := runGather(t, "plivo", `<Response>
  <GetInput action="http://app.test/menu" method="GET" inputType="dtmf" numDigits="3"><Speak>Account?</Speak></GetInput>
</Response>`, map[string]string{"/menu": `<Response><Hangup/></Response>`},
		adapter.DigitResult{Digits: "123", Reason: adapter.DigitsComplete})
	menu := r.app.requests("/menu")
	if len(menu) != 1 {
		t.Fatalf("action requested %d times", len(menu))
	}
	q := menu[0].URL.Query()
	if q.Get("InputType") != "dtmf" || q.Get("Digits") != "123" || menu[0].Method != translate.GET {
		t.Errorf("GET %s", menu[0].URL)
	}
	if sp := r.call.specs[0]; sp.DigitTimeout != 2*time.Second || sp.Timeout != 15*time.Second || sp.NumDigits != 3 {
		t.Errorf("spec %+v", sp)
	}
}

// log="false": the keys never reach a log line; with log="true" they do.
func TestGatherLogFalse(t *testing.T) {
	for _, logAttr := range []string{"false", "true"} {
		t.Run("log="+logAttr, func(t *testing.T) {
			r := runGather(t, "plivo", `<Response>
  <GetDigits action="http://app.test/menu" log="`+logAttr+`" validDigits="0123456789"/>
</Response>`, map[string]string{"/menu": `<Response><Hangup/></Response>`},
				adapter.DigitResult{Digits: "8642*", Reason: adapter.DigitsFinishKey, Key: '#'},
				adapter.DigitResult{Digits: "97531", Reason: adapter.DigitsFinishKey, Key: '#'})
			logged := r.logs.String()
			if logAttr == "false" && (strings.Contains(logged, "8642") || strings.Contains(logged, "97531")) {
				t.Errorf("keys logged with log=false:\n%s", logged)
			}
			if logAttr == "true" && !strings.Contains(logged, "8642*") {
				t.Errorf("keys not logged with log=true:\n%s", logged)
			}
			if n := len(r.call.specs); n != 1 {
				t.Errorf("%d attempts; an invalid key ends the only one", n)
			}
		})
	}
}

// FlexML loopPause puts silence between a Say's repetitions inside the prompts; speech input
// is not supported, so a GetInput for speech is skipped and the next verb runs.
func TestGatherPromptsAndSpeech(t *testing.T) {
	r := runGather(t, "flexml", `<Response>
  <Gather action="/menu"><Say loop="3" loopPause="1">Menu</Say></Gather>
</Response>`, map[string]string{"/menu": `<Response><Hangup/></Response>`},
		adapter.DigitResult{Digits: "1", Reason: adapter.DigitsTimeout})
	sp := r.call.specs[0]
	var got []string
	for _, p := range sp.Prompts {
		if p.Play != nil {
			got = append(got, fmt.Sprintf("%s x%d", p.Play.URL, p.Play.Loops))
		} else {
			got = append(got, "silence "+p.Silence.String())
		}
	}
	if want := "tts:Menu x1,silence 1s,tts:Menu x1,silence 1s,tts:Menu x1"; strings.Join(got, ",") != want {
		t.Errorf("prompts %q, want %s", strings.Join(got, ","), want)
	}

	r = runGather(t, "plivo", `<Response>
  <GetInput action="http://app.test/menu" inputType="speech"><Speak>Say something</Speak></GetInput>
  <Redirect>http://app.test/next</Redirect>
</Response>`, map[string]string{"/menu": `<Response/>`, "/next": `<Response><Hangup/></Response>`})
	if len(r.call.specs) != 0 || len(r.app.requests("/menu")) != 0 || len(r.app.requests("/next")) != 1 {
		t.Errorf("speech input: %d collections, action %d, next %d; want the verb skipped", len(r.call.specs),
			len(r.app.requests("/menu")), len(r.app.requests("/next")))
	}
}
