package local

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pbxbridge/pbxbridge/adapter"
)

var _ adapter.Leases = (*Store)(nil)

// bLeases holds one JSON leaseRecord per lease name. It is created on first use, so that a
// database written before leases existed needs no schema change. A released or expired lease
// keeps its record (with no owner) so that its epoch goes on growing.
var bLeases = []byte("leases")

type leaseRecord struct {
	Owner   string    `json:"owner,omitempty"`
	Epoch   int64     `json:"epoch"`
	Expires time.Time `json:"expires"`
}

// held reports whether the record is a live lease at now.
func (r leaseRecord) held(now time.Time) bool { return r.Owner != "" && now.Before(r.Expires) }

func (r leaseRecord) lease(name string) adapter.Lease {
	return adapter.Lease{Name: name, Owner: r.Owner, Epoch: r.Epoch, Expires: r.Expires}
}

func getLease(tx *bolt.Tx, name string) (leaseRecord, error) {
	var r leaseRecord
	b := tx.Bucket(bLeases)
	if b == nil {
		return r, nil
	}
	if v := b.Get([]byte(name)); v != nil {
		if err := json.Unmarshal(v, &r); err != nil {
			return r, fmt.Errorf("decode lease %q: %w", name, err)
		}
	}
	return r, nil
}

func putLease(tx *bolt.Tx, name string, r leaseRecord) error {
	b, err := tx.CreateBucketIfNotExists(bLeases)
	if err != nil {
		return err
	}
	r.Expires = r.Expires.UTC()
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return b.Put([]byte(name), v)
}

func checkLease(name, owner string, ttl time.Duration) error {
	switch {
	case name == "":
		return fmt.Errorf("lease name is empty")
	case owner == "":
		return fmt.Errorf("lease %q: owner is empty", name)
	case ttl <= 0:
		return fmt.Errorf("lease %q: ttl %v must be positive", name, ttl)
	}
	return nil
}

// AcquireLease implements adapter.Leases. The process's clock decides expiry: the embedded
// store has one process.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (adapter.Lease, error) {
	if err := checkLease(name, owner, ttl); err != nil {
		return adapter.Lease{}, fmt.Errorf("store: acquire lease: %w", err)
	}
	var out adapter.Lease
	err := s.update(ctx, func(tx *bolt.Tx) error {
		r, err := getLease(tx, name)
		if err != nil {
			return err
		}
		now := time.Now()
		if r.held(now) && r.Owner != owner {
			return fmt.Errorf("lease %q is held by another owner until %v: %w", name, r.Expires, adapter.ErrConflict)
		}
		if !r.held(now) {
			r.Owner, r.Epoch = owner, r.Epoch+1
		}
		r.Expires = now.Add(ttl)
		out = r.lease(name)
		return putLease(tx, name, r)
	})
	if err != nil {
		return adapter.Lease{}, fmt.Errorf("store: acquire lease: %w", err)
	}
	return out, nil
}

// RenewLease implements adapter.Leases.
func (s *Store) RenewLease(ctx context.Context, name, owner string, ttl time.Duration) (adapter.Lease, error) {
	if err := checkLease(name, owner, ttl); err != nil {
		return adapter.Lease{}, fmt.Errorf("store: renew lease: %w", err)
	}
	var out adapter.Lease
	err := s.update(ctx, func(tx *bolt.Tx) error {
		r, err := getLease(tx, name)
		if err != nil {
			return err
		}
		now := time.Now()
		if !r.held(now) || r.Owner != owner {
			return fmt.Errorf("lease %q is not held by this owner: %w", name, adapter.ErrConflict)
		}
		r.Expires = now.Add(ttl)
		out = r.lease(name)
		return putLease(tx, name, r)
	})
	if err != nil {
		return adapter.Lease{}, fmt.Errorf("store: renew lease: %w", err)
	}
	return out, nil
}

// ReleaseLease implements adapter.Leases.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		r, err := getLease(tx, name)
		if err != nil {
			return err
		}
		if !r.held(time.Now()) || r.Owner != owner {
			return fmt.Errorf("lease %q is not held by this owner: %w", name, adapter.ErrConflict)
		}
		r.Owner, r.Expires = "", time.Time{}
		return putLease(tx, name, r)
	})
	if err != nil {
		return fmt.Errorf("store: release lease: %w", err)
	}
	return nil
}

// GetLease implements adapter.Leases.
func (s *Store) GetLease(ctx context.Context, name string) (adapter.Lease, error) {
	var out adapter.Lease
	err := s.view(ctx, func(tx *bolt.Tx) error {
		r, err := getLease(tx, name)
		if err != nil {
			return err
		}
		if !r.held(time.Now()) {
			return fmt.Errorf("lease %q: %w", name, adapter.ErrNotFound)
		}
		out = r.lease(name)
		return nil
	})
	if err != nil {
		return adapter.Lease{}, fmt.Errorf("store: get lease: %w", err)
	}
	return out, nil
}
