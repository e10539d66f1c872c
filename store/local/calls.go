package local

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// GetCall returns a call's state, or an error wrapping adapter.ErrNotFound.
func (s *Store) GetCall(ctx context.Context, id string) (adapter.CallState, error) {
	var c adapter.CallState
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bCalls).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("call %q: %w", id, adapter.ErrNotFound)
		}
		var err error
		c, err = decodeCall(v)
		return err
	})
	if err != nil {
		return adapter.CallState{}, fmt.Errorf("store: get call: %w", err)
	}
	return c, nil
}

// PutCall writes c when c.Version is the stored version (0: the call must not exist) and
// returns it with Version incremented. Otherwise the error wraps adapter.ErrConflict.
func (s *Store) PutCall(ctx context.Context, c adapter.CallState) (adapter.CallState, error) {
	if c.ID == "" {
		return adapter.CallState{}, fmt.Errorf("store: put call: id is empty")
	}
	want := c.Version
	var out adapter.CallState
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bCalls)
		var have int64
		if v := b.Get([]byte(c.ID)); v != nil {
			old, err := decodeCall(v)
			if err != nil {
				return err
			}
			have = old.Version
		}
		if have != want {
			return fmt.Errorf("call %q: version %d, stored %d: %w", c.ID, want, have, adapter.ErrConflict)
		}
		out = c
		out.Version = want + 1
		v, err := encodeCall(out)
		if err != nil {
			return err
		}
		return b.Put([]byte(c.ID), v)
	})
	if err != nil {
		return adapter.CallState{}, fmt.Errorf("store: put call: %w", err)
	}
	return out, nil
}

// DeleteCall removes a call's state, or returns an error wrapping adapter.ErrNotFound.
func (s *Store) DeleteCall(ctx context.Context, id string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bCalls)
		if b.Get([]byte(id)) == nil {
			return fmt.Errorf("call %q: %w", id, adapter.ErrNotFound)
		}
		return b.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("store: delete call: %w", err)
	}
	return nil
}

// ListCalls returns every call's state, ordered by id.
func (s *Store) ListCalls(ctx context.Context) ([]adapter.CallState, error) {
	var out []adapter.CallState
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bCalls).ForEach(func(_, v []byte) error {
			c, err := decodeCall(v)
			if err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list calls: %w", err)
	}
	return out, nil
}
