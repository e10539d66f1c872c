package storetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/translate"
)

const lease = 30 * time.Second

func sampleEntry(h *harness, id, call string, seq int64, due time.Duration) adapter.Entry {
	return adapter.Entry{
		ID:       id,
		CallID:   call,
		Seq:      seq,
		App:      "voicemail",
		Dialect:  translate.Plivo,
		Kind:     "callback",
		Method:   translate.POST,
		URL:      "https://app.example.net/recorded?call=" + call,
		Body:     []byte("CallUUID=" + call + "&RecordUrl=https%3A%2F%2Fpbx.example.net%2Ff%2F1"),
		BodyType: "application/x-www-form-urlencoded",
		Retry:    translate.DefaultRetryPolicy(),
		NextAt:   h.at(due),
		Created:  h.at(0),
	}
}

func enqueue(t *testing.T, h *harness, es ...adapter.Entry) {
	t.Helper()
	ok(t, h.b.Enqueue(h.ctx, es...), "enqueue")
}

// claim claims at base+at, leasing for lease.
func claim(t *testing.T, h *harness, owner string, at time.Duration, limit int) []adapter.Entry {
	t.Helper()
	es, err := h.b.Claim(h.ctx, owner, h.at(at), lease, limit)
	ok(t, err, "claim by "+owner)
	return es
}

func pending(t *testing.T, h *harness, want int) {
	t.Helper()
	n, err := h.b.Pending(h.ctx)
	ok(t, err, "pending")
	if n != want {
		t.Fatalf("pending = %d, want %d", n, want)
	}
}

func testOutboxClaimAck(t *testing.T, h *harness) {
	enqueue(t, h, sampleEntry(h, "e1", "A", 1, 0))
	pending(t, h, 1)

	equal(t, ids(claim(t, h, "w1", -time.Millisecond, 10)), nil, "claim before NextAt")
	es := claim(t, h, "w1", 0, 10)
	equal(t, ids(es), []string{"e1"}, "claim at NextAt")
	e := es[0]
	if e.Owner != "w1" || !e.LeaseEnd.Equal(h.at(lease)) || e.Attempts != 1 {
		t.Fatalf("claimed entry: owner %q lease end %v attempts %d, want w1, %v, 1",
			e.Owner, e.LeaseEnd, e.Attempts, h.at(lease))
	}
	equal(t, ids(claim(t, h, "w2", time.Second, 10)), nil, "claim of a leased entry")
	pending(t, h, 1)

	ok(t, h.b.Ack(h.ctx, "e1", "w1"), "ack")
	pending(t, h, 0)
	isErr(t, h.b.Ack(h.ctx, "e1", "w1"), adapter.ErrNotFound, "second ack")
	equal(t, ids(claim(t, h, "w1", time.Hour, 10)), nil, "claim after ack")
	equal(t, ids(claim(t, h, "w1", time.Hour, 0)), nil, "claim of no entries")
}

func testOutboxRoundTrip(t *testing.T, h *harness) {
	e := sampleEntry(h, "e1", "A", 7, 0)
	e.Dialect, e.Kind, e.Method = translate.FlexML, "action", translate.GET
	e.Body, e.BodyType = nil, ""
	e.Retry = translate.RetryPolicy{
		ConnectTimeout: 300 * time.Millisecond, ReadTimeout: 5 * time.Second,
		TotalTimeout: 20 * time.Second, Retries: 4, RetryOn: translate.Retry5xx | translate.RetryConnectTimeout,
		Region: "frankfurt", FromFragment: true,
	}
	e.Attempts, e.LastError = 2, "earlier failure"
	noCreated := sampleEntry(h, "e2", "B", 1, 0)
	noCreated.Created = time.Time{}
	enqueue(t, h, e, noCreated)

	es := claim(t, h, "w1", 0, 10)
	equal(t, sortedIDs(es), []string{"e1", "e2"}, "claimed")
	for _, got := range es {
		if got.ID != "e1" {
			if got.Created.IsZero() {
				t.Fatalf("Enqueue left Created zero")
			}
			continue
		}
		want := e
		want.Owner, want.LeaseEnd, want.Attempts = "w1", h.at(lease), 3
		equal(t, got, want, "claimed entry")
	}
}

