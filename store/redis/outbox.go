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
// So an entry has no key of its own: it is a field of the record hash d and one of the state
// hash m, and a call with one queued entry, by far the usual case, adds only its field in the
// head hash (call -> head id) and its member of the ready set. Every command of such an
// entry's life is shared with the other entries of the same script: an Enqueue's entries
// share one HMGET of m (and of xm, when there are dead letters) for the conflicts and one of
// the heads, one HSET of d, m and the heads and one ZADD; a Claim's one HMGET of d and m, one HSET of m and one ZADD; an Ack group's one
// HMGET of m, one HDEL of d, m and the heads and one ZREM. What is left per entry is Lua's
// handling of its arguments and its state (a pattern match and a substring or two: see
// encodeState). Only when a second entry of the call is queued does the call get its queue
// (q:<call>, every queued entry by Seq) and its leases (l:<call>, the lease ends of its
// leased entries), and each of its entries m = 1 in its state: from then on every change of
// the call reschedules it from those (resched) until its last entry is gone, when the keys go
// with it.
//
// Every script that changes a head, a NextAt or a lease reschedules the call inside the same
// script: Redis runs a script atomically, so the ready set never disagrees with the entries.
// Every outbox key is in the {outbox} hash slot, because a script may only touch keys of one
// slot on a Cluster, and Claim must see the ready set and the entries together.

