package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/integration/apptest"
)

// TestDeadLetterReplay: the app's callbackUrl is down (503). The callback is retried per its
// Plivo retry fragment (#rc=1&rp=5xx: two attempts), then parked in the dead letters, which
// the operator API lists. Once the app is back, a replay delivers it with the same event id,
// so the app can tell it is the same callback (its attempt count starts again).
func TestDeadLetterReplay(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := newCall(t, "plivo")
	c.doc = `<Response><Record playBeep="false" callbackUrl="` + c.url("recorded") + `#rc=1&amp;rp=5xx&amp;tt=20000"/></Response>`
	var up atomic.Bool
	env.app.Handle(c.path("recorded"), func(apptest.Request) (int, string) {
		if up.Load() {
			return http.StatusOK, ""
		}
		return http.StatusServiceUnavailable, "down for maintenance"
	})
	c.local("s")

	first := c.wait(ctx, "recorded")
	id := first.Header.Get("X-Pbxbridge-Event-Id")
	var dead map[string]any
	for dead == nil {
		for _, d := range listDead(t) {
			if d["id"] == id {
				dead = d
			}
		}
		if dead == nil {
			select {
			case <-ctx.Done():
				t.Fatalf("callback %s never reached the dead letters", id)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	if dead["attempts"] != float64(2) || dead["kind"] != "callback" || dead["url"] != c.url("recorded") {
		t.Errorf("dead letter: %v; want 2 attempts of the callback, URL without its fragment", dead)
	}
	n := 0
	for _, r := range c.requests() {
		if r.Path == c.path("recorded") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("callbackUrl requested %d times before the dead letter, want 2 (rc=1)", n)
	}

	up.Store(true)
	replayed := time.Now()
	req, _ := http.NewRequest(http.MethodPost, env.base+"/v1/outbox/dead/"+id+"/replay", nil)
	req.Header.Set("Authorization", "Bearer "+itAPIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("replay: HTTP %d", resp.StatusCode)
	}
	got, err := env.app.Wait(ctx, func(r apptest.Request) bool {
		return r.Path == c.path("recorded") && r.At.After(replayed) && r.Header.Get("X-Pbxbridge-Event-Id") == id
	})
	if err != nil {
		t.Fatalf("replayed callback: %v", err)
	}
	if got.Get("RecordingID") != first.Get("RecordingID") {
		t.Errorf("replay carries RecordingID %q, the original %q", got.Get("RecordingID"), first.Get("RecordingID"))
	}
	for _, d := range listDead(t) {
		if d["id"] == id {
			t.Errorf("delivered callback still listed as dead")
		}
	}
}

func listDead(t *testing.T) []map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.base+"/v1/outbox/dead", nil)
	req.Header.Set("Authorization", "Bearer "+itAPIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/outbox/dead: HTTP %d, %v", resp.StatusCode, err)
	}
	return out.Items
}