func testOutboxOwnerChecks(t *testing.T, h *harness) {
	enqueue(t, h, sampleEntry(h, "e1", "A", 1, 0))
	claim(t, h, "w1", 0, 1)
	isErr(t, h.b.Ack(h.ctx, "e1", "w2"), adapter.ErrConflict, "ack by another owner")
	isErr(t, h.b.Ack(h.ctx, "e1", ""), adapter.ErrConflict, "ack by no owner")
	isErr(t, h.b.Retry(h.ctx, "e1", "w2", h.at(0), "x"), adapter.ErrConflict, "retry by another owner")
	isErr(t, h.b.Dead(h.ctx, "e1", "w2", "x"), adapter.ErrConflict, "dead by another owner")
	equal(t, ids(claim(t, h, "w2", time.Second, 1)), nil, "claim after refused calls")
	pending(t, h, 1)

	isErr(t, h.b.Ack(h.ctx, "nope", "w1"), adapter.ErrNotFound, "ack of a missing entry")
	isErr(t, h.b.Retry(h.ctx, "nope", "w1", h.at(0), "x"), adapter.ErrNotFound, "retry of a missing entry")
	isErr(t, h.b.Dead(h.ctx, "nope", "w1", "x"), adapter.ErrNotFound, "dead of a missing entry")
	ok(t, h.b.Ack(h.ctx, "e1", "w1"), "ack by the owner")

	// An unleased entry belongs to nobody.
	enqueue(t, h, sampleEntry(h, "e2", "A", 2, 0))
	isErr(t, h.b.Ack(h.ctx, "e2", "w1"), adapter.ErrConflict, "ack of an unclaimed entry")
}

func testOutboxRetry(t *testing.T, h *harness) {
	enqueue(t, h, sampleEntry(h, "e1", "A", 1, 0))
	claim(t, h, "w1", 0, 1)
	ok(t, h.b.Retry(h.ctx, "e1", "w1", h.at(10*time.Second), "HTTP 503"), "retry")
	pending(t, h, 1)
	isErr(t, h.b.Ack(h.ctx, "e1", "w1"), adapter.ErrConflict, "ack after retry released the lease")

	equal(t, ids(claim(t, h, "w2", 10*time.Second-time.Millisecond, 1)), nil, "claim before the retry is due")
	es := claim(t, h, "w2", 10*time.Second, 1)
	equal(t, ids(es), []string{"e1"}, "claim when the retry is due")
	e := es[0]
	if e.Attempts != 2 || e.LastError != "HTTP 503" || !e.NextAt.Equal(h.at(10*time.Second)) || e.Owner != "w2" {
		t.Fatalf("retried entry: attempts %d last error %q next %v owner %q", e.Attempts, e.LastError, e.NextAt, e.Owner)
	}
	ok(t, h.b.Ack(h.ctx, "e1", "w2"), "ack")
}

// A crashed worker's lease runs out and the entry comes back; the old owner then lost it.
func testOutboxLeaseExpiry(t *testing.T, h *harness) {
	enqueue(t, h, sampleEntry(h, "e1", "A", 1, 0))
	claim(t, h, "w1", 0, 1)
	equal(t, ids(claim(t, h, "w2", lease-time.Millisecond, 1)), nil, "claim before the lease ends")
	es := claim(t, h, "w2", lease, 1)
	equal(t, ids(es), []string{"e1"}, "claim when the lease ends")
	if es[0].Attempts != 2 || es[0].Owner != "w2" {
		t.Fatalf("reclaimed entry: attempts %d owner %q, want 2 and w2", es[0].Attempts, es[0].Owner)
	}
	isErr(t, h.b.Ack(h.ctx, "e1", "w1"), adapter.ErrConflict, "ack by the owner whose lease ran out")
	ok(t, h.b.Ack(h.ctx, "e1", "w2"), "ack by the new owner")

	// Ack reads no clock: a lease that ran out but was not claimed again is still its owner's.
	enqueue(t, h, sampleEntry(h, "e2", "A", 2, 0))
	claim(t, h, "w1", 0, 1)
	ok(t, h.b.Ack(h.ctx, "e2", "w1"), "late ack of an unclaimed expired lease")
	pending(t, h, 0)
}

