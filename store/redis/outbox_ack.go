package redis

import (
	"context"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Acks are committed in groups. An Ack is the outbox's most frequent write (one per delivered
// callback) and, alone, costs a round trip and a script run whose fixed cost exceeds its work.
// So Acks that arrive while ackInFlight groups are already on their way to Redis wait, and the
// next group takes all of them in one script run (ackScript), as store/local commits
// concurrent writes in one transaction. A lone Ack runs at once, in its caller's goroutine:
// no batching delay and no hand-off to another goroutine, which on a loaded machine costs
// more than the round trip it would save. When a group is answered and Acks are waiting,
// a goroutine is started to send them (only then is there anything to share). The script
// checks each entry's owner and answers each Ack on its own, so a group gives every caller
// the reply a lone Ack would have given, in arrival order.

const (
	// maxAckGroup bounds the Acks of one script run (its ARGV, and how long it holds Redis).
	maxAckGroup = 128
	// ackInFlight is how many groups may be on their way to Redis at once; later Acks wait
	// for one of them to be answered. One: the worker frees a delivery's slot before its Ack,
	// so an Ack's wait costs no throughput, while each round trip costs both sides tens of
	// microseconds of CPU. In the delivery benchmark (8 workers) one group in flight took
	// 3,000-3,500 round trips per 20,000 Acks, two took 5,300-5,500.
	ackInFlight = 1
	// ackTimeout bounds the round trip of a group that holds other callers' Acks. The
	// callers' contexts still bound their own wait.
	ackTimeout = 10 * time.Second
)

// ackScript acknowledges ARGV[2] entries given as (id, owner) pairs from ARGV[3] on, each as
// a lone Ack would: it returns one reply per pair ("ok", "notfound" or "conflict"). The calls
// with a queue that lost an entry are rescheduled once each, after all the removals.
//
// Every command is shared by the Acks (one HMGET of the states, one HDEL of the records and
// one of the states, one HDEL of the heads, one ZREM of the ready set), so that an Ack of a
// call's only entry costs no command of its own. An entry acknowledged earlier in the group
// reads as gone, as it would alone.
var ackScript = goredis.NewScript(luaPrelude + `
local n = tonumber(ARGV[2])
local ids = {}
for i = 1, n do ids[i] = ARGV[1 + i * 2] end
local ms = hmget(M, ids)
local out, calls, gone = {}, {}, {}
-- Counters, not #t: Lua 5.1's length operator searches for the table's border each time.
local dels, heads, ready, nd, nh = {}, {}, {}, 0, 0
local lastOwner, prefix, pl
for i = 1, n do
  local id, owner, s = ids[i], ARGV[2 + i * 2], ms[i]
  if gone[id] or not s then
    out[i] = 'notfound'
  else
    -- The owner is the start of the lease, L (see encodeState), when owner holds it: a plain
    -- find anchored at L's start compares it without making a substring.
    if owner ~= lastOwner then
      lastOwner, prefix = owner, #owner .. ':' .. owner
      pl = #prefix
    end
    local hl, p = match(s, '^%d+ (%d+):()')
    if not p then error('outbox state ' .. s .. ': bad encoding') end
    local q = p + tonumber(hl)
    if owner == '' or q - p < pl or find(s, prefix, p, true) ~= p then
      out[i] = 'conflict'
    else
      local cl, r = match(s, '^(%d+):()', q + 1)
      local call = sub(s, r, r + tonumber(cl) - 1)
      gone[id] = true
      nd = nd + 1
      dels[nd] = id
      if byte(s, q) == 49 then
        redis.call('ZREM', P .. 'q:' .. call, id)
        redis.call('ZREM', P .. 'l:' .. call, id)
        calls[call] = true
      else
        nh = nh + 1
        heads[nh], ready[nh] = call, id
      end
      out[i] = 'ok'
    end
  end
end
if nd > 0 then
  batch('HDEL', D, dels)
  batch('HDEL', M, dels)
  redis.call('DECRBY', P .. 'n', nd)
end
if nh > 0 then
  batch('HDEL', H, heads)
  batch('ZREM', R, ready)
end
for call in pairs(calls) do resched(call) end
return out
`)

// ackReq is one Ack waiting for its group's reply.
type ackReq struct {
	id, owner string
	done      chan error // buffered: the group's sender never waits for the caller
}

// acker holds the Acks waiting for a group (see above).
type acker struct {
	mu       sync.Mutex
	inFlight int
	waiting  []*ackReq
}

// Ack removes a delivered entry: ErrNotFound when it is not queued, ErrConflict when owner
// does not hold its lease (a lease that ran out but was not claimed again still does). It is
// committed together with the Acks of other goroutines waiting at the same moment. When ctx
// ends first, Ack returns ctx's error, and the entry may or may not have been removed (as when
// a reply is lost).
func (s *Store) Ack(ctx context.Context, id, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &ackReq{id: id, owner: owner, done: make(chan error, 1)}
	a := &s.acks
	a.mu.Lock()
	if a.inFlight < ackInFlight {
		// Send now, with whatever is waiting (nothing, unless every group was in flight
		// when it came).
		a.inFlight++
		group := append(a.take(), r)
		a.mu.Unlock()
		s.ackGroup(ctx, group)
		s.ackNext()
		return <-r.done
	}
	a.waiting = append(a.waiting, r)
	a.mu.Unlock()
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// take removes up to maxAckGroup-1 waiting Acks (room for the caller's own). Called with mu
// held.
func (a *acker) take() []*ackReq {
	n := min(len(a.waiting), maxAckGroup-1)
	group := make([]*ackReq, n, n+1)
	copy(group, a.waiting)
	a.waiting = append(a.waiting[:0], a.waiting[n:]...)
	return group
}

// ackNext is called when a group has been answered: it hands the Acks waiting meanwhile to a
// goroutine that sends them in groups until none wait, or frees the group's slot.
func (s *Store) ackNext() {
	a := &s.acks
	a.mu.Lock()
	if len(a.waiting) == 0 {
		a.inFlight--
		a.mu.Unlock()
		return
	}
	group := a.take()
	a.mu.Unlock()
	go func() {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
			s.ackGroup(ctx, group)
			cancel()
			a.mu.Lock()
			if len(a.waiting) == 0 {
				a.inFlight--
				a.mu.Unlock()
				return
			}
			group = a.take()
			a.mu.Unlock()
		}
	}()
}

// ackGroup runs ackScript for group, under ctx, and answers each request.
func (s *Store) ackGroup(ctx context.Context, group []*ackReq) {
	if len(group) > 1 {
		// Other callers' Acks ride on this one: the caller's context must not cut them short.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
		defer cancel()
	}
	res, err := s.runAck(ctx, len(group), func(i int) (string, string) { return group[i].id, group[i].owner })
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

// runAck runs ackScript for the n (id, owner) pairs that pair gives, and returns one reply per
// pair.
func (s *Store) runAck(ctx context.Context, n int, pair func(i int) (id, owner string)) ([]string, error) {
	args := make([]any, 0, 2+2*n)
	args = append(args, s.k.outboxPrefix(), n)
	for i := range n {
		id, owner := pair(i)
		args = append(args, id, owner)
	}
	res, err := ackScript.Run(ctx, s.c, []string{s.k.ready()}, args...).StringSlice()
	if err != nil {
		return nil, s.wrap(ctx, err)
	}
	if len(res) != n {
		return nil, fmt.Errorf("ack script: %d replies for %d entries", len(res), n)
	}
	return res, nil
}

// AckEach acknowledges ids for owner, each as Ack would (adapter.AckBatcher), in one script
// run per maxAckGroup of them, beside the Ack groups (the worker calls it with the callbacks it
// delivered; the engine's own Acks still go through Ack).
func (s *Store) AckEach(ctx context.Context, owner string, ids []string) ([]error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	answers := make([]error, 0, len(ids))
	for start := 0; start < len(ids); start += maxAckGroup {
		part := ids[start:min(start+maxAckGroup, len(ids))]
		res, err := s.runAck(ctx, len(part), func(i int) (string, string) { return part[i], owner })
		if err != nil {
			return nil, fmt.Errorf("store: ack: %w", err)
		}
		for i, id := range part {
			if err := ownerReply(res[i], id, owner); err != nil {
				answers = append(answers, fmt.Errorf("store: ack: %w", err))
			} else {
				answers = append(answers, nil)
			}
		}
	}
	return answers, nil
}
