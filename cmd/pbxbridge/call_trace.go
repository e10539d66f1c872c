package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/webhook"
)

// callTrace collects what the engine and the webhook client report during 'pbxbridge call',
// prints it as it comes (text) or at the end (--json), and decides the exit status: the
// status of the first problem, in the order they happened. It is safe for concurrent use:
// the engine and the outbox workers report from their own goroutines.
type callTrace struct {
	w    io.Writer
	json bool

	mu       sync.Mutex
	start    time.Time
	hdr      callHeader
	events   []callEvent
	problems []callProblem
	notes    []string
	// last outcome of each callback delivered by the outbox, by event id (a retry that
	// succeeds clears the failure of the attempt before).
	callbacks map[string]webhook.Exchange
	order     []string
	recs      []adapter.TraceEvent
}

var _ adapter.Tracer = (*callTrace)(nil)

// callHeader says what is being called, with what.
type callHeader struct {
	App         string        `json:"app"`
	Dialect     string        `json:"dialect"`
	URL         string        `json:"url"`
	From        string        `json:"from"`
	To          string        `json:"to"`
	PBX         string        `json:"sip"`
	ARI         string        `json:"ari"`
	Audio       string        `json:"audio"`
	AudioLength time.Duration `json:"audio_length_ns"`
	DTMF        string        `json:"dtmf,omitempty"`
	DataDir     string        `json:"data_dir"`
}

// callEvent is one line of the trace: an engine event or an HTTP exchange.
type callEvent struct {
	Engine   *adapter.TraceEvent `json:"engine,omitempty"`
	Exchange *webhook.Exchange   `json:"http,omitempty"`
}

// callProblem is something the application (or the call) did wrong.
type callProblem struct {
	Exit    int    `json:"exit"`
	Message string `json:"message"`
}

// callRecording is a stored recording as the summary shows it.
type callRecording struct {
	ID       string        `json:"id"`
	URL      string        `json:"url"`
	Duration time.Duration `json:"duration_ns"`
	Seconds  float64       `json:"duration_s"`
	Digits   string        `json:"digits,omitempty"`
	Format   string        `json:"format,omitempty"`
	Bytes    int64         `json:"bytes,omitempty"`
	Path     string        `json:"path,omitempty"` // the file on disk, under --data-dir
}

// callFinal is how the call ended, for the summary.
type callFinal struct {
	Answered   bool            `json:"answered"`
	FarEnd     bool            `json:"application_hung_up"`
	Sent       time.Duration   `json:"audio_sent_ns"`
	Dead       int             `json:"dead_letters"`
	Recordings []callRecording `json:"recordings"`
}

func newCallTrace(w io.Writer, asJSON bool) *callTrace {
	return &callTrace{w: w, json: asJSON, start: time.Now(), callbacks: map[string]webhook.Exchange{}}
}

func (t *callTrace) header(h callHeader) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hdr = h
	if t.json {
		return
	}
	fmt.Fprintf(t.w, "pbxbridge call: %s application %s\n", h.Dialect, h.URL)
	fmt.Fprintf(t.w, "  calling %s from %s through %s (ARI %s)\n", h.To, h.From, h.PBX, h.ARI)
	fmt.Fprintf(t.w, "  caller sends %s, %s", h.Audio, seconds(h.AudioLength))
	if h.DTMF != "" {
		fmt.Fprintf(t.w, ", DTMF %s", h.DTMF)
	}
	fmt.Fprintf(t.w, "\n  data (store, recordings, SIPp files): %s\n\n", h.DataDir)
}

// Trace implements adapter.Tracer.
func (t *callTrace) Trace(ev adapter.TraceEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, callEvent{Engine: &ev})
	if !t.json {
		t.printEngine(ev)
	}
	switch {
	case ev.Kind == adapter.TraceDocument && ev.Err != "" && ev.Status != 0:
		t.addProblem(callExitInvalidDoc, "the %s document from %s is invalid: %s", ev.Request, ev.URL, ev.Err)
	case ev.Kind == adapter.TraceDocument && ev.Err != "":
		t.addProblem(callExitFetch, "the %s document from %s could not be fetched: %s", ev.Request, ev.URL, ev.Err)
	case ev.Kind == adapter.TraceVerbDone && ev.Outcome == adapter.VerbError:
		t.addProblem(callExitFlow, "%s at %s failed: %s", ev.Verb, ev.Pos, ev.Err)
	case ev.Kind == adapter.TraceRecording && ev.Outcome == adapter.RecordingFailed:
		t.addProblem(callExitRecording, "the recording failed: %s", ev.Err)
	case ev.Kind == adapter.TraceRecording:
		t.recs = append(t.recs, ev)
	case ev.Kind == adapter.TraceCallEnded && ev.Err != "" && len(t.problems) == 0:
		t.addProblem(callExitFlow, "the call flow failed: %s", ev.Err)
	}
}