// Only the oldest (lowest Seq) queued entry of a call is claimable, and not while the call has
// an entry in flight.
func testOutboxPerCallOrder(t *testing.T, h *harness) {
	enqueue(t, h, sampleEntry(h, "A2", "A", 2, 0))
	enqueue(t, h, sampleEntry(h, "A1", "A", 1, time.Second), sampleEntry(h, "B1", "B", 1, 0))
	enqueue(t, h, sampleEntry(h, "A3", "A", 3, 0))

	equal(t, sortedIDs(claim(t, h, "w1", 0, 10)), []string{"B1"}, "claim before A's first entry is due")
	equal(t, sortedIDs(claim(t, h, "w1", time.Second, 10)), []string{"A1"}, "claim when A1 is due")
	equal(t, ids(claim(t, h, "w2", time.Second, 10)), nil, "claim while A1 and B1 are in flight")

	// A retried head keeps its place.
	ok(t, h.b.Retry(h.ctx, "A1", "w1", h.at(2*time.Second), "HTTP 500"), "retry A1")
	equal(t, ids(claim(t, h, "w2", time.Second, 10)), nil, "claim while A1 waits for its retry")
	equal(t, ids(claim(t, h, "w2", 2*time.Second, 10)), []string{"A1"}, "claim of the retried A1")
	ok(t, h.b.Ack(h.ctx, "A1", "w2"), "ack A1")

	equal(t, ids(claim(t, h, "w1", 2*time.Second, 10)), []string{"A2"}, "claim after A1 was acked")
	ok(t, h.b.Ack(h.ctx, "A2", "w1"), "ack A2")
	equal(t, ids(claim(t, h, "w1", 2*time.Second, 10)), []string{"A3"}, "claim after A2 was acked")
	ok(t, h.b.Ack(h.ctx, "A3", "w1"), "ack A3")
	ok(t, h.b.Ack(h.ctx, "B1", "w1"), "ack B1")
	pending(t, h, 0)
}

func testOutboxClaimLimitAndDueOrder(t *testing.T, h *harness) {
	for i, due := range []time.Duration{3, 1, 4, 0, 2} {
		id := fmt.Sprintf("c%d", i)
		enqueue(t, h, sampleEntry(h, id, id, 1, due*time.Second))
	}
	equal(t, ids(claim(t, h, "w1", 10*time.Second, 2)), []string{"c3", "c1"}, "first two due")
	equal(t, ids(claim(t, h, "w1", 10*time.Second, 10)), []string{"c4", "c0", "c2"}, "the rest, in due order")
}

func testOutboxDeadAndReplay(t *testing.T, h *harness) {
	enqueue(t, h, sampleEntry(h, "A1", "A", 1, 0), sampleEntry(h, "A2", "A", 2, 0), sampleEntry(h, "B1", "B", 1, 0))
	equal(t, sortedIDs(claim(t, h, "w", 0, 10)), []string{"A1", "B1"}, "first claim")

	ok(t, h.b.Dead(h.ctx, "A1", "w", "HTTP 404"), "dead A1")
	ok(t, h.b.Dead(h.ctx, "B1", "w", "HTTP 410"), "dead B1")
	pending(t, h, 1)
	isErr(t, h.b.Ack(h.ctx, "A1", "w"), adapter.ErrNotFound, "ack of a dead letter")

	dead, err := h.b.ListDead(h.ctx, 0)
	ok(t, err, "list dead letters")
	equal(t, ids(dead), []string{"A1", "B1"}, "dead letters, oldest first")
	d := dead[0]
	if d.LastError != "HTTP 404" || d.DeadAt.IsZero() || d.Owner != "" || d.Attempts != 1 {
		t.Fatalf("dead letter: last error %q dead at %v owner %q attempts %d", d.LastError, d.DeadAt, d.Owner, d.Attempts)
	}
	dead, err = h.b.ListDead(h.ctx, 1)
	ok(t, err, "list dead letters, limit 1")
	equal(t, ids(dead), []string{"A1"}, "dead letters, limit 1")

	// A dead head lets the next entry of its call go.
	equal(t, ids(claim(t, h, "w", 0, 10)), []string{"A2"}, "claim after A1 died")

	// A replayed entry takes its Seq place again, behind the in-flight A2.
	ok(t, h.b.Replay(h.ctx, "A1"), "replay A1")
	pending(t, h, 2)
	isErr(t, h.b.Replay(h.ctx, "A1"), adapter.ErrNotFound, "replay of a queued entry")
	// (Replay makes A1 due at the backend's now, a little after the test's base time.)
	equal(t, ids(claim(t, h, "w", lease-time.Millisecond, 10)), nil, "claim while A2 is in flight")
	ok(t, h.b.Ack(h.ctx, "A2", "w"), "ack A2")
	es := claim(t, h, "w", time.Hour, 10)
	equal(t, ids(es), []string{"A1"}, "claim of the replayed A1")
	if es[0].Attempts != 1 || !es[0].DeadAt.IsZero() {
		t.Fatalf("replayed entry: attempts %d dead at %v, want 1 and zero", es[0].Attempts, es[0].DeadAt)
	}
	ok(t, h.b.Ack(h.ctx, "A1", "w"), "ack A1")

	dead, err = h.b.ListDead(h.ctx, 0)
	ok(t, err, "list dead letters")
	equal(t, ids(dead), []string{"B1"}, "dead letters after replay")
	isErr(t, h.b.Replay(h.ctx, "nope"), adapter.ErrNotFound, "replay of an unknown id")
	pending(t, h, 0)
}

