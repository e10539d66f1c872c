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
	"github.com/pbxbridge/pbxbridge/store"
)

// File scripts. Every file key is in the {files} hash slot (doc.go), so one script sees a file,
// its indexes and every container's usage together: the quota check and the charge are atomic.
// Replies: "ok", "conflict", "notfound", or "quota:<usage>".
var (
	createFile = goredis.NewScript(`
local sid, container = ARGV[1], ARGV[2]
if redis.call('EXISTS', KEYS[1]) == 1 then return 'conflict' end
local usage = tonumber(redis.call('HGET', KEYS[4], container) or '0')
local q = tonumber(ARGV[4])
if q > 0 and usage + tonumber(ARGV[3]) > q then return 'quota:' .. usage end
redis.call('HSET', KEYS[1], 'd', ARGV[5], 'c', container, 'b', ARGV[3])
redis.call('ZADD', KEYS[2], 0, sid)
redis.call('ZADD', KEYS[3], 0, sid)
if tonumber(redis.call('HINCRBY', KEYS[4], container, ARGV[3])) <= 0 then redis.call('HDEL', KEYS[4], container) end
if ARGV[6] ~= '' then redis.call('ZADD', KEYS[5], ARGV[6], sid) end
return 'ok'
`)
	updateFile = goredis.NewScript(`
local sid, container, prefix = ARGV[1], ARGV[2], ARGV[7]
local old = redis.call('HMGET', KEYS[1], 'c', 'b')
if not old[1] then return 'notfound' end
local before = tonumber(redis.call('HGET', KEYS[2], container) or '0')
local after = before + tonumber(ARGV[3])
if old[1] == container then after = after - tonumber(old[2]) end
local q = tonumber(ARGV[4])
if q > 0 and after > q and after > before then return 'quota:' .. before end
if tonumber(redis.call('HINCRBY', KEYS[2], old[1], '-' .. old[2])) <= 0 then redis.call('HDEL', KEYS[2], old[1]) end
if tonumber(redis.call('HINCRBY', KEYS[2], container, ARGV[3])) <= 0 then redis.call('HDEL', KEYS[2], container) end
if old[1] ~= container then
  redis.call('ZREM', prefix .. 'c:' .. old[1], sid)
  redis.call('ZADD', KEYS[4], 0, sid)
end
redis.call('ZREM', KEYS[3], sid)
if ARGV[6] ~= '' then redis.call('ZADD', KEYS[3], ARGV[6], sid) end
redis.call('HSET', KEYS[1], 'd', ARGV[5], 'c', container, 'b', ARGV[3])
return 'ok'
`)
	deleteFile = goredis.NewScript(`
local sid, prefix = ARGV[1], ARGV[2]
local old = redis.call('HMGET', KEYS[1], 'c', 'b')
if not old[1] then return 'notfound' end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[4], sid)
redis.call('ZREM', prefix .. 'c:' .. old[1], sid)
redis.call('ZREM', KEYS[3], sid)
if tonumber(redis.call('HINCRBY', KEYS[2], old[1], '-' .. old[2])) <= 0 then redis.call('HDEL', KEYS[2], old[1]) end
return 'ok'
`)
)

func checkFile(f adapter.File) error {
	if f.SID == "" {
		return errors.New("file sid is empty")
	}
	if f.ContainerSID == "" {
		return fmt.Errorf("file %s: container sid is empty", f.SID)
	}
	if f.Bytes < 0 {
		return fmt.Errorf("file %s: negative size %d", f.SID, f.Bytes)
	}
	return nil
}

// expiryScore is the file's score in the expiry set, "" when it never expires.
func expiryScore(f adapter.File) string {
	if f.ExpiresAt.IsZero() {
		return ""
	}
	return strconv.FormatInt(micros(f.ExpiresAt), 10)
}

