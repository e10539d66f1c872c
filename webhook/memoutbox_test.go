package webhook_test

import (
	"context"
	"sync"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// memOutbox is an outbox that keeps nothing durable and checks nothing: a slice under a
// mutex. BenchmarkDelivery runs the Worker over it (outbox-memory) to show the Worker's own
// cost, the floor under any store: it is not an implementation of the Outbox contract (no
// per-call order, no leases, no retries), and nothing but that benchmark uses it.
type memOutbox struct {
	mu sync.Mutex
	q  []adapter.Entry
	n  int
}

func (m *memOutbox) Enqueue(_ context.Context, es ...adapter.Entry) error {
	m.mu.Lock()
	m.q = append(m.q, es...)
	m.n += len(es)
	m.mu.Unlock()
	return nil
}
func (m *memOutbox) Claim(_ context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]adapter.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := min(limit, len(m.q))
	out := make([]adapter.Entry, k)
	copy(out, m.q[:k])
	m.q = m.q[k:]
	for i := range out {
		out[i].Owner, out[i].LeaseEnd, out[i].Attempts = owner, now.Add(lease), 1
	}
	return out, nil
}
func (m *memOutbox) Ack(context.Context, string, string) error {
	m.mu.Lock()
	m.n--
	m.mu.Unlock()
	return nil
}
func (m *memOutbox) AckEach(_ context.Context, _ string, ids []string) ([]error, error) {
	m.mu.Lock()
	m.n -= len(ids)
	m.mu.Unlock()
	return make([]error, len(ids)), nil
}
func (m *memOutbox) Retry(context.Context, string, string, time.Time, string) error { return nil }
func (m *memOutbox) Dead(context.Context, string, string, string) error             { return nil }
func (m *memOutbox) ListDead(context.Context, int) ([]adapter.Entry, error)         { return nil, nil }
func (m *memOutbox) Replay(context.Context, string) error                           { return nil }
func (m *memOutbox) Pending(context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n, nil
}
