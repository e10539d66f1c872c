package webhook_test

// Outbox writes while the store is unavailable (issue 5): a real redis-server is killed while
// the worker holds outcomes to record (acks, retries, dead letters) or polls for work, and
// started again. The worker tries its writes and Claims again with a bounded backoff, so no
// outcome is lost, no entry waits for its lease to end, and no attempt is counted twice. The
// worker's clock is the real one and is never moved: an outcome lost to the outage would
// leave its entry leased for the 2-minute default, and the test would fail at its limit.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/store/redis/redistest"
	"github.com/pbxbridge/pbxbridge/translate"
	"github.com/pbxbridge/pbxbridge/webhook"
)

// attemptApp answers by the event id's prefix: "ok-" 200; "flaky-" 503 on attempt 1, then 200;
// "gone-" 404 (not retried by the policy used here). It records the X-Pbxbridge-Attempt of
// every request per event id, and holds each request until gate is closed.
type attemptApp struct {
	URL  string
	gate chan struct{}

	mu       sync.Mutex
	attempts map[string][]int
	order    map[string][]string // call -> event ids answered 2xx, in order
	arrived  chan string
}

func newAttemptApp(t *testing.T) *attemptApp {
	a := &attemptApp{gate: make(chan struct{}), attempts: map[string][]int{}, order: map[string][]string{},
		arrived: make(chan string, 1000)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get(webhook.HeaderEventID)
		n, _ := strconv.Atoi(r.Header.Get(webhook.HeaderAttempt))
		a.arrived <- id
		<-a.gate
		status := http.StatusOK
		switch {
		case strings.HasPrefix(id, "gone-"):
			status = http.StatusNotFound
		case strings.HasPrefix(id, "flaky-") && n == 1:
			status = http.StatusServiceUnavailable
		}
		a.mu.Lock()
		a.attempts[id] = append(a.attempts[id], n)
		if status == http.StatusOK {
			call := r.URL.Query().Get("call")
			a.order[call] = append(a.order[call], id)
		}
		a.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	a.URL = srv.URL
	return a
}

func (a *attemptApp) attemptsOf(id string) []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.attempts[id])
}

