package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/store/local"
	"github.com/pbxbridge/pbxbridge/translate"
)

// fakeClock is the worker's time in tests; HTTP deadlines stay real.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// logEvent is one log line, its attributes flattened to strings.
type logEvent struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// eventLog is a slog handler that turns log lines into events a test can wait for: the
// worker logs after each outbox write, so "delivered", "will retry" and "dead letters" lines
// say that the store has been updated.
type eventLog struct {
	ch        chan logEvent
	attrs     []slog.Attr
	text      *logBuffer
	unmatched *[]logEvent // read by await only
}

func newEventLog() *eventLog {
	return &eventLog{ch: make(chan logEvent, 1000), text: &logBuffer{}, unmatched: new([]logEvent)}
}

func (h *eventLog) Enabled(context.Context, slog.Level) bool { return true }

func (h *eventLog) Handle(_ context.Context, r slog.Record) error {
	ev := logEvent{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	line := []string{r.Level.String(), r.Message}
	add := func(a slog.Attr) bool {
		ev.attrs[a.Key] = a.Value.Resolve().String()
		line = append(line, a.Key+"="+ev.attrs[a.Key])
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	_, _ = h.text.Write([]byte(strings.Join(line, " ") + "\n"))
	h.ch <- ev
	return nil
}

func (h *eventLog) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *eventLog) WithGroup(string) slog.Handler { return h }

// await returns the first log event for which match is true. Events that do not match are
// kept for later calls, so that the order of awaits need not be the order of events. Only the
// test's goroutine calls it.
func (h *eventLog) await(t *testing.T, what string, match func(logEvent) bool) logEvent {
	t.Helper()
	for i, ev := range *h.unmatched {
		if match(ev) {
			*h.unmatched = append((*h.unmatched)[:i], (*h.unmatched)[i+1:]...)
			return ev
		}
	}
	timeout := time.NewTimer(10 * time.Second) // a safety net; events come in milliseconds
	defer timeout.Stop()
	for {
		select {
		case ev := <-h.ch:
			if match(ev) {
				return ev
			}
			*h.unmatched = append(*h.unmatched, ev)
		case <-timeout.C:
			t.Fatalf("no log event %q; log so far:\n%s", what, h.text.String())
		}
	}
}

// outcome waits for the worker's final line about an entry ("delivered", "will retry",
// "dead letters", "released").
func (h *eventLog) outcome(t *testing.T, id string) logEvent {
	return h.await(t, "outcome of "+id, func(ev logEvent) bool {
		return ev.attrs["event_id"] == id && strings.HasPrefix(ev.msg, "webhook: deliver")
	})
}

const (
	testToken  = "worker-plivo-token"
	testSecret = "worker-signing-secret"
)

type harness struct {
	store *local.Store
	clock *fakeClock
	log   *eventLog
	t0    time.Time
	poll  time.Duration // the worker's (5ms)
	plain bool          // the worker sees the store as a plain Outbox, not an AckBatcher
}

// plainOutbox hides a store's AckEach: the worker then records each Ack through a recorder.
type plainOutbox struct{ adapter.Outbox }

func newHarness(t *testing.T) *harness {
	t.Helper()
	st, err := local.Open(t.TempDir(), local.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	t0 := time.Now().Truncate(time.Second)
	return &harness{store: st, clock: &fakeClock{t: t0}, log: newEventLog(), t0: t0, poll: 5 * time.Millisecond}
}

// start runs a worker on the harness' store; it is stopped when the test ends.
func (h *harness) start(t *testing.T, owner string, workers int) *Worker {
	t.Helper()
	c := newTestClient(t, Options{
		Logger:  slog.New(h.log),
		Secrets: SecretMap{"app1": {AuthToken: testToken, SigningSecret: testSecret}},
	})
	var ob adapter.Outbox = h.store
	if h.plain {
		ob = plainOutbox{h.store}
	}
	w, err := NewWorker(WorkerOptions{Outbox: ob, Client: c, Owner: owner, Workers: workers,
		Poll: h.poll, Clock: h.clock, Logger: slog.New(h.log)})
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.Stop(ctx)
	})
	return w
}