// luaPrelude is shared by the outbox scripts. ARGV[1] is the outbox key prefix (with its hash
// tag); KEYS[1], the ready set, routes the script to the slot's node. Scripts build the other
// key names from the prefix: they are all in the same slot.
//
// An entry is two fields, both named by its id: its immutable record in the hash D, its
// mutable state in the hash M (see encodeState for the state's format, which dec and enc
// read and write). A dead letter is the same two fields in X and XM.
//
// Scores and counts pass through the scripts as the strings Redis gave them where they can: a
// Lua number handed to redis.call is formatted with printf's %.17g.
const luaPrelude = `
local P = ARGV[1]
local R, H = KEYS[1], P .. 'head'
local D, M, X, XM = P .. 'd', P .. 'm', P .. 'x', P .. 'xm'
local sub, match, byte, find = string.sub, string.match, string.byte, string.find
-- A state (encodeState in Go) is: attempts ' ' #L ':' L, m, #c ':' c, seq ' ' nu ' ' #next ':'
-- next, #dead ':' dead, err; L, the lease, is empty or #o ':' o lu ' ' ct. The hot paths
-- (Claim, Ack) edit it in place; dec and enc serve the others.
local function dec(s)
  local a, hl, p = match(s, '^(%d+) (%d+):()')
  if not p then error('outbox state ' .. s .. ': bad encoding') end
  local t = {a = a, o = '', lu = '', ct = ''}
  local q = p + tonumber(hl)
  if q > p then
    local ol, r = match(s, '^(%d+):()', p)
    r = r + tonumber(ol)
    t.o = sub(s, p + #ol + 1, r - 1)
    local lu, r2 = match(s, '^(%d+) ()', r)
    t.lu, t.ct = lu, sub(s, r2, q - 1)
  end
  t.m = sub(s, q, q)
  local cl, r = match(s, '^(%d+):()', q + 1)
  q = r + tonumber(cl)
  t.c = sub(s, r, q - 1)
  local seq, nu, nl, r3 = match(s, '^(%-?%d+) (%-?%d+) (%d+):()', q)
  t.s, t.nu = seq, nu
  q = r3 + tonumber(nl)
  t.next = sub(s, r3, q - 1)
  local dl, r4 = match(s, '^(%d+):()', q)
  q = r4 + tonumber(dl)
  t.dead = sub(s, r4, q - 1)
  t.err = sub(s, q)
  return t
end
local function enc(t)
  local l = ''
  if t.o ~= '' then l = #t.o .. ':' .. t.o .. t.lu .. ' ' .. t.ct end
  return t.a .. ' ' .. #l .. ':' .. l .. t.m .. #t.c .. ':' .. t.c .. t.s .. ' ' .. t.nu .. ' ' ..
    #t.next .. ':' .. t.next .. #t.dead .. ':' .. t.dead .. t.err
end
-- pend holds the states an Enqueue has not written yet (nil in the other scripts).
local pend = nil
local function getm(id)
  if pend and pend[id] then return pend[id] end
  return redis.call('HGET', M, id)
end
local function putm(id, st)
  if pend then pend[id] = st else redis.call('HSET', M, id, st) end
end
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
  local at = dec(getm(head)).nu
  local l = redis.call('ZREVRANGE', P .. 'l:' .. call, 0, 0, 'WITHSCORES')
  if l[2] and tonumber(l[2]) > tonumber(at) then at = l[2] end
  redis.call('ZADD', R, at, head)
end
-- queued gives the call its queue: its one entry, hid, goes in (and its lease if leased).
local function queued(call, hid)
  local t = dec(getm(hid))
  if t.m == '1' then return end
  redis.call('ZADD', P .. 'q:' .. call, t.s, hid)
  if t.o ~= '' then redis.call('ZADD', P .. 'l:' .. call, t.lu, hid) end
  t.m = '1'
  putm(hid, enc(t))
end
-- place makes a stored entry (state t, not yet in any set) queued: the head of a call without
-- entries, or a member of the call's queue (the caller reschedules the call then). It writes
-- the entry's state, and returns true in the second case.
local function place(id, t)
  local call, nu = t.c, t.nu
  if redis.call('HSETNX', H, call, id) == 1 then
    if t.o ~= '' and tonumber(t.lu) > tonumber(nu) then nu = t.lu end
    putm(id, enc(t))
    redis.call('ZADD', R, nu, id)
    return false
  end
  queued(call, redis.call('HGET', H, call))
  t.m = '1'
  putm(id, enc(t))
  redis.call('ZADD', P .. 'q:' .. call, t.s, id)
  if t.o ~= '' then redis.call('ZADD', P .. 'l:' .. call, t.lu, id) end
  return true
end
-- unplace takes a removed (acknowledged or dead) entry out of its call: t is its state.
local function unplace(id, t)
  if t.m == '1' then
    redis.call('ZREM', P .. 'q:' .. t.c, id)
    redis.call('ZREM', P .. 'l:' .. t.c, id)
    return true
  end
  redis.call('HDEL', H, t.c)
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
-- hmget reads the fields ids of hash key, a thousand at a time.
local function hmget(key, ids)
  if #ids == 0 then return {} end
  if #ids <= 1000 then return redis.call('HMGET', key, unpack(ids)) end
  local out = {}
  for i = 1, #ids, 1000 do
    local got = redis.call('HMGET', key, unpack(ids, i, math.min(i + 999, #ids)))
    for j = 1, #got do out[i + j - 1] = got[j] end
  end
  return out
end
-- owned reads an entry's state, checking that owner holds its lease.
local function owned(id, owner)
  local st = redis.call('HGET', M, id)
  if not st then return nil, 'notfound' end
  local t = dec(st)
  if owner == '' or t.o ~= owner then return nil, 'conflict' end
  return t
end
`

// entryArgs is how many ARGV Enqueue passes per entry.
const entryArgs = 5

