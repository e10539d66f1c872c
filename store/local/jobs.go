package local

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/store"
)

// Background jobs (adapter.Jobs) live in their own bucket, keyed by id, created on first
// use so that older databases need no migration. Claim scans them all: jobs are few (one per
// transcription in progress), and a scan keeps the layout to one bucket.

var _ adapter.Jobs = (*Store)(nil)

var bJobs = []byte("jobs")

type jobRecord struct {
	store.JobRecord
	Owner    string    `json:"owner,omitempty"`
	LeaseEnd time.Time `json:"lease_end"`
	Attempts int       `json:"attempts"`
}

func encodeJob(j adapter.Job) ([]byte, error) {
	return store.Marshal("job "+j.ID, jobRecord{JobRecord: store.JobRecordOf(j), Owner: j.Owner, LeaseEnd: j.LeaseEnd.UTC(), Attempts: j.Attempts})
}

func decodeJob(b []byte) (adapter.Job, error) {
	var r jobRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return adapter.Job{}, fmt.Errorf("decode job: %w", err)
	}
	j := r.Job()
	j.Owner, j.LeaseEnd, j.Attempts = r.Owner, r.LeaseEnd, r.Attempts
	return j, nil
}

func jobsBucket(tx *bolt.Tx) (*bolt.Bucket, error) {
	return tx.CreateBucketIfNotExists(bJobs)
}

// AddJob stores a new, free job; ErrConflict when the id is taken.
func (s *Store) AddJob(ctx context.Context, j adapter.Job) error {
	if j.ID == "" {
		return fmt.Errorf("store: add job: id is empty")
	}
	if j.Created.IsZero() {
		j.Created = time.Now()
	}
	j.Owner, j.LeaseEnd, j.Attempts = "", time.Time{}, 0
	v, err := encodeJob(j)
	if err != nil {
		return fmt.Errorf("store: add job: %w", err)
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		b, err := jobsBucket(tx)
		if err != nil {
			return err
		}
		if b.Get([]byte(j.ID)) != nil {
			return fmt.Errorf("job %q: %w", j.ID, adapter.ErrConflict)
		}
		return b.Put([]byte(j.ID), v)
	})
	if err != nil {
		return fmt.Errorf("store: add job: %w", err)
	}
	return nil
}

// ClaimJobs leases up to max free or expired jobs to owner, oldest first.
func (s *Store) ClaimJobs(ctx context.Context, owner string, now time.Time, lease time.Duration, max int) ([]adapter.Job, error) {
	if max <= 0 {
		return nil, nil
	}
	var out []adapter.Job
	err := s.update(ctx, func(tx *bolt.Tx) error {
		out = out[:0]
		b, err := jobsBucket(tx)
		if err != nil {
			return err
		}
		var free []adapter.Job
		err = b.ForEach(func(_, v []byte) error {
			j, err := decodeJob(v)
			if err != nil {
				return err
			}
			if j.Owner == "" || !j.LeaseEnd.After(now) {
				free = append(free, j)
			}
			return nil
		})
		if err != nil {
			return err
		}
		slices.SortFunc(free, func(a, b adapter.Job) int {
			if c := a.Created.Compare(b.Created); c != 0 {
				return c
			}
			return compareStrings(a.ID, b.ID)
		})
		for _, j := range free[:min(len(free), max)] {
			j.Owner, j.LeaseEnd, j.Attempts = owner, now.Add(lease), j.Attempts+1
			v, err := encodeJob(j)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(j.ID), v); err != nil {
				return err
			}
			out = append(out, j)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim jobs: %w", err)
	}
	return out, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// held runs fn on the job id when owner holds it.
func (s *Store) held(ctx context.Context, id, owner string, fn func(b *bolt.Bucket, j adapter.Job) error) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		b, err := jobsBucket(tx)
		if err != nil {
			return err
		}
		v := b.Get([]byte(id))
		if v == nil {
			return fmt.Errorf("job %q: %w", id, adapter.ErrNotFound)
		}
		j, err := decodeJob(v)
		if err != nil {
			return err
		}
		if j.Owner != owner || owner == "" {
			return fmt.Errorf("job %q is held by %q, not %q: %w", id, j.Owner, owner, adapter.ErrConflict)
		}
		return fn(b, j)
	})
}

// ExtendJob moves the lease end of a job owner holds.
func (s *Store) ExtendJob(ctx context.Context, id, owner string, until time.Time) error {
	err := s.held(ctx, id, owner, func(b *bolt.Bucket, j adapter.Job) error {
		j.LeaseEnd = until
		v, err := encodeJob(j)
		if err != nil {
			return err
		}
		return b.Put([]byte(id), v)
	})
	if err != nil {
		return fmt.Errorf("store: extend job: %w", err)
	}
	return nil
}

// FinishJob removes a job owner holds.
func (s *Store) FinishJob(ctx context.Context, id, owner string) error {
	err := s.held(ctx, id, owner, func(b *bolt.Bucket, _ adapter.Job) error {
		return b.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("store: finish job: %w", err)
	}
	return nil
}

// PendingJobs counts the stored jobs.
func (s *Store) PendingJobs(ctx context.Context) (int, error) {
	n := 0
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if b := tx.Bucket(bJobs); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: pending jobs: %w", err)
	}
	return n, nil
}
