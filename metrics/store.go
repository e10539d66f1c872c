package metrics

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// Backend is a store of call state, files and the outbox (store/local, store/redis).
type Backend interface {
	adapter.Store
	adapter.Outbox
	adapter.Leases
	adapter.Jobs
}

// TimedStore is a Backend that times every operation into the store latency histogram, by
// operation and result: ok (the store answered, not-found and conflict included: they are
// answers), unavailable (adapter.ErrUnavailable or a deadline) or error.
type TimedStore struct {
	b Backend
	h *Histogram
}

var (
	_ adapter.Store  = (*TimedStore)(nil)
	_ adapter.Outbox = (*TimedStore)(nil)
	_ adapter.Leases = (*TimedStore)(nil)
	_ adapter.Jobs   = (*TimedStore)(nil)
)

// TimeStore wraps b.
func (s *Set) TimeStore(b Backend) *TimedStore { return &TimedStore{b: b, h: s.StoreSeconds} }

func (t *TimedStore) done(op string, start time.Time, err error) {
	res := "ok"
	switch {
	case err == nil, errors.Is(err, adapter.ErrNotFound), errors.Is(err, adapter.ErrConflict), errors.Is(err, adapter.ErrQuota):
	case errors.Is(err, adapter.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		res = "unavailable"
	default:
		res = "error"
	}
	t.h.Observe(time.Since(start).Seconds(), op, res)
}

// Ping asks the store whether it answers (readiness): stores without a Ping (the embedded
// store, open while the process runs) always do.
func (t *TimedStore) Ping(ctx context.Context) (err error) {
	p, ok := t.b.(interface{ Ping(context.Context) error })
	if !ok {
		return nil
	}
	defer func(s time.Time) { t.done("ping", s, err) }(time.Now())
	return p.Ping(ctx)
}

// OldestQueued passes through to the store (zero when it cannot tell).
func (t *TimedStore) OldestQueued(ctx context.Context, scan int) (time.Time, error) {
	o, ok := t.b.(interface {
		OldestQueued(context.Context, int) (time.Time, error)
	})
	if !ok {
		return time.Time{}, nil
	}
	start := time.Now()
	at, err := o.OldestQueued(ctx, scan)
	t.done("oldest_queued", start, err)
	return at, err
}

func (t *TimedStore) GetCall(ctx context.Context, id string) (c adapter.CallState, err error) {
	defer func(s time.Time) { t.done("get_call", s, err) }(time.Now())
	return t.b.GetCall(ctx, id)
}

func (t *TimedStore) PutCall(ctx context.Context, c adapter.CallState) (_ adapter.CallState, err error) {
	defer func(s time.Time) { t.done("put_call", s, err) }(time.Now())
	return t.b.PutCall(ctx, c)
}

func (t *TimedStore) DeleteCall(ctx context.Context, id string) (err error) {
	defer func(s time.Time) { t.done("delete_call", s, err) }(time.Now())
	return t.b.DeleteCall(ctx, id)
}

func (t *TimedStore) ListCalls(ctx context.Context) (_ []adapter.CallState, err error) {
	defer func(s time.Time) { t.done("list_calls", s, err) }(time.Now())
	return t.b.ListCalls(ctx)
}

func (t *TimedStore) CreateFile(ctx context.Context, f adapter.File, quota int64) (err error) {
	defer func(s time.Time) { t.done("create_file", s, err) }(time.Now())
	return t.b.CreateFile(ctx, f, quota)
}

func (t *TimedStore) UpdateFile(ctx context.Context, f adapter.File, quota int64) (err error) {
	defer func(s time.Time) { t.done("update_file", s, err) }(time.Now())
	return t.b.UpdateFile(ctx, f, quota)
}

func (t *TimedStore) GetFile(ctx context.Context, sid string) (_ adapter.File, err error) {
	defer func(s time.Time) { t.done("get_file", s, err) }(time.Now())
	return t.b.GetFile(ctx, sid)
}

func (t *TimedStore) DeleteFile(ctx context.Context, sid string) (err error) {
	defer func(s time.Time) { t.done("delete_file", s, err) }(time.Now())
	return t.b.DeleteFile(ctx, sid)
}

func (t *TimedStore) ListFiles(ctx context.Context, q adapter.FileQuery) (_ []adapter.File, err error) {
	defer func(s time.Time) { t.done("list_files", s, err) }(time.Now())
	return t.b.ListFiles(ctx, q)
}

func (t *TimedStore) ContainerUsage(ctx context.Context, sid string) (_ int64, err error) {
	defer func(s time.Time) { t.done("container_usage", s, err) }(time.Now())
	return t.b.ContainerUsage(ctx, sid)
}

func (t *TimedStore) ExpiredFiles(ctx context.Context, now time.Time, limit int) (_ []adapter.File, err error) {
	defer func(s time.Time) { t.done("expired_files", s, err) }(time.Now())
	return t.b.ExpiredFiles(ctx, now, limit)
}

// Close closes the underlying store.
func (t *TimedStore) Close() error { return t.b.Close() }

func (t *TimedStore) Enqueue(ctx context.Context, es ...adapter.Entry) (err error) {
	defer func(s time.Time) { t.done("enqueue", s, err) }(time.Now())
	return t.b.Enqueue(ctx, es...)
}

func (t *TimedStore) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, max int) (_ []adapter.Entry, err error) {
	defer func(s time.Time) { t.done("claim", s, err) }(time.Now())
	return t.b.Claim(ctx, owner, now, lease, max)
}

