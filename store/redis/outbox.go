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
// store/local: only the head of each call (lowest Seq) can be claimed, and only once no entry
// of the call holds a live lease. So each call with queued entries is one member of the due
// sorted set, scored with its claimable-at: the latest of the head's NextAt and of the call's
// LeaseEnds. Claim reads the due set up to now (ZRANGEBYSCORE ... LIMIT), touching only what it
// returns however long the backlog. An in-flight call stays in the due set under its lease's
// end, which is how a crashed worker's entries come back.
//
// Every script that changes a call's head, a NextAt or a lease ends by rescheduling that call,
// inside the same script: Redis runs a script atomically, so the due set never disagrees with
// the entries. Every outbox key is in the {outbox} hash slot, because a script may only touch
// keys of one slot on a Cluster, and Claim must see the due set and the entries together.

// luaPrelude is shared by the outbox scripts. ARGV[1] is the outbox key prefix (with its hash
// tag); KEYS[1], the due set, routes the script to the slot's node. Scripts build the other
// key names from the prefix: they are all in the same slot.
//
// Scores and counts pass through the scripts as the strings Redis gave them: a Lua number
// handed to redis.call is formatted with printf's %.17g, which costs more than the command.
const luaPrelude = `
local P = ARGV[1]
local function resched(call)
  local head = redis.call('ZRANGE', P .. 'q:' .. call, 0, 0)[1]
  if not head then
    redis.call('ZREM', P .. 'due', call)
    return
  end
  local at = redis.call('HGET', P .. 'e:' .. head, 'nu')
  local l = redis.call('ZREVRANGE', P .. 'l:' .. call, 0, 0, 'WITHSCORES')
  if l[2] and tonumber(l[2]) > tonumber(at) then at = l[2] end
  redis.call('ZADD', P .. 'due', at, call)
end
local function owned(id, owner)
  local f = redis.call('HMGET', P .. 'e:' .. id, 'call', 'owner')
  if not f[1] then return nil, 'notfound' end
  if owner == '' or f[2] ~= owner then return nil, 'conflict' end
  return f[1]
end
`

// entryFields is how many ARGV Enqueue passes per entry.
const entryFields = 11