func testOutboxEnqueueConflict(t *testing.T, h *harness) {
	enqueue(t, h, sampleEntry(h, "e1", "A", 1, 0))
	isErr(t, h.b.Enqueue(h.ctx, sampleEntry(h, "e2", "B", 1, 0), sampleEntry(h, "e1", "C", 1, 0)),
		adapter.ErrConflict, "enqueue of a queued id")
	isErr(t, h.b.Enqueue(h.ctx, sampleEntry(h, "e3", "B", 1, 0), sampleEntry(h, "e3", "B", 2, 0)),
		adapter.ErrConflict, "enqueue of one id twice")
	pending(t, h, 1)
	equal(t, ids(claim(t, h, "w", 0, 10)), []string{"e1"}, "a refused enqueue stores nothing")
	ok(t, h.b.Dead(h.ctx, "e1", "w", "gone"), "dead e1")
	isErr(t, h.b.Enqueue(h.ctx, sampleEntry(h, "e1", "A", 1, 0)), adapter.ErrConflict, "enqueue of a dead letter's id")
	ok(t, h.b.Enqueue(h.ctx), "enqueue of nothing")
}

// The call's goroutine enqueues a "call waits" request already leased to itself.
func testOutboxEnqueueLeased(t *testing.T, h *harness) {
	a2 := sampleEntry(h, "A2", "A", 2, 0)
	a2.Owner, a2.LeaseEnd, a2.Attempts = "call-A", h.at(time.Minute), 1
	enqueue(t, h, sampleEntry(h, "A1", "A", 1, 0), a2)
	equal(t, ids(claim(t, h, "w", 0, 10)), nil, "claim while the call's own request is in flight")
	ok(t, h.b.Ack(h.ctx, "A2", "call-A"), "ack by the call")
	equal(t, ids(claim(t, h, "w", 0, 10)), []string{"A1"}, "claim after the call's request")
	ok(t, h.b.Ack(h.ctx, "A1", "w"), "ack A1")

	// The call's goroutine died: a worker takes the request when its lease ends.
	b1 := sampleEntry(h, "B1", "B", 1, 0)
	b1.Owner, b1.LeaseEnd, b1.Attempts = "call-B", h.at(time.Minute), 1
	enqueue(t, h, b1)
	equal(t, ids(claim(t, h, "w", time.Minute-time.Millisecond, 10)), nil, "claim during the call's lease")
	es := claim(t, h, "w", time.Minute, 10)
	equal(t, ids(es), []string{"B1"}, "claim after the call's lease")
	if es[0].Attempts != 2 {
		t.Fatalf("taken-over entry: attempts %d, want 2", es[0].Attempts)
	}
	isErr(t, h.b.Ack(h.ctx, "B1", "call-B"), adapter.ErrConflict, "ack by the dead call's goroutine")

	bad := sampleEntry(h, "C1", "C", 1, 0)
	bad.Owner = "call-C"
	if err := h.b.Enqueue(h.ctx, bad); err == nil {
		t.Fatalf("enqueue with an owner and no lease end succeeded")
	}
}

