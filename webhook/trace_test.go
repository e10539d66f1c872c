package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/pbxbridge/pbxbridge/translate"
)

// TestTrace: every attempt is traced with its parameters and answer, and neither the URL's
// credentials nor credential-like parameters appear.
func TestTrace(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	var (
		mu  sync.Mutex
		got []Exchange
	)
	c := NewClient(Options{Trace: func(ex Exchange) { mu.Lock(); got = append(got, ex); mu.Unlock() }})
	defer c.Close()
	u, _ := url.Parse(strings.Replace(srv.URL, "http://", "http://user:pw@", 1) + "/ok?token=abc&x=1")
	body := []byte("RecordingUrl=http%3A%2F%2Fh%2Ff%2F1&AuthToken=zzz")
	if _, err := c.Do(context.Background(), Request{Kind: "callback", URL: u, Body: body,
		BodyType: "application/x-www-form-urlencoded", Secret: "sign-me"}); err != nil {
		t.Fatal(err)
	}
	fu, _ := url.Parse(srv.URL + "/fail")
	if _, err := c.Do(context.Background(), Request{Kind: "action", Method: translate.GET, URL: fu}); err == nil {
		t.Fatal("a 500 succeeded")
	}
	if _, err := c.Do(context.Background(), Request{Kind: "callback", URL: u, Body: []byte(`{"RecordingDuration":5,"CallSid":"c1","ApiKey":"k"}`),
		BodyType: "application/json"}); err != nil {
		t.Fatal(err)
	}
	if j := got[len(got)-1]; j.Params.Get("RecordingDuration") != "5" || j.Params.Get("CallSid") != "c1" || j.Params.Get("ApiKey") != "[redacted]" || j.Body != "" {
		t.Errorf("JSON callback traced as %+v", j)
	}
	got = got[:2]
	if len(got) != 2 {
		t.Fatalf("%d exchanges traced, want 2", len(got))
	}
	ok, bad := got[0], got[1]
	if ok.Kind != "callback" || ok.Status != 200 || ok.Err != "" || ok.URL != srv.URL+"/ok" || ok.Attempt != 1 ||
		ok.Params.Get("RecordingUrl") != "http://h/f/1" || ok.Params.Get("x") != "1" {
		t.Errorf("callback traced as %+v", ok)
	}
	if ok.Params.Get("token") != "[redacted]" || ok.Params.Get("AuthToken") != "[redacted]" {
		t.Errorf("credential parameters in the trace: %v", ok.Params)
	}
	if bad.Kind != "action" || bad.Status != 500 || !strings.Contains(bad.Err, "HTTP 500") {
		t.Errorf("failed action traced as %+v", bad)
	}
	for _, ex := range got {
		if s := strings.Join([]string{ex.URL, ex.Err, ex.Body}, " "); strings.Contains(s, "pw") || strings.Contains(s, "sign-me") {
			t.Errorf("secret in trace: %s", s)
		}
	}
}