// exchange is the webhook client's trace (webhook.Options.Trace).
func (t *callTrace) exchange(ex webhook.Exchange) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, callEvent{Exchange: &ex})
	if !ex.Document { // documents are judged by the engine's document event
		if _, seen := t.callbacks[ex.EventID]; !seen {
			t.order = append(t.order, ex.EventID)
		}
		t.callbacks[ex.EventID] = ex
	}
	if !t.json {
		t.printExchange(ex)
	}
}

func (t *callTrace) problem(exit int, format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.addProblem(exit, format, args...)
}

func (t *callTrace) addProblem(exit int, format string, args ...any) {
	p := callProblem{Exit: exit, Message: fmt.Sprintf(format, args...)}
	t.problems = append(t.problems, p)
	if !t.json {
		fmt.Fprintf(t.w, "%s PROBLEM: %s\n", t.stamp(time.Now()), p.Message)
	}
}

func (t *callTrace) note(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := fmt.Sprintf(format, args...)
	t.notes = append(t.notes, n)
	if !t.json {
		fmt.Fprintf(t.w, "%s\n", indent(n, "  "))
	}
}

func (t *callTrace) stamp(at time.Time) string {
	return fmt.Sprintf("%7.3f", at.Sub(t.start).Seconds())
}

func (t *callTrace) printEngine(ev adapter.TraceEvent) {
	s := t.stamp(ev.Time)
	switch ev.Kind {
	case adapter.TraceCallStarted:
		fmt.Fprintf(t.w, "%s call %s from %s to %s (app %s, %s)\n", s, ev.CallID, ev.From, ev.To, ev.App, ev.Dialect)
	case adapter.TraceDocument:
		if ev.Err != "" && ev.Status == 0 {
			fmt.Fprintf(t.w, "%s document (%s) %s: NOT FETCHED: %s\n", s, ev.Request, ev.URL, ev.Err)
			return
		}
		fmt.Fprintf(t.w, "%s document (%s) %s: HTTP %d, %d bytes\n", s, ev.Request, ev.URL, ev.Status, ev.Bytes)
		fmt.Fprintf(t.w, "%s\n", indent(strings.TrimRight(ev.Body, "\n"), "        | "))
		if ev.Bytes > len(ev.Body) {
			fmt.Fprintf(t.w, "        | ... (%d more bytes)\n", ev.Bytes-len(ev.Body))
		}
		for _, w := range ev.Warnings {
			fmt.Fprintf(t.w, "        warning: %s\n", w)
		}
		if ev.Err != "" {
			fmt.Fprintf(t.w, "        INVALID: %s\n", ev.Err)
		} else {
			fmt.Fprintf(t.w, "        verbs: %s\n", strings.Join(ev.Verbs, ", "))
		}
	case adapter.TraceVerbStarted:
		fmt.Fprintf(t.w, "%s verb %d %s (line:col %s)\n", s, ev.Index+1, ev.Verb, ev.Pos)
	case adapter.TraceVerbDone:
		if ev.Err != "" {
			fmt.Fprintf(t.w, "%s verb %d %s: %s: %s\n", s, ev.Index+1, ev.Verb, ev.Outcome, ev.Err)
		} else {
			fmt.Fprintf(t.w, "%s verb %d %s: %s\n", s, ev.Index+1, ev.Verb, ev.Outcome)
		}
	case adapter.TraceRecording:
		if ev.Outcome == adapter.RecordingFailed {
			fmt.Fprintf(t.w, "%s recording FAILED: %s\n", s, ev.Err)
			return
		}
		fmt.Fprintf(t.w, "%s recording %s: %s, %s", s, ev.Outcome, ev.RecordingID, seconds(ev.Duration))
		if ev.Digits != "" {
			fmt.Fprintf(t.w, ", ended by %q", ev.Digits)
		}
		fmt.Fprintf(t.w, "\n        url: %s\n", ev.RecordingURL)
	case adapter.TraceCallEnded:
		fmt.Fprintf(t.w, "%s call ended after %s\n", s, seconds(ev.Duration))
	}
}

