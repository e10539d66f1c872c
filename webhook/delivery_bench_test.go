package webhook_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/store/local"
	"github.com/pbxbridge/pbxbridge/store/redis"
	"github.com/pbxbridge/pbxbridge/store/redis/redistest"
	"github.com/pbxbridge/pbxbridge/translate"
	"github.com/pbxbridge/pbxbridge/webhook"
)

// BenchmarkDelivery is the outbox's end-to-end rate (issue 5, "Must show"): callbacks per
// second from Enqueue to the acknowledged 2xx of a loopback application, through a Worker of 8
// on each store, beside the raw rate of the same Client posting the same requests from 8
// goroutines, measured in one run. Compare the "callbacks/s" figures:
//
//	go test ./webhook -run '^$' -bench Delivery -benchtime 5000x
func BenchmarkDelivery(b *testing.B) {
	var got atomic.Int64
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got.Add(1)
	}))
	defer app.Close()
	body := []byte("CallUUID=5c1e7f2a-0b3d-4e6f-8a9b-1c2d3e4f5a6b&From=15550100001&To=15550109999" +
		"&RecordUrl=https%3A%2F%2Fbridge.example.net%2Ff%2Fd2c4.mp3&RecordingDuration=93&Event=Record")
	entry := func(i int) adapter.Entry {
		id := fmt.Sprintf("bench-%d", i)
		return adapter.Entry{ID: id, CallID: id, Seq: 1, App: "bench", Dialect: translate.Plivo, Kind: "callback",
			Method: translate.POST, URL: app.URL + "/cb", Body: body, BodyType: "application/x-www-form-urlencoded",
			Retry: translate.DefaultRetryPolicy()}
	}

	b.Run("raw-client", func(b *testing.B) {
		c := webhook.NewClient(webhook.Options{})
		defer c.Close()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for i := int(next.Add(1)); i <= b.N; i = int(next.Add(1)) {
					r, err := c.EntryRequest(entry(i))
					if err == nil {
						_, err = c.Do(b.Context(), r)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "callbacks/s")
	})
	run := func(b *testing.B, ob adapter.Outbox) {
		c := webhook.NewClient(webhook.Options{})
		defer c.Close()
		w, err := webhook.NewWorker(webhook.WorkerOptions{Outbox: ob, Client: c, Workers: 8, Poll: 5 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		got.Store(0)
		b.ResetTimer()
		w.Start()
		const batch = 100
		for i := 0; i < b.N; i += batch {
			es := make([]adapter.Entry, 0, batch)
			for j := i; j < min(i+batch, b.N); j++ {
				es = append(es, entry(j))
			}
			if err := ob.Enqueue(b.Context(), es...); err != nil {
				b.Fatal(err)
			}
			w.Wake()
		}
		for {
			n, err := ob.Pending(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			if n == 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		if err := w.Stop(b.Context()); err != nil {
			b.Fatal(err)
		}
		if got.Load() < int64(b.N) {
			b.Fatalf("the app got %d of %d callbacks", got.Load(), b.N)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "callbacks/s")
	}
	b.Run("outbox-local", func(b *testing.B) {
		st, err := local.Open(b.TempDir(), local.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		run(b, st)
	})
	b.Run("outbox-redis", func(b *testing.B) {
		s := redistest.Standalone(b)
		st, err := redis.Open(b.Context(), redis.Options{URL: s.URL()})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		run(b, st)
	})
}
