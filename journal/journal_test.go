package journal

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/translate"
	"github.com/pbxbridge/pbxbridge/webhook"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func ex(call string, i int, params url.Values) webhook.Exchange {
	return webhook.Exchange{Kind: "callback", EventID: fmt.Sprintf("ev-%s-%d", call, i), CallID: call, Attempt: 1,
		Method: "POST", URL: "http://app.example/cb", Params: params, Status: 200, Time: t0.Add(time.Duration(i) * time.Second)}
}

func TestIndexesAndOrder(t *testing.T) {
	j := New(10)
	j.Trace(adapter.TraceEvent{Kind: adapter.TraceCallStarted, CallID: "c1", Time: t0})
	j.Exchange(ex("c1", 1, url.Values{"RecordingID": {"r1"}, "RecordUrl": {"http://b/f/r1.wav"}}))
	j.Exchange(ex("c2", 2, url.Values{"RecordingSid": {"r2"}}))
	j.Trace(adapter.TraceEvent{Kind: adapter.TraceRecording, CallID: "c1", RecordingID: "r1", Time: t0.Add(3 * time.Second)})
	j.Exchange(ex("c1", 4, nil))

	got := j.Call("c1")
	if len(got) != 4 {
		t.Fatalf("call c1: %d entries, want 4", len(got))
	}
	if got[0].Event == nil || got[0].Event.Kind != adapter.TraceCallStarted || got[1].Exchange == nil ||
		got[1].RecordingID != "r1" || got[3].Exchange.EventID != "ev-c1-4" {
		t.Errorf("call c1: %+v", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq || got[i].Time().Before(got[i-1].Time()) {
			t.Errorf("entries not oldest first: %+v", got)
		}
	}
	if r := j.Recording("r1"); len(r) != 2 || r[0].Exchange == nil || r[1].Event == nil {
		t.Errorf("recording r1: %+v", r)
	}
	if r := j.Recording("r2"); len(r) != 1 || r[0].CallID != "c2" {
		t.Errorf("recording r2 (RecordingSid): %+v", r)
	}
	if j.Call("nope") != nil || j.Call("") != nil {
		t.Error("an unknown call has entries")
	}
	st := j.Stats()
	if st.Size != 10 || st.Kept != 5 || st.Evicted != 0 || !st.Oldest.Equal(t0) || st.Calls != 2 {
		t.Errorf("stats %+v", st)
	}
	// The caller owns what it got: changing it changes nothing kept.
	got[1].Exchange.Status = 500
	if j.Call("c1")[1].Exchange.Status != 200 {
		t.Error("an entry read back is shared with the journal")
	}
}

// TestEviction: the ring keeps the last Size entries; the indexes forget the evicted ones and
// drop calls and recordings that have none left.
func TestEviction(t *testing.T) {
	j := New(5)
	for i := range 12 {
		call := fmt.Sprintf("c%d", i%3)
		j.Exchange(ex(call, i, url.Values{"RecordingID": {fmt.Sprintf("r%d", i)}}))
	}
	st := j.Stats()
	if st.Kept != 5 || st.Evicted != 7 || !st.Oldest.Equal(t0.Add(7*time.Second)) {
		t.Errorf("stats %+v, want 5 kept, 7 evicted, oldest the 8th", st)
	}
	// kept: 7 (c1), 8 (c2), 9 (c0), 10 (c1), 11 (c2)
	want := map[string][]int{"c0": {9}, "c1": {7, 10}, "c2": {8, 11}}
	for call, is := range want {
		got := j.Call(call)
		if len(got) != len(is) {
			t.Fatalf("call %s: %d entries, want %d", call, len(got), len(is))
		}
		for k, i := range is {
			if got[k].Exchange.EventID != fmt.Sprintf("ev-%s-%d", call, i) {
				t.Errorf("call %s entry %d: %s", call, k, got[k].Exchange.EventID)
			}
		}
	}
	for i := range 7 {
		if r := j.Recording(fmt.Sprintf("r%d", i)); r != nil {
			t.Errorf("evicted recording r%d still indexed: %+v", i, r)
		}
	}
	if len(j.byRec) != 5 || len(j.byCall) != 3 {
		t.Errorf("index sizes: %d recordings, %d calls; want 5, 3", len(j.byRec), len(j.byCall))
	}
	// A call whose every entry is evicted leaves the index.
	for i := range 5 {
		j.Exchange(ex("c9", 20+i, nil))
	}
	if len(j.byCall) != 1 || len(j.byRec) != 0 || j.Call("c1") != nil {
		t.Errorf("after the ring turned over: calls %v, recordings %v", j.byCall, j.byRec)
	}
	if st := j.Stats(); st.Calls != 1 || st.Kept != 5 {
		t.Errorf("stats %+v", st)
	}
}

// TestRedactionKept: what the webhook client redacted stays redacted, and long values are cut.
func TestRedactionKept(t *testing.T) {
	j := New(4)
	long := strings.Repeat("é", MaxValue) // 2 bytes each: the cut must not split one
	p := url.Values{"AuthToken": {"[redacted]"}, "TranscriptionText": {long}, "RecordingID": {"r1"}}
	j.Exchange(ex("c1", 1, p))
	e := j.Call("c1")[0].Exchange
	if e.Params.Get("AuthToken") != "[redacted]" {
		t.Errorf("AuthToken = %q", e.Params.Get("AuthToken"))
	}
	tt := e.Params.Get("TranscriptionText")
	if len(tt) > MaxValue+len("…") || !strings.HasSuffix(tt, "…") || !strings.HasPrefix(tt, "éé") || strings.ContainsRune(tt, '\uFFFD') {
		t.Errorf("long value kept as %d bytes %q...", len(tt), tt[:10])
	}
	if p.Get("TranscriptionText") != long {
		t.Error("cutting changed the caller's parameters")
	}
	short := url.Values{"RecordingID": {"r2"}}
	j.Exchange(ex("c2", 2, short))
	if got := j.Call("c2")[0].Exchange.Params; fmt.Sprintf("%p", got) != fmt.Sprintf("%p", short) {
		t.Error("short parameters were copied (the hot path should not allocate for them)")
	}
}

// TestConcurrent: writers and readers at once (run with -race); every entry is accounted for.
func TestConcurrent(t *testing.T) {
	j := New(1000)
	const writers, each = 8, 2000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				call := fmt.Sprintf("c%d-%d", w, i%50)
				if i%3 == 0 {
					j.Trace(adapter.TraceEvent{Kind: adapter.TraceVerbDone, CallID: call, Time: t0})
				} else {
					j.Exchange(ex(call, i, url.Values{"RecordingID": {call}}))
				}
			}
		})
	}
	var rd sync.WaitGroup
	for r := range 3 {
		rd.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, e := range j.Call(fmt.Sprintf("c%d-%d", r, 7)) {
					if e.Exchange != nil {
						_ = e.Exchange.Params.Get("RecordingID")
					}
				}
				_ = j.Recording("c1-1")
				_ = j.Stats()
			}
		})
	}
	wg.Wait()
	close(stop)
	rd.Wait()
	st := j.Stats()
	if st.Kept != 1000 || st.Evicted != writers*each-1000 {
		t.Errorf("stats %+v", st)
	}
	n := 0
	for call := range j.byCall {
		n += len(j.Call(call))
	}
	if n != 1000 {
		t.Errorf("the call index holds %d entries, want 1000", n)
	}
}

