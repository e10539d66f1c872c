package adapter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/audio"
	"github.com/pbxbridge/pbxbridge/blob"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/store/local"
	"github.com/pbxbridge/pbxbridge/transcribe"
	"github.com/pbxbridge/pbxbridge/translate"
)

// These tests run the engine's transcription from a stored file to the callbacks in the
// outbox, against the real embedded store and blob directory and an OpenAI-compatible
// httptest server as the provider.

const whisperAnswer = `{"text":"hi its sam call me","segments":[{"start":0,"end":2,"text":"hi its sam call me","avg_logprob":-0.3,
 "words":[{"word":" hi","start":0,"end":0.3,"probability":0.95},{"word":" its","start":0.3,"end":0.5,"probability":0.2},
 {"word":" sam","start":0.5,"end":0.9,"probability":0.6},{"word":" call","start":1,"end":1.3,"probability":0.005},{"word":" me","start":1.3,"end":1.6,"probability":0.9}]}]}`

// stt is an OpenAI-compatible server whose answer the test sets.
type stt struct {
	srv    *httptest.Server
	status atomic.Int32
	body   atomic.Value // string
	delay  atomic.Int64 // ns
	calls  atomic.Int32
}

func newSTT(t *testing.T) *stt {
	s := &stt{}
	s.status.Store(200)
	s.body.Store(whisperAnswer)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		if _, _, err := r.FormFile("file"); err != nil {
			t.Errorf("no file: %v", err)
		}
		if d := time.Duration(s.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(int(s.status.Load()))
		_, _ = io.WriteString(w, s.body.Load().(string))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

type rig struct {
	t   *testing.T
	dir string
	st  *local.Store
	bl  *blob.Dir
	cfg *config.Config
	eng *adapter.Engine
}

func newRig(t *testing.T, dir string, tr adapter.Transcriber) *rig {
	return newRigAt(t, dir, tr, 0)
}

// newRigAt is newRig with the engine's clock skew ahead of the real one.
func newRigAt(t *testing.T, dir string, tr adapter.Transcriber, skew time.Duration) *rig {
	t.Helper()
	st, err := local.Open(dir, local.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bl, err := blob.OpenDir(dir + "/blobs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bl.Close() })
	cfg, err := config.Parse([]byte(`
apps:
  - {name: cx, dialect: flexml, url: "http://127.0.0.1:1/cx"}
  - {name: pl, dialect: plivo, url: "http://127.0.0.1:1/pl"}
transcription: {poll: 100ms, lease: 3s}
`))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := adapter.New(adapter.Deps{Config: cfg, Store: st, Outbox: st, Blob: bl, Sender: noSender{}, Media: noMedia{},
		Links: noLinks{}, Transcriber: tr, Jobs: st, Now: func() time.Time { return time.Now().Add(skew) },
		Seal: func(p []byte) []byte { return append([]byte("sealed:"), p...) }})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, dir: dir, st: st, bl: bl, cfg: cfg, eng: eng}
}

// record parses one Record verb of the dialect.
func record(t *testing.T, d translate.Dialect, attrs string) *translate.Record {
	t.Helper()
	base, _ := url.Parse("https://app.example.net/doc")
	root := "Response"
	prog, _, err := translate.Parse(d, []byte("<"+root+"><Record "+attrs+"/></"+root+">"), base)
	if err != nil {
		t.Fatal(err)
	}
	return prog.Verbs[0].(*translate.Record)
}

// stored writes a recording of length d into the blob store and returns its File.
func (r *rig) stored(sid string, d time.Duration) adapter.File {
	r.t.Helper()
	n := int(d * 8000 / time.Second)
	s := make([]int16, n)
	for i := range s {
		s[i] = int16((i % 20) * 800)
	}
	wav, err := audio.EncodeWAV(audio.PCM{Samples: s, Rate: 8000, Channels: 1})
	if err != nil {
		r.t.Fatal(err)
	}
	f := adapter.File{SID: sid, ContainerSID: "default", Format: "wav", BlobKey: "default/" + sid + ".wav", Bytes: int64(len(wav)), Duration: d}
	if _, err := r.bl.Put(context.Background(), f.BlobKey, bytes.NewReader(wav), "audio/wav"); err != nil {
		r.t.Fatal(err)
	}
	return f
}

// run runs the job workers until every job is finished.
func (r *rig) run() {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.eng.RunJobs(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		n, err := r.st.PendingJobs(ctx)
		if err != nil {
			r.t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d jobs still pending after 30s", n)
		}
	}
}

// drain delivers the outbox as a worker would (each call's entries in order) and returns
// the entries.
func (r *rig) drain() []adapter.Entry {
	r.t.Helper()
	ctx := context.Background()
	var out []adapter.Entry
	for {
		es, err := r.st.Claim(ctx, "test", time.Now().Add(time.Hour), time.Minute, 100)
		if err != nil {
			r.t.Fatal(err)
		}
		if len(es) == 0 {
			return out
		}
		for _, e := range es {
			if err := r.st.Ack(ctx, e.ID, "test"); err != nil {
				r.t.Fatal(err)
			}
			out = append(out, e)
		}
	}
}

func byKind(es []adapter.Entry) map[string]adapter.Entry {
	m := map[string]adapter.Entry{}
	for _, e := range es {
		m[e.Kind] = e
	}
	return m
}

func jsonBody(t *testing.T, e adapter.Entry) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Body, &m); err != nil {
		t.Fatalf("%s body %q: %v", e.Kind, e.Body, err)
	}
	return m
}

var cxCall = translate.CallParams{CallID: "c0ffee", From: "+15550100001", To: "15550109999", Direction: "inbound", Status: translate.CallInProgress}

func cxRecording(sid string, d time.Duration) translate.RecordingParams {
	return translate.RecordingParams{ID: sid, URL: "http://bridge/f/" + sid, Status: translate.StatusCompleted, Duration: d}
}

// TestTranscriptionFlexML: the callbackUrl waits for the transcript and carries it with
// transcribeCallback; the status callback does not wait; low-confidence words are replaced.
func TestTranscriptionFlexML(t *testing.T) {
	s := newSTT(t)
	r := newRig(t, t.TempDir(), &transcribe.OpenAI{BaseURL: s.srv.URL})
	app, _ := r.cfg.App("cx")
	rec := record(t, translate.FlexML, `transcribe="true" callbackUrl="https://u:pw@app.example.net/cb" transcribeCallback="/tr" transcribeLowConfidenceWordThreshold="0.5" transcribeLowConfidenceWordReplacement="?" recordingStatusCallback="/st"`)
	f := r.stored("rec-1", 2*time.Second)
	r.eng.FileStoredForTest(context.Background(), app, "c0ffee", cxCall, rec, cxRecording("rec-1", 2*time.Second), f)

	before := r.drain()
	if len(before) != 1 || before[0].Kind != "status" {
		t.Fatalf("before the transcript: %v, want only the status callback", kinds(before))
	}
	if st := jsonBody(t, before[0]); st["TranscriptionStatus"] != "" || st["RecordingStatus"] != "completed" {
		t.Errorf("status callback waited for the transcript: %v", st)
	}
	r.run()
	got := byKind(r.drain())
	cb, tr := got["callback"], got["transcription"]
	if cb.ID == "" || tr.ID == "" || len(got) != 2 {
		t.Fatalf("after the transcript: %v, want callback and transcription", got)
	}
	if cb.URL != "https://app.example.net/cb" || string(cb.Auth) != "sealed:u:pw" || tr.URL != "https://app.example.net/tr" || tr.Method != translate.POST {
		t.Errorf("targets: callback %s (auth %q), transcription %s %s", cb.URL, cb.Auth, tr.Method, tr.URL)
	}
	for _, e := range []adapter.Entry{cb, tr} {
		b := jsonBody(t, e)
		if b["TranscriptionStatus"] != "completed" || b["TranscriptionText"] != "hi ? sam ? me" || b["TranscriptionUrl"] != "" ||
			b["TranscriptionSid"] == "" || b["RecordingSid"] != "rec-1" || b["RecordingDuration"] != 2.0 || b["CallSid"] != "c0ffee" {
			t.Errorf("%s body: %v", e.Kind, b)
		}
		// The call is no longer in the store: the transcript came after it ended.
		if b["CallStatus"] != "completed" {
			t.Errorf("%s CallStatus = %v", e.Kind, b["CallStatus"])
		}
	}
	if jsonBody(t, cb)["TranscriptionSid"] != jsonBody(t, tr)["TranscriptionSid"] {
		t.Error("the two callbacks name different transcripts")
	}
}

func kinds(es []adapter.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Kind)
	}
	return out
}