func (t *TimedStore) Ack(ctx context.Context, id, owner string) (err error) {
	defer func(s time.Time) { t.done("ack", s, err) }(time.Now())
	return t.b.Ack(ctx, id, owner)
}

func (t *TimedStore) Retry(ctx context.Context, id, owner string, next time.Time, lastErr string) (err error) {
	defer func(s time.Time) { t.done("retry", s, err) }(time.Now())
	return t.b.Retry(ctx, id, owner, next, lastErr)
}

func (t *TimedStore) Dead(ctx context.Context, id, owner, lastErr string) (err error) {
	defer func(s time.Time) { t.done("dead", s, err) }(time.Now())
	return t.b.Dead(ctx, id, owner, lastErr)
}

func (t *TimedStore) ListDead(ctx context.Context, limit int) (_ []adapter.Entry, err error) {
	defer func(s time.Time) { t.done("list_dead", s, err) }(time.Now())
	return t.b.ListDead(ctx, limit)
}

func (t *TimedStore) Replay(ctx context.Context, id string) (err error) {
	defer func(s time.Time) { t.done("replay", s, err) }(time.Now())
	return t.b.Replay(ctx, id)
}

func (t *TimedStore) Pending(ctx context.Context) (_ int, err error) {
	defer func(s time.Time) { t.done("pending", s, err) }(time.Now())
	return t.b.Pending(ctx)
}

// Write writes every family in the text format (httpapi serves it at /metrics).
func (s *Set) Write(ctx context.Context, w io.Writer) error { return s.Registry.Write(ctx, w) }

func (t *TimedStore) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (_ adapter.Lease, err error) {
	defer func(s time.Time) { t.done("acquire_lease", s, err) }(time.Now())
	return t.b.AcquireLease(ctx, name, owner, ttl)
}

func (t *TimedStore) RenewLease(ctx context.Context, name, owner string, ttl time.Duration) (_ adapter.Lease, err error) {
	defer func(s time.Time) { t.done("renew_lease", s, err) }(time.Now())
	return t.b.RenewLease(ctx, name, owner, ttl)
}

func (t *TimedStore) ReleaseLease(ctx context.Context, name, owner string) (err error) {
	defer func(s time.Time) { t.done("release_lease", s, err) }(time.Now())
	return t.b.ReleaseLease(ctx, name, owner)
}

func (t *TimedStore) GetLease(ctx context.Context, name string) (_ adapter.Lease, err error) {
	defer func(s time.Time) { t.done("get_lease", s, err) }(time.Now())
	return t.b.GetLease(ctx, name)
}

func (t *TimedStore) AddJob(ctx context.Context, j adapter.Job) (err error) {
	defer func(s time.Time) { t.done("add_job", s, err) }(time.Now())
	return t.b.AddJob(ctx, j)
}

func (t *TimedStore) ClaimJobs(ctx context.Context, owner string, now time.Time, lease time.Duration, max int) (_ []adapter.Job, err error) {
	defer func(s time.Time) { t.done("claim_jobs", s, err) }(time.Now())
	return t.b.ClaimJobs(ctx, owner, now, lease, max)
}

func (t *TimedStore) ExtendJob(ctx context.Context, id, owner string, until time.Time) (err error) {
	defer func(s time.Time) { t.done("extend_job", s, err) }(time.Now())
	return t.b.ExtendJob(ctx, id, owner, until)
}

func (t *TimedStore) FinishJob(ctx context.Context, id, owner string) (err error) {
	defer func(s time.Time) { t.done("finish_job", s, err) }(time.Now())
	return t.b.FinishJob(ctx, id, owner)
}

func (t *TimedStore) PendingJobs(ctx context.Context) (_ int, err error) {
	defer func(s time.Time) { t.done("pending_jobs", s, err) }(time.Now())
	return t.b.PendingJobs(ctx)
}