// BenchmarkExchange is the cost the outbox hot path pays per attempt (webhook.Options.Trace)
// with a full journal evicting: reported as ns/op, serial and with every core sending.
func BenchmarkExchange(b *testing.B) {
	params := url.Values{}
	for _, k := range []string{"CallUUID", "From", "To", "CallStatus", "Direction", "RecordUrl", "RecordingDuration",
		"RecordingDurationMs", "RecordingStartMs", "RecordingEndMs", "RecordingID"} {
		params.Set(k, "0123456789abcdef0123456789")
	}
	calls := make([]string, 512)
	for i := range calls {
		calls[i] = fmt.Sprintf("call-%04d", i)
	}
	b.Run("serial", func(b *testing.B) {
		j := New(DefaultSize)
		e := ex("", 0, params)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			e.CallID = calls[i%len(calls)]
			j.Exchange(e)
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		j := New(DefaultSize)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			e := ex("", 0, params)
			i := 0
			for pb.Next() {
				e.CallID = calls[i%len(calls)]
				j.Exchange(e)
				i++
			}
		})
	})
}

// BenchmarkMemory reports the heap a full journal holds per entry (B/entry), with Plivo
// action-like exchanges (13 parameters, as the webhook client builds them: a fresh map
// each) and engine steps, one in four. Each iteration fills a journal twice over: run it
// with -benchtime 3x.
func BenchmarkMemory(b *testing.B) {
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		j := New(DefaultSize)
		for i := range 2 * DefaultSize {
			call := fmt.Sprintf("0753398e-1885-40f8-b756-%012d", i/20)
			if i%4 == 0 {
				j.Trace(adapter.TraceEvent{Kind: adapter.TraceVerbDone, CallID: call, App: "voicemail", Verb: "Record",
					Pos: "1:11", Outcome: adapter.VerbOK, Time: t0})
				continue
			}
			p := url.Values{}
			for _, k := range []string{"CallUUID", "From", "To", "CallStatus", "Direction", "RecordUrl", "Digits",
				"RecordingDuration", "RecordingDurationMs", "RecordingStartMs", "RecordingEndMs", "RecordingID", "Event"} {
				p.Set(k, fmt.Sprintf("%s-%d-0123456789abcdef", k, i))
			}
			e := ex(call, i, p)
			e.EventID = fmt.Sprintf("9c34e301-0be1-41ad-8929-%012d", i)
			j.Exchange(e)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/DefaultSize, "B/entry")
		runtime.KeepAlive(j)
	}
}