// waitFor polls cond until it holds, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Redis dies while every delivery of the first round is in flight: their acks, retries and
// dead-letterings fail, and are recorded once Redis is back, each once, with nothing
// redelivered. Each call's second entry goes after its first's outcome, in order.
func TestStoreOutageOutcomes(t *testing.T) {
	s := redistest.Standalone(t, "appendonly yes", "appendfsync always")
	ob := openRedis(t, s.URL())
	a := newAttemptApp(t)
	p := translate.RetryPolicy{ConnectTimeout: 2 * time.Second, ReadTimeout: 10 * time.Second,
		TotalTimeout: 55 * time.Second, Retries: 3, RetryOn: translate.Retry5xx}
	var es []adapter.Entry
	var heads []string
	for i, kind := range []string{"ok", "ok", "flaky", "flaky", "gone", "gone"} {
		call := fmt.Sprintf("call-%d", i)
		head := fmt.Sprintf("%s-%d", kind, i)
		heads = append(heads, head)
		es = append(es, entry(head, call, 1, a.URL, p), entry(fmt.Sprintf("ok-next-%d", i), call, 2, a.URL, p))
	}
	if err := ob.Enqueue(t.Context(), es...); err != nil {
		t.Fatal(err)
	}
	log := &counter{n: map[string]int{}}
	w := startWorker(t, ob, nil, "w1", 8, log)
	w.Wake()

	// Every head is in the app, waiting for the gate: kill Redis, then let them answer.
	for range heads {
		select {
		case <-a.arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("the heads did not all reach the app")
		}
	}
	s.Kill()
	close(a.gate)
	waitFor(t, 10*time.Second, "the heads were not all answered", func() bool {
		for _, id := range heads {
			if len(a.attemptsOf(id)) == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(time.Second) // their outcomes fail for a while
	s.Restart(t)

	waitFor(t, 20*time.Second, "the outbox did not drain after Redis came back", func() bool {
		n, err := ob.Pending(t.Context())
		return err == nil && n == 0
	})
	for _, e := range es {
		want := []int{1}
		if strings.HasPrefix(e.ID, "flaky-") {
			want = []int{1, 2}
		}
		if got := a.attemptsOf(e.ID); !slices.Equal(got, want) {
			t.Errorf("%s: attempts seen by the app %v, want %v", e.ID, got, want)
		}
	}
	dead, err := ob.ListDead(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var deadIDs []string
	for _, e := range dead {
		deadIDs = append(deadIDs, e.ID)
		if e.Attempts != 1 {
			t.Errorf("dead letter %s: %d attempts, want 1", e.ID, e.Attempts)
		}
	}
	slices.Sort(deadIDs)
	if !slices.Equal(deadIDs, []string{"gone-4", "gone-5"}) {
		t.Errorf("dead letters %v, want gone-4 and gone-5", deadIDs)
	}
	a.mu.Lock()
	for c, got := range a.order {
		if last := got[len(got)-1]; !strings.HasPrefix(last, "ok-next-") || len(got) > 2 {
			t.Errorf("call %s: 2xx in order %v, want its first entry (if it succeeds) then ok-next", c, got)
		}
	}
	a.mu.Unlock()
	for _, op := range []string{"ack", "retry", "dead"} {
		if n := log.get("webhook: outbox " + op + " recorded after the store failed"); n != 2 {
			t.Errorf("%d %s outcomes recorded after the outage, want 2", n, op)
		}
		if n := log.get("webhook: outbox " + op + " failed"); n != 0 {
			t.Errorf("%d %s outcomes given up", n, op)
		}
	}
}

// Redis refuses writes while the worker polls for work (as a master demoted by a failover
// does: READONLY, at once): its Claims fail and are tried again after a backoff, not after
// every poll and Wake; once Redis takes writes again, what is queued is delivered on its first
// attempt (a Claim that failed counted none). Then Redis is killed and restarted, and the same holds.
func TestStoreOutageClaims(t *testing.T) {
	s := redistest.Standalone(t, "appendonly yes", "appendfsync always")
	ob := openRedis(t, s.URL())
	a := newAttemptApp(t)
	close(a.gate)
	log := &counter{n: map[string]int{}}
	w := startWorker(t, ob, nil, "w1", 8, log) // polls every 5ms
	p := translate.RetryPolicy{ConnectTimeout: 2 * time.Second, ReadTimeout: 10 * time.Second,
		TotalTimeout: 55 * time.Second, Retries: 3, RetryOn: translate.Retry5xx}
	var all []adapter.Entry
	round := func(name string, outage func(), recover func()) {
		// Queued before the outage, due during it: Claims that find them must write.
		due := time.Now().Add(300 * time.Millisecond)
		var es []adapter.Entry
		for i := range 20 {
			e := entry(fmt.Sprintf("ok-%s-%d", name, i), fmt.Sprintf("call-%s-%d", name, i%5), int64(i/5+1), a.URL, p)
			e.NextAt = due
			es = append(es, e)
		}
		all = append(all, es...)
		if err := ob.Enqueue(t.Context(), es...); err != nil {
			t.Fatal(err)
		}
		before := log.get("webhook: claiming outbox entries")
		outage()
		waitFor(t, 10*time.Second, name+": no Claim failed", func() bool {
			return log.get("webhook: claiming outbox entries") > before
		})
		start := time.Now()
		for range 100 {
			w.Wake() // the engine wakes the worker after each Enqueue
			time.Sleep(10 * time.Millisecond)
		}
		failed := log.get("webhook: claiming outbox entries") - before
		// A 5ms poll, and 100 Wakes, would have asked 300 times in that second; the backoff
		// (50ms doubling to 2s) asks about six times.
		if failed > 20 {
			t.Errorf("%s: %d failed Claims in %v: the worker does not back off", name, failed, time.Since(start).Round(time.Millisecond))
		}
		t.Logf("%s: %d failed Claims in %v", name, failed, time.Since(start).Round(time.Millisecond))
		recover()
		waitFor(t, 20*time.Second, name+": the outbox did not drain once Redis was back", func() bool {
			n, err := ob.Pending(t.Context())
			return err == nil && n == 0
		})
	}
	round("readonly", func() {
		// A replica of a master that is not there: it keeps its data and refuses writes.
		if _, err := s.Do("REPLICAOF", "127.0.0.1", strconv.Itoa(closedPort(t))); err != nil {
			t.Fatal(err)
		}
	}, func() {
		if _, err := s.Do("REPLICAOF", "NO", "ONE"); err != nil {
			t.Fatal(err)
		}
	})
	round("killed", s.Kill, func() { s.Restart(t) })
	for _, e := range all {
		if got := a.attemptsOf(e.ID); !slices.Equal(got, []int{1}) {
			t.Errorf("%s: attempts seen by the app %v, want [1]", e.ID, got)
		}
	}
	if n := log.get("webhook: claiming outbox entries again"); n != 2 {
		t.Errorf("the worker logged %d times that Claims work again, want 2", n)
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// The worker's tries are bounded by the lease: when Redis stays away until the lease of an
// entry whose outcome is waiting has ended, the worker gives up that outcome (another worker
// may own the entry by now), and the entry is delivered again once Redis is back, as its
// second attempt. The worker's clock is moved past the lease rather than waiting 2 minutes.
func TestStoreOutageLongerThanLease(t *testing.T) {
	s := redistest.Standalone(t, "appendonly yes", "appendfsync always")
	ob := openRedis(t, s.URL())
	a := newAttemptApp(t)
	p := translate.RetryPolicy{ConnectTimeout: 2 * time.Second, ReadTimeout: 10 * time.Second,
		TotalTimeout: 55 * time.Second, Retries: 3, RetryOn: translate.Retry5xx}
	if err := ob.Enqueue(t.Context(), entry("ok-1", "call-1", 1, a.URL, p)); err != nil {
		t.Fatal(err)
	}
	clock := &offsetClock{}
	log := &counter{n: map[string]int{}}
	w := startWorker(t, ob, clock, "w1", 2, log)
	w.Wake()
	select {
	case <-a.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the entry did not reach the app")
	}
	s.Kill()
	close(a.gate)
	waitFor(t, 10*time.Second, "the ack did not fail", func() bool {
		return log.get("webhook: outbox ack failed; will try again") == 1
	})
	clock.Advance(2*time.Minute + time.Second)
	waitFor(t, 10*time.Second, "the worker did not give the ack up once the lease had ended", func() bool {
		return log.get("webhook: outbox ack failed") == 1
	})
	s.Restart(t)
	w.Wake()
	waitFor(t, 20*time.Second, "the entry was not delivered again", func() bool {
		n, err := ob.Pending(t.Context())
		return err == nil && n == 0
	})
	if got := a.attemptsOf("ok-1"); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("attempts seen by the app %v, want [1 2]", got)
	}
	if dead, err := ob.ListDead(t.Context(), 0); err != nil || len(dead) != 0 {
		t.Errorf("dead letters: %d, %v", len(dead), err)
	}
}