// Ids, call ids, owners and errors of any bytes (spaces, digits, separators, multibyte) go
// through every step unchanged: a store may pack them together (store/redis does).
func testOutboxOddStrings(t *testing.T, h *harness) {
	const call = "call 12 | 3 \x00 ☎"
	owner, owner2 := "w 1 2 3 ", " 9"
	e1 := sampleEntry(h, "id 1 2 3 4 5", call, 1, 0)
	e1.Owner, e1.LeaseEnd, e1.Attempts, e1.LastError = owner, h.at(time.Second), 1, "first 5 6 7 \n ☎"
	e2 := sampleEntry(h, "id 2 ", call, 2, 0)
	enqueue(t, h, e1, e2)
	ok(t, h.b.Retry(h.ctx, e1.ID, owner, h.at(time.Second), "HTTP 503 1 2 3 "), "retry")
	es := claim(t, h, owner2, time.Second, 10)
	equal(t, ids(es), []string{e1.ID}, "claim after the retry")
	if got := es[0]; got.CallID != call || got.Attempts != 2 || got.LastError != "HTTP 503 1 2 3 " || got.Owner != owner2 {
		t.Fatalf("claimed: call %q attempts %d last error %q owner %q", got.CallID, got.Attempts, got.LastError, got.Owner)
	}
	ok(t, h.b.Dead(h.ctx, e1.ID, owner2, "gone 4 5 ☎ "), "dead")
	dead, err := h.b.ListDead(h.ctx, 0)
	ok(t, err, "list dead letters")
	equal(t, ids(dead), []string{e1.ID}, "dead letters")
	if d := dead[0]; d.CallID != call || d.LastError != "gone 4 5 ☎ " || d.Attempts != 2 || d.DeadAt.IsZero() {
		t.Fatalf("dead letter: call %q last error %q attempts %d dead at %v", d.CallID, d.LastError, d.Attempts, d.DeadAt)
	}
	es = claim(t, h, owner, 2*time.Second, 10)
	equal(t, ids(es), []string{e2.ID}, "claim of the next entry")
	ok(t, h.b.Replay(h.ctx, e1.ID), "replay")
	ok(t, h.b.Ack(h.ctx, e2.ID, owner), "ack")
	es = claim(t, h, owner2, time.Hour, 10)
	equal(t, ids(es), []string{e1.ID}, "claim of the replayed entry")
	if es[0].CallID != call || es[0].Attempts != 1 {
		t.Fatalf("replayed: call %q attempts %d", es[0].CallID, es[0].Attempts)
	}
	ok(t, h.b.Ack(h.ctx, e1.ID, owner2), "ack the replayed entry")
	pending(t, h, 0)
}

