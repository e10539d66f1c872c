package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// How Claim finds due work without scanning the backlog (key layout in doc.go), as in
// store/local: only the head of each call (lowest Seq) can be claimable, and only once no
// entry of the call holds a live lease. The ready sorted set holds each call's head, scored
// with its claimable-at: the latest of the head's NextAt and of the call's lease ends. Claim
// reads it up to now (ZRANGEBYSCORE ... LIMIT), touching only what it returns however long the
// backlog. A claimed head stays in it, scored with its lease's end, which is how a crashed
// worker's entries come back.
//
// Each Redis command a script runs costs a microsecond or more of redis-server's CPU, and an
// outbox entry's whole life (Enqueue, Claim, Ack) is the store's hot path: one per callback.
// So a call with one queued entry, by far the usual case, is kept in the fewest keys: its
// entry's hash, its field in the head hash (call -> head id) and its member of the ready set;
// the entry's own fields hold its lease. Of its life's twelve commands, eight are shared with
// the other entries of the same script (one EXISTS, HMGET, HSET and ZADD for an Enqueue's
// entries, one ZADD for a Claim's, one DEL, HDEL and ZREM for an Ack group's), so it costs
// about four of its own: an HSET when enqueued, an HMGET and an HSET when claimed, an HMGET
// when acknowledged. Only when a second entry of the call is queued does the call get its
// queue (q:<call>, every queued entry by Seq) and its leases (l:<call>, the lease ends of its
// leased entries), and each of its entries the field m = 1: from then on every change of the
// call reschedules it from those (resched) until its last entry is gone, when the keys go with
// it.
//
// Every script that changes a head, a NextAt or a lease reschedules the call inside the same
// script: Redis runs a script atomically, so the ready set never disagrees with the entries.
// Every outbox key is in the {outbox} hash slot, because a script may only touch keys of one
// slot on a Cluster, and Claim must see the ready set and the entries together.

// luaPrelude is shared by the outbox scripts. ARGV[1] is the outbox key prefix (with its hash
// tag); KEYS[1], the ready set, routes the script to the slot's node. Scripts build the other
// key names from the prefix: they are all in the same slot.
//
// Scores and counts pass through the scripts as the strings Redis gave them where they can: a
// Lua number handed to redis.call is formatted with printf's %.17g. A hash field that is
// absent reads as false: a fresh entry is stored without its empty fields.
const luaPrelude = `
local P = ARGV[1]
local R, H = KEYS[1], P .. 'head'
-- resched sets the head of a call that has its queue (m = 1) and the head's claimable-at.
local function resched(call)
  local head = redis.call('ZRANGE', P .. 'q:' .. call, 0, 0)[1]
  local old = redis.call('HGET', H, call)
  if old and old ~= head then redis.call('ZREM', R, old) end
  if not head then
    redis.call('HDEL', H, call)
    return
  end
  if old ~= head then redis.call('HSET', H, call, head) end
  local at = redis.call('HGET', P .. 'e:' .. head, 'nu')
  local l = redis.call('ZREVRANGE', P .. 'l:' .. call, 0, 0, 'WITHSCORES')
  if l[2] and tonumber(l[2]) > tonumber(at) then at = l[2] end
  redis.call('ZADD', R, at, head)
end
-- queued gives the call its queue: its one entry, hid, goes in (and its lease if leased).
local function queued(call, hid)
  local e = P .. 'e:' .. hid
  local f = redis.call('HMGET', e, 's', 'o', 'lu', 'm')
  if f[4] == '1' then return end
  redis.call('ZADD', P .. 'q:' .. call, f[1], hid)
  if f[2] and f[2] ~= '' then redis.call('ZADD', P .. 'l:' .. call, f[3], hid) end
  redis.call('HSET', e, 'm', '1')
end
-- place makes a stored entry (not yet in any set) queued: the head of a call without entries,
-- or a member of the call's queue (the caller reschedules the call then). It returns true in
-- the second case.
local function place(id, call, seq, nu, lu)
  if redis.call('HSETNX', H, call, id) == 1 then
    if lu and tonumber(lu) > tonumber(nu) then nu = lu end
    redis.call('ZADD', R, nu, id)
    return false
  end
  queued(call, redis.call('HGET', H, call))
  redis.call('HSET', P .. 'e:' .. id, 'm', '1')
  redis.call('ZADD', P .. 'q:' .. call, seq, id)
  if lu then redis.call('ZADD', P .. 'l:' .. call, lu, id) end
  return true
end
-- unplace takes a removed (acknowledged or dead) entry out of its call: f is its call and m.
local function unplace(id, call, m)
  if m == '1' then
    redis.call('ZREM', P .. 'q:' .. call, id)
    redis.call('ZREM', P .. 'l:' .. call, id)
    return true
  end
  redis.call('HDEL', H, call)
  redis.call('ZREM', R, id)
  return false
end
-- batch runs cmd (with key, unless key is nil) over the list args, a thousand at a time (the
-- Lua stack bounds unpack), and returns the sum of the integer replies.
local function batch(cmd, key, args)
  local sum = 0
  for i = 1, #args, 1000 do
    local j = math.min(i + 999, #args)
    if key then
      sum = sum + redis.call(cmd, key, unpack(args, i, j))
    else
      sum = sum + redis.call(cmd, unpack(args, i, j))
    end
  end
  return sum
end
-- owned reads an entry's call and m, checking that owner holds its lease.
local function owned(id, owner)
  local f = redis.call('HMGET', P .. 'e:' .. id, 'c', 'o', 'm')
  if not f[1] then return nil, 'notfound' end
  if owner == '' or f[2] ~= owner then return nil, 'conflict' end
  return f[1], f[3]
end
`

