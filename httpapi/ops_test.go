package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/metrics"
	"github.com/pbxbridge/pbxbridge/store/redis"
	"github.com/pbxbridge/pbxbridge/store/redis/redistest"
)

// TestReadyzNamesChecks: /readyz runs every check with a deadline and names, in its body,
// each one that is not ready and why; a check that hangs fails by its deadline rather than
// hanging the probe.
func TestReadyzNamesChecks(t *testing.T) {
	f := newFixture(t)
	f.srv.d.ReadyTimeout = 200 * time.Millisecond
	pbxDown := true
	f.srv.d.Checks = []Check{
		{Name: "store", Check: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
		{Name: "pbx fs1", Check: func(context.Context) error {
			if pbxDown {
				return adapter.ErrPBXDown
			}
			return nil
		}},
		{Name: "pbx ast1", Check: func(context.Context) error { return nil }},
	}
	start := time.Now()
	resp, body := f.get(t, "http://x/readyz", nil)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("readyz took %s with a hung check", took)
	}
	var got struct {
		Status   string            `json:"status"`
		NotReady map[string]string `json:"not_ready"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != 503 {
		t.Fatalf("readyz: %d %s (%v)", resp.StatusCode, body, err)
	}
	if len(got.NotReady) != 2 || !strings.Contains(got.NotReady["store"], "deadline") || got.NotReady["pbx fs1"] == "" {
		t.Errorf("not_ready = %v, want store (deadline) and pbx fs1", got.NotReady)
	}
	f.srv.d.Checks[0].Check = func(context.Context) error { return nil }
	pbxDown = false
	if resp, body := f.get(t, "http://x/readyz", nil); resp.StatusCode != 200 {
		t.Errorf("readyz when all ready: %d %s", resp.StatusCode, body)
	}
}

// TestReadyzRedis: the store check is a ping of a real Redis: killed, /readyz says 503 and
// names the store; restarted, 200 again, without restarting anything of ours.
func TestReadyzRedis(t *testing.T) {
	srv := redistest.Standalone(t)
	ctx := context.Background()
	rs, err := redis.Open(ctx, redis.Options{URL: srv.URL(), Prefix: "readyz:", DialTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	m := metrics.NewSet()
	st := m.TimeStore(rs)
	f := newFixture(t)
	f.srv.d.Checks = []Check{{Name: "store", Check: st.Ping}}
	f.srv.d.ReadyTimeout = time.Second
	if resp, body := f.get(t, "http://x/readyz", nil); resp.StatusCode != 200 {
		t.Fatalf("readyz with Redis up: %d %s", resp.StatusCode, body)
	}
	srv.Kill()
	resp, body := f.get(t, "http://x/readyz", nil)
	if resp.StatusCode != 503 || !strings.Contains(body, `"store":`) || !strings.Contains(body, "redis unavailable") {
		t.Errorf("readyz with Redis down: %d %s", resp.StatusCode, body)
	}
	srv.Restart(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, body := f.get(t, "http://x/readyz", nil)
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz after Redis restarted: %d %s", resp.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if m.StoreSeconds.Count("ping", "unavailable") == 0 || m.StoreSeconds.Count("ping", "ok") < 2 {
		t.Errorf("ping latencies: ok %d, unavailable %d", m.StoreSeconds.Count("ping", "ok"), m.StoreSeconds.Count("ping", "unavailable"))
	}
}

// TestMetricsEndpoint: /metrics serves the text format, behind the API token unless public,
// and reflects work done through the server (a file read, a dead letter replayed).
func TestMetricsEndpoint(t *testing.T) {
	f := newFixture(t)
	m := metrics.NewSet()
	st := m.TimeStore(f.st)
	m.WatchOutbox(st, time.Second, time.Now)
	f.srv.d.Store, f.srv.d.Outbox, f.srv.d.Metrics = st, st, m
	auth := http.Header{"Authorization": {"Bearer tok"}}

	if resp, _ := f.get(t, "http://x/metrics", nil); resp.StatusCode != 401 {
		t.Errorf("metrics without the token: %d, want 401", resp.StatusCode)
	}
	if resp, _ := f.get(t, f.srv.FileURL("s1", "wav"), nil); resp.StatusCode != 200 {
		t.Fatalf("file: %d", resp.StatusCode)
	}
	resp, body := f.get(t, "http://x/metrics", auth)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, line := range []string{
		`pbxbridge_store_operation_seconds_count{op="get_file",result="ok"} 1`,
		`pbxbridge_outbox_depth 0`,
		`# TYPE pbxbridge_callback_attempts_total counter`,
	} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("metrics lacks %q:\n%s", line, body)
		}
	}
	f.srv.d.MetricsPublic = true
	if resp, _ := f.get(t, "http://x/metrics", nil); resp.StatusCode != 200 {
		t.Errorf("public metrics without the token: %d", resp.StatusCode)
	}
}
