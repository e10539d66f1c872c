package redisfault

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/integration/apptest"
	"github.com/pbxbridge/pbxbridge/store/redis/redistest"
)

// TestSentinelFailover: a Sentinel set as docs/operators.md asks for it (a master, two
// replicas, min-replicas-to-write 1, min-replicas-max-lag 1, appendonly) loses its master
// while calls record and callbacks are delivered: Sentinel promotes a replica, and the old
// master is restarted (Sentinel then makes it a replica). pbxbridge is not restarted: /readyz
// goes 503 naming the store, then 200; every callback arrives.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	set := redistest.Failover(t, 2, "min-replicas-to-write 1", "min-replicas-max-lag 1", "appendonly yes", "appendfsync always")
	app, err := apptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	sk := newSink(t)
	store := fmt.Sprintf("  sentinel: {master: %s, addresses: [%q]}", set.MasterName, set.Sentinel.Addr)
	b := startBridge(t, store, app.URL+"/answer", sk.URL+"/status")
	ready := b.watchReady()
	old := set.Nodes[0]
	var promoted string
	var failover time.Duration
	faultRun(t, b, app, sk, 24, 250*time.Millisecond, func() {
		time.Sleep(2 * time.Second)
		start := time.Now()
		old.Kill()
		for time.Since(start) < 30*time.Second {
			if a, err := set.MasterAddr(); err == nil && a != "" && a != old.Addr {
				promoted = a
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		failover = time.Since(start)
		old.Restart(t) // Sentinel turns it into a replica of the new master
	})
	notReady, _ := ready.end()
	b.alive(t)
	if promoted == "" {
		t.Fatalf("Sentinel did not fail over within 30s; log:\n%s", set.Sentinel.Log())
	}
	if len(notReady) == 0 || !strings.Contains(notReady[0], `"store"`) {
		t.Errorf("/readyz never said the store was not ready during the failover (saw %q)", notReady)
	}
	b.waitReady(t, 10*time.Second)
	role, _ := old.Do("ROLE")
	t.Logf("failover to %s took %s; /readyz 503 %d times; old master now: %s; engine store retries: enqueue %v, state %v",
		promoted, failover.Round(time.Millisecond), len(notReady), strings.Fields(role)[0],
		b.metric(t, `pbxbridge_store_retries_total{op="enqueue"}`), b.metric(t, `pbxbridge_store_retries_total{op="save call state"}`))
}

// TestSentinelFrozenMaster: the master freezes (SIGSTOP: a partition, a stalled VM) while calls
// run; Sentinel promotes a replica; the old master wakes up still believing it is the master
// until Sentinel demotes it. min-replicas-to-write makes it refuse writes meanwhile (it has no
// replica any more), so pbxbridge retries them against the new master: nothing is lost (the
// case docs/operators.md warns about).
func TestSentinelFrozenMaster(t *testing.T) {
	t.Parallel()
	set := redistest.Failover(t, 2, "min-replicas-to-write 1", "min-replicas-max-lag 1", "appendonly yes", "appendfsync always")
	app, err := apptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	sk := newSink(t)
	store := fmt.Sprintf("  sentinel: {master: %s, addresses: [%q]}", set.MasterName, set.Sentinel.Addr)
	b := startBridge(t, store, app.URL+"/answer", sk.URL+"/status")
	old := set.Nodes[0]
	info, err := old.Do("INFO", "server")
	if err != nil {
		t.Fatal(err)
	}
	pid := 0
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "process_id:"); ok {
			pid, _ = strconv.Atoi(v)
		}
	}
	if pid == 0 {
		t.Fatalf("no process_id in INFO server:\n%s", info)
	}
	var promoted string
	var frozen time.Duration
	faultRun(t, b, app, sk, 24, 250*time.Millisecond, func() {
		time.Sleep(2 * time.Second)
		start := time.Now()
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Errorf("SIGSTOP: %v", err)
			return
		}
		for time.Since(start) < 30*time.Second {
			if a, err := set.MasterAddr(); err == nil && a != "" && a != old.Addr {
				promoted = a
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond)
		frozen = time.Since(start)
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			t.Errorf("SIGCONT: %v", err)
		}
	})
	b.alive(t)
	if promoted == "" {
		t.Fatalf("Sentinel did not fail over; log:\n%s", set.Sentinel.Log())
	}
	b.waitReady(t, 10*time.Second)
	t.Logf("master frozen %s, %s promoted; engine store retries: enqueue %v, state %v",
		frozen.Round(time.Millisecond), promoted, b.metric(t, `pbxbridge_store_retries_total{op="enqueue"}`),
		b.metric(t, `pbxbridge_store_retries_total{op="save call state"}`))
}