// entryArgs is how many ARGV Enqueue passes per entry.
const entryArgs = 10

var (
	// ARGV[2] is the entry count; each entry is id, call, seq, d, nu, owner, lu, attempts,
	// next, err. Empty fields (all but the first five, most of the time) are not stored.
	//
	// Commands that the entries share are sent once for all of them (one EXISTS for the
	// conflicts, one HMGET and one HSET of the heads, one ZADD of the ready set), so that an
	// entry of a new call costs one command of its own, its HSET.
	enqueueScript = goredis.NewScript(luaPrelude + `
local n = tonumber(ARGV[2])
local seen, keys, calls, ci = {}, {}, {}, {}
for i = 0, n - 1 do
  local b = 3 + i * 10
  local id, call = ARGV[b], ARGV[b + 1]
  if seen[id] then return 'conflict:' .. id end
  seen[id] = true
  keys[#keys + 1] = P .. 'e:' .. id
  keys[#keys + 1] = P .. 'x:' .. id
  if not ci[call] then
    calls[#calls + 1] = call
    ci[call] = #calls
  end
end
if batch('EXISTS', nil, keys) > 0 then
  for i = 0, n - 1 do
    local id = ARGV[3 + i * 10]
    if redis.call('EXISTS', P .. 'e:' .. id, P .. 'x:' .. id) > 0 then return 'conflict:' .. id end
  end
end
local heads = {}
for i = 1, #calls, 1000 do
  local got = redis.call('HMGET', H, unpack(calls, i, math.min(i + 999, #calls)))
  for j, h in ipairs(got) do heads[calls[i + j - 1]] = h end
end
local newHeads, ready, multi = {}, {}, {}
for i = 0, n - 1 do
  local b = 3 + i * 10
  local id, call, seq, nu, owner = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 4], ARGV[b + 5]
  local h = {'d', ARGV[b + 3], 'c', call, 's', seq, 'nu', nu}
  local lu = nil
  if owner ~= '' then
    lu = ARGV[b + 6]
    h[9], h[10], h[11], h[12] = 'o', owner, 'lu', lu
  end
  if ARGV[b + 7] ~= '0' then h[#h + 1] = 'a'; h[#h + 1] = ARGV[b + 7] end
  if ARGV[b + 8] ~= '' then h[#h + 1] = 'next'; h[#h + 1] = ARGV[b + 8] end
  if ARGV[b + 9] ~= '' then h[#h + 1] = 'err'; h[#h + 1] = ARGV[b + 9] end
  local hid = heads[call]
  if not hid then
    -- The call's first entry: its head, in the fewest keys.
    heads[call] = id
    redis.call('HSET', P .. 'e:' .. id, unpack(h))
    newHeads[#newHeads + 1] = call
    newHeads[#newHeads + 1] = id
    if lu and tonumber(lu) > tonumber(nu) then nu = lu end
    ready[#ready + 1] = nu
    ready[#ready + 1] = id
  else
    h[#h + 1] = 'm'; h[#h + 1] = '1'
    redis.call('HSET', P .. 'e:' .. id, unpack(h))
    queued(call, hid)
    redis.call('ZADD', P .. 'q:' .. call, seq, id)
    if lu then redis.call('ZADD', P .. 'l:' .. call, lu, id) end
    multi[call] = true
  end
end
if #newHeads > 0 then batch('HSET', H, newHeads) end
if #ready > 0 then batch('ZADD', R, ready) end
redis.call('INCRBY', P .. 'n', ARGV[2])
for call in pairs(multi) do resched(call) end
return 'ok'
`)
	// The heads in the ready set up to now are claimable (see above), so the lease Claim gives,
	// ending after now, is the call's latest: the head is rescored to its end without reading
	// the others back.
	//
	// ARGV: 2 now, 3 owner, 4 the lease's end, 5 limit, 6 this Claim's token, kept in each
	// claimed entry (field ct), 7 how many earlier Claims of this owner lost their reply, and
	// their (token, lease end) pairs. Their entries, if still leased to owner under that token,
	// are found through the ready set (a claimed head is scored by its lease's end) and handed
	// out again first, with the new lease and without counting another attempt (see Claim).
	// The reply is flat: d, attempts, next, err for each entry.
	claimScript = goredis.NewScript(luaPrelude + `
local owner, lu, tok = ARGV[3], ARGV[4], ARGV[6]
local out = {}
for j = 0, tonumber(ARGV[7]) - 1 do
  local old, tlu = ARGV[8 + j * 2], ARGV[9 + j * 2]
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', R, tlu, tlu)) do
    local e = P .. 'e:' .. id
    local f = redis.call('HMGET', e, 'o', 'ct', 'd', 'a', 'next', 'err', 'm', 'c')
    if f[1] == owner and f[2] == old then
      redis.call('HSET', e, 'lu', lu, 'ct', tok)
      if f[7] == '1' then redis.call('ZADD', P .. 'l:' .. f[8], lu, id) end
      redis.call('ZADD', R, lu, id)
      local n = #out
      out[n + 1], out[n + 2], out[n + 3], out[n + 4] = f[3], f[4] or '0', f[5] or '', f[6] or ''
    end
  end
end
local want = tonumber(ARGV[5]) - #out / 4
if want <= 0 then return out end
local ready = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', R, '-inf', ARGV[2], 'LIMIT', 0, want)) do
  local e = P .. 'e:' .. id
  local f = redis.call('HMGET', e, 'd', 'a', 'next', 'err', 'm', 'c')
  if f[1] then
    local att = tostring((tonumber(f[2]) or 0) + 1)
    redis.call('HSET', e, 'o', owner, 'lu', lu, 'ct', tok, 'a', att)
    if f[5] == '1' then redis.call('ZADD', P .. 'l:' .. f[6], lu, id) end
    ready[#ready + 1] = lu
    ready[#ready + 1] = id
    local n = #out
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = f[1], att, f[3] or '', f[4] or ''
  else
    redis.call('ZREM', R, id)
  end
end
if #ready > 0 then batch('ZADD', R, ready) end
return out
`)
	retryScript = goredis.NewScript(luaPrelude + `
local id = ARGV[2]
local call, m = owned(id, ARGV[3])
if not call then return m end
redis.call('HSET', P .. 'e:' .. id, 'o', '', 'lu', '', 'next', ARGV[4], 'nu', ARGV[5], 'err', ARGV[6])
if m == '1' then
  redis.call('ZREM', P .. 'l:' .. call, id)
  resched(call)
else
  redis.call('ZADD', R, ARGV[5], id)
end
return 'ok'
`)
	deadScript = goredis.NewScript(luaPrelude + `
local id = ARGV[2]
local call, m = owned(id, ARGV[3])
if not call then return m end
redis.call('HSET', P .. 'e:' .. id, 'o', '', 'lu', '', 'err', ARGV[6], 'dead', ARGV[4], 'm', '')
redis.call('RENAME', P .. 'e:' .. id, P .. 'x:' .. id)
redis.call('ZADD', P .. 'dl', ARGV[5], id)
redis.call('DECR', P .. 'n')
if unplace(id, call, m) then resched(call) end
return 'ok'
`)
	replayScript = goredis.NewScript(luaPrelude + `
local id = ARGV[2]
local x = P .. 'x:' .. id
local f = redis.call('HMGET', x, 'c', 's')
if not f[1] then return 'notfound' end
redis.call('RENAME', x, P .. 'e:' .. id)
redis.call('HSET', P .. 'e:' .. id, 'a', '0', 'next', ARGV[3], 'nu', ARGV[4], 'dead', '')
redis.call('ZREM', P .. 'dl', id)
redis.call('INCR', P .. 'n')
if place(id, f[1], f[2], ARGV[4], nil) then resched(f[1]) end
return 'ok'
`)
)