// fileReply turns a file script's reply into an error.
func fileReply(reply string, f adapter.File, quota int64) error {
	switch {
	case reply == "ok":
		return nil
	case reply == "conflict":
		return fmt.Errorf("file %s: %w", f.SID, adapter.ErrConflict)
	case reply == "notfound":
		return fmt.Errorf("file %s: %w", f.SID, adapter.ErrNotFound)
	case strings.HasPrefix(reply, "quota:"):
		return fmt.Errorf("file %s: container %s holds %s of %d bytes, %d do not fit: %w",
			f.SID, f.ContainerSID, reply[len("quota:"):], quota, f.Bytes, adapter.ErrQuota)
	}
	return fmt.Errorf("file %s: unexpected script reply %q", f.SID, reply)
}

// CreateFile stores a new file and charges its bytes to its container, atomically: the error
// wraps adapter.ErrQuota when quota > 0 and the container would exceed it, and
// adapter.ErrConflict when the SID exists.
func (s *Store) CreateFile(ctx context.Context, f adapter.File, quota int64) error {
	if err := checkFile(f); err != nil {
		return fmt.Errorf("store: create file: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := store.EncodeFile(f)
	if err != nil {
		return fmt.Errorf("store: create file: %w", err)
	}
	reply, err := createFile.Run(ctx, s.c,
		[]string{s.k.file(f.SID), s.k.filesAll(), s.k.filesIn(f.ContainerSID), s.k.usage(), s.k.expiry()},
		f.SID, f.ContainerSID, f.Bytes, quota, d, expiryScore(f)).Text()
	if err != nil {
		return fmt.Errorf("store: create file: %w", s.wrap(ctx, err))
	}
	if err := fileReply(reply, f, quota); err != nil {
		return fmt.Errorf("store: create file: %w", err)
	}
	return nil
}

// UpdateFile replaces a file's metadata and moves its charge, atomically. Errors as in
// adapter.Store: ErrNotFound, ErrQuota (only when the update grows the container).
func (s *Store) UpdateFile(ctx context.Context, f adapter.File, quota int64) error {
	if err := checkFile(f); err != nil {
		return fmt.Errorf("store: update file: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := store.EncodeFile(f)
	if err != nil {
		return fmt.Errorf("store: update file: %w", err)
	}
	reply, err := updateFile.Run(ctx, s.c,
		[]string{s.k.file(f.SID), s.k.usage(), s.k.expiry(), s.k.filesIn(f.ContainerSID)},
		f.SID, f.ContainerSID, f.Bytes, quota, d, expiryScore(f), s.k.filesPrefix()).Text()
	if err != nil {
		return fmt.Errorf("store: update file: %w", s.wrap(ctx, err))
	}
	if err := fileReply(reply, f, quota); err != nil {
		return fmt.Errorf("store: update file: %w", err)
	}
	return nil
}

// GetFile returns a file's metadata, or an error wrapping adapter.ErrNotFound.
func (s *Store) GetFile(ctx context.Context, sid string) (adapter.File, error) {
	if err := ctx.Err(); err != nil {
		return adapter.File{}, err
	}
	d, err := s.c.HGet(ctx, s.k.file(sid), "d").Result()
	if errors.Is(err, goredis.Nil) {
		return adapter.File{}, fmt.Errorf("store: get file %s: %w", sid, adapter.ErrNotFound)
	}
	if err != nil {
		return adapter.File{}, fmt.Errorf("store: get file: %w", s.wrap(ctx, err))
	}
	f, err := store.DecodeFile([]byte(d))
	if err != nil {
		return adapter.File{}, fmt.Errorf("store: get file: %w", err)
	}
	return f, nil
}

// DeleteFile removes a file and releases its bytes from its container. ErrNotFound when the
// file is unknown: of several instances expiring the same file, exactly one deletes it.
func (s *Store) DeleteFile(ctx context.Context, sid string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	reply, err := deleteFile.Run(ctx, s.c,
		[]string{s.k.file(sid), s.k.usage(), s.k.expiry(), s.k.filesAll()}, sid, s.k.filesPrefix()).Text()
	if err != nil {
		return fmt.Errorf("store: delete file: %w", s.wrap(ctx, err))
	}
	if err := fileReply(reply, adapter.File{SID: sid}, 0); err != nil {
		return fmt.Errorf("store: delete file: %w", err)
	}
	return nil
}

// listChunk is how many SIDs ListFiles reads from an index per round trip.
const listChunk = 256

// ListFiles walks the container's index (or the index of all files) in SID order from
// q.After, reading files a chunk at a time and filtering on the keys as it goes.
func (s *Store) ListFiles(ctx context.Context, q adapter.FileQuery) ([]adapter.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	idx := s.k.filesAll()
	if q.ContainerSID != "" {
		idx = s.k.filesIn(q.ContainerSID)
	}
	start := "-"
	if q.After != "" {
		start = "(" + q.After
	}
	var out []adapter.File
	for {
		sids, err := s.c.ZRangeByLex(ctx, idx, &goredis.ZRangeBy{Min: start, Max: "+", Count: listChunk}).Result()
		if err != nil {
			return nil, fmt.Errorf("store: list files: %w", s.wrap(ctx, err))
		}
		fs, err := s.files(ctx, sids)
		if err != nil {
			return nil, fmt.Errorf("store: list files: %w", err)
		}
		for _, f := range fs {
			if !fileMatches(f, q) {
				continue
			}
			out = append(out, f)
			if q.Limit > 0 && len(out) >= q.Limit {
				return out, nil
			}
		}
		if len(sids) < listChunk {
			return out, nil
		}
		start = "(" + sids[len(sids)-1]
	}
}

// files reads files by SID in one round trip, skipping those deleted since they were listed.
func (s *Store) files(ctx context.Context, sids []string) ([]adapter.File, error) {
	if len(sids) == 0 {
		return nil, nil
	}
	cmds := make([]*goredis.StringCmd, len(sids))
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, sid := range sids {
			cmds[i] = p.HGet(ctx, s.k.file(sid), "d")
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, s.wrap(ctx, err)
	}
	out := make([]adapter.File, 0, len(sids))
	for _, c := range cmds {
		d, err := c.Result()
		if errors.Is(err, goredis.Nil) {
			continue
		}
		if err != nil {
			return nil, s.wrap(ctx, err)
		}
		f, err := store.DecodeFile([]byte(d))
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func fileMatches(f adapter.File, q adapter.FileQuery) bool {
	if q.ContainerSID != "" && f.ContainerSID != q.ContainerSID {
		return false
	}
	return eqPtr(q.IntegerKey1, f.IntegerKey1) && eqPtr(q.IntegerKey2, f.IntegerKey2) &&
		eqPtr(q.StringKey1, f.StringKey1) && eqPtr(q.StringKey2, f.StringKey2)
}

// eqPtr: a nil filter matches anything; a set filter matches a set, equal key.
func eqPtr[T comparable](filter, have *T) bool {
	return filter == nil || (have != nil && *have == *filter)
}

// ContainerUsage is the bytes charged to a container (0 for an unknown container).
func (s *Store) ContainerUsage(ctx context.Context, containerSID string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := s.c.HGet(ctx, s.k.usage(), containerSID).Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: container usage: %w", s.wrap(ctx, err))
	}
	return n, nil
}

// ExpiredFiles reads the expiry sorted set up to now, oldest first, at most limit (<= 0: all).
// Any instance may run the sweeper: DeleteFile lets exactly one of them delete each file.
func (s *Store) ExpiredFiles(ctx context.Context, now time.Time, limit int) ([]adapter.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	by := &goredis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(micros(now), 10)}
	if limit > 0 {
		by.Count = int64(limit)
	}
	sids, err := s.c.ZRangeByScore(ctx, s.k.expiry(), by).Result()
	if err != nil {
		return nil, fmt.Errorf("store: expired files: %w", s.wrap(ctx, err))
	}
	fs, err := s.files(ctx, sids)
	if err != nil {
		return nil, fmt.Errorf("store: expired files: %w", err)
	}
	return fs, nil
}
