package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// RunJobs runs the conformance suite of adapter.Jobs. The factory's backends must implement
// it as well as Backend.
func RunJobs(t *testing.T, f Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness, j func() adapter.Jobs)
	}{
		{"AddClaimFinish", testJobAddClaimFinish},
		{"Conflict", testJobConflict},
		{"OwnerChecks", testJobOwnerChecks},
		{"LeaseExpiryAndExtend", testJobLeaseExpiry},
		{"ClaimOrderAndLimit", testJobClaimOrder},
		{"Restart", testJobRestart},
		{"ConcurrentClaimers", testJobConcurrentClaimers},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, f)
			jobs := func() adapter.Jobs {
				h.mu.Lock()
				defer h.mu.Unlock()
				j, ok := h.b.(adapter.Jobs)
				if !ok {
					t.Fatalf("%T does not implement adapter.Jobs", h.b)
				}
				return j
			}
			tc.fn(t, h, jobs)
		})
	}
}

func job(h *harness, id string, created time.Duration) adapter.Job {
	return adapter.Job{ID: id, Kind: "transcription", CallID: "call-" + id, Payload: []byte(`{"x":"` + id + `"}`),
		Deadline: h.at(created + time.Hour), Created: h.at(created)}
}

func jobIDs(js []adapter.Job) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.ID
	}
	return out
}

func testJobAddClaimFinish(t *testing.T, h *harness, jobs func() adapter.Jobs) {
	j := job(h, "j1", 0)
	j.Owner, j.LeaseEnd, j.Attempts = "ignored", h.at(time.Hour), 7
	ok(t, jobs().AddJob(h.ctx, j), "add")
	n, err := jobs().PendingJobs(h.ctx)
	ok(t, err, "pending")
	equal(t, n, 1, "pending after add")
	got, err := jobs().ClaimJobs(h.ctx, "w1", h.at(time.Second), time.Minute, 10)
	ok(t, err, "claim")
	want := job(h, "j1", 0)
	want.Owner, want.LeaseEnd, want.Attempts = "w1", h.at(time.Second+time.Minute), 1
	equal(t, got, []adapter.Job{want}, "claimed")
	again, err := jobs().ClaimJobs(h.ctx, "w2", h.at(2*time.Second), time.Minute, 10)
	ok(t, err, "claim again")
	equal(t, len(again), 0, "a leased job is not claimable")
	ok(t, jobs().FinishJob(h.ctx, "j1", "w1"), "finish")
	n, err = jobs().PendingJobs(h.ctx)
	ok(t, err, "pending")
	equal(t, n, 0, "pending after finish")
	isErr(t, jobs().FinishJob(h.ctx, "j1", "w1"), adapter.ErrNotFound, "finish twice")
	isErr(t, jobs().ExtendJob(h.ctx, "j1", "w1", h.at(time.Hour)), adapter.ErrNotFound, "extend finished")
}

func testJobConflict(t *testing.T, h *harness, jobs func() adapter.Jobs) {
	ok(t, jobs().AddJob(h.ctx, job(h, "j1", 0)), "add")
	isErr(t, jobs().AddJob(h.ctx, job(h, "j1", time.Second)), adapter.ErrConflict, "add the same id")
	got, err := jobs().ClaimJobs(h.ctx, "w", h.at(time.Minute), time.Minute, 10)
	ok(t, err, "claim")
	equal(t, jobIDs(got), []string{"j1"}, "one job")
	equal(t, string(got[0].Payload), `{"x":"j1"}`, "the first one's payload")
}

func testJobOwnerChecks(t *testing.T, h *harness, jobs func() adapter.Jobs) {
	ok(t, jobs().AddJob(h.ctx, job(h, "j1", 0)), "add")
	isErr(t, jobs().FinishJob(h.ctx, "j1", "w1"), adapter.ErrConflict, "finish a free job")
	isErr(t, jobs().FinishJob(h.ctx, "j1", ""), adapter.ErrConflict, "finish with no owner")
	_, err := jobs().ClaimJobs(h.ctx, "w1", h.at(0), time.Minute, 1)
	ok(t, err, "claim")
	isErr(t, jobs().FinishJob(h.ctx, "j1", "w2"), adapter.ErrConflict, "finish by another")
	isErr(t, jobs().ExtendJob(h.ctx, "j1", "w2", h.at(time.Hour)), adapter.ErrConflict, "extend by another")
	// A lease that ran out but was not claimed again is still held.
	ok(t, jobs().ExtendJob(h.ctx, "j1", "w1", h.at(time.Hour)), "extend after the lease ran out")
	ok(t, jobs().FinishJob(h.ctx, "j1", "w1"), "finish by the owner")
	isErr(t, jobs().ExtendJob(h.ctx, "nope", "w1", h.at(time.Hour)), adapter.ErrNotFound, "extend unknown")
}