func checkEntry(e adapter.Entry) error {
	if e.ID == "" {
		return errors.New("entry id is empty")
	}
	if e.CallID == "" {
		return fmt.Errorf("entry %s: call id is empty", e.ID)
	}
	if e.Owner != "" && e.LeaseEnd.IsZero() {
		return fmt.Errorf("entry %s: owner %q without a lease end", e.ID, e.Owner)
	}
	return nil
}

// Enqueue stores entries, all or none, in one script: the error wraps adapter.ErrConflict
// when an ID is already queued or dead (or given twice). An entry with Owner set is stored
// leased to that owner until its LeaseEnd. Created defaults to now.
func (s *Store) Enqueue(ctx context.Context, es ...adapter.Entry) error {
	if len(es) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now().UTC()
	args := make([]any, 0, 2+len(es)*entryArgs)
	args = append(args, s.k.outboxPrefix(), len(es))
	var buf []byte
	for _, e := range es {
		if err := checkEntry(e); err != nil {
			return fmt.Errorf("store: enqueue: %w", err)
		}
		if e.Created.IsZero() {
			e.Created = now
		}
		start := len(buf)
		buf = encodeEntry(buf, e)
		lu := ""
		if e.Owner != "" {
			lu = strconv.FormatInt(micros(e.LeaseEnd), 10)
		}
		// The records share one buffer: go-redis writes each []byte argument as it is.
		args = append(args, e.ID, e.CallID, e.Seq, buf[start:len(buf):len(buf)], micros(e.NextAt),
			e.Owner, lu, e.Attempts, timeText(e.NextAt), e.LastError)
	}
	reply, err := enqueueScript.Run(ctx, s.c, []string{s.k.ready()}, args...).Text()
	if err != nil {
		return fmt.Errorf("store: enqueue: %w", s.wrap(ctx, err))
	}
	if id, ok := strings.CutPrefix(reply, "conflict:"); ok {
		return fmt.Errorf("store: enqueue: entry %s: already in the outbox: %w", id, adapter.ErrConflict)
	}
	if reply != "ok" {
		return fmt.Errorf("store: enqueue: unexpected script reply %q", reply)
	}
	return nil
}