var (
	// ARGV[2] is the entry count; each entry is id, call, d (its record), st (its state, m =
	// 0), and its claimable-at (the later of NextAt and its lease's end, µs).
	//
	// Every command is shared by the entries (one HMGET of M, and of XM when there are dead
	// letters, for the conflicts, one HMGET and one HSET of the heads, one HSET of D and one
	// of M, one ZADD of the ready set): an entry of a new call costs no command of its own. Only an entry whose call
	// already has one queued takes its call's queue (see above).
	enqueueScript = goredis.NewScript(luaPrelude + `
local n = tonumber(ARGV[2])
-- Counters, not #t: Lua 5.1's length operator searches for the table's border each time.
local seen, ids, calls, ci, nc = {}, {}, {}, {}, 0
for i = 0, n - 1 do
  local b = 3 + i * 5
  local id, call = ARGV[b], ARGV[b + 1]
  if seen[id] then return 'conflict:' .. id end
  seen[id] = true
  ids[i + 1] = id
  if not ci[call] then
    nc = nc + 1
    calls[nc] = call
    ci[call] = nc
  end
end
-- (Dead letters are few or none: their hash is read only when there is one.)
for _, key in ipairs({M, XM}) do
  if key == M or redis.call('EXISTS', XM) == 1 then
    local got = hmget(key, ids)
    for i = 1, n do
      if got[i] then return 'conflict:' .. ids[i] end
    end
  end
end
local heads = {}
local got = hmget(H, calls)
for j = 1, nc do heads[calls[j]] = got[j] end
pend = {}
local recs, newHeads, ready, multi, nh = {}, {}, {}, {}, 0
for i = 0, n - 1 do
  local b = 3 + i * 5
  local id, call, st = ARGV[b], ARGV[b + 1], ARGV[b + 3]
  recs[2 * i + 1], recs[2 * i + 2] = id, ARGV[b + 2]
  local hid = heads[call]
  if not hid then
    -- The call's first entry: its head, in the fewest keys.
    heads[call] = id
    pend[id] = st
    newHeads[nh + 1], newHeads[nh + 2] = call, id
    ready[nh + 1], ready[nh + 2] = ARGV[b + 4], id
    nh = nh + 2
  else
    local t = dec(st)
    queued(call, hid)
    t.m = '1'
    pend[id] = enc(t)
    redis.call('ZADD', P .. 'q:' .. call, t.s, id)
    if t.o ~= '' then redis.call('ZADD', P .. 'l:' .. call, t.lu, id) end
    multi[call] = true
  end
end
local states, k = {}, 0
for id, st in pairs(pend) do
  states[k + 1], states[k + 2] = id, st
  k = k + 2
end
pend = nil
batch('HSET', D, recs)
batch('HSET', M, states)
if nh > 0 then
  batch('HSET', H, newHeads)
  batch('ZADD', R, ready)
end
redis.call('INCRBY', P .. 'n', ARGV[2])
for call in pairs(multi) do resched(call) end
return 'ok'
`)
	// The heads in the ready set up to now are claimable (see above), so the lease Claim gives,
	// ending after now, is the call's latest: the head is rescored to its end without reading
	// the others back.
	//
	// ARGV: 2 now, 3 owner, 4 the lease's end, 5 limit, 6 this Claim's token, kept in each
	// claimed entry's state (ct), 7 how many earlier Claims of this owner lost their reply,
	// and their (token, lease end) pairs. Their entries, if still leased to owner under that
	// token, are found through the ready set (a claimed head is scored by its lease's end) and
	// handed out again first, with the new lease and without counting another attempt (see
	// Claim). The reply is flat: d and the new state for each entry.
	//
	// The claimed entries share every command (one HMGET of D and one of M, one HSET of M,
	// one ZADD of the ready set), but for the ZADD of the leases of a call with a queue.
	claimScript = goredis.NewScript(luaPrelude + `
local owner, lu, tok = ARGV[3], ARGV[4], ARGV[6]
local out = {}
for j = 0, tonumber(ARGV[7]) - 1 do
  local old, tlu = ARGV[8 + j * 2], ARGV[9 + j * 2]
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', R, tlu, tlu)) do
    local st = redis.call('HGET', M, id)
    local t = st and dec(st)
    if t and t.o == owner and t.ct == old then
      t.lu, t.ct = lu, tok
      redis.call('HSET', M, id, enc(t))
      if t.m == '1' then redis.call('ZADD', P .. 'l:' .. t.c, lu, id) end
      redis.call('ZADD', R, lu, id)
      local n = #out
      out[n + 1], out[n + 2] = redis.call('HGET', D, id), enc(t)
    end
  end
end
local want = tonumber(ARGV[5]) - #out / 2
if want <= 0 then return out end
local ids = redis.call('ZRANGEBYSCORE', R, '-inf', ARGV[2], 'LIMIT', 0, want)
if #ids == 0 then return out end
local ds, ms = hmget(D, ids), hmget(M, ids)
-- Counters, not #t: Lua 5.1's length operator searches for the table's border each time.
local ready, states, k, no = {}, {}, 0, #out
-- Each state is edited in place: its attempts counted, its lease replaced by this one.
local l = #owner .. ':' .. owner .. lu .. ' ' .. tok
local lease = ' ' .. #l .. ':' .. l
for i, id in ipairs(ids) do
  local s = ms[i]
  if s and ds[i] then
    local a, hl, p = match(s, '^(%d+) (%d+):()')
    if not p then error('outbox state ' .. s .. ': bad encoding') end
    local q = p + tonumber(hl)
    local ns = (a + 1) .. lease .. sub(s, q)
    states[k + 1], states[k + 2] = id, ns
    ready[k + 1], ready[k + 2] = lu, id
    k = k + 2
    if byte(s, q) == 49 then redis.call('ZADD', P .. 'l:' .. dec(s).c, lu, id) end
    out[no + 1], out[no + 2] = ds[i], ns
    no = no + 2
  else
    redis.call('ZREM', R, id)
  end
end
if k > 0 then
  batch('HSET', M, states)
  batch('ZADD', R, ready)
end
return out
`)
	retryScript = goredis.NewScript(luaPrelude + `
local id = ARGV[2]
local t, why = owned(id, ARGV[3])
if not t then return why end
t.o, t.lu, t.ct, t.next, t.nu, t.err = '', '', '', ARGV[4], ARGV[5], ARGV[6]
redis.call('HSET', M, id, enc(t))
if t.m == '1' then
  redis.call('ZREM', P .. 'l:' .. t.c, id)
  resched(t.c)
else
  redis.call('ZADD', R, ARGV[5], id)
end
return 'ok'
`)
	deadScript = goredis.NewScript(luaPrelude + `
local id = ARGV[2]
local t, why = owned(id, ARGV[3])
if not t then return why end
local m = t.m
t.o, t.lu, t.ct, t.err, t.dead, t.m = '', '', '', ARGV[6], ARGV[4], '0'
redis.call('HSET', X, id, redis.call('HGET', D, id))
redis.call('HSET', XM, id, enc(t))
redis.call('HDEL', D, id)
redis.call('HDEL', M, id)
redis.call('ZADD', P .. 'dl', ARGV[5], id)
redis.call('DECR', P .. 'n')
t.m = m
if unplace(id, t) then resched(t.c) end
return 'ok'
`)
	replayScript = goredis.NewScript(luaPrelude + `
local id = ARGV[2]
local st = redis.call('HGET', XM, id)
if not st then return 'notfound' end
local t = dec(st)
redis.call('HSET', D, id, redis.call('HGET', X, id))
redis.call('HDEL', X, id)
redis.call('HDEL', XM, id)
t.a, t.next, t.nu, t.dead, t.m = '0', ARGV[3], ARGV[4], '', '0'
redis.call('ZREM', P .. 'dl', id)
redis.call('INCR', P .. 'n')
if place(id, t) then resched(t.c) end
return 'ok'
`)
)