func (h *harness) entry(id, call string, seq int64, u string, p translate.RetryPolicy) adapter.Entry {
	return adapter.Entry{
		ID: id, CallID: call, Seq: seq, App: "app1", Dialect: translate.Plivo, Kind: "callback",
		Method: translate.POST, URL: u, Body: []byte(fmt.Sprintf("CallUUID=%s&Seq=%d", call, seq)),
		BodyType: "application/x-www-form-urlencoded", Retry: p, Created: h.t0, NextAt: h.t0,
	}
}

func (h *harness) enqueue(t *testing.T, es ...adapter.Entry) {
	t.Helper()
	if err := h.store.Enqueue(t.Context(), es...); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) pending(t *testing.T) int {
	t.Helper()
	n, err := h.store.Pending(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (h *harness) dead(t *testing.T) []adapter.Entry {
	t.Helper()
	es, err := h.store.ListDead(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// retryAll5xx retries 5xx and timeouts, with tt long enough never to matter.
var retry5xx = policy(time.Second, time.Second, 55*time.Second, 1, translate.Retry5xx)

func TestWorkerDelivers(t *testing.T) {
	h := newHarness(t)
	var (
		mu    sync.Mutex
		order = map[string][]string{}
		errs  []error
	)
	a := newApp(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		_ = r.ParseForm()
		u, _ := url.Parse("http://" + r.Host + r.RequestURI)
		mu.Lock()
		defer mu.Unlock()
		order[r.PostForm.Get("CallUUID")] = append(order[r.PostForm.Get("CallUUID")], r.PostForm.Get("Seq"))
		if err := VerifyPlivoV3(testToken, r.Method, u, r.PostForm, r.Header.Get(HeaderPlivoNonce), r.Header.Get(HeaderPlivoSignature)); err != nil {
			errs = append(errs, err)
		}
	})
	var es []adapter.Entry
	for _, call := range []string{"call-a", "call-b"} {
		for seq := int64(1); seq <= 3; seq++ {
			es = append(es, h.entry(fmt.Sprintf("%s-%d", call, seq), call, seq, a.URL+"/cb", retry5xx))
		}
	}
	h.enqueue(t, es...)
	w := h.start(t, "w1", 4)
	for _, e := range es {
		if ev := h.log.outcome(t, e.ID); ev.msg != "webhook: delivered" || ev.attrs["call_id"] != e.CallID {
			t.Errorf("%s: %s %v", e.ID, ev.msg, ev.attrs)
		}
	}
	if err := w.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := h.pending(t); n != 0 {
		t.Errorf("pending = %d after delivery, want 0", n)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, call := range []string{"call-a", "call-b"} {
		if got := strings.Join(order[call], ","); got != "1,2,3" {
			t.Errorf("%s delivered in order %s, want 1,2,3", call, got)
		}
	}
	for _, err := range errs {
		t.Error(err)
	}
	for _, r := range a.seen() {
		if r.Header.Get(HeaderAttempt) != "1" || !strings.HasPrefix(r.Header.Get(HeaderEventID), "call-") {
			t.Errorf("headers %v", r.Header)
		}
		if err := Verify([]string{testSecret}, r.Header.Get(HeaderSignature), r.Method, r.URL, r.Body, time.Now()); err != nil {
			t.Errorf("X-Pbxbridge-Signature: %v", err)
		}
	}
}

// Once an entry is acknowledged, its call's next entry goes at once, whether the Ack went in
// a batch (the store is an AckBatcher) or through a recorder: the worker wakes its dispatcher
// for it, and does not wait for its poll (an hour here).
func TestWorkerWakesForTheCallsNextEntry(t *testing.T) {
	for _, plain := range []bool{false, true} {
		t.Run(map[bool]string{false: "batched", true: "recorded"}[plain], func(t *testing.T) {
			h := newHarness(t)
			h.poll, h.plain = time.Hour, plain
			a := newApp(t, func(http.ResponseWriter, *http.Request, int) {})
			var es []adapter.Entry
			for seq := int64(1); seq <= 4; seq++ {
				es = append(es, h.entry(fmt.Sprintf("call-a-%d", seq), "call-a", seq, a.URL+"/cb", retry5xx))
			}
			h.enqueue(t, es...)
			h.start(t, "w1", 2)
			for _, e := range es {
				if ev := h.log.outcome(t, e.ID); ev.msg != "webhook: delivered" {
					t.Fatalf("%s: %s %v", e.ID, ev.msg, ev.attrs)
				}
			}
		})
	}
}

// A retried failure comes back after Backoff, from the store, with the same event id.
func TestWorkerRetry(t *testing.T) {
	h := newHarness(t)
	a := newApp(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	h.enqueue(t, h.entry("ev-1", "call-1", 1, a.URL, retry5xx))
	w := h.start(t, "w1", 2)

	ev := h.log.outcome(t, "ev-1")
	if ev.msg != "webhook: delivery failed; will retry" || !strings.Contains(ev.attrs["error"], "HTTP 502") {
		t.Fatalf("first outcome: %s %v", ev.msg, ev.attrs)
	}
	if want := h.t0.Add(Backoff(1)); ev.attrs["retry_at"] != want.String() {
		t.Errorf("retry_at = %s, want %s", ev.attrs["retry_at"], want)
	}
	// Not due yet: a claim a moment before the backoff ends finds nothing.
	if es, err := h.store.Claim(t.Context(), "probe", h.t0.Add(Backoff(1)-time.Millisecond), time.Minute, 10); err != nil || len(es) != 0 {
		t.Fatalf("claim before the backoff ended: %v %v", es, err)
	}
	h.clock.Advance(Backoff(1))
	w.Wake()
	if ev := h.log.outcome(t, "ev-1"); ev.msg != "webhook: delivered" || ev.attrs["attempt"] != "2" {
		t.Fatalf("second outcome: %s %v", ev.msg, ev.attrs)
	}
	reqs := a.seen()
	if len(reqs) != 2 || reqs[0].Header.Get(HeaderEventID) != "ev-1" || reqs[1].Header.Get(HeaderEventID) != "ev-1" ||
		reqs[1].Header.Get(HeaderAttempt) != "2" {
		t.Errorf("requests: %+v", reqs)
	}
	if n := h.pending(t); n != 0 {
		t.Errorf("pending = %d, want 0", n)
	}
}

func TestWorkerDeadLetters(t *testing.T) {
	cases := []struct {
		name     string
		code     int
		p        translate.RetryPolicy
		url      string // "" = the app
		attempts int    // requests the app sees
		reason   string
		lastErr  string
	}{
		{"status not retried", 404, retry5xx, "", 1, "failure not retried by the policy", "HTTP 404"},
		{"no retries left", 503, retry5xx, "", 2, "no retries left", "HTTP 503"},
		// tt 1s: attempt 1 at 0 retries at 500ms; attempt 2 would wait until 1.5s > tt.
		{"tt ran out", 503, policy(time.Second, time.Second, time.Second, 5, translate.Retry5xx), "", 2, "total timeout ran out", "HTTP 503"},
		{"bad URL", 200, retry5xx, "ftp://user:pw@files.example.net/x", 0, "cannot be sent", "invalid request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			a := newApp(t, status(tc.code))
			u := tc.url
			if u == "" {
				u = a.URL + "/cb"
			}
			h.enqueue(t, h.entry("ev-d", "call-d", 1, u, tc.p))
			w := h.start(t, "w1", 1)
			var ev logEvent
			for {
				ev = h.log.outcome(t, "ev-d")
				if !strings.Contains(ev.msg, "will retry") {
					break
				}
				h.clock.Advance(Backoff(len(a.seen())))
				w.Wake()
			}
			if ev.msg != "webhook: delivery failed; moved to dead letters" || ev.attrs["reason"] != tc.reason {
				t.Errorf("outcome %s %v, want dead letters because %s", ev.msg, ev.attrs, tc.reason)
			}
			if n := len(a.seen()); n != tc.attempts {
				t.Errorf("app saw %d requests, want %d", n, tc.attempts)
			}
			dead := h.dead(t)
			if len(dead) != 1 || dead[0].ID != "ev-d" || !strings.Contains(dead[0].LastError, tc.lastErr) {
				t.Fatalf("dead letters %+v, want ev-d with %q", dead, tc.lastErr)
			}
			if strings.Contains(dead[0].LastError, "pw") {
				t.Errorf("dead letter error %q holds the password", dead[0].LastError)
			}
			if n := h.pending(t); n != 0 {
				t.Errorf("pending = %d, want 0", n)
			}
		})
	}
}

// An entry leased by a worker that died is delivered by another once the lease has ended,
// even though its tt ran out meanwhile (the lease is longer than any tt).
func TestWorkerCrash(t *testing.T) {
	h := newHarness(t)
	a := newApp(t, nil)
	const lease = 2 * time.Minute
	// Leased at creation by the call goroutine of a process that then died...
	leased := h.entry("ev-leased", "call-1", 1, a.URL+"/leased", retry5xx)
	leased.Owner, leased.LeaseEnd = "dead-process", h.t0.Add(lease)
	h.enqueue(t, leased)
	// ...and claimed by a worker that died during its attempt.
	h.enqueue(t, h.entry("ev-claimed", "call-2", 1, a.URL+"/claimed", retry5xx))
	if es, err := h.store.Claim(t.Context(), "dead-worker", h.t0, lease, 10); err != nil || len(es) != 1 {
		t.Fatalf("claim by the doomed worker: %v %v", es, err)
	}

	w := h.start(t, "survivor", 2)
	h.clock.Advance(lease + time.Second)
	w.Wake()
	for _, id := range []string{"ev-leased", "ev-claimed"} {
		if ev := h.log.outcome(t, id); ev.msg != "webhook: delivered" {
			t.Errorf("%s: %s %v", id, ev.msg, ev.attrs)
		}
	}
	attempts := map[string]string{}
	for _, r := range a.seen() {
		attempts[r.URL.Path] = r.Header.Get(HeaderAttempt)
	}
	// The store counts the dead worker's claim as an attempt.
	if attempts["/leased"] != "1" || attempts["/claimed"] != "2" {
		t.Errorf("attempt headers %v, want leased 1, claimed 2", attempts)
	}
	if n := h.pending(t); n != 0 {
		t.Errorf("pending = %d, want 0", n)
	}
}

// A late entry gets one attempt and no retry.
func TestWorkerLateEntryIsNotRetried(t *testing.T) {
	h := newHarness(t)
	a := newApp(t, status(503))
	h.enqueue(t, h.entry("ev-late", "call-1", 1, a.URL, retry5xx))
	h.clock.Advance(time.Hour) // e.g. the process was down
	h.start(t, "w1", 1)
	ev := h.log.outcome(t, "ev-late")
	if ev.attrs["reason"] != "total timeout ran out" || len(a.seen()) != 1 {
		t.Errorf("outcome %s %v after %d requests", ev.msg, ev.attrs, len(a.seen()))
	}
}

func TestWorkerStopWaits(t *testing.T) {
	h := newHarness(t)
	in, release := make(chan struct{}), make(chan struct{})
	a := newApp(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		close(in)
		<-release
	})
	h.enqueue(t, h.entry("ev-1", "call-1", 1, a.URL, retry5xx))
	w := h.start(t, "w1", 1)
	<-in
	stopped := make(chan error, 1)
	go func() { stopped <- w.Stop(context.Background()) }()
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	// Stop returned after the delivery was acknowledged.
	if n := h.pending(t); n != 0 {
		t.Errorf("pending = %d after a graceful stop, want 0", n)
	}
}

func TestWorkerStopGivesUp(t *testing.T) {
	h := newHarness(t)
	in := make(chan struct{})
	a := newApp(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		close(in)
		hang(w, r)
	})
	h.enqueue(t, h.entry("ev-1", "call-1", 1, a.URL, policy(time.Second, 30*time.Second, 55*time.Second, 1, translate.RetryAll)))
	w := h.start(t, "w1", 1)
	<-in
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // no patience at all
	if err := w.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop = %v, want context.Canceled", err)
	}
	// The entry was handed back, not left leased for two minutes nor dead-lettered.
	es, err := h.store.Claim(t.Context(), "next-process", h.clock.Now(), time.Minute, 10)
	if err != nil || len(es) != 1 || es[0].ID != "ev-1" || es[0].Attempts != 2 {
		t.Fatalf("claim after stop: %+v %v, want ev-1 on its second attempt", es, err)
	}
	if len(h.dead(t)) != 0 {
		t.Error("interrupted entry was dead-lettered")
	}
}

// Worker log lines carry call_id and event_id, and no secret.
func TestWorkerLogs(t *testing.T) {
	h := newHarness(t)
	a := newApp(t, status(500))
	u := a.URL + "/cb?apikey=q-secret"
	u = strings.Replace(u, "http://", "http://alice:pw-secret@", 1)
	h.enqueue(t, h.entry("ev-1", "call-1", 1, u, policy(time.Second, time.Second, 55*time.Second, 0, 0)))
	h.start(t, "w1", 1)
	h.log.outcome(t, "ev-1")
	out := h.log.text.String()
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(line, "webhook: deliver") && (!strings.Contains(line, "call_id=call-1") || !strings.Contains(line, "event_id=ev-1")) {
			t.Errorf("line without call_id or event_id: %s", line)
		}
	}
	for _, s := range []string{"pw-secret", "q-secret", "alice", testToken, testSecret} {
		if strings.Contains(out, s) {
			t.Errorf("log shows %q:\n%s", s, out)
		}
	}
	if got := a.seen(); len(got) != 1 || got[0].User != "alice" || got[0].Pass != "pw-secret" {
		t.Errorf("app did not get Basic auth: %+v", got)
	}
}