// Claim leases to owner, until now+lease, up to limit entries claimable at now, oldest
// claimable first, in one script; each claim counts an attempt.
//
// A Claim that fails may have run, its reply lost (a connection cut, a timeout): its entries
// are then leased to owner, with an attempt counted, and owner does not know them. So the
// Store remembers such a Claim's token, and owner's next Claim on this Store that is not
// after that lease's end hands its entries out again first, under the new lease and without
// counting another attempt (they may take it past limit). An entry that has changed hands
// since (released, acknowledged, claimed anew after its lease ran out) is not handed out.
func (s *Store) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]adapter.Entry, error) {
	if owner == "" {
		return nil, errors.New("store: claim: owner is empty")
	}
	if lease <= 0 {
		return nil, fmt.Errorf("store: claim: lease %v is not positive", lease)
	}
	if limit <= 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	end := now.Add(lease).UTC()
	tok := lostClaim{token: s.claimToken(), lu: micros(end)}
	lost := s.takeLost(owner, micros(now))
	args := make([]any, 0, 7+2*len(lost))
	args = append(args, s.k.outboxPrefix(), micros(now), owner, tok.lu, limit, tok.token, len(lost))
	for _, l := range lost {
		args = append(args, l.token, l.lu)
	}
	res, err := claimScript.Run(ctx, s.c, []string{s.k.ready()}, args...).StringSlice()
	if err != nil {
		// This Claim, and the lost ones it carried, may each have run or not.
		s.putLost(owner, append(lost, tok)...)
		return nil, fmt.Errorf("store: claim: %w", s.wrap(ctx, err))
	}
	if len(res)%4 != 0 {
		return nil, fmt.Errorf("store: claim: %d values in the script's reply, not 4 per entry", len(res))
	}
	out := make([]adapter.Entry, 0, len(res)/4)
	for i := 0; i < len(res); i += 4 {
		e, err := decodeEntryFields(res[i], res[i+1], res[i+2], res[i+3], "")
		if err != nil {
			return nil, fmt.Errorf("store: claim: %w", err)
		}
		e.Owner, e.LeaseEnd = owner, end
		out = append(out, e)
	}
	return out, nil
}