func (t *callTrace) printExchange(ex webhook.Exchange) {
	what := ex.Kind
	if what == "" {
		what = "request"
	}
	fmt.Fprintf(t.w, "%s %s %s %s (attempt %d)\n", t.stamp(ex.Time), what, ex.Method, ex.URL, ex.Attempt)
	keys := make([]string, 0, len(ex.Params))
	for k := range ex.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(t.w, "        %s=%s\n", k, strings.Join(ex.Params[k], ","))
	}
	if ex.Body != "" {
		fmt.Fprintf(t.w, "%s\n", indent(ex.Body, "        "))
	}
	switch {
	case ex.Err != "" && ex.Status != 0:
		fmt.Fprintf(t.w, "        -> HTTP %d in %s: %s\n", ex.Status, ex.Took.Round(time.Millisecond), ex.Err)
	case ex.Err != "":
		fmt.Fprintf(t.w, "        -> no answer after %s: %s\n", ex.Took.Round(time.Millisecond), ex.Err)
	default:
		fmt.Fprintf(t.w, "        -> HTTP %d in %s\n", ex.Status, ex.Took.Round(time.Millisecond))
	}
}

// recordings are the recordings stored during the call, with their files.
func (t *callTrace) recordings(file func(sid string) (adapter.File, bool), containers string) []callRecording {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []callRecording
	for _, ev := range t.recs {
		r := callRecording{ID: ev.RecordingID, URL: ev.RecordingURL, Duration: ev.Duration, Seconds: ev.Duration.Seconds(), Digits: ev.Digits}
		if f, ok := file(ev.RecordingID); ok {
			r.Format, r.Bytes = f.Format, f.Bytes
			if f.BlobKey != "" {
				r.Path = filepath.Join(containers, filepath.FromSlash(f.BlobKey))
			}
		}
		out = append(out, r)
	}
	return out
}

// finish judges the callbacks, prints the summary (or the JSON document) and returns the
// exit status.
func (t *callTrace) finish(f callFinal) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	sent, ok := 0, 0
	for _, id := range t.order {
		ex := t.callbacks[id]
		sent++
		if ex.Err == "" {
			ok++
			continue
		}
		if ex.Status != 0 {
			t.addProblem(callExitCallback, "the %s request to %s was answered HTTP %d", kindName(ex.Kind), ex.URL, ex.Status)
		} else {
			t.addProblem(callExitCallback, "the %s request to %s was not delivered: %s", kindName(ex.Kind), ex.URL, ex.Err)
		}
	}
	exit := callExitOK
	if len(t.problems) > 0 {
		exit = t.problems[0].Exit
	}
	if f.Recordings == nil {
		f.Recordings = []callRecording{}
	}
	if t.json {
		doc := struct {
			Call       callHeader    `json:"call"`
			Result     callFinal     `json:"result"`
			Callbacks  int           `json:"callbacks"`
			Callbacks2 int           `json:"callbacks_2xx"`
			Events     []callEvent   `json:"events"`
			Problems   []callProblem `json:"problems"`
			Notes      []string      `json:"notes,omitempty"`
			Exit       int           `json:"exit"`
		}{t.hdr, f, sent, ok, t.events, t.problems, t.notes, exit}
		if doc.Problems == nil {
			doc.Problems = []callProblem{}
		}
		enc := json.NewEncoder(t.w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(doc)
		return exit
	}
	fmt.Fprintf(t.w, "\nsummary:\n")
	fmt.Fprintf(t.w, "  call: answered %v, %s of audio sent, hung up by %s\n", f.Answered, seconds(f.Sent),
		map[bool]string{true: "the application", false: "the caller"}[f.FarEnd])
	fmt.Fprintf(t.w, "  callbacks: %d sent, %d answered 2xx, %d dead letters\n", sent, ok, f.Dead)
	for _, r := range f.Recordings {
		fmt.Fprintf(t.w, "  recording %s: %s, %s", r.ID, seconds(r.Duration), orDefault(r.Format, "?"))
		if r.Bytes > 0 {
			fmt.Fprintf(t.w, ", %d bytes", r.Bytes)
		}
		fmt.Fprintf(t.w, "\n    url:  %s (served while the command runs)\n", r.URL)
		if r.Path != "" {
			fmt.Fprintf(t.w, "    file: %s\n", r.Path)
		}
	}
	if exit == callExitOK {
		fmt.Fprintf(t.w, "  result: OK (exit 0)\n")
	} else {
		fmt.Fprintf(t.w, "  result: FAILED (exit %d): %s\n", exit, t.problems[0].Message)
		for _, p := range t.problems[1:] {
			fmt.Fprintf(t.w, "    also (exit %d): %s\n", p.Exit, p.Message)
		}
	}
	return exit
}

// kindName names an outbox entry's kind as the dialects' documents name the URL.
func kindName(kind string) string {
	switch kind {
	case "callback":
		return "callbackUrl"
	case "hangup":
		return "status (hangup) callback"
	case "status":
		return "recordingStatusCallback"
	case "":
		return "callback"
	}
	return kind
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// redactedURL is a configured URL fit for output: no userinfo, no query.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment, u.RawFragment = nil, "", "", ""
	return u.String()
}
