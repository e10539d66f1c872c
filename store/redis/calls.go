package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// putCall is the compare-and-set of PutCall: KEYS[1] the call's hash, ARGV the expected
// version and the record. It returns the new version, or -1 when the stored version differs.
var putCall = goredis.NewScript(`
local have = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if have ~= tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[1], 'v', have + 1, 'd', ARGV[2])
return have + 1
`)

// GetCall returns a call's state, or an error wrapping adapter.ErrNotFound.
func (s *Store) GetCall(ctx context.Context, id string) (adapter.CallState, error) {
	if err := ctx.Err(); err != nil {
		return adapter.CallState{}, err
	}
	vals, err := s.c.HMGet(ctx, s.k.call(id), "v", "d").Result()
	if err != nil {
		return adapter.CallState{}, fmt.Errorf("store: get call: %w", s.wrap(ctx, err))
	}
	c, err := decodeCallFields(id, vals)
	if err != nil {
		return adapter.CallState{}, fmt.Errorf("store: get call: %w", err)
	}
	return c, nil
}

func decodeCallFields(id string, vals []any) (adapter.CallState, error) {
	v, _ := vals[0].(string)
	d, _ := vals[1].(string)
	if v == "" || d == "" {
		return adapter.CallState{}, fmt.Errorf("call %q: %w", id, adapter.ErrNotFound)
	}
	c, err := decodeCall([]byte(d))
	if err != nil {
		return adapter.CallState{}, err
	}
	c.Version, err = strconv.ParseInt(v, 10, 64)
	if err != nil {
		return adapter.CallState{}, fmt.Errorf("call %q: stored version %q: %w", id, v, err)
	}
	return c, nil
}

// PutCall writes c when c.Version is the stored version (0: the call must not exist) and
// returns it with Version incremented, atomically (a Lua script on the call's key). Otherwise
// the error wraps adapter.ErrConflict.
func (s *Store) PutCall(ctx context.Context, c adapter.CallState) (adapter.CallState, error) {
	if c.ID == "" {
		return adapter.CallState{}, errors.New("store: put call: id is empty")
	}
	if err := ctx.Err(); err != nil {
		return adapter.CallState{}, err
	}
	d, err := encodeCall(c)
	if err != nil {
		return adapter.CallState{}, fmt.Errorf("store: put call: %w", err)
	}
	v, err := putCall.Run(ctx, s.c, []string{s.k.call(c.ID)}, c.Version, d).Int64()
	if err != nil {
		return adapter.CallState{}, fmt.Errorf("store: put call: %w", s.wrap(ctx, err))
	}
	if v < 0 {
		return adapter.CallState{}, fmt.Errorf("store: put call %q: version %d is not the stored one: %w", c.ID, c.Version, adapter.ErrConflict)
	}
	c.Version = v
	return c, nil
}

// DeleteCall removes a call's state: adapter.ErrNotFound when it is unknown.
func (s *Store) DeleteCall(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n, err := s.c.Del(ctx, s.k.call(id)).Result()
	if err != nil {
		return fmt.Errorf("store: delete call: %w", s.wrap(ctx, err))
	}
	if n == 0 {
		return fmt.Errorf("store: delete call %q: %w", id, adapter.ErrNotFound)
	}
	return nil
}

// ListCalls scans the call keys (on every master of a Cluster). It is meant for reconciling
// after a reconnect, not for a hot path: SCAN walks the whole key space.
func (s *Store) ListCalls(ctx context.Context) ([]adapter.CallState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var keys []string
	scan := func(ctx context.Context, c goredis.UniversalClient) ([]string, error) {
		var out []string
		it := c.Scan(ctx, 0, s.k.callPattern(), 512).Iterator()
		for it.Next(ctx) {
			out = append(out, it.Val())
		}
		return out, it.Err()
	}
	if cc, ok := s.c.(*goredis.ClusterClient); ok {
		var mu sync.Mutex // ForEachMaster calls back concurrently
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
			ks, err := scan(ctx, c)
			mu.Lock()
			keys = append(keys, ks...)
			mu.Unlock()
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("store: list calls: %w", s.wrap(ctx, err))
		}
	} else {
		var err error
		if keys, err = scan(ctx, s.c); err != nil {
			return nil, fmt.Errorf("store: list calls: %w", s.wrap(ctx, err))
		}
	}
	out := make([]adapter.CallState, 0, len(keys))
	for _, k := range keys {
		vals, err := s.c.HMGet(ctx, k, "v", "d").Result()
		if err != nil {
			return nil, fmt.Errorf("store: list calls: %w", s.wrap(ctx, err))
		}
		c, err := decodeCallFields(k, vals)
		if errors.Is(err, adapter.ErrNotFound) {
			continue // deleted since the scan
		}
		if err != nil {
			return nil, fmt.Errorf("store: list calls: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}