// lostClaim is a Claim whose reply was lost: its token and its lease's end (micros).
type lostClaim struct {
	token string
	lu    int64
}

// claimToken names one Claim: unique to this Store (a random prefix) and to the call.
func (s *Store) claimToken() string {
	return s.tokenPrefix + strconv.FormatUint(s.claims.Add(1), 36)
}

// takeLost removes and returns owner's lost Claims whose lease has not ended at now.
func (s *Store) takeLost(owner string, now int64) []lostClaim {
	s.lostMu.Lock()
	defer s.lostMu.Unlock()
	ls := s.lost[owner]
	delete(s.lost, owner)
	out := ls[:0]
	for _, l := range ls {
		if l.lu > now {
			out = append(out, l)
		}
	}
	return out
}

func (s *Store) putLost(owner string, ls ...lostClaim) {
	s.lostMu.Lock()
	defer s.lostMu.Unlock()
	if s.lost == nil {
		s.lost = map[string][]lostClaim{}
	}
	s.lost[owner] = append(s.lost[owner], ls...)
}

// decodeEntryFields decodes an entry from its stored fields d, a (attempts), next, err and
// dead, as the scripts return them ("" for an absent field, but for d).
func decodeEntryFields(d, att, next, lastErr, dead string) (adapter.Entry, error) {
	if d == "" {
		return adapter.Entry{}, fmt.Errorf("outbox entry: no record: %w", adapter.ErrNotFound)
	}
	e, err := decodeEntry(d)
	if err != nil {
		return adapter.Entry{}, err
	}
	if att != "" {
		if e.Attempts, err = strconv.Atoi(att); err != nil {
			return adapter.Entry{}, fmt.Errorf("outbox entry %s: attempts %q: %w", e.ID, att, err)
		}
	}
	if e.NextAt, err = parseTime(next); err != nil {
		return adapter.Entry{}, fmt.Errorf("outbox entry %s: %w", e.ID, err)
	}
	e.LastError = lastErr
	if e.DeadAt, err = parseTime(dead); err != nil {
		return adapter.Entry{}, fmt.Errorf("outbox entry %s: %w", e.ID, err)
	}
	return e, nil
}

