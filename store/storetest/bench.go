package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/translate"
)

// BenchOutbox measures the outbox's throughput: entries enqueued, claimed and acknowledged
// per second, reported as the "entries/s" metric.
//
//	Serial             one goroutine: Enqueue 1, Claim 1, Ack 1
//	Batch64            one goroutine: Enqueue 64 in one call, Claim 64, Ack each
//	Workers8           8 goroutines, each: Enqueue 1, Claim up to 4, Ack what it got
//	SerialBacklog50k   Serial with 50,000 entries waiting for a retry in an hour: Claim's cost
//	                   must not depend on them
func BenchOutbox(b *testing.B, f Factory) {
	b.Run("Serial", func(b *testing.B) { benchSerial(b, newHarness(b, f), 0) })
	b.Run("Batch64", func(b *testing.B) { benchBatch(b, newHarness(b, f), 64) })
	b.Run("Workers8", func(b *testing.B) { benchWorkers(b, newHarness(b, f), 8) })
	b.Run("SerialBacklog50k", func(b *testing.B) { benchSerial(b, newHarness(b, f), 50_000) })
}

// benchBody is a typical form-encoded callback body.
var benchBody = []byte("CallUUID=3f1c2a9e-8d5b-4c67-9a1e-0b7d2f4e6a13&From=%2B15551234567&To=%2B15557654321" +
	"&RecordUrl=https%3A%2F%2Fpbx.example.net%2Ff%2F9b2e4c1a-6f3d-4e8b-a5c7-1d0e9f8b7a62" +
	"&RecordingDuration=12&RecordingDurationMs=12345&RecordingStartMs=1700000000000" +
	"&RecordingEndMs=1700000012345&RecordingID=9b2e4c1a-6f3d-4e8b-a5c7-1d0e9f8b7a62" +
	"&Digits=%23&Direction=inbound&CallStatus=in-progress&Event=Record")

func benchEntry(id, call string, seq int64, next time.Time) adapter.Entry {
	return adapter.Entry{
		ID: id, CallID: call, Seq: seq, App: "bench", Dialect: translate.Plivo, Kind: "callback",
		Method: translate.POST, URL: "https://app.example.net/recorded", Body: benchBody,
		BodyType: "application/x-www-form-urlencoded", Retry: translate.DefaultRetryPolicy(),
		NextAt: next,
	}
}

func report(b *testing.B, entries int) {
	b.ReportMetric(float64(entries)/b.Elapsed().Seconds(), "entries/s")
}

func benchSerial(b *testing.B, h *harness, backlog int) {
	if backlog > 0 {
		later := time.Now().Add(time.Hour)
		const batch = 1000
		for i := 0; i < backlog; i += batch {
			es := make([]adapter.Entry, 0, batch)
			for j := i; j < i+batch && j < backlog; j++ {
				// Ten entries per call, so the backlog has both many calls and long calls.
				es = append(es, benchEntry(fmt.Sprintf("backlog-%d", j), fmt.Sprintf("backlog-call-%d", j/10), int64(j%10), later))
			}
			if err := h.b.Enqueue(h.ctx, es...); err != nil {
				b.Fatalf("fill backlog: %v", err)
			}
		}
	}
	n := 0
	for b.Loop() {
		id := fmt.Sprintf("s-%d", n)
		if err := h.b.Enqueue(h.ctx, benchEntry(id, id, 1, time.Time{})); err != nil {
			b.Fatalf("enqueue: %v", err)
		}
		es, err := h.b.Claim(h.ctx, "w", time.Now(), time.Minute, 1)
		if err != nil || len(es) != 1 || es[0].ID != id {
			b.Fatalf("claim: %d entries, %v", len(es), err)
		}
		if err := h.b.Ack(h.ctx, id, "w"); err != nil {
			b.Fatalf("ack: %v", err)
		}
		n++
	}
	report(b, n)
}

func benchBatch(b *testing.B, h *harness, size int) {
	n := 0
	for b.Loop() {
		es := make([]adapter.Entry, size)
		for i := range es {
			id := fmt.Sprintf("b-%d", n+i)
			es[i] = benchEntry(id, id, 1, time.Time{})
		}
		if err := h.b.Enqueue(h.ctx, es...); err != nil {
			b.Fatalf("enqueue: %v", err)
		}
		got, err := h.b.Claim(h.ctx, "w", time.Now(), time.Minute, size)
		if err != nil || len(got) != size {
			b.Fatalf("claim: %d entries, %v", len(got), err)
		}
		for _, e := range got {
			if err := h.b.Ack(h.ctx, e.ID, "w"); err != nil {
				b.Fatalf("ack: %v", err)
			}
		}
		n += size
	}
	report(b, n)
}

func benchWorkers(b *testing.B, h *harness, workers int) {
	var next, acked atomic.Int64
	var failed atomic.Pointer[error]
	fail := func(err error) { failed.CompareAndSwap(nil, &err) }
	total := int64(b.N)
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range workers {
		owner := fmt.Sprintf("w%d", w)
		wg.Go(func() {
			for acked.Load() < total && failed.Load() == nil {
				if i := next.Add(1); i <= total {
					id := fmt.Sprintf("p-%d", i)
					if err := h.b.Enqueue(h.ctx, benchEntry(id, id, 1, time.Time{})); err != nil {
						fail(err)
						return
					}
				}
				es, err := h.b.Claim(h.ctx, owner, time.Now(), time.Minute, 4)
				if err != nil {
					fail(err)
					return
				}
				for _, e := range es {
					if err := h.b.Ack(h.ctx, e.ID, owner); err != nil {
						fail(err)
						return
					}
					acked.Add(1)
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatalf("worker: %v", *err)
	}
	report(b, b.N)
}
