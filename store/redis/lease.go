package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pbxbridge/pbxbridge/adapter"
)

var _ adapter.Leases = (*Store)(nil)

// A lease is two keys in its own hash tag (one slot, so one script sees both): the holder, a
// hash {owner, epoch} that Redis expires after the TTL (so expiry is Redis's clock, the same
// for every instance), and the epoch counter, which persists so that the fencing token keeps
// growing across expiries and releases.
func (k keys) leaseHolder(name string) string { return k.p + "{lease:" + name + "}:holder" }
func (k keys) leaseEpoch(name string) string  { return k.p + "{lease:" + name + "}:epoch" }

var (
	// KEYS: holder, epoch. ARGV: owner, ttl ms. Returns {1, epoch, pttl} or {0, holder, pttl}.
	acquireLease = goredis.NewScript(`
local o = redis.call('HGET', KEYS[1], 'owner')
if o and o ~= ARGV[1] then return {0, o, redis.call('PTTL', KEYS[1])} end
local ep
if o then
  ep = tonumber(redis.call('HGET', KEYS[1], 'epoch'))
else
  ep = redis.call('INCR', KEYS[2])
  redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'epoch', ep)
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, ep, tonumber(ARGV[2])}
`)
	// KEYS: holder. ARGV: owner, ttl ms. Returns {1, epoch} or {0}.
	renewLease = goredis.NewScript(`
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return {0} end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, tonumber(redis.call('HGET', KEYS[1], 'epoch'))}
`)
	// KEYS: holder. ARGV: owner. Returns 1 when released, 0 when not held by owner.
	releaseLease = goredis.NewScript(`
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`)
)

func checkLease(name, owner string, ttl time.Duration) error {
	switch {
	case name == "":
		return fmt.Errorf("lease name is empty")
	case owner == "":
		return fmt.Errorf("lease %q: owner is empty", name)
	case ttl < time.Millisecond:
		return fmt.Errorf("lease %q: ttl %v must be at least 1ms", name, ttl)
	}
	return nil
}

// AcquireLease implements adapter.Leases.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (adapter.Lease, error) {
	if err := checkLease(name, owner, ttl); err != nil {
		return adapter.Lease{}, fmt.Errorf("store: acquire lease: %w", err)
	}
	start := time.Now()
	r, err := acquireLease.Run(ctx, s.c, []string{s.k.leaseHolder(name), s.k.leaseEpoch(name)}, owner, ttl.Milliseconds()).Slice()
	if err != nil {
		return adapter.Lease{}, fmt.Errorf("store: acquire lease %q: %w", name, s.wrap(ctx, err))
	}
	if n, _ := r[0].(int64); n != 1 {
		return adapter.Lease{}, fmt.Errorf("store: acquire lease %q: held by another owner for %vms: %w", name, r[2], adapter.ErrConflict)
	}
	ep, _ := r[1].(int64)
	// The expiry is counted from before the request: the holder never believes it holds the
	// lease longer than Redis does.
	return adapter.Lease{Name: name, Owner: owner, Epoch: ep, Expires: start.Add(ttl)}, nil
}

// RenewLease implements adapter.Leases.
func (s *Store) RenewLease(ctx context.Context, name, owner string, ttl time.Duration) (adapter.Lease, error) {
	if err := checkLease(name, owner, ttl); err != nil {
		return adapter.Lease{}, fmt.Errorf("store: renew lease: %w", err)
	}
	start := time.Now()
	r, err := renewLease.Run(ctx, s.c, []string{s.k.leaseHolder(name)}, owner, ttl.Milliseconds()).Slice()
	if err != nil {
		return adapter.Lease{}, fmt.Errorf("store: renew lease %q: %w", name, s.wrap(ctx, err))
	}
	if n, _ := r[0].(int64); n != 1 || len(r) < 2 {
		return adapter.Lease{}, fmt.Errorf("store: renew lease %q: not held by this owner: %w", name, adapter.ErrConflict)
	}
	ep, _ := r[1].(int64)
	return adapter.Lease{Name: name, Owner: owner, Epoch: ep, Expires: start.Add(ttl)}, nil
}

// ReleaseLease implements adapter.Leases.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	n, err := releaseLease.Run(ctx, s.c, []string{s.k.leaseHolder(name)}, owner).Int64()
	if err != nil {
		return fmt.Errorf("store: release lease %q: %w", name, s.wrap(ctx, err))
	}
	if n != 1 {
		return fmt.Errorf("store: release lease %q: not held by this owner: %w", name, adapter.ErrConflict)
	}
	return nil
}

// GetLease implements adapter.Leases.
func (s *Store) GetLease(ctx context.Context, name string) (adapter.Lease, error) {
	key := s.k.leaseHolder(name)
	var hget *goredis.SliceCmd
	var pttl *goredis.DurationCmd
	_, err := s.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		hget = p.HMGet(ctx, key, "owner", "epoch")
		pttl = p.PTTL(ctx, key)
		return nil
	})
	if err != nil {
		return adapter.Lease{}, fmt.Errorf("store: get lease %q: %w", name, s.wrap(ctx, err))
	}
	v := hget.Val()
	owner, _ := v[0].(string)
	if owner == "" || pttl.Val() <= 0 {
		return adapter.Lease{}, fmt.Errorf("store: get lease %q: %w", name, adapter.ErrNotFound)
	}
	var ep int64
	if e, _ := v[1].(string); e != "" {
		if _, err := fmt.Sscan(e, &ep); err != nil {
			return adapter.Lease{}, fmt.Errorf("store: get lease %q: epoch %q: %w", name, e, err)
		}
	}
	return adapter.Lease{Name: name, Owner: owner, Epoch: ep, Expires: time.Now().Add(pttl.Val())}, nil
}