// An entry's state (its field in the hash M, or XM for a dead letter) is one string, which
// the scripts read and write:
//
//	attempts ' ' len(L) ':' L   m   len(call) ':' call   seq ' ' nu ' '
//	len(next) ':' next   len(dead) ':' dead   err
//
// where L, the lease, is empty when the entry is not leased and else len(owner) ':' owner lu
// ' ' ct; m is 1 once the call has a queue (doc.go), nu and lu are NextAt and the lease's end
// in µs, next and dead NextAt and DeadAt as text, ct the token of the Claim that leased it.
// Every string is preceded by its length, so that any bytes may be in it, and what Claim and
// Ack need comes first: Claim replaces the attempts and L and keeps the rest as it is, Ack
// compares the owner and reads m and the call, each with a pattern match and a substring or
// two, where decoding the whole of it in Lua would cost more than a Redis command.
func encodeState(e adapter.Entry) string {
	var l string
	if e.Owner != "" {
		l = strconv.Itoa(len(e.Owner)) + ":" + e.Owner + strconv.FormatInt(micros(e.LeaseEnd), 10) + " "
	}
	next, dead := timeText(e.NextAt), timeText(e.DeadAt)
	b := make([]byte, 0, 64+len(l)+len(e.CallID)+len(next)+len(dead)+len(e.LastError))
	b = strconv.AppendInt(b, int64(e.Attempts), 10)
	b = append(b, ' ')
	b = appendLen(b, l)
	b = append(b, '0')
	b = appendLen(b, e.CallID)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, micros(e.NextAt), 10)
	b = append(b, ' ')
	b = appendLen(b, next)
	b = appendLen(b, dead)
	b = append(b, e.LastError...)
	return string(b)
}

