package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Ping checks that Redis answers (readiness). Errors wrap ErrUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("store: ping redis: %w", s.wrap(ctx, err))
	}
	return nil
}

// oldestScript returns the record (field of the hash d) of the first ARGV[2] heads of the ready set
// (soonest claimable first). A call's head is its oldest queued entry.
var oldestScript = goredis.NewScript(`
local P = ARGV[1]
local out = {}
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
if #ids == 0 then return out end
for i = 1, #ids, 1000 do
  for _, d in ipairs(redis.call('HMGET', P .. 'd', unpack(ids, i, math.min(i + 999, #ids)))) do
    if d then out[#out + 1] = d end
  end
end
return out
`)

// OldestQueued is the Created time of the oldest queued entry among the heads of the scan
// calls due soonest (metrics: the outbox's age); zero when nothing is queued. Every call's
// head is its own oldest entry, so with at most scan calls queued the answer is exact; beyond,
// it is the oldest of the calls nearest to delivery. Its cost is O(scan) in one script.
func (s *Store) OldestQueued(ctx context.Context, scan int) (time.Time, error) {
	vals, err := oldestScript.Run(ctx, s.c, []string{s.k.ready()}, s.k.outboxPrefix(), scan).StringSlice()
	if err != nil {
		return time.Time{}, fmt.Errorf("store: oldest queued: %w", s.wrap(ctx, err))
	}
	var oldest time.Time
	for _, v := range vals {
		e, err := decodeEntry(v)
		if err != nil {
			return time.Time{}, fmt.Errorf("store: oldest queued: %w", err)
		}
		t := e.Created
		if !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	return oldest, nil
}
