package redis_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"

	"github.com/pbxbridge/pbxbridge/store/redis"
	"github.com/pbxbridge/pbxbridge/store/redis/redistest"
	"github.com/pbxbridge/pbxbridge/store/storetest"
)

// factory gives each test its own key prefix on the shared servers; reopening uses the same
// prefix, so a "restart" is a new client over the same data.
func factory(opts redis.Options) storetest.Factory {
	var n atomic.Int64
	return func(tb testing.TB) storetest.Opener {
		o := opts
		o.Prefix = fmt.Sprintf("t%d:", n.Add(1))
		return func() (storetest.Backend, error) { return redis.Open(tb.Context(), o) }
	}
}

func TestConformanceStandalone(t *testing.T) {
	t.Parallel()
	s := redistest.Standalone(t)
	storetest.Run(t, factory(redis.Options{URL: s.URL()}))
}

func TestConformanceCluster(t *testing.T) {
	t.Parallel()
	nodes := redistest.Cluster(t, 3)
	storetest.Run(t, factory(redis.Options{Cluster: redistest.Addrs(nodes)}))
}

func TestConformanceSentinel(t *testing.T) {
	t.Parallel()
	s := redistest.Sentinel(t)
	storetest.Run(t, factory(redis.Options{SentinelMaster: s.MasterName, Sentinels: []string{s.Sentinel.Addr}}))
}

// BenchmarkOutbox: go test ./store/redis -run '^$' -bench Outbox
func BenchmarkOutbox(b *testing.B) {
	s := redistest.Standalone(b)
	storetest.BenchOutbox(b, factory(redis.Options{URL: s.URL()}))
}

// BenchmarkOutboxCluster runs the same on a 3-master Cluster.
func BenchmarkOutboxCluster(b *testing.B) {
	nodes := redistest.Cluster(b, 3)
	storetest.BenchOutbox(b, factory(redis.Options{Cluster: redistest.Addrs(nodes)}))
}

func TestOpenOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []redis.Options{
		{},
		{URL: "redis://127.0.0.1:1", Cluster: []string{"127.0.0.1:2"}},
		{SentinelMaster: "m"},
		{Sentinels: []string{"127.0.0.1:26379"}},
		{URL: "http://127.0.0.1:6379"},
		{URL: "redis://127.0.0.1:6379", Prefix: "a{b}"},
	} {
		if _, err := redis.Open(t.Context(), o); !errors.Is(err, redis.ErrOptions) {
			t.Errorf("Open(%+v): %v, want ErrOptions", o, err)
		}
	}
	_, err := redis.Open(t.Context(), redis.Options{URL: "redis://:hunter2@127.0.0.1:6379/x"})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open with a bad URL: %v (must fail without repeating the password)", err)
	}
}

