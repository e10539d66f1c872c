package esl

import (
	"container/heap"
	"strconv"
	"sync"
	"time"
)

// event is one FreeSWITCH event, decoded: header names as FreeSWITCH wrote them, values
// URL-decoded (eslgo's GetHeader does that). It never holds an eslgo type.
type event struct {
	Name string
	Seq  uint64
	At   time.Time // Event-Date-Timestamp
	h    map[string]string
}

func (e *event) get(k string) string { return e.h[k] }

// reorder puts events back in Event-Sequence order. eslgo runs every listener call in its own
// goroutine, so two events of one call can reach us swapped. Each event waits hold after it
// arrived; within that window a lower sequence number goes first. An outbound socket sees
// only its channel's events, so sequence gaps are normal and never waited for.
type reorder struct {
	hold time.Duration
	out  func(*event)

	mu      sync.Mutex
	pending evHeap
	last    uint64
	timer   *time.Timer
	closed  bool
}

func newReorder(hold time.Duration, out func(*event)) *reorder {
	return &reorder{hold: hold, out: out}
}

type held struct {
	ev  *event
	due time.Time
}

type evHeap []held

func (h evHeap) Len() int           { return len(h) }
func (h evHeap) Less(i, j int) bool { return h[i].ev.Seq < h[j].ev.Seq }
func (h evHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *evHeap) Push(x any)        { *h = append(*h, x.(held)) }
func (h *evHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// push is called from eslgo's listener goroutines.
func (r *reorder) push(e *event) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	heap.Push(&r.pending, held{ev: e, due: time.Now().Add(r.hold)})
	r.mu.Unlock()
	r.release()
}

// release hands out, in order, every event whose hold has passed (and any lower-numbered
// event waiting behind it), then arms a timer for the next.
func (r *reorder) release() {
	for {
		r.mu.Lock()
		if r.closed || len(r.pending) == 0 {
			r.mu.Unlock()
			return
		}
		now := time.Now()
		// the lowest goes out once any pending event's hold has passed: nothing lower than
		// the lowest can still be on its way if a later one has waited a full hold
		ready := false
		var next time.Time
		for _, p := range r.pending {
			if !p.due.After(now) {
				ready = true
				break
			}
			if next.IsZero() || p.due.Before(next) {
				next = p.due
			}
		}
		if !ready {
			if r.timer == nil {
				r.timer = time.AfterFunc(next.Sub(now), func() {
					r.mu.Lock()
					r.timer = nil
					r.mu.Unlock()
					r.release()
				})
			}
			r.mu.Unlock()
			return
		}
		p := heap.Pop(&r.pending).(held)
		if p.ev.Seq > r.last {
			r.last = p.ev.Seq
		}
		// out is called under mu so that two releasers never interleave deliveries
		r.out(p.ev)
		r.mu.Unlock()
	}
}

func (r *reorder) close() {
	r.mu.Lock()
	r.closed = true
	if r.timer != nil {
		r.timer.Stop()
	}
	r.mu.Unlock()
}

func parseSeq(s string) uint64 {
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

func parseMicros(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.UnixMicro(n)
}
