package owner_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/owner"
	"github.com/pbxbridge/pbxbridge/store/local"
)

func openStore(t *testing.T) *local.Store {
	st, err := local.Open(t.TempDir(), local.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// flaky is the real store with renewals failing on demand, as when the store is unreachable.
type flaky struct {
	adapter.Leases
	fail atomic.Bool
}

var errDown = errors.New("store unreachable")

func (f *flaky) AcquireLease(ctx context.Context, name, o string, ttl time.Duration) (adapter.Lease, error) {
	if f.fail.Load() {
		return adapter.Lease{}, errDown
	}
	return f.Leases.AcquireLease(ctx, name, o, ttl)
}

func (f *flaky) RenewLease(ctx context.Context, name, o string, ttl time.Duration) (adapter.Lease, error) {
	if f.fail.Load() {
		return adapter.Lease{}, errDown
	}
	return f.Leases.RenewLease(ctx, name, o, ttl)
}

// span records when an instance served.
type span struct {
	mu         sync.Mutex
	start, end time.Time
	cause      error
	started    chan struct{}
	ended      chan struct{}
}

func newSpan() *span { return &span{started: make(chan struct{}), ended: make(chan struct{})} }

func (s *span) serve(ctx context.Context, _ adapter.Lease) error {
	s.mu.Lock()
	s.start = time.Now()
	s.mu.Unlock()
	close(s.started)
	<-ctx.Done()
	s.mu.Lock()
	s.end, s.cause = time.Now(), context.Cause(ctx)
	s.mu.Unlock()
	close(s.ended)
	return nil
}

func wait(t *testing.T, ch <-chan struct{}, limit time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(limit):
		t.Fatalf("%s: not within %v", what, limit)
	}
}

func opts(l adapter.Leases, o string) owner.Options {
	return owner.Options{Leases: l, Name: "pbx:fs", Owner: o, TTL: 600 * time.Millisecond, Renew: 100 * time.Millisecond}
}

// One instance serves, the other waits; when the first stops, it releases the lease and the
// standby takes over at its next poll.
func TestStandbyTakesOverOnRelease(t *testing.T) {
	st := openStore(t)
	a, b := newSpan(), newSpan()
	actx, astop := context.WithCancel(t.Context())
	aDone := make(chan struct{})
	go func() { owner.Run(actx, opts(st, "a"), a.serve); close(aDone) }()
	wait(t, a.started, 5*time.Second, "a serves")
	go owner.Run(t.Context(), opts(st, "b"), b.serve)
	time.Sleep(300 * time.Millisecond) // several of b's polls
	select {
	case <-b.started:
		t.Fatal("b serves while a holds the lease")
	default:
	}
	astop()
	wait(t, a.ended, 5*time.Second, "a stops")
	wait(t, b.started, 5*time.Second, "b takes over")
	<-aDone
	if !errors.Is(a.cause, owner.ErrStopping) {
		t.Errorf("a's cause: %v, want ErrStopping", a.cause)
	}
	if !b.start.After(a.end) {
		t.Errorf("b started at %v, before a ended at %v", b.start, a.end)
	}
	t.Logf("takeover after release: %v", b.start.Sub(a.end))
}

// The holder keeps the lease past many TTLs by renewing it.
func TestHolderRenews(t *testing.T) {
	st := openStore(t)
	a, b := newSpan(), newSpan()
	go owner.Run(t.Context(), opts(st, "a"), a.serve)
	wait(t, a.started, 5*time.Second, "a serves")
	go owner.Run(t.Context(), opts(st, "b"), b.serve)
	select {
	case <-b.started:
		t.Fatal("b took the lease from a renewing holder")
	case <-a.ended:
		t.Fatalf("a stopped: %v", a.cause)
	case <-time.After(2 * time.Second): // over three TTLs
	}
}

// A holder that cannot renew stops serving (ErrLost) before its lease runs out in the store,
// so the standby that takes the lease never serves at the same time.
func TestHolderThatCannotRenewStopsFirst(t *testing.T) {
	st := openStore(t)
	fa := &flaky{Leases: st}
	a, b := newSpan(), newSpan()
	go owner.Run(t.Context(), opts(fa, "a"), a.serve)
	wait(t, a.started, 5*time.Second, "a serves")
	go owner.Run(t.Context(), opts(st, "b"), b.serve)
	fa.fail.Store(true)
	wait(t, a.ended, 5*time.Second, "a stops")
	wait(t, b.started, 5*time.Second, "b takes over")
	if !errors.Is(a.cause, owner.ErrLost) {
		t.Errorf("a's cause: %v, want ErrLost", a.cause)
	}
	if !b.start.After(a.end) {
		t.Errorf("split brain: b started at %v, a ended at %v", b.start, a.end)
	}
	t.Logf("b started %v after a stopped", b.start.Sub(a.end))
}

// A holder whose lease was taken over (it was paused past its TTL) is refused its renewal
// and stops.
func TestStaleHolderStops(t *testing.T) {
	st := openStore(t)
	a := newSpan()
	go owner.Run(t.Context(), opts(st, "a"), a.serve)
	wait(t, a.started, 5*time.Second, "a serves")
	// another owner takes the lease behind a's back (as after a's pause past the TTL)
	if err := st.ReleaseLease(t.Context(), "pbx:fs", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AcquireLease(t.Context(), "pbx:fs", "c", time.Minute); err != nil {
		t.Fatal(err)
	}
	wait(t, a.ended, 5*time.Second, "a stops")
	if !errors.Is(a.cause, owner.ErrLost) {
		t.Errorf("a's cause: %v, want ErrLost", a.cause)
	}
}

// serve returning by itself (the PBX connection failed) releases the lease: another instance
// can take it.
func TestServeFailureReleases(t *testing.T) {
	st := openStore(t)
	var n atomic.Int32
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	failed := make(chan struct{})
	go owner.Run(ctx, opts(st, "a"), func(context.Context, adapter.Lease) error {
		if n.Add(1) == 1 {
			close(failed)
		}
		return errors.New("listener failed")
	})
	wait(t, failed, 5*time.Second, "a serves")
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := st.AcquireLease(t.Context(), "pbx:fs", "b", time.Minute); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the lease was not released after serve failed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
