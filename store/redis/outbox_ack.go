package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Acks are committed in groups. An Ack is the outbox's most frequent write (one per delivered
// callback) and, alone, costs a round trip and a script run whose fixed cost exceeds its work.
// So Ack hands its request to a flusher goroutine, which sends every Ack waiting at that moment
// in one script (ackScript), as store/local commits concurrent writes in one transaction. A
// lone Ack is sent at once (no batching delay); Acks that arrive while a group is in flight
// form the next one. The script checks each entry's owner and answers each Ack on its own, so
// a group gives every caller the reply a lone Ack would have given, in arrival order.
//
// With the worker of 8 delivering on loopback, a group holds a few Acks; the profile and
// figures are in docs/operators.md ("Outbox throughput").

const (
	// maxAckGroup bounds the Acks of one script run (its ARGV, and how long it holds Redis).
	maxAckGroup = 128
	// ackFlushers is how many groups may be in flight at once: the next group is being
	// gathered while one waits for its reply.
	ackFlushers = 2
	// ackTimeout bounds one group's round trip. The callers' contexts still bound their wait.
	ackTimeout = 10 * time.Second
)

// ackScript acknowledges ARGV[2] entries given as (id, owner) pairs from ARGV[3] on, each as
// a lone Ack would: it returns one reply per pair ("ok", "notfound" or "conflict"). The calls
// that lost an entry are rescheduled once each, after all the removals.
var ackScript = goredis.NewScript(luaPrelude + `
local n = tonumber(ARGV[2])
local out, calls, acked = {}, {}, 0
for i = 0, n - 1 do
  local id = ARGV[3 + i * 2]
  local call, err = owned(id, ARGV[4 + i * 2])
  if call then
    redis.call('DEL', P .. 'e:' .. id)
    redis.call('ZREM', P .. 'q:' .. call, id)
    redis.call('ZREM', P .. 'l:' .. call, id)
    acked = acked + 1
    calls[call] = true
    out[i + 1] = 'ok'
  else
    out[i + 1] = err
  end
end
if acked > 0 then redis.call('DECRBY', P .. 'n', acked) end
for call in pairs(calls) do resched(call) end
return out
`)

// ackReq is one Ack waiting for its group's reply.
type ackReq struct {
	id, owner string
	done      chan error // buffered: the flusher never waits for the caller
}

// Ack removes a delivered entry: ErrNotFound when it is not queued, ErrConflict when owner
// does not hold its lease (a lease that ran out but was not claimed again still does). It is
// committed together with the Acks of other goroutines that are waiting at the same moment.
// When ctx ends first, Ack returns ctx's error, and the entry may or may not have been
// removed (as when a reply is lost).
func (s *Store) Ack(ctx context.Context, id, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &ackReq{id: id, owner: owner, done: make(chan error, 1)}
	select {
	case s.acks <- r:
	case <-s.closed:
		return fmt.Errorf("store: ack: %w: store closed", ErrUnavailable)
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ackLoop is one flusher: it takes the first waiting Ack, gathers every other one already
// waiting (up to maxAckGroup), and commits them in one script run. It returns when the store
// closes, answering the Acks it already took.
func (s *Store) ackLoop() {
	defer s.flushers.Done()
	group := make([]*ackReq, 0, maxAckGroup)
	for {
		select {
		case r := <-s.acks:
			group = append(group[:0], r)
		case <-s.closed:
			return
		}
	gather:
		for len(group) < maxAckGroup {
			select {
			case r := <-s.acks:
				group = append(group, r)
			default:
				break gather
			}
		}
		s.ackGroup(group)
		clear(group)
	}
}

// ackGroup runs ackScript for group and answers each request.
func (s *Store) ackGroup(group []*ackReq) {
	ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
	defer cancel()
	args := make([]any, 0, 2+2*len(group))
	args = append(args, s.k.outboxPrefix(), len(group))
	for _, r := range group {
		args = append(args, r.id, r.owner)
	}
	res, err := ackScript.Run(ctx, s.c, []string{s.k.due()}, args...).StringSlice()
	if err == nil && len(res) != len(group) {
		err = fmt.Errorf("ack script: %d replies for %d entries", len(res), len(group))
	} else if err != nil {
		err = s.wrap(ctx, err)
	}
	for i, r := range group {
		if err != nil {
			r.done <- fmt.Errorf("store: ack: %w", err)
			continue
		}
		if rerr := ownerReply(res[i], r.id, r.owner); rerr != nil {
			r.done <- fmt.Errorf("store: ack: %w", rerr)
			continue
		}
		r.done <- nil
	}
}