// Concurrent workers, each claiming in a loop: every entry is delivered exactly once, in Seq
// order within its call, never two of one call at a time.
func testOutboxConcurrentClaimers(t *testing.T, h *harness) {
	const workers, calls, perCall = 8, 25, 6
	var all []adapter.Entry
	for c := range calls {
		for s := range perCall {
			call := fmt.Sprintf("call-%02d", c)
			all = append(all, sampleEntry(h, fmt.Sprintf("%s-%d", call, s+1), call, int64(s+1), 0))
		}
	}
	enqueue(t, h, all...)

	var (
		mu        sync.Mutex
		delivered = map[string]int{}
		order     = map[string][]int64{}
		inFlight  = map[string]string{}
	)
	var wg sync.WaitGroup
	for w := range workers {
		owner := fmt.Sprintf("w%d", w)
		wg.Go(func() {
			for spins := 0; ; spins++ {
				if spins > 1_000_000 {
					t.Errorf("%s: outbox never drained", owner)
					return
				}
				es, err := h.b.Claim(h.ctx, owner, h.at(0), time.Hour, 3)
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if len(es) == 0 {
					n, err := h.b.Pending(h.ctx)
					if err != nil {
						t.Errorf("pending: %v", err)
						return
					}
					if n == 0 {
						return
					}
					runtime.Gosched() // another worker holds what is left
					continue
				}
				mu.Lock()
				for _, e := range es {
					if other, busy := inFlight[e.CallID]; busy {
						t.Errorf("%s claimed %s while %s of the same call is in flight", owner, e.ID, other)
					}
					inFlight[e.CallID] = e.ID
				}
				mu.Unlock()
				for _, e := range es {
					// Fail every third entry once: a retry must not let its successor overtake it.
					retry := e.Seq%3 == 0 && e.Attempts == 1
					mu.Lock()
					delete(inFlight, e.CallID)
					if !retry {
						delivered[e.ID]++
						order[e.CallID] = append(order[e.CallID], e.Seq)
					}
					mu.Unlock()
					if retry {
						err = h.b.Retry(h.ctx, e.ID, owner, h.at(0), "HTTP 503")
					} else {
						err = h.b.Ack(h.ctx, e.ID, owner)
					}
					if err != nil {
						t.Errorf("%s: settle %s: %v", owner, e.ID, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, e := range all {
		if delivered[e.ID] != 1 {
			t.Errorf("%s delivered %d times", e.ID, delivered[e.ID])
		}
	}
	want := make([]int64, perCall)
	for i := range want {
		want[i] = int64(i + 1)
	}
	for c, got := range order {
		equal(t, got, want, "delivery order of "+c)
	}
}

// Entries, leases, dead letters, calls and files survive a restart.
func testRestart(t *testing.T, h *harness) {
	_, err := h.b.PutCall(h.ctx, sampleCall(h, "call-1"))
	ok(t, err, "put call")
	ok(t, h.b.CreateFile(h.ctx, sampleFile(h, "f-1", "c", 42), 100), "create file")
	enqueue(t, h,
		sampleEntry(h, "A1", "A", 1, -2*time.Second), sampleEntry(h, "A2", "A", 2, 0),
		sampleEntry(h, "B1", "B", 1, -time.Second), sampleEntry(h, "C1", "C", 1, 0))
	equal(t, ids(claim(t, h, "w1", 0, 1)), []string{"A1"}, "claim before restart")
	equal(t, ids(claim(t, h, "w1", 0, 2)), []string{"B1", "C1"}, "second claim before restart")
	ok(t, h.b.Retry(h.ctx, "B1", "w1", h.at(0), "HTTP 502"), "retry B1")
	ok(t, h.b.Dead(h.ctx, "C1", "w1", "HTTP 404"), "dead C1")

	h.restart()

	pending(t, h, 3)
	_, err = h.b.GetCall(h.ctx, "call-1")
	ok(t, err, "call after restart")
	_, err = h.b.GetFile(h.ctx, "f-1")
	ok(t, err, "file after restart")
	usage(t, h, "c", 42)
	dead, err := h.b.ListDead(h.ctx, 0)
	ok(t, err, "list dead letters")
	equal(t, ids(dead), []string{"C1"}, "dead letters after restart")

	es := claim(t, h, "w2", 0, 10)
	equal(t, ids(es), []string{"B1"}, "claim after restart (A1 still leased, A2 behind it)")
	if es[0].LastError != "HTTP 502" || es[0].Attempts != 2 {
		t.Fatalf("B1 after restart: last error %q attempts %d", es[0].LastError, es[0].Attempts)
	}
	ok(t, h.b.Ack(h.ctx, "A1", "w1"), "ack of a lease taken before the restart")
	equal(t, ids(claim(t, h, "w2", 0, 10)), []string{"A2"}, "claim after A1 was acked")
	ok(t, h.b.Ack(h.ctx, "A2", "w2"), "ack A2")
	ok(t, h.b.Ack(h.ctx, "B1", "w2"), "ack B1")

	h.restart()
	pending(t, h, 0)
	equal(t, ids(claim(t, h, "w3", time.Hour, 10)), nil, "claim after the last restart")
}

func testContextCancelled(t *testing.T, h *harness) {
	ctx, cancel := context.WithCancel(h.ctx)
	cancel()
	_, err := h.b.GetCall(ctx, "call-1")
	isErr(t, err, context.Canceled, "get call")
	_, err = h.b.PutCall(ctx, sampleCall(h, "call-1"))
	isErr(t, err, context.Canceled, "put call")
	isErr(t, h.b.Enqueue(ctx, sampleEntry(h, "e1", "A", 1, 0)), context.Canceled, "enqueue")
	_, err = h.b.Claim(ctx, "w", h.at(0), lease, 1)
	isErr(t, err, context.Canceled, "claim")
	pending(t, h, 0)
	_, err = h.b.GetCall(h.ctx, "call-1")
	isErr(t, err, adapter.ErrNotFound, "a cancelled put stores nothing")
}

// Concurrent Acks (which a store may commit together) each get the answer a lone Ack would:
// the owner's Ack removes its entry and lets its call's next entry go, a second Ack of the
// same entry finds it gone, and an Ack by another owner conflicts and removes nothing.
func testOutboxConcurrentAcks(t *testing.T, h *harness) {
	const calls = 40
	var all []adapter.Entry
	for c := range calls {
		call := fmt.Sprintf("call-%02d", c)
		all = append(all, sampleEntry(h, call+"-1", call, 1, 0), sampleEntry(h, call+"-2", call, 2, 0))
	}
	enqueue(t, h, all...)
	es := claim(t, h, "w1", 0, calls)
	equal(t, len(es), calls, "claimed heads")

	type result struct {
		id, owner string
		err       error
	}
	results := make(chan result, 3*calls)
	var wg sync.WaitGroup
	for _, e := range es {
		for _, owner := range []string{"w1", "w1", "w2"} {
			wg.Go(func() { results <- result{e.ID, owner, h.b.Ack(h.ctx, e.ID, owner)} })
		}
	}
	wg.Wait()
	close(results)
	acked := map[string]int{}
	for r := range results {
		switch {
		case r.owner == "w2":
			// Before w1's Ack the lease is w1's; after it the entry is gone.
			if !errorsIsAny(r.err, adapter.ErrConflict, adapter.ErrNotFound) {
				t.Errorf("ack of %s by w2: %v, want ErrConflict or ErrNotFound", r.id, r.err)
			}
		case r.err == nil:
			acked[r.id]++
		default:
			isErr(t, r.err, adapter.ErrNotFound, "second ack of "+r.id)
		}
	}
	for _, e := range es {
		if acked[e.ID] != 1 {
			t.Errorf("%s acknowledged %d times, want once", e.ID, acked[e.ID])
		}
	}
	pending(t, h, calls)
	next := claim(t, h, "w3", 0, 2*calls)
	equal(t, len(next), calls, "second entries claimable after the acks")
	for _, e := range next {
		if e.Seq != 2 || e.Attempts != 1 {
			t.Errorf("claimed %s seq %d attempts %d, want seq 2, attempt 1", e.ID, e.Seq, e.Attempts)
		}
	}
}

func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// AckEach (adapter.AckBatcher, which both stores implement) answers each id as a lone Ack
// would: the owner's entries go (and their calls' next entries with them), an id not queued or
// given twice is not found, another owner's entry conflicts and stays.
func testOutboxAckEach(t *testing.T, h *harness) {
	ab, isBatcher := h.b.(adapter.AckBatcher)
	if !isBatcher {
		t.Fatalf("%T does not implement adapter.AckBatcher", h.b)
	}
	enqueue(t, h, sampleEntry(h, "A1", "A", 1, 0), sampleEntry(h, "A2", "A", 2, 0),
		sampleEntry(h, "B1", "B", 1, 0), sampleEntry(h, "C1", "C", 1, 0))
	equal(t, sortedIDs(claim(t, h, "w1", 0, 2)), []string{"A1", "B1"}, "claim by w1")
	equal(t, ids(claim(t, h, "w2", 0, 10)), []string{"C1"}, "claim by w2")

	answers, err := ab.AckEach(h.ctx, "w1", []string{"A1", "nope", "C1", "B1", "A1"})
	ok(t, err, "ack each")
	if len(answers) != 5 {
		t.Fatalf("%d answers for 5 ids", len(answers))
	}
	ok(t, answers[0], "answer for A1")
	isErr(t, answers[1], adapter.ErrNotFound, "answer for an unknown id")
	isErr(t, answers[2], adapter.ErrConflict, "answer for another owner's entry")
	ok(t, answers[3], "answer for B1")
	isErr(t, answers[4], adapter.ErrNotFound, "answer for A1 given twice")
	pending(t, h, 2)
	equal(t, ids(claim(t, h, "w1", 0, 10)), []string{"A2"}, "claim after A1 was acked: its call's next")
	ok(t, h.b.Ack(h.ctx, "C1", "w2"), "C1 is still w2's")
	answers, err = ab.AckEach(h.ctx, "w1", nil)
	ok(t, err, "ack each of nothing")
	equal(t, len(answers), 0, "answers for nothing")
}