// ownerReply turns an owner-checked script's reply into an error.
func ownerReply(reply, id, owner string) error {
	switch reply {
	case "ok":
		return nil
	case "notfound":
		return fmt.Errorf("entry %s: not queued: %w", id, adapter.ErrNotFound)
	case "conflict":
		return fmt.Errorf("entry %s: not leased to %q: %w", id, owner, adapter.ErrConflict)
	}
	return fmt.Errorf("entry %s: unexpected script reply %q", id, reply)
}

// Retry releases owner's lease and makes the entry due at next, keeping its place at the head
// of its call. Errors as Ack.
func (s *Store) Retry(ctx context.Context, id, owner string, next time.Time, lastErr string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	reply, err := retryScript.Run(ctx, s.c, []string{s.k.ready()},
		s.k.outboxPrefix(), id, owner, timeText(next), micros(next), lastErr).Text()
	if err != nil {
		return fmt.Errorf("store: retry: %w", s.wrap(ctx, err))
	}
	if err := ownerReply(reply, id, owner); err != nil {
		return fmt.Errorf("store: retry: %w", err)
	}
	return nil
}

// Dead moves an entry to the dead letters, letting its call's next entry go. Errors as Ack.
func (s *Store) Dead(ctx context.Context, id, owner string, lastErr string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now().UTC()
	reply, err := deadScript.Run(ctx, s.c, []string{s.k.ready()},
		s.k.outboxPrefix(), id, owner, timeText(now), micros(now), lastErr).Text()
	if err != nil {
		return fmt.Errorf("store: dead: %w", s.wrap(ctx, err))
	}
	if err := ownerReply(reply, id, owner); err != nil {
		return fmt.Errorf("store: dead: %w", err)
	}
	return nil
}

// ListDead lists dead letters, oldest death first, at most limit (<= 0: all).
func (s *Store) ListDead(ctx context.Context, limit int) ([]adapter.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ids, err := s.c.ZRange(ctx, s.k.dead(), 0, int64(limit)-1).Result()
	if err != nil {
		return nil, fmt.Errorf("store: list dead letters: %w", s.wrap(ctx, err))
	}
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make([]*goredis.SliceCmd, len(ids))
	_, err = s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HMGet(ctx, s.k.deadEntry(id), "d", "a", "next", "err", "dead")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: list dead letters: %w", s.wrap(ctx, err))
	}
	out := make([]adapter.Entry, 0, len(ids))
	for _, c := range cmds {
		var f [5]string
		for i, v := range c.Val() {
			if i < len(f) {
				f[i], _ = v.(string)
			}
		}
		e, err := decodeEntryFields(f[0], f[1], f[2], f[3], f[4])
		if errors.Is(err, adapter.ErrNotFound) {
			continue // replayed since it was listed
		}
		if err != nil {
			return nil, fmt.Errorf("store: list dead letters: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Replay moves a dead letter back to the queue, due now, with its attempts reset, at its Seq
// place in its call. ErrNotFound when id is not a dead letter.
func (s *Store) Replay(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now().UTC()
	reply, err := replayScript.Run(ctx, s.c, []string{s.k.ready()},
		s.k.outboxPrefix(), id, timeText(now), micros(now)).Text()
	if err != nil {
		return fmt.Errorf("store: replay: %w", s.wrap(ctx, err))
	}
	if reply == "notfound" {
		return fmt.Errorf("store: replay: dead letter %s: %w", id, adapter.ErrNotFound)
	}
	if reply != "ok" {
		return fmt.Errorf("store: replay: unexpected script reply %q", reply)
	}
	return nil
}

// Pending counts queued entries, leased or not (a counter kept by the scripts).
func (s *Store) Pending(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := s.c.Get(ctx, s.k.pending()).Int()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: pending: %w", s.wrap(ctx, err))
	}
	return n, nil
}
