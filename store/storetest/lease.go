package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// RunLeases runs the conformance tests of what several instances sharing a store rely on:
// leases (adapter.Leases) and the live recordings kept in call state. One subtest per
// behaviour, in parallel.
func RunLeases(t *testing.T, f Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness, l adapter.Leases)
	}{
		{"AcquireRenewRelease", testLeaseAcquireRenewRelease},
		{"ExpiryFences", testLeaseExpiryFences},
		{"ConcurrentAcquire", testLeaseConcurrentAcquire},
		{"Restart", testLeaseRestart},
		{"BadInput", testLeaseBadInput},
		{"CallLiveRecordings", testCallLiveRecordings},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, f)
			l, ok := h.b.(adapter.Leases)
			if !ok {
				t.Fatalf("%T does not implement adapter.Leases", h.b)
			}
			tc.fn(t, h, l)
		})
	}
}

func testLeaseAcquireRenewRelease(t *testing.T, h *harness, l adapter.Leases) {
	ctx := h.ctx
	_, err := l.GetLease(ctx, "pbx:a")
	isErr(t, err, adapter.ErrNotFound, "get a free lease")
	a, err := l.AcquireLease(ctx, "pbx:a", "one", time.Minute)
	ok(t, err, "acquire")
	if a.Owner != "one" || a.Name != "pbx:a" || a.Epoch < 1 || time.Until(a.Expires) <= 0 {
		t.Fatalf("acquired %+v", a)
	}
	g, err := l.GetLease(ctx, "pbx:a")
	ok(t, err, "get")
	if g.Owner != "one" || g.Epoch != a.Epoch {
		t.Fatalf("get %+v, acquired %+v", g, a)
	}
	_, err = l.AcquireLease(ctx, "pbx:a", "two", time.Minute)
	isErr(t, err, adapter.ErrConflict, "acquire a held lease")
	again, err := l.AcquireLease(ctx, "pbx:a", "one", time.Minute)
	ok(t, err, "acquire again by the holder")
	if again.Epoch != a.Epoch {
		t.Fatalf("re-acquiring by the holder changed the epoch: %d -> %d", a.Epoch, again.Epoch)
	}
	r, err := l.RenewLease(ctx, "pbx:a", "one", time.Minute)
	ok(t, err, "renew")
	if r.Epoch != a.Epoch {
		t.Fatalf("renewal changed the epoch: %d -> %d", a.Epoch, r.Epoch)
	}
	_, err = l.RenewLease(ctx, "pbx:a", "two", time.Minute)
	isErr(t, err, adapter.ErrConflict, "renew by another owner")
	isErr(t, l.ReleaseLease(ctx, "pbx:a", "two"), adapter.ErrConflict, "release by another owner")
	// another name is independent
	b, err := l.AcquireLease(ctx, "pbx:b", "two", time.Minute)
	ok(t, err, "acquire another name")
	if b.Owner != "two" {
		t.Fatalf("acquired %+v", b)
	}

	ok(t, l.ReleaseLease(ctx, "pbx:a", "one"), "release")
	_, err = l.GetLease(ctx, "pbx:a")
	isErr(t, err, adapter.ErrNotFound, "get a released lease")
	_, err = l.RenewLease(ctx, "pbx:a", "one", time.Minute)
	isErr(t, err, adapter.ErrConflict, "renew after release")
	isErr(t, l.ReleaseLease(ctx, "pbx:a", "one"), adapter.ErrConflict, "release twice")
	c, err := l.AcquireLease(ctx, "pbx:a", "two", time.Minute)
	ok(t, err, "acquire after release")
	if c.Owner != "two" || c.Epoch <= a.Epoch {
		t.Fatalf("after release: %+v, epoch before %d: the epoch must grow", c, a.Epoch)
	}
	_, err = l.RenewLease(ctx, "pbx:a", "one", time.Minute)
	isErr(t, err, adapter.ErrConflict, "the old holder renews after another took it")
}

