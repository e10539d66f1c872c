package metrics_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/metrics"
	"github.com/pbxbridge/pbxbridge/store/local"
	"github.com/pbxbridge/pbxbridge/translate"
	"github.com/pbxbridge/pbxbridge/webhook"
)

var (
	_ adapter.Observer = (*metrics.Set)(nil)
	_ webhook.Observer = (*metrics.Set)(nil)
)

func scrape(t *testing.T, r *metrics.Registry) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.Write(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestTextFormat pins the exposition format: HELP and TYPE lines, labels escaped, series in
// first-seen order, cumulative histogram buckets with +Inf, _sum and _count.
func TestTextFormat(t *testing.T) {
	r := metrics.NewRegistry()
	c := r.NewCounter("x_total", "Counts x.\nTwo lines \\ here.", "a", "b")
	c.Inc("1", `q"uo\te`)
	c.Add(2.5, "1", `q"uo\te`)
	c.Inc("2", "line\nbreak")
	g := r.NewGauge("depth", "Depth.")
	g.Set(7)
	h := r.NewHistogram("lat_seconds", "Latency.", []float64{0.1, 1}, "op")
	h.Observe(0.05, "get")
	h.Observe(0.1, "get")
	h.Observe(0.5, "get")
	h.Observe(3, "get")
	want := `# HELP x_total Counts x.\nTwo lines \\ here.
# TYPE x_total counter
x_total{a="1",b="q\"uo\\te"} 3.5
x_total{a="2",b="line\nbreak"} 1
# HELP depth Depth.
# TYPE depth gauge
depth 7
# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{op="get",le="0.1"} 2
lat_seconds_bucket{op="get",le="1"} 3
lat_seconds_bucket{op="get",le="+Inf"} 4
lat_seconds_sum{op="get"} 3.65
lat_seconds_count{op="get"} 4
`
	if got := scrape(t, r); got != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", got, want)
	}
}

// TestSetOutbox: the outbox gauges are read at scrape from a real store, and every store
// operation through TimedStore lands in the latency histogram under its name.
func TestSetOutbox(t *testing.T) {
	ctx := context.Background()
	raw, err := local.Open(t.TempDir(), local.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	m := metrics.NewSet()
	st := m.TimeStore(raw)
	now := time.Now()
	m.WatchOutbox(st, time.Second, func() time.Time { return now })
	created := now.Add(-90 * time.Second)
	for i, call := range []string{"c1", "c1", "c2"} {
		e := adapter.Entry{ID: "e" + string(rune('0'+i)), CallID: call, Seq: int64(i), App: "a", Dialect: translate.Plivo,
			Kind: "callback", Method: translate.POST, URL: "http://127.0.0.1:1/x", Created: created.Add(time.Duration(i) * time.Second), NextAt: now}
		if err := st.Enqueue(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.GetCall(ctx, "nope"); err == nil {
		t.Fatal("GetCall of an unknown call succeeded")
	}
	out := scrape(t, m.Registry)
	for _, line := range []string{
		"pbxbridge_outbox_depth 3\n",
		"pbxbridge_outbox_oldest_age_seconds 90\n",
		`pbxbridge_store_operation_seconds_count{op="enqueue",result="ok"} 3` + "\n",
		`pbxbridge_store_operation_seconds_count{op="get_call",result="ok"} 1` + "\n",
		`pbxbridge_store_operation_seconds_count{op="pending",result="ok"} 1` + "\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("scrape lacks %q:\n%s", line, out)
		}
	}
	if err := st.Ping(ctx); err != nil {
		t.Errorf("embedded store ping: %v", err)
	}
}

// TestSetHooks: the observer methods move their families.
func TestSetHooks(t *testing.T) {
	m := metrics.NewSet()
	m.CallStarted("fs1", translate.FlexML)
	m.CallEnded("fs1", translate.FlexML)
	m.VerbDone("Record", adapter.VerbOK)
	m.RecordingDone(adapter.RecordingStored)
	m.StoreRetry("enqueue")
	m.Attempted(webhook.Result5xx, 20*time.Millisecond)
	m.Retried()
	m.DeadLettered()
	out := scrape(t, m.Registry)
	for _, line := range []string{
		`pbxbridge_calls_started_total{pbx="fs1",dialect="flexml"} 1`,
		`pbxbridge_calls_ended_total{pbx="fs1",dialect="flexml"} 1`,
		`pbxbridge_verbs_total{verb="Record",outcome="ok"} 1`,
		`pbxbridge_recordings_total{outcome="stored"} 1`,
		`pbxbridge_store_retries_total{op="enqueue"} 1`,
		`pbxbridge_callback_attempts_total{result="5xx"} 1`,
		`pbxbridge_callback_attempt_seconds_bucket{le="0.025"} 1`,
		`pbxbridge_callback_retries_total 1`,
		`pbxbridge_callback_dead_letters_total 1`,
	} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("scrape lacks %q:\n%s", line, out)
		}
	}
}
