package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/store/redis/redistest"
	"github.com/pbxbridge/pbxbridge/translate"
)

func TestOutboxCommandEmbedded(t *testing.T) {
	testOutboxCommand(t, fmt.Sprintf("data_dir: %s\n", t.TempDir()))
}

func TestOutboxCommandRedis(t *testing.T) {
	s := redistest.Standalone(t)
	testOutboxCommand(t, fmt.Sprintf("data_dir: %s\nstore: {url: '%s', prefix: 'cli:'}\n", t.TempDir(), s.URL()))
}

// testOutboxCommand runs list and replay against the store a configuration names, with two
// dead letters and one queued entry in it.
func testOutboxCommand(t *testing.T, yaml string) {
	path := writeDoc(t, "pbxbridge.yaml", yaml)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := openStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	entry := func(id string) adapter.Entry {
		return adapter.Entry{ID: id, CallID: "call-" + id, Seq: 1, Kind: "callback", Method: translate.POST,
			URL: "https://app.example.net/cb", Retry: translate.DefaultRetryPolicy()}
	}
	for _, id := range []string{"d1", "d2"} {
		if err := st.Enqueue(ctx, entry(id)); err != nil {
			t.Fatal(err)
		}
		if es, err := st.Claim(ctx, "w", time.Now(), time.Minute, 1); err != nil || len(es) != 1 {
			t.Fatalf("claim: %v %v", es, err)
		}
		if err := st.Dead(ctx, id, "w", "HTTP 503\nService Unavailable"); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Enqueue(ctx, entry("q1")); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"outbox", "list", "--config", path}, 0, "1 callbacks waiting", ""},
		{[]string{"outbox", "list", "--dead", "--config", path}, 0, "HTTP 503 Service Unavailable", ""},
		{[]string{"outbox", "replay", "--config", path, "d1"}, 0, "replayed d1", ""},
		{[]string{"outbox", "replay", "--config", path, "d1"}, 1, "", "d1"},
		{[]string{"outbox", "list", "--config", path}, 0, "2 callbacks waiting", ""},
		{[]string{"outbox", "replay", "--dead", "--config", path}, 0, "replayed d2", ""},
		{[]string{"outbox", "list", "--dead", "--config", path}, 0, "ID", ""},
		{[]string{"outbox", "list", "--config", path}, 0, "3 callbacks waiting", ""},
		{[]string{"outbox", "replay", "--config", path}, 2, "", "either --dead or IDs"},
		{[]string{"outbox", "list", "--config", path, "x"}, 2, "", "takes no ID"},
		{[]string{"outbox", "purge"}, 2, "", "usage"},
	} {
		code, out, errs := runCmd("", tc.args...)
		if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errs, tc.err) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d, %q, %q", tc.args, code, out, errs, tc.code, tc.out, tc.err)
		}
	}
	code, out, _ := runCmd("", "outbox", "list", "--dead", "--config", path)
	if code != 0 || strings.Contains(out, "d1") || strings.Contains(out, "d2") {
		t.Errorf("dead letters after replaying all: %q", out)
	}
}
