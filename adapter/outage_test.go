package adapter_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/blob"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/store/redis"
	"github.com/pbxbridge/pbxbridge/store/redis/redistest"
	"github.com/pbxbridge/pbxbridge/translate"
)

// retries counts the engine's store retries by operation.
type retries struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *retries) CallStarted(string, translate.Dialect) {}
func (r *retries) CallEnded(string, translate.Dialect)   {}
func (r *retries) VerbDone(string, string)               {}
func (r *retries) RecordingDone(string)                  {}
func (r *retries) StoreRetry(op string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n[op]++
}
func (r *retries) get(op string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[op]
}

// outage is a real Redis that refuses writes: the engine's store is a replica (READONLY,
// as during a Sentinel failover), seeded with calls through its master. promote ends the
// outage: the replica becomes a master and takes writes.
type outage struct {
	eng     *adapter.Engine
	st      *redis.Store
	replica *redistest.Server
	obs     *retries
}

func newOutage(t *testing.T, window string, calls ...string) *outage {
	t.Helper()
	ctx := context.Background()
	m := redistest.Standalone(t, "repl-diskless-sync-delay 0")
	r := redistest.Standalone(t, "replicaof "+strings.Replace(m.Addr, ":", " ", 1))
	master, err := redis.Open(ctx, redis.Options{URL: m.URL(), Prefix: "outage:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close() })
	st, err := redis.Open(ctx, redis.Options{URL: r.URL(), Prefix: "outage:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	t0 := time.Now().Add(-time.Minute)
	for _, id := range calls {
		if _, err := master.PutCall(ctx, adapter.CallState{ID: id, PBX: "fs", App: "vm", Dialect: translate.Plivo,
			From: "15550100001", To: "15550109999", Started: t0, Updated: t0.Add(30 * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := st.ListCalls(ctx)
		if err == nil && len(got) == len(calls) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica has %d calls (%v), want %d", len(got), err, len(calls))
		}
		time.Sleep(20 * time.Millisecond)
	}
	bl, err := blob.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bl.Close() })
	cfg, err := config.Parse([]byte(`
store: {retry_window: ` + window + `}
apps:
  - {name: vm, dialect: plivo, url: "http://127.0.0.1:1/vm", status_url: "http://127.0.0.1:1/status"}
`))
	if err != nil {
		t.Fatal(err)
	}
	o := &outage{st: st, replica: r, obs: &retries{n: map[string]int{}}}
	o.eng, err = adapter.New(adapter.Deps{Config: cfg, Store: st, Outbox: st, Blob: bl, Sender: noSender{}, Media: noMedia{},
		Links: noLinks{}, Observe: o.obs})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (o *outage) promote(t *testing.T) {
	if out, err := o.replica.Do("REPLICAOF", "NO", "ONE"); err != nil || out != "OK" {
		t.Errorf("promoting the replica: %q %v", out, err)
	}
}

// TestStoreOutageLosesNothing: the status callbacks of recovered calls are queued while the
// store refuses writes; the engine retries each in place until the store takes them, and
// removes the calls' state likewise: nothing is lost, nothing is duplicated.
func TestStoreOutageLosesNothing(t *testing.T) {
	o := newOutage(t, "30s", "c1", "c2", "c3")
	ctx := context.Background()
	time.AfterFunc(700*time.Millisecond, func() { o.promote(t) })
	n, err := o.eng.Reconcile(ctx, "fs", nil) // no PBX to ask: the calls are taken as gone
	if err != nil || n != 3 {
		t.Fatalf("Reconcile = %d, %v; want 3 calls", n, err)
	}
	if p, err := o.st.Pending(ctx); err != nil || p != 3 {
		t.Errorf("outbox holds %d entries (%v), want the 3 status callbacks", p, err)
	}
	if calls, err := o.st.ListCalls(ctx); err != nil || len(calls) != 0 {
		t.Errorf("%d calls left in the store (%v)", len(calls), err)
	}
	es, err := o.st.Claim(ctx, "test", time.Now(), time.Minute, 10)
	if err != nil || len(es) != 3 {
		t.Fatalf("claimed %d entries, %v", len(es), err)
	}
	seen := map[string]bool{}
	for _, e := range es {
		if e.Kind != "hangup" || seen[e.CallID] {
			t.Errorf("entry %s: kind %q, call %q (seen before: %v)", e.ID, e.Kind, e.CallID, seen[e.CallID])
		}
		seen[e.CallID] = true
	}
	if o.obs.get("enqueue") == 0 {
		t.Error("no enqueue was retried: the outage did not happen")
	}
}

// TestStoreOutageWindow: an outage longer than store.retry_window ends the retries with an
// error that says the store is unavailable (callers log what is lost).
func TestStoreOutageWindow(t *testing.T) {
	o := newOutage(t, "1s", "c1")
	_, err := o.eng.Reconcile(context.Background(), "fs", nil)
	if !errors.Is(err, adapter.ErrUnavailable) || !strings.Contains(err.Error(), "store unavailable for 1s") {
		t.Errorf("Reconcile past the window: %v; want store unavailable for 1s", err)
	}
	if o.obs.get("enqueue") == 0 || o.obs.get("delete call") == 0 {
		t.Errorf("retries: %v", o.obs.n)
	}
}
