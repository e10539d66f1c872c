package redis_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/store/redis"
	"github.com/pbxbridge/pbxbridge/store/redis/redistest"
	"github.com/pbxbridge/pbxbridge/translate"
)

// TestOldestQueuedAndPing: OldestQueued is the oldest Created among the calls' heads (zero
// when nothing is queued, and after the head is acknowledged the next entry's); Ping answers
// while Redis runs and wraps adapter.ErrUnavailable when it does not.
func TestOldestQueuedAndPing(t *testing.T) {
	srv := redistest.Standalone(t)
	ctx := t.Context()
	st, err := redis.Open(ctx, redis.Options{URL: srv.URL(), DialTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if at, err := st.OldestQueued(ctx, 10); err != nil || !at.IsZero() {
		t.Fatalf("empty outbox: %v, %v", at, err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC)
	for i, c := range []struct {
		call string
		at   time.Time
	}{{"b", t0.Add(time.Second)}, {"a", t0}, {"a", t0.Add(2 * time.Second)}} {
		e := adapter.Entry{ID: string(rune('x' + i)), CallID: c.call, Seq: int64(i), App: "a", Dialect: translate.Plivo,
			Kind: "callback", Method: translate.POST, URL: "http://127.0.0.1:1/", Created: c.at, NextAt: t0}
		if err := st.Enqueue(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if at, err := st.OldestQueued(ctx, 10); err != nil || !at.Equal(t0) {
		t.Errorf("OldestQueued = %v, %v; want %v", at, err, t0)
	}
	es, err := st.Claim(ctx, "w", t0, time.Minute, 10)
	if err != nil || len(es) != 2 {
		t.Fatalf("claim: %d, %v", len(es), err)
	}
	for _, e := range es {
		if e.CallID == "a" {
			if err := st.Ack(ctx, e.ID, "w"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if at, err := st.OldestQueued(ctx, 10); err != nil || !at.Equal(t0.Add(time.Second)) {
		t.Errorf("after the oldest is delivered: %v, %v; want %v", at, err, t0.Add(time.Second))
	}
	if err := st.Ping(ctx); err != nil {
		t.Errorf("ping: %v", err)
	}
	srv.Kill()
	if err := st.Ping(ctx); !errors.Is(err, adapter.ErrUnavailable) || !errors.Is(err, redis.ErrUnavailable) {
		t.Errorf("ping of a dead Redis: %v", err)
	}
}
