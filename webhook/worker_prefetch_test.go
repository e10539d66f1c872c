package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// Stop hands back the entries the dispatcher claimed ahead but had not handed out yet, as well
// as the one it was sending, so that nothing stays leased to a stopped worker.
func TestWorkerStopReleasesBuffered(t *testing.T) {
	h := newHarness(t)
	in := make(chan struct{}, 3)
	a := newApp(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		in <- struct{}{}
		hang(w, r)
	})
	h.enqueue(t, h.entry("ev-1", "call-1", 1, a.URL, retry5xx), h.entry("ev-2", "call-2", 1, a.URL, retry5xx),
		h.entry("ev-3", "call-3", 1, a.URL, retry5xx))
	w := h.start(t, "w1", 1) // one slot: the first Claim takes two entries, one waits in the buffer
	<-in
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := w.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop = %v, want context.Canceled", err)
	}
	es, err := h.store.Claim(t.Context(), "next-process", h.clock.Now(), time.Minute, 10)
	if err != nil || len(es) != 3 {
		t.Fatalf("claim after stop: %d entries, %v; want all 3", len(es), err)
	}
	if len(h.dead(t)) != 0 {
		t.Error("an entry was dead-lettered")
	}
	if got := len(in); got != 0 {
		t.Errorf("%d more requests after the first", got)
	}
	if !strings.Contains(h.log.text.String(), "released unsent by shutdown") {
		t.Errorf("no release of a buffered entry logged:\n%s", h.log.text.String())
	}
}

// An entry that waited in the buffer longer than maxWait is handed back unsent, because its
// lease may no longer cover an attempt; it is claimed again and delivered.
func TestWorkerReleasesStaleBuffered(t *testing.T) {
	h := newHarness(t)
	in, release := make(chan struct{}, 1), make(chan struct{})
	a := newApp(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			in <- struct{}{}
			<-release
		}
	})
	h.enqueue(t, h.entry("ev-1", "call-1", 1, a.URL, retry5xx), h.entry("ev-2", "call-2", 1, a.URL, retry5xx))
	w := h.start(t, "w1", 1)
	<-in
	h.clock.Advance(w.maxWait() + time.Second) // ev-2 waits in the buffer meanwhile
	close(release)
	h.log.await(t, "stale release", func(ev logEvent) bool {
		return ev.attrs["event_id"] == "ev-2" && strings.Contains(ev.msg, "waited too long")
	})
	for _, id := range []string{"ev-1", "ev-2"} {
		if ev := h.log.outcome(t, id); ev.msg != "webhook: delivered" {
			t.Errorf("%s: %s %v", id, ev.msg, ev.attrs)
		}
	}
	if n := h.pending(t); n != 0 {
		t.Errorf("pending = %d, want 0", n)
	}
}

// gatedOutbox holds every Claim after the first until gate is closed.
type gatedOutbox struct {
	adapter.Outbox
	claims atomic.Int32
	gate   chan struct{}
}

func (g *gatedOutbox) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]adapter.Entry, error) {
	if g.claims.Add(1) > 1 {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.Outbox.Claim(ctx, owner, now, lease, limit)
}

// The buffer is handed out while the next Claim is on its way: a slow Claim does not leave
// slots idle with entries claimed and waiting.
func TestWorkerHandsOutWhileClaiming(t *testing.T) {
	h := newHarness(t)
	a := newApp(t, func(http.ResponseWriter, *http.Request, int) {})
	var es []adapter.Entry
	for i := range 4 {
		es = append(es, h.entry(fmt.Sprintf("ev-%d", i), fmt.Sprintf("call-%d", i), 1, a.URL, retry5xx))
	}
	h.enqueue(t, es...)
	g := &gatedOutbox{Outbox: h.store, gate: make(chan struct{})}
	c := newTestClient(t, Options{Logger: slog.New(h.log),
		Secrets: SecretMap{"app1": {AuthToken: testToken, SigningSecret: testSecret}}})
	// Two slots: the first Claim takes all four entries; once one is left in the buffer the
	// second Claim starts, and is held.
	w, err := NewWorker(WorkerOptions{Outbox: g, Client: c, Owner: "w1", Workers: 2,
		Poll: 5 * time.Millisecond, Clock: h.clock, Logger: slog.New(h.log)})
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.Stop(ctx)
	})
	t.Cleanup(func() { close(g.gate) }) // runs first: Stop waits for the Claim in flight
	for _, e := range es {
		if ev := h.log.outcome(t, e.ID); ev.msg != "webhook: delivered" {
			t.Errorf("%s: %s %v", e.ID, ev.msg, ev.attrs)
		}
	}
	if n := g.claims.Load(); n < 2 {
		t.Errorf("%d Claims, want the second one held while the buffer was handed out", n)
	}
}
