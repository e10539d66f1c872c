package redisfault

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/integration/apptest"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
	"github.com/pbxbridge/pbxbridge/store/redis/redistest"
)

// faultRun places calls at a steady pace while fault runs (in its own goroutine, from the
// moment the first call is placed), then waits for every call to end and every callback to
// arrive. It returns the callbacks expected.
func faultRun(t *testing.T, b *bridge, app *apptest.App, sk *sink, calls int, pace time.Duration, fault func()) int {
	t.Helper()
	doc, per := plivoDoc(sk.URL, 1, 10, 2, "")
	app.Document("/answer", doc)
	sim := eslsim.New(eslsim.Options{})
	t.Cleanup(sim.Close)
	faultDone := make(chan struct{})
	go func() { defer close(faultDone); fault() }()
	var chans []*eslsim.Channel
	for i := range calls {
		chans = append(chans, b.call(t, sim, fmt.Sprintf("1555020%04d", i)))
		time.Sleep(pace)
	}
	<-faultDone
	for _, ch := range chans {
		select {
		case <-ch.Done():
		case <-time.After(60 * time.Second):
			t.Fatalf("call %s did not end", ch.UUID())
		}
	}
	want := calls * per
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := sk.wait(ctx, want); err != nil {
		_, _, paths := sk.counts()
		t.Fatalf("callbacks lost: %v (by path: %v)", err, paths)
	}
	unique, total, paths := sk.counts()
	if unique != want {
		t.Errorf("%d distinct callbacks delivered, want %d (by path: %v)", unique, want, paths)
	}
	t.Logf("%d calls: %d callbacks delivered, %d deliveries (%d duplicates, allowed: at least once)",
		calls, unique, total, total-unique)
	return want
}

// TestRedisRestart: Redis (appendonly, fsync always, as docs/operators.md asks) is killed
// and restarted while calls record and callbacks are delivered. pbxbridge is not restarted:
// /readyz goes 503 naming the store, then 200; every callback arrives.
func TestRedisRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Standalone(t, "appendonly yes", "appendfsync always")
	app, err := apptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	sk := newSink(t)
	b := startBridge(t, "  url: "+srv.URL(), app.URL+"/answer", sk.URL+"/status")
	ready := b.watchReady()
	var outage time.Duration
	faultRun(t, b, app, sk, 24, 250*time.Millisecond, func() {
		time.Sleep(2 * time.Second)
		start := time.Now()
		srv.Kill()
		time.Sleep(2 * time.Second)
		srv.Restart(t)
		outage = time.Since(start)
	})
	notReady, readyAfter := ready.end()
	b.alive(t)
	if len(notReady) == 0 || !strings.Contains(notReady[0], `"store"`) {
		t.Errorf("/readyz never said the store was not ready during a %s outage (saw %d 503s: %q)", outage, len(notReady), notReady)
	}
	if !readyAfter {
		t.Error("/readyz never said ready again after the outage")
	}
	b.waitReady(t, 10*time.Second)
	t.Logf("Redis down %s; /readyz 503 %d times; store retries by the engine: enqueue %v, state %v; pbxbridge_outbox_depth %v",
		outage.Round(time.Millisecond), len(notReady), b.metric(t, `pbxbridge_store_retries_total{op="enqueue"}`),
		b.metric(t, `pbxbridge_store_retries_total{op="save call state"}`), b.metric(t, "pbxbridge_outbox_depth"))
	// The figures moved with the work done: 24 calls, each 11 Records (one stored recording)
	// and a Hangup, 13 callbacks each.
	for series, want := range map[string]float64{
		`pbxbridge_calls_started_total{pbx="fs1",dialect="plivo"}`: 24,
		`pbxbridge_calls_ended_total{pbx="fs1",dialect="plivo"}`:   24,
		`pbxbridge_verbs_total{verb="Record",outcome="ok"}`:        24 * 11,
		`pbxbridge_recordings_total{outcome="stored"}`:             24,
		`pbxbridge_callback_dead_letters_total`:                    0,
	} {
		if n := b.metric(t, series); n != want {
			t.Errorf("%s = %v, want %v", series, n, want)
		}
	}
	if n := b.metric(t, `pbxbridge_callback_attempts_total{result="2xx"}`); n < 24*13 {
		t.Errorf("pbxbridge_callback_attempts_total{result=\"2xx\"} = %v, want at least %d", n, 24*13)
	}
	if n := b.metric(t, `pbxbridge_store_operation_seconds_count{op="enqueue",result="ok"}`); n < 24*13 {
		t.Errorf("store enqueue latencies: %v observations, want at least %d", n, 24*13)
	}
	if n := b.metric(t, `pbxbridge_store_operation_seconds_count{op="ping",result="unavailable"}`); n == 0 {
		t.Error("no store ping was timed as unavailable during the outage")
	}
}

// TestRedisRestartDuringDrain: Redis is killed and restarted while the outbox workers drain a
// backlog at full speed, so that claims, acknowledgements and retries are in flight when it
// goes. Every callback still arrives; an acknowledgement lost with Redis costs a duplicate
// (at least once), and an entry whose claim was lost comes back when its lease ends (56 s
// here, the shortest outbox.lease allows).
func TestRedisRestartDuringDrain(t *testing.T) {
	t.Parallel()
	srv := redistest.Standalone(t, "appendonly yes", "appendfsync always")
	app, err := apptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	sk := newSink(t)
	b := startBridge(t, "  url: "+srv.URL(), app.URL+"/answer", sk.URL+"/status", "  lease: 56s")
	const calls = 30
	doc, per := plivoDoc(sk.URL, 0, 99, 2, "")
	want := calls * per
	app.Document("/answer", doc)
	sk.hang()
	sim := eslsim.New(eslsim.Options{})
	t.Cleanup(sim.Close)
	for i := range calls {
		ch := b.call(t, sim, fmt.Sprintf("1555050%04d", i))
		defer func() { <-ch.Done() }()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	for b.metric(t, "pbxbridge_outbox_depth") != float64(want) && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
	}
	released := time.Now()
	sk.release()
	if err := sk.wait(ctx, want/4); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	down := time.Now()
	time.Sleep(time.Second)
	srv.Restart(t)
	up := time.Now()
	if err := sk.wait(ctx, want); err != nil {
		_, _, paths := sk.counts()
		t.Fatalf("callbacks lost across the Redis restart: %v (by path %v)", err, paths)
	}
	b.alive(t)
	unique, total, _ := sk.counts()
	t.Logf("%d callbacks: Redis down %s; %d delivered before it went, %d within 10 s of its return, the last %s after it (%s after the release); %d duplicates",
		unique, up.Sub(down).Round(time.Millisecond), sk.deliveredBy(down), sk.deliveredBy(up.Add(10*time.Second)),
		sk.lastDelivery().Sub(up).Round(time.Millisecond), sk.lastDelivery().Sub(released).Round(time.Millisecond), total-unique)
	if n := b.metric(t, "pbxbridge_callback_dead_letters_total"); n != 0 {
		t.Errorf("%v callbacks dead-lettered", n)
	}
}
