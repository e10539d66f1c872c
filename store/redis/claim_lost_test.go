package redis

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/store/redis/redistest"
)

// loseReply is a go-redis hook that, while armed, lets one command run on the real server and
// then reports it failed, as a connection cut after the server ran a script but before its
// reply arrived would.
type loseReply struct{ armed atomic.Bool }

var errReplyLost = errors.New("connection reset after the command was sent (test)")

func (h *loseReply) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (h *loseReply) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}
func (h *loseReply) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		if err == nil && h.armed.CompareAndSwap(true, false) {
			cmd.SetErr(errReplyLost)
			return errReplyLost
		}
		return err
	}
}

// A Claim whose reply is lost has leased its entries and counted an attempt on each; the
// owner's next Claim hands them out again, under a new lease and with no second attempt
// counted, so they are neither stranded until the lease ends nor counted twice.
func TestClaimReplyLost(t *testing.T) {
	t.Parallel()
	srv := redistest.Standalone(t)
	s, err := Open(t.Context(), Options{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hook := &loseReply{}
	s.c.AddHook(hook)
	ctx := t.Context()
	now := time.Now().Truncate(time.Millisecond)
	var es []adapter.Entry
	for _, id := range []string{"a", "b", "c"} {
		es = append(es, adapter.Entry{ID: id, CallID: "call-" + id, Seq: 1, URL: "http://app.test/cb", NextAt: now})
	}
	es = append(es, adapter.Entry{ID: "a2", CallID: "call-a", Seq: 2, URL: "http://app.test/cb", NextAt: now})
	if err := s.Enqueue(ctx, es...); err != nil {
		t.Fatal(err)
	}

	hook.armed.Store(true)
	if got, err := s.Claim(ctx, "w1", now, time.Minute, 2); !errors.Is(err, ErrUnavailable) || len(got) != 0 {
		t.Fatalf("claim with its reply lost: %v, %v; want ErrUnavailable", got, err)
	}
	// Two of the three heads are leased to w1 now; nobody else gets them.
	if got, err := s.Claim(ctx, "w2", now.Add(time.Second), time.Minute, 10); err != nil || len(got) != 1 {
		t.Fatalf("claim by w2: %d entries, %v; want the one head left", len(got), err)
	}
	later := now.Add(2 * time.Second)
	got, err := s.Claim(ctx, "w1", later, time.Minute, 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("w1's next claim: %d entries, %v; want the 2 of the lost claim", len(got), err)
	}
	for _, e := range got {
		if e.Attempts != 1 || e.Owner != "w1" || !e.LeaseEnd.Equal(later.Add(time.Minute)) {
			t.Errorf("%s handed out again: attempts %d, owner %q, lease end %v; want 1, w1, %v",
				e.ID, e.Attempts, e.Owner, e.LeaseEnd, later.Add(time.Minute))
		}
		if err := s.Ack(ctx, e.ID, "w1"); err != nil {
			t.Errorf("ack %s: %v", e.ID, err)
		}
	}
	// Handed out once: the claim after finds only call-a's next entry, if a was acked.
	again, err := s.Claim(ctx, "w1", later, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range again {
		if e.ID != "a2" || e.Attempts != 1 {
			t.Errorf("claim after: %s attempts %d; want only a2 (attempt 1)", e.ID, e.Attempts)
		}
	}

	// A lost claim whose lease has run out is not handed out again: its entry is claimable
	// like any other, and that claim counts an attempt.
	if err := s.Enqueue(ctx, adapter.Entry{ID: "d", CallID: "call-d", Seq: 1, URL: "http://app.test/cb", NextAt: now}); err != nil {
		t.Fatal(err)
	}
	hook.armed.Store(true)
	if _, err := s.Claim(ctx, "w3", now, time.Minute, 1); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("claim with its reply lost: %v", err)
	}
	got, err = s.Claim(ctx, "w3", now.Add(2*time.Minute), time.Minute, 1)
	if err != nil || len(got) != 1 || got[0].ID != "d" || got[0].Attempts != 2 {
		t.Fatalf("claim after the lease ended: %v, %v; want d with attempt 2", got, err)
	}
}