func testJobLeaseExpiry(t *testing.T, h *harness, jobs func() adapter.Jobs) {
	ok(t, jobs().AddJob(h.ctx, job(h, "j1", 0)), "add")
	_, err := jobs().ClaimJobs(h.ctx, "w1", h.at(0), time.Minute, 1)
	ok(t, err, "claim")
	ok(t, jobs().ExtendJob(h.ctx, "j1", "w1", h.at(2*time.Minute)), "extend")
	got, err := jobs().ClaimJobs(h.ctx, "w2", h.at(90*time.Second), time.Minute, 1)
	ok(t, err, "claim during the extended lease")
	equal(t, len(got), 0, "extended lease holds")
	got, err = jobs().ClaimJobs(h.ctx, "w2", h.at(2*time.Minute), time.Minute, 1)
	ok(t, err, "claim at the lease end")
	equal(t, jobIDs(got), []string{"j1"}, "expired lease is claimable")
	equal(t, got[0].Attempts, 2, "attempts")
	equal(t, got[0].Owner, "w2", "new owner")
	isErr(t, jobs().FinishJob(h.ctx, "j1", "w1"), adapter.ErrConflict, "the old owner lost it")
	ok(t, jobs().FinishJob(h.ctx, "j1", "w2"), "the new owner finishes")
}

func testJobClaimOrder(t *testing.T, h *harness, jobs func() adapter.Jobs) {
	for i, d := range []time.Duration{3, 1, 4, 2, 5} {
		ok(t, jobs().AddJob(h.ctx, job(h, fmt.Sprintf("j%d", d), d*time.Millisecond)), fmt.Sprintf("add %d", i))
	}
	got, err := jobs().ClaimJobs(h.ctx, "w", h.at(time.Second), time.Minute, 2)
	ok(t, err, "claim 2")
	equal(t, jobIDs(got), []string{"j1", "j2"}, "oldest first, at most max")
	got, err = jobs().ClaimJobs(h.ctx, "w", h.at(time.Second), time.Minute, 10)
	ok(t, err, "claim the rest")
	equal(t, jobIDs(got), []string{"j3", "j4", "j5"}, "the rest in order")
	got, err = jobs().ClaimJobs(h.ctx, "w", h.at(time.Second), time.Minute, 0)
	ok(t, err, "claim 0")
	equal(t, len(got), 0, "max 0 claims nothing")
}

func testJobRestart(t *testing.T, h *harness, jobs func() adapter.Jobs) {
	ok(t, jobs().AddJob(h.ctx, job(h, "j1", 0)), "add")
	ok(t, jobs().AddJob(h.ctx, job(h, "j2", time.Millisecond)), "add")
	_, err := jobs().ClaimJobs(h.ctx, "dead", h.at(0), time.Minute, 1)
	ok(t, err, "claim")
	h.restart()
	got, err := jobs().ClaimJobs(h.ctx, "w", h.at(time.Second), time.Minute, 10)
	ok(t, err, "claim after restart")
	equal(t, jobIDs(got), []string{"j2"}, "the free job survives; the leased one waits")
	got, err = jobs().ClaimJobs(h.ctx, "w", h.at(time.Minute), time.Minute, 10)
	ok(t, err, "claim after the dead owner's lease")
	equal(t, jobIDs(got), []string{"j1"}, "the dead owner's job comes back")
	want := job(h, "j1", 0)
	want.Owner, want.LeaseEnd, want.Attempts = "w", h.at(2*time.Minute), 2
	equal(t, got[0], want, "job after restart")
}

func testJobConcurrentClaimers(t *testing.T, h *harness, jobs func() adapter.Jobs) {
	const n = 40
	for i := range n {
		ok(t, jobs().AddJob(h.ctx, job(h, fmt.Sprintf("j%02d", i), time.Duration(i)*time.Millisecond)), "add")
	}
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("w%d", w)
			for {
				got, err := jobs().ClaimJobs(h.ctx, owner, h.at(time.Second), time.Minute, 3)
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, j := range got {
					if prev, dup := seen[j.ID]; dup {
						t.Errorf("%s claimed by %s and %s", j.ID, prev, owner)
					}
					seen[j.ID] = owner
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	equal(t, len(seen), n, "every job claimed once")
}