// A holder that does not renew in time loses the lease: it is free, another owner takes it
// with a greater epoch, and the stale holder can neither renew nor release it.
func testLeaseExpiryFences(t *testing.T, h *harness, l adapter.Leases) {
	ctx := h.ctx
	const ttl = 200 * time.Millisecond
	a, err := l.AcquireLease(ctx, "pbx", "one", ttl)
	ok(t, err, "acquire")
	waitFree(t, l, "pbx", 5*time.Second)
	_, err = l.RenewLease(ctx, "pbx", "one", ttl)
	isErr(t, err, adapter.ErrConflict, "renew after expiry")
	b, err := l.AcquireLease(ctx, "pbx", "two", time.Minute)
	ok(t, err, "acquire an expired lease")
	if b.Owner != "two" || b.Epoch <= a.Epoch {
		t.Fatalf("after expiry: %+v, epoch before %d: the epoch must grow", b, a.Epoch)
	}
	_, err = l.RenewLease(ctx, "pbx", "one", time.Minute)
	isErr(t, err, adapter.ErrConflict, "the stale holder renews")
	isErr(t, l.ReleaseLease(ctx, "pbx", "one"), adapter.ErrConflict, "the stale holder releases")
	g, err := l.GetLease(ctx, "pbx")
	ok(t, err, "get")
	if g.Owner != "two" {
		t.Fatalf("the stale holder disturbed the lease: %+v", g)
	}

	// the holder's own lease runs out too: it must acquire again, with a new epoch
	c, err := l.AcquireLease(ctx, "own", "one", ttl)
	ok(t, err, "acquire")
	waitFree(t, l, "own", 5*time.Second)
	d, err := l.AcquireLease(ctx, "own", "one", time.Minute)
	ok(t, err, "acquire again after expiry")
	if d.Epoch <= c.Epoch {
		t.Fatalf("re-acquired after expiry with epoch %d, before %d", d.Epoch, c.Epoch)
	}
}

// waitFree polls until the lease has run out; expiry is the store's business (its clock).
func waitFree(t *testing.T, l adapter.Leases, name string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if _, err := l.GetLease(t.Context(), name); err != nil {
			isErr(t, err, adapter.ErrNotFound, "get a lease that runs out")
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease %q did not run out in %v", name, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testLeaseConcurrentAcquire(t *testing.T, h *harness, l adapter.Leases) {
	const n = 8
	var wg sync.WaitGroup
	won := make(chan string, n)
	for i := range n {
		owner := string(rune('a' + i))
		wg.Go(func() {
			if _, err := l.AcquireLease(h.ctx, "pbx", owner, time.Minute); err == nil {
				won <- owner
			} else {
				isErr(t, err, adapter.ErrConflict, "acquire by "+owner)
			}
		})
	}
	wg.Wait()
	close(won)
	var winners []string
	for w := range won {
		winners = append(winners, w)
	}
	if len(winners) != 1 {
		t.Fatalf("%d owners acquired one lease: %v", len(winners), winners)
	}
	g, err := l.GetLease(h.ctx, "pbx")
	ok(t, err, "get")
	if g.Owner != winners[0] {
		t.Fatalf("held by %q, won by %q", g.Owner, winners[0])
	}
}

func testLeaseRestart(t *testing.T, h *harness, l adapter.Leases) {
	a, err := l.AcquireLease(h.ctx, "pbx", "one", time.Minute)
	ok(t, err, "acquire")
	h.restart()
	l = h.b.(adapter.Leases)
	_, err = l.AcquireLease(h.ctx, "pbx", "two", time.Minute)
	isErr(t, err, adapter.ErrConflict, "acquire after a restart")
	r, err := l.RenewLease(h.ctx, "pbx", "one", time.Minute)
	ok(t, err, "renew after a restart")
	if r.Epoch != a.Epoch {
		t.Fatalf("epoch changed over a restart: %d -> %d", a.Epoch, r.Epoch)
	}
}

func testLeaseBadInput(t *testing.T, h *harness, l adapter.Leases) {
	for _, c := range []struct {
		name, owner string
		ttl         time.Duration
	}{{"", "o", time.Second}, {"n", "", time.Second}, {"n", "o", 0}} {
		if _, err := l.AcquireLease(h.ctx, c.name, c.owner, c.ttl); err == nil {
			t.Errorf("AcquireLease(%q, %q, %v) succeeded", c.name, c.owner, c.ttl)
		}
	}
}

// The live recordings of a call round-trip, and a call written without them reads back with
// none (records from before they existed).
func testCallLiveRecordings(t *testing.T, h *harness, _ adapter.Leases) {
	c := adapter.CallState{ID: "live", PBX: "fs", ChannelID: "ch", Started: h.at(0), Updated: h.at(time.Second),
		Live: []adapter.LiveRecording{{Name: "pbxb-1", Started: h.at(500 * time.Millisecond), Spec: []byte(`{"mode":"session"}`)}}}
	put, err := h.b.PutCall(h.ctx, c)
	ok(t, err, "put")
	got, err := h.b.GetCall(h.ctx, "live")
	ok(t, err, "get")
	equal(t, got, put, "call with live recordings")
	got.Live = nil
	_, err = h.b.PutCall(h.ctx, got)
	ok(t, err, "put without live recordings")
	got, err = h.b.GetCall(h.ctx, "live")
	ok(t, err, "get")
	if len(got.Live) != 0 {
		t.Fatalf("live recordings after clearing them: %+v", got.Live)
	}
}
