package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/store"
)

// Background jobs (adapter.Jobs) live in three keys of one hash slot ({jobs}): a hash of
// immutable records by id, a hash of each job's lease ("owner\nlease-end-µs\nattempts"), and
// a sorted set of ids by creation time (µs), the claim order. Claim scans the set in a
// script: jobs are few (one per transcription in progress). The scripts compare times as
// Lua numbers (µs since the epoch are exact in a double) and never format one: Go passes
// every time it writes.

var _ adapter.Jobs = (*Store)(nil)

func (k keys) jobs() []string {
	return []string{k.p + "{jobs}:data", k.p + "{jobs}:lease", k.p + "{jobs}:order"}
}

// jobMicros is t in µs since the epoch; the zero time is 0.
func jobMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

const jobLua = `
local function lease(id)
  local l = redis.call('HGET', KEYS[2], id)
  if not l then return nil end
  local owner, lend, att = string.match(l, '^(.-)\n(%d+)\n(%d+)$')
  return owner, tonumber(lend), tonumber(att)
end
`

var (
	addJobScript = goredis.NewScript(jobLua + `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'conflict' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], '\n0\n0')
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return 'ok'`)

	// ARGV: owner, now µs, lease end µs, max.
	claimJobsScript = goredis.NewScript(jobLua + `
local out = {}
local max = tonumber(ARGV[4])
local now = tonumber(ARGV[2])
for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  if #out >= max then break end
  local owner, lend, att = lease(id)
  if owner and (owner == '' or lend <= now) then
    att = att + 1
    redis.call('HSET', KEYS[2], id, ARGV[1] .. '\n' .. ARGV[3] .. '\n' .. att)
    table.insert(out, {redis.call('HGET', KEYS[1], id), tostring(att)})
  end
end
return out`)

	// ARGV: id, owner, new lease end µs ("" = finish: remove the job).
	heldJobScript = goredis.NewScript(jobLua + `
local owner, lend, att = lease(ARGV[1])
if not owner then return 'notfound' end
if owner == '' or owner ~= ARGV[2] then return 'conflict' end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
else
  redis.call('HSET', KEYS[2], ARGV[1], owner .. '\n' .. ARGV[3] .. '\n' .. att)
end
return 'ok'`)
)

// AddJob stores a new, free job; ErrConflict when the id is taken.
func (s *Store) AddJob(ctx context.Context, j adapter.Job) error {
	if j.ID == "" {
		return errors.New("store: add job: id is empty")
	}
	if j.Created.IsZero() {
		j.Created = time.Now()
	}
	d, err := store.Marshal("job "+j.ID, store.JobRecordOf(j))
	if err != nil {
		return fmt.Errorf("store: add job: %w", err)
	}
	reply, err := addJobScript.Run(ctx, s.c, s.k.jobs(), j.ID, d, jobMicros(j.Created)).Text()
	if err != nil {
		return fmt.Errorf("store: add job: %w", s.wrap(ctx, err))
	}
	if reply == "conflict" {
		return fmt.Errorf("store: add job: %s: id taken: %w", j.ID, adapter.ErrConflict)
	}
	return nil
}

// ClaimJobs leases up to max free or expired jobs to owner, oldest first.
func (s *Store) ClaimJobs(ctx context.Context, owner string, now time.Time, lease time.Duration, max int) ([]adapter.Job, error) {
	if owner == "" || strings.Contains(owner, "\n") {
		return nil, fmt.Errorf("store: claim jobs: owner %q must be non-empty, without newlines", owner)
	}
	if max <= 0 {
		return nil, nil
	}
	end := now.Add(lease)
	res, err := claimJobsScript.Run(ctx, s.c, s.k.jobs(), owner, jobMicros(now), jobMicros(end), max).Slice()
	if err != nil {
		return nil, fmt.Errorf("store: claim jobs: %w", s.wrap(ctx, err))
	}
	out := make([]adapter.Job, 0, len(res))
	for _, r := range res {
		f, _ := r.([]any)
		if len(f) != 2 {
			return nil, fmt.Errorf("store: claim jobs: reply %v: want record and attempts", r)
		}
		d, _ := f[0].(string)
		att, _ := f[1].(string)
		var rec store.JobRecord
		if err := json.Unmarshal([]byte(d), &rec); err != nil {
			return nil, fmt.Errorf("store: claim jobs: decode job: %w", err)
		}
		j := rec.Job()
		j.Owner, j.LeaseEnd = owner, time.UnixMicro(jobMicros(end)).UTC()
		if j.Attempts, err = strconv.Atoi(att); err != nil {
			return nil, fmt.Errorf("store: claim jobs: job %s: attempts %q: %w", j.ID, att, err)
		}
		out = append(out, j)
	}
	return out, nil
}

func (s *Store) heldJob(ctx context.Context, what, id, owner, until string) error {
	reply, err := heldJobScript.Run(ctx, s.c, s.k.jobs(), id, owner, until).Text()
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, s.wrap(ctx, err))
	}
	switch reply {
	case "ok":
		return nil
	case "notfound":
		return fmt.Errorf("store: %s: job %s: %w", what, id, adapter.ErrNotFound)
	case "conflict":
		return fmt.Errorf("store: %s: job %s: not held by %q: %w", what, id, owner, adapter.ErrConflict)
	}
	return fmt.Errorf("store: %s: job %s: unexpected script reply %q", what, id, reply)
}

// ExtendJob moves the lease end of a job owner holds.
func (s *Store) ExtendJob(ctx context.Context, id, owner string, until time.Time) error {
	return s.heldJob(ctx, "extend job", id, owner, strconv.FormatInt(jobMicros(until), 10))
}

// FinishJob removes a job owner holds.
func (s *Store) FinishJob(ctx context.Context, id, owner string) error {
	return s.heldJob(ctx, "finish job", id, owner, "")
}

// PendingJobs counts the stored jobs.
func (s *Store) PendingJobs(ctx context.Context) (int, error) {
	n, err := s.c.HLen(ctx, s.k.jobs()[0]).Result()
	if err != nil {
		return 0, fmt.Errorf("store: pending jobs: %w", s.wrap(ctx, err))
	}
	return int(n), nil
}
