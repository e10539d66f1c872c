package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// TestTraceLazy: with TraceLazy the body's parameters are parsed when read, and read the
// same as the eager trace's, redaction included; the body is the trace's own copy.
func TestTraceLazy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	var (
		mu   sync.Mutex
		got  []Exchange
		keep = func(ex Exchange) { mu.Lock(); got = append(got, ex); mu.Unlock() }
	)
	eager := NewClient(Options{Trace: keep})
	defer eager.Close()
	lazy := NewClient(Options{Trace: keep, TraceLazy: true})
	defer lazy.Close()
	u, _ := url.Parse(srv.URL + "/cb?token=abc&x=1")
	form := "RecordingID=r-1&RecordUrl=http%3A%2F%2Fh%2Ff%2F1&AuthToken=zzz&Digits=%23&Digits=2"
	bodies := []struct{ body, ct string }{
		{form, "application/x-www-form-urlencoded"},
		{`{"RecordingSid":"r-2","RecordingDuration":5,"ApiKey":"k"}`, "application/json"},
		{"plain text", "text/plain"},
	}
	for _, b := range bodies {
		for _, c := range []*Client{eager, lazy} {
			body := []byte(b.body)
			if _, err := c.Do(context.Background(), Request{Kind: "callback", URL: u, Body: body, BodyType: b.ct}); err != nil {
				t.Fatal(err)
			}
			copy(body, strings.Repeat("X", len(body))) // the caller reuses its buffer
		}
	}
	if len(got) != 6 {
		t.Fatalf("%d exchanges, want 6", len(got))
	}
	for i := 0; i < 6; i += 2 {
		e, l := got[i], got[i+1]
		ep, eb := e.Parameters()
		lp, lb := l.Parameters()
		if !reflect.DeepEqual(ep, lp) || eb != lb {
			t.Errorf("%s: eager %v %q, lazy %v %q", bodies[i/2].ct, ep, eb, lp, lb)
		}
		if lp.Get("token") != "[redacted]" || lp.Get("x") != "1" {
			t.Errorf("query parameters %v", lp)
		}
	}
	f := got[1]
	if f.Params.Get("RecordingID") != "" || f.Params.Get("x") != "1" {
		t.Errorf("lazy Params %v: want the query's only", f.Params)
	}
	for name, want := range map[string]string{"RecordingID": "r-1", "RecordUrl": "http://h/f/1", "Digits": "#", "AuthToken": "[redacted]",
		"token": "[redacted]", "x": "1", "Missing": ""} {
		if v := f.Param(name); v != want {
			t.Errorf("Param(%q) = %q, want %q", name, v, want)
		}
	}
	j := got[3]
	if j.Param("RecordingSid") != "r-2" || j.Param("ApiKey") != "[redacted]" || j.Param("RecordingID") != "" {
		t.Errorf("JSON Param: %q %q", j.Param("RecordingSid"), j.Param("ApiKey"))
	}
	for obj, want := range map[string]string{
		`{"RecordingSid" : "r-3"}`:                     "r-3",
		`{"Note":"RecordingSid","RecordingSid":"r-4"}`: "r-4",
		`{"RecordingSid":"a\"b"}`:                      `a"b`,
		`{"RecordingSid":7}`:                           "7",
		`{"Other":"x"}`:                                "",
	} {
		ex := Exchange{raw: []byte(obj)}
		if v := ex.Param("RecordingSid"); v != want {
			t.Errorf("Param in %s = %q, want %q", obj, v, want)
		}
	}
	if p, _ := f.Parameters(); p.Get("AuthToken") != "[redacted]" || len(p["Digits"]) != 2 {
		t.Errorf("lazy form parameters %v", p)
	}
}