// appendLen appends len(s) ':' s.
func appendLen(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

// entryState is the part of a state that is read outside the scripts.
type entryState struct {
	attempts, next, dead, err string
}

// errBadState is a state decodeState cannot read.
type errBadState struct{ s string }

func (e errBadState) Error() string { return fmt.Sprintf("outbox state %q: %v", e.s, errEntryCodec) }
func (e errBadState) Unwrap() error { return errEntryCodec }

// decodeState reads a state as encodeState wrote it (and the scripts rewrite it).
func decodeState(s string) (entryState, error) {
	var st entryState
	bad := errBadState{s} // formatted only if returned: Claim decodes a state per entry
	att, rest, ok := strings.Cut(s, " ")
	if !ok {
		return st, bad
	}
	st.attempts = att
	str := func() (string, bool) {
		n, r, ok := strings.Cut(rest, ":")
		if !ok {
			return "", false
		}
		l, err := strconv.Atoi(n)
		if err != nil || l < 0 || l > len(r) {
			return "", false
		}
		rest = r[l:]
		return r[:l], true
	}
	if _, ok := str(); !ok || rest == "" { // the lease
		return st, bad
	}
	rest = rest[1:]          // m
	if _, ok := str(); !ok { // the call
		return st, bad
	}
	for range 2 { // seq, nu
		if _, rest, ok = strings.Cut(rest, " "); !ok {
			return st, bad
		}
	}
	if st.next, ok = str(); !ok {
		return st, bad
	}
	if st.dead, ok = str(); !ok {
		return st, bad
	}
	st.err = rest
	return st, nil
}

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
		// The records share one buffer: go-redis writes each []byte argument as it is.
		at := micros(e.NextAt)
		if e.Owner != "" {
			at = max(at, micros(e.LeaseEnd))
		}
		args = append(args, e.ID, e.CallID, buf[start:len(buf):len(buf)], encodeState(e), at)
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
	if len(res)%2 != 0 {
		return nil, fmt.Errorf("store: claim: %d values in the script's reply, not 2 per entry", len(res))
	}
	out := make([]adapter.Entry, 0, len(res)/2)
	for i := 0; i < len(res); i += 2 {
		st, err := decodeState(res[i+1])
		if err != nil {
			return nil, fmt.Errorf("store: claim: %w", err)
		}
		e, err := decodeEntryFields(res[i], st.attempts, st.next, st.err, "")
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
	var recs, states *goredis.SliceCmd
	_, err = s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		recs = p.HMGet(ctx, s.k.deadRecords(), ids...)
		states = p.HMGet(ctx, s.k.deadStates(), ids...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: list dead letters: %w", s.wrap(ctx, err))
	}
	out := make([]adapter.Entry, 0, len(ids))
	for i := range ids {
		d, _ := recs.Val()[i].(string)
		st, _ := states.Val()[i].(string)
		if d == "" || st == "" {
			continue // replayed since it was listed
		}
		f, err := decodeState(st)
		if err != nil {
			return nil, fmt.Errorf("store: list dead letters: %w", err)
		}
		e, err := decodeEntryFields(d, f.attempts, f.next, f.err, f.dead)
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