// BenchmarkDelivery is the outbox's hot path with and without the journal: one webhook
// Client posting a Plivo recording callback (13 form parameters) to a loopback app, untraced,
// and traced into a journal with the body kept unparsed (TraceLazy, as serve does) or parsed
// on the sending goroutine (eager: the form parsed into parameters, names checked for
// credentials). It reports the process's CPU per request (cpu-ns/op, the app's share
// included and the same in both), steadier than ns/op on a shared machine.
func BenchmarkDelivery(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	params, err := translate.FileCallbackParams(translate.Plivo, translate.CallParams{
		CallID: "5c1e7f2a-0b3d-4e6f-8a9b-1c2d3e4f5a6b", From: "15550100001", To: "15550109999",
		Direction: "inbound", Status: translate.CallCompleted, HangupCause: "NORMAL_CLEARING", Duration: 95 * time.Second,
	}, translate.RecordingParams{ID: "d2c4e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f", URL: "https://bridge.example.net/f/d2c4.mp3",
		Duration: 93 * time.Second, Start: time.Unix(1795284977, 0), End: time.Unix(1795285070, 0)})
	if err != nil {
		b.Fatal(err)
	}
	ct, body := params.Body()
	u, _ := url.Parse(srv.URL + "/cb")
	for _, mode := range []string{"untraced", "traced-lazy", "traced-eager", "untraced", "traced-lazy", "traced-eager"} {
		name, traced := mode, mode != "untraced"
		j := New(DefaultSize)
		o := webhook.Options{}
		if traced {
			o.Trace, o.TraceLazy = j.Exchange, mode == "traced-lazy"
		}
		b.Run(name, func(b *testing.B) {
			c := webhook.NewClient(o)
			defer c.Close()
			ctx := context.Background()
			i := 0
			cpu := cpuTime(b)
			for b.Loop() {
				i++
				r := webhook.Request{EventID: "ev-bench", CallID: fmt.Sprintf("call-%d", i%512), Kind: "callback",
					Dialect: translate.Plivo, URL: u, Body: body, BodyType: ct}
				if _, err := c.Do(ctx, r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
			if traced && j.Stats().Kept == 0 {
				b.Fatal("nothing traced")
			}
		})
	}
}

// TestLazyExchanges: with the webhook client's TraceLazy (as serve runs it) the journal
// still indexes by the body's RecordingID or RecordingSid, and what it gives back shows the
// credential-named parameters redacted.
func TestLazyExchanges(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	j := New(10)
	c := webhook.NewClient(webhook.Options{Trace: j.Exchange, TraceLazy: true})
	defer c.Close()
	u, _ := url.Parse(srv.URL + "/cb")
	for _, r := range []webhook.Request{
		{CallID: "c1", Kind: "callback", URL: u, Body: []byte("RecordingID=r-1&AuthToken=zzz&RecordUrl=http%3A%2F%2Fb%2Ff%2Fr-1"),
			BodyType: "application/x-www-form-urlencoded"},
		{CallID: "c2", Kind: "callback", URL: u, Body: []byte(`{"RecordingSid":"r-2","ApiKey":"k"}`), BodyType: "application/json"},
	} {
		if _, err := c.Do(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	for rec, secret := range map[string]string{"r-1": "AuthToken", "r-2": "ApiKey"} {
		es := j.Recording(rec)
		if len(es) != 1 || es[0].Exchange == nil {
			t.Fatalf("recording %s: %+v", rec, es)
		}
		p, _ := es[0].Exchange.Parameters()
		if p.Get(secret) != "[redacted]" || (rec == "r-1" && p.Get("RecordUrl") != "http://b/f/r-1") {
			t.Errorf("recording %s parameters %v", rec, p)
		}
	}
}