var (
	enqueueScript = goredis.NewScript(luaPrelude + `
local n = tonumber(ARGV[2])
local seen = {}
for i = 0, n - 1 do
  local id = ARGV[3 + i * 11]
  if seen[id] or redis.call('EXISTS', P .. 'e:' .. id, P .. 'x:' .. id) > 0 then return 'conflict:' .. id end
  seen[id] = true
end
local calls = {}
for i = 0, n - 1 do
  local b = 3 + i * 11
  local id, call = ARGV[b], ARGV[b + 1]
  redis.call('HSET', P .. 'e:' .. id, 'call', call, 'seq', ARGV[b + 2], 'd', ARGV[b + 3],
    'att', ARGV[b + 4], 'next', ARGV[b + 5], 'nu', ARGV[b + 6], 'owner', ARGV[b + 7],
    'lease', ARGV[b + 8], 'lu', ARGV[b + 9], 'err', ARGV[b + 10], 'dead', '')
  redis.call('ZADD', P .. 'q:' .. call, ARGV[b + 2], id)
  if ARGV[b + 7] ~= '' then redis.call('ZADD', P .. 'l:' .. call, ARGV[b + 9], id) end
  if calls[call] then calls[call] = 0 else calls[call] = b end
end
redis.call('INCRBY', P .. 'n', ARGV[2])
for call, b in pairs(calls) do
  -- The usual case: the call's only queued entry is the one just stored, so its NextAt and
  -- its own lease, if any, are all resched would read back (leased entries are queued ones).
  if b > 0 and #redis.call('ZRANGE', P .. 'q:' .. call, 0, 1) == 1 then
    local at = ARGV[b + 6]
    if ARGV[b + 7] ~= '' and tonumber(ARGV[b + 9]) > tonumber(at) then at = ARGV[b + 9] end
    redis.call('ZADD', P .. 'due', at, call)
  else
    resched(call)
  end
end
return 'ok'
`)
	// A call is in the due set up to now only when its head's NextAt and all its leases are at
	// or before now (see above), so the lease Claim gives, ending after now, is the call's
	// latest: the call is rescheduled to its end without reading the others back.
	//
	// ARGV[7] is this Claim's token, kept in each claimed entry (field ct). ARGV[8] is how many
	// earlier Claims of this owner lost their reply; (token, lease end) pairs follow. Their
	// entries, if still leased to owner under that token, are found through the due set (a
	// claimed call is scored by its lease's end) and handed out again first, with the new
	// lease and without counting another attempt (see Claim).
	claimScript = goredis.NewScript(luaPrelude + `
local out = {}
for j = 0, tonumber(ARGV[8]) - 1 do
  local tok, tlu = ARGV[9 + j * 2], ARGV[10 + j * 2]
  for _, call in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], tlu, tlu)) do
    local head = redis.call('ZRANGE', P .. 'q:' .. call, 0, 0)[1]
    if head then
      local e = P .. 'e:' .. head
      local f = redis.call('HMGET', e, 'owner', 'ct', 'd', 'att', 'next', 'err')
      if f[1] == ARGV[3] and f[2] == tok then
        redis.call('HSET', e, 'lease', ARGV[4], 'lu', ARGV[5], 'ct', ARGV[7])
        redis.call('ZADD', P .. 'l:' .. call, ARGV[5], head)
        redis.call('ZADD', KEYS[1], ARGV[5], call)
        out[#out + 1] = {f[3], f[4], f[5], ARGV[3], ARGV[4], f[6], ''}
      end
    end
  end
end
local want = tonumber(ARGV[6]) - #out
if want <= 0 then return out end
local calls = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, want)
for _, call in ipairs(calls) do
  local head = redis.call('ZRANGE', P .. 'q:' .. call, 0, 0)[1]
  if head then
    local e = P .. 'e:' .. head
    redis.call('HSET', e, 'owner', ARGV[3], 'lease', ARGV[4], 'lu', ARGV[5], 'ct', ARGV[7])
    local att = redis.call('HINCRBY', e, 'att', 1)
    redis.call('ZADD', P .. 'l:' .. call, ARGV[5], head)
    redis.call('ZADD', KEYS[1], ARGV[5], call)
    local f = redis.call('HMGET', e, 'd', 'next', 'err')
    out[#out + 1] = {f[1], att, f[2], ARGV[3], ARGV[4], f[3], ''}
  else
    redis.call('ZREM', KEYS[1], call)
  end
end
return out
`)
	retryScript = goredis.NewScript(luaPrelude + `
local id = ARGV[2]
local call, err = owned(id, ARGV[3])
if not call then return err end
redis.call('HSET', P .. 'e:' .. id, 'owner', '', 'lease', '', 'lu', '', 'next', ARGV[4], 'nu', ARGV[5], 'err', ARGV[6])
redis.call('ZREM', P .. 'l:' .. call, id)
resched(call)
return 'ok'
`)
	deadScript = goredis.NewScript(luaPrelude + `
local id = ARGV[2]
local call, err = owned(id, ARGV[3])
if not call then return err end
redis.call('ZREM', P .. 'q:' .. call, id)
redis.call('ZREM', P .. 'l:' .. call, id)
redis.call('DECR', P .. 'n')
redis.call('HSET', P .. 'e:' .. id, 'owner', '', 'lease', '', 'lu', '', 'err', ARGV[6], 'dead', ARGV[4])
redis.call('RENAME', P .. 'e:' .. id, P .. 'x:' .. id)
redis.call('ZADD', P .. 'dead', ARGV[5], id)
resched(call)
return 'ok'
`)
	replayScript = goredis.NewScript(luaPrelude + `
local id = ARGV[2]
local x = P .. 'x:' .. id
local f = redis.call('HMGET', x, 'call', 'seq')
if not f[1] then return 'notfound' end
redis.call('RENAME', x, P .. 'e:' .. id)
redis.call('HSET', P .. 'e:' .. id, 'att', 0, 'next', ARGV[3], 'nu', ARGV[4], 'dead', '', 'owner', '', 'lease', '', 'lu', '')
redis.call('ZADD', P .. 'q:' .. f[1], f[2], id)
redis.call('ZREM', P .. 'dead', id)
redis.call('INCR', P .. 'n')
resched(f[1])
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
	args := make([]any, 0, 2+len(es)*entryFields)
	args = append(args, s.k.outboxPrefix(), len(es))
	for _, e := range es {
		if err := checkEntry(e); err != nil {
			return fmt.Errorf("store: enqueue: %w", err)
		}
		if e.Created.IsZero() {
			e.Created = now
		}
		if e.Owner == "" {
			e.LeaseEnd = time.Time{}
		}
		d, err := encodeEntry(e)
		if err != nil {
			return fmt.Errorf("store: enqueue: %w", err)
		}
		lu := ""
		if e.Owner != "" {
			lu = strconv.FormatInt(micros(e.LeaseEnd), 10)
		}
		args = append(args, e.ID, e.CallID, e.Seq, d, e.Attempts, timeText(e.NextAt), micros(e.NextAt),
			e.Owner, timeText(e.LeaseEnd), lu, e.LastError)
	}
	reply, err := enqueueScript.Run(ctx, s.c, []string{s.k.due()}, args...).Text()
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
	args := make([]any, 0, 8+2*len(lost))
	args = append(args, s.k.outboxPrefix(), micros(now), owner, timeText(end), tok.lu, limit, tok.token, len(lost))
	for _, l := range lost {
		args = append(args, l.token, l.lu)
	}
	res, err := claimScript.Run(ctx, s.c, []string{s.k.due()}, args...).Slice()
	if err != nil {
		// This Claim, and the lost ones it carried, may each have run or not.
		s.putLost(owner, append(lost, tok)...)
		return nil, fmt.Errorf("store: claim: %w", s.wrap(ctx, err))
	}
	out := make([]adapter.Entry, 0, len(res))
	for _, r := range res {
		fields, _ := r.([]any)
		e, err := decodeEntryFields(fields)
		if err != nil {
			return nil, fmt.Errorf("store: claim: %w", err)
		}
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

// decodeEntryFields decodes d, att, next, owner, lease, err, dead (in that order).
func decodeEntryFields(f []any) (adapter.Entry, error) {
	if len(f) != 7 {
		return adapter.Entry{}, fmt.Errorf("outbox entry: %d fields, want 7", len(f))
	}
	str := make([]string, len(f))
	for i, v := range f {
		switch v := v.(type) {
		case string:
			str[i] = v
		case int64: // attempts, as Claim returns them
			str[i] = strconv.FormatInt(v, 10)
		}
	}
	if str[0] == "" {
		return adapter.Entry{}, fmt.Errorf("outbox entry: no record: %w", adapter.ErrNotFound)
	}
	e, err := decodeEntry([]byte(str[0]))
	if err != nil {
		return adapter.Entry{}, err
	}
	if e.Attempts, err = strconv.Atoi(str[1]); err != nil {
		return adapter.Entry{}, fmt.Errorf("outbox entry %s: attempts %q: %w", e.ID, str[1], err)
	}
	if e.NextAt, err = parseTime(str[2]); err != nil {
		return adapter.Entry{}, fmt.Errorf("outbox entry %s: %w", e.ID, err)
	}
	e.Owner = str[3]
	if e.LeaseEnd, err = parseTime(str[4]); err != nil {
		return adapter.Entry{}, fmt.Errorf("outbox entry %s: %w", e.ID, err)
	}
	e.LastError = str[5]
	if e.DeadAt, err = parseTime(str[6]); err != nil {
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
	reply, err := retryScript.Run(ctx, s.c, []string{s.k.due()},
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
	reply, err := deadScript.Run(ctx, s.c, []string{s.k.due()},
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
			cmds[i] = p.HMGet(ctx, s.k.deadEntry(id), "d", "att", "next", "owner", "lease", "err", "dead")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: list dead letters: %w", s.wrap(ctx, err))
	}
	out := make([]adapter.Entry, 0, len(ids))
	for _, c := range cmds {
		e, err := decodeEntryFields(c.Val())
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
	reply, err := replayScript.Run(ctx, s.c, []string{s.k.due()},
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
