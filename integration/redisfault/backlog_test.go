package redisfault

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/integration/apptest"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
	"github.com/pbxbridge/pbxbridge/store/redis/redistest"
)

// TestBacklog: 10,000 callbacks are queued on Redis while the application's callback host is
// hung (it accepts connections and answers nothing: the 16 workers' attempts wait on it, the
// rest wait in the outbox), then all are delivered once it answers again. The callbacks come
// from 100 calls of 99 Records each, queued through the engine's real enqueue path. It prints
// the rate of production and of the drain.
func TestBacklog(t *testing.T) {
	t.Parallel()
	srv := redistest.Standalone(t)
	app, err := apptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	sk := newSink(t)
	b := startBridge(t, "  url: "+srv.URL(), app.URL+"/answer", sk.URL+"/status")
	const calls = 100
	doc, per := plivoDoc(sk.URL, 0, 99, 2, "")
	want := calls * per
	app.Document("/answer", doc)
	sk.hang()
	sim := eslsim.New(eslsim.Options{})
	t.Cleanup(sim.Close)
	start := time.Now()
	var chans []*eslsim.Channel
	for i := range calls {
		chans = append(chans, b.call(t, sim, fmt.Sprintf("1555030%04d", i)))
	}
	for _, ch := range chans {
		select {
		case <-ch.Done():
		case <-time.After(60 * time.Second):
			t.Fatalf("call %s did not end", ch.UUID())
		}
	}
	// The status callbacks are queued as the calls end; the depth counts them all, the 16
	// attempts hanging on the app included.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var depth float64
	for depth != float64(want) && ctx.Err() == nil {
		depth = b.metric(t, "pbxbridge_outbox_depth")
		time.Sleep(100 * time.Millisecond)
	}
	produced := time.Since(start)
	age := b.metric(t, "pbxbridge_outbox_oldest_age_seconds")
	if unique, _, _ := sk.counts(); unique != 0 || depth != float64(want) {
		t.Fatalf("before the app answers: %d delivered, outbox depth %v; want 0 and %d", unique, depth, want)
	}
	if age <= 0 {
		t.Errorf("pbxbridge_outbox_oldest_age_seconds = %v with %v queued", age, depth)
	}
	t.Logf("queued %d callbacks from %d calls in %s (%.0f/s); outbox depth %v, oldest %.1f s",
		want, calls, produced.Round(time.Millisecond), float64(want)/produced.Seconds(), depth, age)

	released := time.Now()
	sk.release()
	dctx, dcancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer dcancel()
	if err := sk.wait(dctx, want); err != nil {
		_, _, paths := sk.counts()
		t.Fatalf("after the app answers again: %v (by path %v)", err, paths)
	}
	drain := sk.lastDelivery().Sub(released)
	unique, total, _ := sk.counts()
	t.Logf("drained %d callbacks in %s: %.0f callbacks/s (16 workers, %d duplicates)",
		unique, drain.Round(time.Millisecond), float64(unique)/drain.Seconds(), total-unique)
	for depth = -1; depth != 0 && dctx.Err() == nil; time.Sleep(100 * time.Millisecond) {
		depth = b.metric(t, "pbxbridge_outbox_depth")
	}
	if depth != 0 {
		t.Errorf("outbox depth %v after every callback arrived", depth)
	}
	if n := b.metric(t, "pbxbridge_callback_dead_letters_total"); n != 0 {
		t.Errorf("%v callbacks dead-lettered", n)
	}
}

// TestDeadLetters: the application is down (connection refused) for longer than its
// callbacks' retry window (the default policy: one retry on connect failures): they are
// dead-lettered, listed by GET /v1/outbox/dead and `pbxbridge outbox list --dead`, replayed
// (one over HTTP, the rest with `pbxbridge outbox replay --dead`), and delivered.
func TestDeadLetters(t *testing.T) {
	t.Parallel()
	srv := redistest.Standalone(t)
	app, err := apptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	sk := newSink(t)
	b := startBridge(t, "  url: "+srv.URL(), app.URL+"/answer", sk.URL+"/status")
	doc, per := plivoDoc(sk.URL, 1, 2, 2, "")
	app.Document("/answer", doc)
	const calls = 3
	want := calls * per
	sk.down()
	sim := eslsim.New(eslsim.Options{})
	t.Cleanup(sim.Close)
	for i := range calls {
		ch := b.call(t, sim, fmt.Sprintf("1555040%04d", i))
		defer func() { <-ch.Done() }()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var dead []map[string]any
	for len(dead) < want && ctx.Err() == nil {
		dead = b.listDead(t)
		time.Sleep(100 * time.Millisecond)
	}
	if len(dead) != want {
		t.Fatalf("%d dead letters, want %d", len(dead), want)
	}
	for _, d := range dead {
		if d["attempts"] != float64(2) || !strings.HasPrefix(fmt.Sprint(d["url"]), sk.URL+"/") {
			t.Errorf("dead letter %v: want 2 attempts to the app", d)
		}
	}
	if n := b.metric(t, "pbxbridge_callback_dead_letters_total"); n != float64(want) {
		t.Errorf("pbxbridge_callback_dead_letters_total = %v, want %d", n, want)
	}
	if n := b.metric(t, `pbxbridge_callback_attempts_total{result="network"}`); n != float64(2*want) {
		t.Errorf(`pbxbridge_callback_attempts_total{result="network"} = %v, want %d`, n, 2*want)
	}
	if n := b.metric(t, "pbxbridge_callback_retries_total"); n != float64(want) {
		t.Errorf("pbxbridge_callback_retries_total = %v, want %d", n, want)
	}
	list := b.outboxCLI(t, "list", "--dead")
	for _, d := range dead {
		if !strings.Contains(list, fmt.Sprint(d["id"])) {
			t.Errorf("pbxbridge outbox list --dead does not show %v:\n%s", d["id"], list)
		}
	}

	sk.up(t)
	first := fmt.Sprint(dead[0]["id"])
	req, _ := http.NewRequest(http.MethodPost, b.base+"/v1/outbox/dead/"+first+"/replay", nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("replay %s: HTTP %d", first, resp.StatusCode)
	}
	if err := sk.wait(ctx, 1); err != nil {
		t.Fatalf("replayed over HTTP: %v", err)
	}
	out := b.outboxCLI(t, "replay", "--dead")
	if n := strings.Count(out, "replayed "); n != want-1 {
		t.Errorf("pbxbridge outbox replay --dead replayed %d, want %d:\n%s", n, want-1, out)
	}
	if err := sk.wait(ctx, want); err != nil {
		t.Fatalf("replayed: %v", err)
	}
	for _, d := range dead {
		if sk.delivered(fmt.Sprint(d["id"])) == 0 {
			t.Errorf("dead letter %v was not delivered with its event id", d["id"])
		}
	}
	if left := b.listDead(t); len(left) != 0 {
		t.Errorf("%d dead letters left after the replay", len(left))
	}
}

// listDead is GET /v1/outbox/dead's items.
func (b *bridge) listDead(t *testing.T) []map[string]any {
	t.Helper()
	code, body, err := b.get("/v1/outbox/dead")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /v1/outbox/dead: %d %v %s", code, err, body)
	}
	var out struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	return out.Items
}