func TestNewWorkerLease(t *testing.T) {
	h := newHarness(t)
	c := newTestClient(t, Options{})
	if _, err := NewWorker(WorkerOptions{Outbox: h.store, Client: c, Lease: MaxTotalTimeout}); err == nil {
		t.Error("a lease of 55s was accepted")
	}
	if _, err := NewWorker(WorkerOptions{Client: c}); err == nil {
		t.Error("a worker without outbox was accepted")
	}
	w, err := NewWorker(WorkerOptions{Outbox: h.store, Client: c})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(w.Owner(), "webhook-") {
		t.Errorf("owner %q", w.Owner())
	}
	if err := w.Stop(t.Context()); err != nil { // never started
		t.Error(err)
	}
}

func TestSend(t *testing.T) {
	a := newApp(t, func(w http.ResponseWriter, r *http.Request, _ int) { _, _ = w.Write([]byte("<Response/>")) })
	c := newTestClient(t, Options{Secrets: SecretMap{"app1": {SigningSecret: testSecret}}})
	var s adapter.Sender = c
	resp, err := s.Send(t.Context(), adapter.Request{EventID: "ev-s", App: "app1", Dialect: translate.FlexML,
		Method: translate.GET, URL: mustURL(t, a.URL+"/doc"), Retry: fast, Document: true, Limit: 11})
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Body) != "<Response/>" || resp.FinalURL.String() != a.URL+"/doc" {
		t.Errorf("response %+v", resp)
	}
	r := a.seen()[0]
	if err := Verify([]string{testSecret}, r.Header.Get(HeaderSignature), "GET", r.URL, nil, time.Now()); err != nil {
		t.Error(err)
	}
	_, err = s.Send(t.Context(), adapter.Request{App: "app1", URL: mustURL(t, a.URL), Retry: fast, Document: true, Limit: 10})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("limit 10: err = %v", err)
	}
	if got := fmt.Sprintf("%v %+v %#v", Credentials{AuthToken: "tok"}, Credentials{AuthToken: "tok"}, Credentials{AuthToken: "tok"}); strings.Contains(got, "tok") {
		t.Errorf("Credentials print their values: %s", got)
	}
}