// TestTranscriptionFlexMLFailures: slow past transcribeTimeout is timeout; 5xx, malformed
// JSON and no provider are failed; the text is empty in each.
func TestTranscriptionFlexMLFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(s *stt)
		none   bool
		attrs  string
		status string
	}{
		{"slow past the timeout", func(s *stt) { s.delay.Store(int64(time.Minute)) }, false, `transcribeTimeout="1"`, "timeout"},
		{"5xx", func(s *stt) { s.status.Store(502) }, false, ``, "failed"},
		{"malformed JSON", func(s *stt) { s.body.Store(`{"text":`) }, false, ``, "failed"},
		{"no provider", func(*stt) {}, true, ``, "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSTT(t)
			tc.setup(s)
			var tr adapter.Transcriber = &transcribe.OpenAI{BaseURL: s.srv.URL}
			if tc.none {
				tr = nil
			}
			r := newRig(t, t.TempDir(), tr)
			app, _ := r.cfg.App("cx")
			rec := record(t, translate.FlexML, `transcribe="true" transcribeCallback="https://app.example.net/tr" `+tc.attrs)
			f := r.stored("rec-2", time.Second)
			start := time.Now()
			r.eng.FileStoredForTest(context.Background(), app, "c1", cxCall, rec, cxRecording("rec-2", time.Second), f)
			r.run()
			es := r.drain()
			if len(es) != 1 || es[0].Kind != "transcription" {
				t.Fatalf("entries %v, want the transcription callback", kinds(es))
			}
			b := jsonBody(t, es[0])
			if b["TranscriptionStatus"] != tc.status || b["TranscriptionText"] != "" || b["TranscriptionSid"] == "" {
				t.Errorf("body: %v", b)
			}
			if tc.none && s.calls.Load() != 0 {
				t.Error("the provider was called with none configured")
			}
			t.Logf("%s reported after %v", tc.status, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestTranscriptionPlivo: callbackUrl goes at once, the transcript goes to transcriptionUrl
// with Plivo's seven params; the documented limits give their errors without a provider call.
func TestTranscriptionPlivo(t *testing.T) {
	for _, tc := range []struct {
		name     string
		dur      time.Duration
		bytes    int64
		text     string
		errText  string
		provider bool
		none     bool // no provider configured
	}{
		{"transcribed", 2 * time.Second, 0, "hi its sam call me", "", true, false},
		{"no provider", 2 * time.Second, 0, "", "Transcription failed", false, true},
		{"500 ms is too short", 500 * time.Millisecond, 0, "", "Recording duration too short for transcription", false, false},
		{"4 hours is too long", 4 * time.Hour, 0, "", "Recording duration too long for transcription", false, false},
		{"2 GB is too large", 2 * time.Second, 2 << 30, "", "Recording file size too large for transcription", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSTT(t)
			var tr adapter.Transcriber = &transcribe.OpenAI{BaseURL: s.srv.URL}
			if tc.none {
				tr = nil
			}
			r := newRig(t, t.TempDir(), tr)
			app, _ := r.cfg.App("pl")
			rec := record(t, translate.Plivo, `callbackUrl="https://app.example.net/cb" transcriptionUrl="https://app.example.net/tr?x=1" transcriptionMethod="GET"`)
			f := r.stored("d2c4e6f8", min(tc.dur, 3*time.Second))
			if tc.bytes > 0 {
				f.Bytes = tc.bytes
			}
			call := translate.CallParams{CallID: "5c1e7f2a", From: "15550100001", To: "15550109999", Direction: "inbound", Status: translate.CallInProgress}
			rp := translate.RecordingParams{ID: "d2c4e6f8", URL: "http://bridge/f/d2c4e6f8.wav", Status: translate.StatusCompleted, Duration: tc.dur}
			r.eng.FileStoredForTest(context.Background(), app, "5c1e7f2a", call, rec, rp, f)
			if es := r.drain(); len(es) != 1 || es[0].Kind != "callback" {
				t.Fatalf("before the transcript: %v, want callbackUrl at once", kinds(es))
			}
			r.run()
			es := r.drain()
			if len(es) != 1 || es[0].Kind != "transcription" {
				t.Fatalf("entries %v, want the transcription", kinds(es))
			}
			e := es[0]
			u, _ := url.Parse(e.URL)
			q := u.Query()
			if e.Method != translate.GET || len(e.Body) != 0 || q.Get("x") != "1" {
				t.Fatalf("transcription request %s %s body %q", e.Method, e.URL, e.Body)
			}
			want := url.Values{"transcription_charge": {"0"}, "transcription": {tc.text}, "duration": {q.Get("duration")},
				"call_uuid": {"5c1e7f2a"}, "transcription_rate": {"0"}, "recording_id": {"d2c4e6f8"}, "error": {tc.errText}, "x": {"1"}}
			if q.Encode() != want.Encode() {
				t.Errorf("params\n got  %s\n want %s", q.Encode(), want.Encode())
			}
			if d := q.Get("duration"); d != strconv.FormatInt(translate.WholeSeconds(tc.dur), 10) {
				t.Errorf("duration = %s for %v", d, tc.dur)
			}
			if called := s.calls.Load() > 0; called != tc.provider {
				t.Errorf("provider called: %v, want %v", called, tc.provider)
			}
		})
	}
}

// TestTranscriptionSurvivesRestart: a job queued by one process is finished by the next one
// over the same store; one whose deadline passed while nobody ran it reports timeout.
func TestTranscriptionSurvivesRestart(t *testing.T) {
	s := newSTT(t)
	dir := t.TempDir()
	r := newRig(t, dir, &transcribe.OpenAI{BaseURL: s.srv.URL})
	app, _ := r.cfg.App("cx")
	rec := record(t, translate.FlexML, `transcribe="true" transcribeCallback="https://app.example.net/tr"`)
	late := record(t, translate.FlexML, `transcribe="true" transcribeCallback="https://app.example.net/late" transcribeTimeout="1"`)
	r.eng.FileStoredForTest(context.Background(), app, "c1", cxCall, rec, cxRecording("rec-a", time.Second), r.stored("rec-a", time.Second))
	r.eng.FileStoredForTest(context.Background(), app, "c2", cxCall, late, cxRecording("rec-b", time.Second), r.stored("rec-b", time.Second))
	// The first process dies holding both jobs: claimed, never finished.
	if js, err := r.st.ClaimJobs(context.Background(), "dead", time.Now(), time.Second, 10); err != nil || len(js) != 2 {
		t.Fatalf("claim as the dying process: %d, %v", len(js), err)
	}
	r.st.Close()
	r.bl.Close()
	// The next process starts 2 s later: the dead lease and the late job's transcribeTimeout
	// have run out.
	r2 := newRigAt(t, dir, &transcribe.OpenAI{BaseURL: s.srv.URL}, 2*time.Second)
	r2.run()
	got := map[string]map[string]any{}
	for _, e := range r2.drain() {
		got[e.URL] = jsonBody(t, e)
	}
	if b := got["https://app.example.net/tr"]; b["TranscriptionStatus"] != "completed" || b["TranscriptionText"] != "hi its sam _ me" {
		t.Errorf("restarted job: %v", b)
	}
	if b := got["https://app.example.net/late"]; b["TranscriptionStatus"] != "timeout" {
		t.Errorf("job past its deadline: %v", b)
	}
	if s.calls.Load() != 1 {
		t.Errorf("provider called %d times, want once (not for the job past its deadline)", s.calls.Load())
	}
}
