package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/translate"
)

// deadLetters puts n entries in the fixture's dead letters.
func deadLetters(t *testing.T, f *fixture, ids ...string) {
	t.Helper()
	ctx := context.Background()
	for _, id := range ids {
		e := adapter.Entry{ID: id, CallID: "call-" + id, Seq: 1, App: "vm", Kind: "callback", Method: translate.POST,
			URL: "https://app.example.net/cb", Body: []byte("secret=body"), Retry: translate.DefaultRetryPolicy()}
		if err := f.st.Enqueue(ctx, e); err != nil {
			t.Fatal(err)
		}
		es, err := f.st.Claim(ctx, "w", time.Now(), time.Minute, 1)
		if err != nil || len(es) != 1 {
			t.Fatalf("claim %s: %v %v", id, es, err)
		}
		if err := f.st.Dead(ctx, id, "w", "HTTP 500"); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) post(t *testing.T, path string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.http.URL+path, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestOutboxDeadLetters(t *testing.T) {
	f := newFixture(t)
	tok := http.Header{"Authorization": {"Bearer tok"}}
	deadLetters(t, f, "e1", "e2")

	resp, _ := f.get(t, "http://bridge.test/v1/outbox/dead", nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("list without the token: %d, want 401", resp.StatusCode)
	}
	resp, _ = f.post(t, "/v1/outbox/dead/e1/replay", http.Header{"Authorization": {"Bearer nope"}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("replay with a wrong token: %d, want 401", resp.StatusCode)
	}

	resp, body := f.get(t, "http://bridge.test/v1/outbox/dead", tok)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	var list struct {
		Items []deadLetter `json:"items"`
		Count int          `json:"count"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	if list.Count != 2 || list.Items[0].ID != "e1" || list.Items[1].ID != "e2" || list.Items[0].LastError != "HTTP 500" ||
		list.Items[0].Attempts != 1 || list.Items[0].CallID != "call-e1" {
		t.Errorf("list: %+v", list)
	}
	if strings.Contains(body, "secret=body") {
		t.Errorf("the list shows a body: %s", body)
	}
	resp, body = f.get(t, "http://bridge.test/v1/outbox/dead?limit=1", tok)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"count":1`) {
		t.Errorf("list limit=1: %d %s", resp.StatusCode, body)
	}
	resp, body = f.get(t, "http://bridge.test/v1/outbox/dead?limit=0", tok)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "limit") {
		t.Errorf("list limit=0: %d %s, want 400 naming limit", resp.StatusCode, body)
	}

	resp, body = f.post(t, "/v1/outbox/dead/e1/replay", tok)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("replay: %d %s", resp.StatusCode, body)
	}
	resp, _ = f.post(t, "/v1/outbox/dead/e1/replay", tok)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("second replay: %d, want 404", resp.StatusCode)
	}
	resp, _ = f.post(t, "/v1/outbox/dead/ghost/replay", tok)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("replay of an unknown id: %d, want 404", resp.StatusCode)
	}
	n, err := f.st.Pending(context.Background())
	if err != nil || n != 1 {
		t.Errorf("pending after replay: %d %v, want 1", n, err)
	}
	dead, _ := f.st.ListDead(context.Background(), 0)
	if len(dead) != 1 || dead[0].ID != "e2" {
		t.Errorf("dead letters after replay: %v", dead)
	}
}