// A Redis that is down fails every call with ErrUnavailable; once it is back (with its data,
// here from an fsynced append-only file) the same Store works again, with no reopen.
func TestRedisRestart(t *testing.T) {
	t.Parallel()
	s := redistest.Standalone(t, "appendonly yes", "appendfsync always")
	st, err := redis.Open(t.Context(), redis.Options{URL: s.URL(), DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	e := adapter.Entry{ID: "e1", CallID: "A", Seq: 1, URL: "http://app.test/cb"}
	if err := st.Enqueue(ctx, e); err != nil {
		t.Fatal(err)
	}

	s.Kill()
	if _, err := st.Pending(ctx); !errors.Is(err, redis.ErrUnavailable) {
		t.Fatalf("pending while Redis is down: %v, want ErrUnavailable", err)
	}
	if _, err := st.Claim(ctx, "w", time.Now(), time.Minute, 1); !errors.Is(err, redis.ErrUnavailable) {
		t.Fatalf("claim while Redis is down: %v, want ErrUnavailable", err)
	}

	s.Restart(t)
	es, err := st.Claim(ctx, "w", time.Now(), time.Minute, 1)
	if err != nil || len(es) != 1 || es[0].ID != "e1" {
		t.Fatalf("claim after the restart: %v %v, want e1", es, err)
	}
	if err := st.Ack(ctx, "e1", "w"); err != nil {
		t.Fatal(err)
	}
}

// A Sentinel failover moves the master: the same Store follows it, and what the replica had
// received is there.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	set := redistest.Sentinel(t)
	ctx := t.Context()
	st, err := redis.Open(ctx, redis.Options{SentinelMaster: set.MasterName, Sentinels: []string{set.Sentinel.Addr},
		DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range 10 {
		e := adapter.Entry{ID: fmt.Sprintf("e%d", i), CallID: fmt.Sprintf("call-%d", i), Seq: 1, URL: "http://app.test/cb"}
		if err := st.Enqueue(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the replica has every write, as a production setup would with min-replicas.
	// A loaded machine may take longer than one WAIT (bounded by redis-cli's 5s) to finish the
	// replica's first sync: ask again, up to 30s.
	for waitUntil := time.Now().Add(30 * time.Second); ; {
		out, err := set.Master.Do("WAIT", "1", "2000")
		if err == nil && out == "1" {
			break
		}
		if time.Now().After(waitUntil) {
			t.Fatalf("WAIT for the replica: %q %v", out, err)
		}
	}
	if out, err := set.Sentinel.Do("SENTINEL", "FAILOVER", set.MasterName); err != nil || out != "OK" {
		t.Fatalf("SENTINEL FAILOVER: %q %v", out, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _ := set.Sentinel.Do("SENTINEL", "get-master-addr-by-name", set.MasterName)
		if hp := strings.Fields(out); len(hp) == 2 && net.JoinHostPort(hp[0], hp[1]) == set.Replica.Addr {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sentinel did not promote the replica: %q", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The client learns of the switch asynchronously; until then a write may meet the old
	// master turned read-only, which is ErrUnavailable, retried here like a worker would.
	var es []adapter.Entry
	for {
		es, err = st.Claim(ctx, "w", time.Now(), time.Minute, 100)
		if err == nil {
			break
		}
		if !errors.Is(err, redis.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("claim after the failover: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(es) != 10 {
		t.Fatalf("claimed %d entries after the failover, want 10", len(es))
	}
	for _, e := range es {
		if err := st.Ack(ctx, e.ID, "w"); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.Pending(ctx); err != nil || n != 0 {
		t.Fatalf("pending after acking everything: %d %v", n, err)
	}
}

// Two instances (two clients, as two pbxbridge processes would have) share one outbox on a
// Cluster: every entry is delivered once, and a lease taken by one is honoured by the other.
func TestTwoInstances(t *testing.T) {
	t.Parallel()
	nodes := redistest.Cluster(t, 3)
	ctx := t.Context()
	open := func() *redis.Store {
		st, err := redis.Open(ctx, redis.Options{Cluster: redistest.Addrs(nodes), Prefix: "two:"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	a, b := open(), open()
	const calls, perCall = 40, 5
	var es []adapter.Entry
	for c := range calls {
		for s := range perCall {
			es = append(es, adapter.Entry{ID: fmt.Sprintf("c%d-%d", c, s), CallID: fmt.Sprintf("c%d", c), Seq: int64(s), URL: "http://app.test/cb"})
		}
	}
	if err := a.Enqueue(ctx, es...); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for i, st := range []*redis.Store{a, b, a, b} {
		owner := fmt.Sprintf("instance-%d", i)
		wg.Go(func() {
			for {
				got, err := st.Claim(ctx, owner, time.Now(), time.Minute, 4)
				if err != nil {
					t.Error(err)
					return
				}
				for _, e := range got {
					mu.Lock()
					seen[e.ID]++
					mu.Unlock()
					if err := st.Ack(ctx, e.ID, owner); err != nil {
						t.Error(err)
						return
					}
				}
				if len(got) == 0 {
					if n, err := st.Pending(ctx); err != nil || n == 0 {
						return
					}
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	for _, e := range es {
		if seen[e.ID] != 1 {
			t.Errorf("%s delivered %d times", e.ID, seen[e.ID])
		}
	}
}

// Data of the wrong type under the prefix is an error, not "unavailable".
func TestForeignData(t *testing.T) {
	t.Parallel()
	s := redistest.Standalone(t)
	st, err := redis.Open(t.Context(), redis.Options{URL: s.URL(), Prefix: "foreign:"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := s.Do("SET", "foreign:{outbox}:n", "not a number"); err != nil {
		t.Fatal(err)
	}
	_, err = st.Pending(t.Context())
	if err == nil || errors.Is(err, redis.ErrUnavailable) {
		t.Fatalf("pending over a foreign value: %v, want an error that is not ErrUnavailable", err)
	}
	if _, err := s.Do("SET", "foreign:{outbox}:ready", "not a sorted set"); err != nil {
		t.Fatal(err)
	}
	_, err = st.Claim(t.Context(), "w", time.Now(), time.Minute, 1)
	if err == nil || errors.Is(err, redis.ErrUnavailable) || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("claim over a foreign ready key: %v, want a WRONGTYPE error that is not ErrUnavailable", err)
	}
}

// A Redis holding the outbox of the earlier layout is refused, naming the keys, rather than
// opened and its entries stranded.
func TestOpenRefusesOldOutboxLayout(t *testing.T) {
	t.Parallel()
	s := redistest.Standalone(t)
	if _, err := s.Do("ZADD", "old:{outbox}:due", "0", "call-1"); err != nil {
		t.Fatal(err)
	}
	_, err := redis.Open(t.Context(), redis.Options{URL: s.URL(), Prefix: "old:"})
	if !errors.Is(err, redis.ErrOldLayout) || !strings.Contains(err.Error(), "old:{outbox}:due") {
		t.Fatalf("open over the old layout: %v, want ErrOldLayout naming the key", err)
	}
	st, err := redis.Open(t.Context(), redis.Options{URL: s.URL(), Prefix: "new:"})
	if err != nil {
		t.Fatalf("open under another prefix: %v", err)
	}
	st.Close()
}

// The layout before the shared hashes (one key per entry, e:<id> and x:<id>, under the same
// ready and dead-letter sets) is refused too, naming the key found; a drained one is not.
func TestOpenRefusesPerEntryLayout(t *testing.T) {
	t.Parallel()
	s := redistest.Standalone(t)
	for _, cmd := range [][]string{
		{"HSET", "q:{outbox}:e:A1", "d", "x", "c", "A"}, {"ZADD", "q:{outbox}:ready", "0", "A1"},
		{"HSET", "d:{outbox}:x:B1", "d", "x", "c", "B"}, {"ZADD", "d:{outbox}:dl", "0", "B1"},
		{"SET", "drained:{outbox}:n", "0"},
	} {
		if _, err := s.Do(cmd...); err != nil {
			t.Fatal(err)
		}
	}
	for prefix, key := range map[string]string{"q:": "q:{outbox}:e:A1", "d:": "d:{outbox}:x:B1"} {
		_, err := redis.Open(t.Context(), redis.Options{URL: s.URL(), Prefix: prefix})
		if !errors.Is(err, redis.ErrOldLayout) || !strings.Contains(err.Error(), key) {
			t.Fatalf("open over a per-entry outbox: %v, want ErrOldLayout naming %s", err, key)
		}
	}
	st, err := redis.Open(t.Context(), redis.Options{URL: s.URL(), Prefix: "drained:"})
	if err != nil {
		t.Fatalf("open over a drained outbox: %v", err)
	}
	st.Close()
}
