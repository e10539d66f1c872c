package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/webhook"
)

func TestCallUsage(t *testing.T) {
	for _, args := range [][]string{
		{}, // no --url
		{"--url", "http://127.0.0.1:1/a", "--dialect", "twiml"},
		{"--url", "http://127.0.0.1:1/a", "--dtmf", "3s"},
		{"--url", "http://127.0.0.1:1/a", "--wav", "a.wav", "--say", "hi"},
		{"--url", "ftp://127.0.0.1/a"},
		{"--app", "nope"},
	} {
		var out, errOut bytes.Buffer
		if code := run(append([]string{"call"}, args...), nil, &out, &errOut); code != callExitUsage {
			t.Errorf("call %v: exit %d, want %d\n%s", args, code, callExitUsage, errOut.String())
		} else if errOut.Len() == 0 {
			t.Errorf("call %v: no message", args)
		}
	}
}

// TestCallNoAsterisk: an ARI that does not answer is a call that did not connect (3), said
// in the JSON report.
func TestCallNoAsterisk(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("asterisk:\n  - url: http://127.0.0.1:1/ari\n    password: x\n    connect_timeout: 500ms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wav := filepath.Join(dir, "a.wav")
	if err := os.WriteFile(wav, silentWAV(), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run([]string{"call", "--config", cfg, "--url", "http://127.0.0.1:1/answer", "--wav", wav, "--json",
		"--data-dir", filepath.Join(dir, "data")}, nil, &out, &errOut)
	var r struct {
		Exit     int `json:"exit"`
		Problems []struct{ Message string }
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if code != callExitNoCall || r.Exit != code || len(r.Problems) == 0 || !strings.Contains(r.Problems[0].Message, "127.0.0.1:1/ari") {
		t.Fatalf("exit %d, report %+v", code, r)
	}
}

func silentWAV() []byte {
	// 0.1 s of 8 kHz 16-bit mono silence.
	data := make([]byte, 1600)
	h := []byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data")
	h = append(h, byte(len(data)), byte(len(data)>>8), 0, 0)
	b := append(h, data...)
	n := len(b) - 8
	b[4], b[5], b[6], b[7] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
	return b
}

// TestCallTraceExit: the exit status is that of the first problem; a callback that failed
// and then succeeded on retry is no problem.
func TestCallTraceExit(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name string
		feed func(tr *callTrace)
		want int
	}{
		{"good", func(tr *callTrace) {
			tr.Trace(adapter.TraceEvent{Kind: adapter.TraceDocument, Time: now, Request: "answer", Status: 200, Verbs: []string{"Record"}})
			tr.exchange(webhook.Exchange{Kind: "callback", EventID: "e1", Status: 500, Err: "HTTP 500", Attempt: 1})
			tr.exchange(webhook.Exchange{Kind: "callback", EventID: "e1", Status: 200, Attempt: 2})
		}, 0},
		{"invalid document", func(tr *callTrace) {
			tr.Trace(adapter.TraceEvent{Kind: adapter.TraceDocument, Time: now, Request: "answer", Status: 200, Err: "1:1: not XML"})
			tr.exchange(webhook.Exchange{Kind: "hangup", EventID: "e2", Status: 503, Err: "HTTP 503"})
		}, callExitInvalidDoc},
		{"fetch", func(tr *callTrace) {
			tr.Trace(adapter.TraceEvent{Kind: adapter.TraceDocument, Time: now, Request: "answer", Err: "connection refused"})
		}, callExitFetch},
		{"callback", func(tr *callTrace) {
			tr.exchange(webhook.Exchange{Kind: "callback", EventID: "e3", Err: "could not connect"})
		}, callExitCallback},
		{"recording", func(tr *callTrace) {
			tr.Trace(adapter.TraceEvent{Kind: adapter.TraceRecording, Time: now, Outcome: adapter.RecordingFailed, Err: "container full"})
		}, callExitRecording},
	}
	for _, c := range cases {
		var out bytes.Buffer
		tr := newCallTrace(&out, false)
		c.feed(tr)
		if got := tr.finish(callFinal{}); got != c.want {
			t.Errorf("%s: exit %d, want %d\n%s", c.name, got, c.want, out.String())
		}
	}
}
