package local

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// How the outbox finds due work without scanning the backlog (bucket layout in doc.go):
//
// Only the head of each call (its lowest-Seq queued entry) can be claimed, and only once no
// entry of that call holds a live lease. So each call with queued entries has exactly one key in
// outbox_due, "claimable-at + head id", where claimable-at is the latest of the head's NextAt
// and the LeaseEnd of every leased entry of the call. Claim reads outbox_due from the start and
// stops at the first key after now: it touches the entries it returns and nothing else, however
// long the backlog of future retries or of other calls' later entries. An in-flight entry stays
// in outbox_due under its LeaseEnd, which is how an expired lease (a crashed worker) comes back.
//
// Every write that changes a call's head, a NextAt or a lease calls reschedule for that call,
// inside the same transaction, so the index can never disagree with the entries.

// Enqueue stores entries, durably, before anything is sent. An entry with Owner set is stored
// leased to that owner until its LeaseEnd (which must then be set). The error wraps
// adapter.ErrConflict when an ID is already queued or dead; then none of es is stored.
// Created defaults to now.
func (s *Store) Enqueue(ctx context.Context, es ...adapter.Entry) error {
	if len(es) == 0 {
		return nil
	}
	for _, e := range es {
		if err := checkEntry(e); err != nil {
			return fmt.Errorf("store: enqueue: %w", err)
		}
	}
	now := time.Now()
	err := s.update(ctx, func(tx *bolt.Tx) error {
		for _, e := range es {
			if tx.Bucket(bEntries).Get([]byte(e.ID)) != nil || tx.Bucket(bDead).Get([]byte(e.ID)) != nil {
				return fmt.Errorf("entry %s: already in the outbox: %w", e.ID, adapter.ErrConflict)
			}
			if e.Created.IsZero() {
				e.Created = now
			}
			e.DeadAt = time.Time{}
			if e.Owner == "" {
				e.LeaseEnd = time.Time{}
			}
			if err := insertQueued(tx, e); err != nil {
				return err
			}
		}
		done := make(map[string]bool, 1)
		for _, e := range es {
			if done[e.CallID] {
				continue
			}
			done[e.CallID] = true
			if err := reschedule(tx, e.CallID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: enqueue: %w", err)
	}
	return nil
}

func checkEntry(e adapter.Entry) error {
	if e.ID == "" {
		return errors.New("entry id is empty")
	}
	if err := checkPrefixable("entry "+e.ID+": call id", e.CallID); err != nil {
		return err
	}
	if e.Owner != "" && e.LeaseEnd.IsZero() {
		return fmt.Errorf("entry %s: owner %q without a lease end", e.ID, e.Owner)
	}
	return nil
}

// Claim leases to owner, until now+lease, up to limit entries claimable at now: the head of
// each call whose NextAt has come, while no entry of that call holds a live lease. Entries come
// oldest claimable-at first. Each claim counts as an attempt (Attempts+1), so an attempt whose
// worker died is counted too.
func (s *Store) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]adapter.Entry, error) {
	if owner == "" {
		return nil, errors.New("store: claim: owner is empty")
	}
	if lease <= 0 {
		return nil, fmt.Errorf("store: claim: lease %v is not positive", lease)
	}
	if limit <= 0 {
		return nil, nil
	}
	end := timeBits(now)
	// Idle workers poll: look in a read transaction first, so that a poll that finds nothing
	// costs no write transaction and no fsync. Work that becomes due just after the look is
	// found by the next poll.
	var due bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bDue).Cursor().First()
		due = k != nil && keyTime(k) <= end
		return nil
	})
	if err != nil || !due {
		if err != nil {
			err = fmt.Errorf("store: claim: %w", err)
		}
		return nil, err
	}
	leaseEnd := now.Add(lease).UTC()
	var out []adapter.Entry
	err = s.update(ctx, func(tx *bolt.Tx) error {
		out = nil // this function may run again (see update)
		var ids []string
		c := tx.Bucket(bDue).Cursor()
		for k, _ := c.First(); k != nil && keyTime(k) <= end && len(ids) < limit; k, _ = c.Next() {
			ids = append(ids, keyID(k))
		}
		// The cursor is done before anything is written: bbolt cursors do not survive writes
		// to their bucket, and reschedule rewrites outbox_due.
		for _, id := range ids {
			e, err := getEntry(tx, id)
			if err != nil {
				return fmt.Errorf("due index: %w", err)
			}
			e.Owner, e.LeaseEnd = owner, leaseEnd
			e.Attempts++
			if err := putEntry(tx, e); err != nil {
				return err
			}
			if err := tx.Bucket(bLeased).Put(leasedKey(e), bitsBytes(timeBits(leaseEnd))); err != nil {
				return err
			}
			if err := reschedule(tx, e.CallID); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim: %w", err)
	}
	return out, nil
}

// Ack removes a delivered entry. The error wraps adapter.ErrNotFound when the entry is not
// queued, and adapter.ErrConflict when owner does not hold its lease. A lease that has run out
// but was not claimed again still belongs to its owner: the delivery it reports did happen.
func (s *Store) Ack(ctx context.Context, id, owner string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		answer, err := ackIn(tx, id, owner)
		if answer != nil {
			return answer
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("store: ack: %w", err)
	}
	return nil
}

// ackIn removes owner's entry id in tx and lets its call's next entry go. When the entry is
// not queued or not owner's, that is its answer, and tx is untouched; err is a failure of tx.
func ackIn(tx *bolt.Tx, id, owner string) (answer, err error) {
	e, answer := ownedEntry(tx, id, owner)
	if answer != nil {
		return answer, nil
	}
	if err := removeQueued(tx, e); err != nil {
		return nil, err
	}
	return nil, reschedule(tx, e.CallID)
}

// AckEach acknowledges ids for owner in one transaction, each as Ack would
// (adapter.AckBatcher): an id that is not queued or not owner's gets its error in answers and
// is left as it is.
func (s *Store) AckEach(ctx context.Context, owner string, ids []string) ([]error, error) {
	answers := make([]error, len(ids))
	err := s.update(ctx, func(tx *bolt.Tx) error {
		for i, id := range ids {
			answer, err := ackIn(tx, id, owner)
			if err != nil {
				return err
			}
			answers[i] = nil
			if answer != nil {
				answers[i] = fmt.Errorf("store: ack: %w", answer)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: ack: %w", err)
	}
	return answers, nil
}

// Retry releases owner's lease and makes the entry due again at next, keeping its place at the
// head of its call. Errors as Ack.
func (s *Store) Retry(ctx context.Context, id, owner string, next time.Time, lastErr string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		e, err := ownedEntry(tx, id, owner)
		if err != nil {
			return err
		}
		e.Owner, e.LeaseEnd = "", time.Time{}
		e.NextAt, e.LastError = next.UTC(), lastErr
		if err := putEntry(tx, e); err != nil {
			return err
		}
		if err := tx.Bucket(bCallSeq).Put(seqKey(e.CallID, e.Seq, e.ID), bitsBytes(timeBits(e.NextAt))); err != nil {
			return err
		}
		if err := tx.Bucket(bLeased).Delete(leasedKey(e)); err != nil {
			return err
		}
		return reschedule(tx, e.CallID)
	})
	if err != nil {
		return fmt.Errorf("store: retry: %w", err)
	}
	return nil
}

// Dead moves an entry from the queue to the dead letters, which lets the next entry of its
// call go. Errors as Ack.
func (s *Store) Dead(ctx context.Context, id, owner string, lastErr string) error {
	now := time.Now().UTC()
	err := s.update(ctx, func(tx *bolt.Tx) error {
		e, err := ownedEntry(tx, id, owner)
		if err != nil {
			return err
		}
		if err := removeQueued(tx, e); err != nil {
			return err
		}
		if err := reschedule(tx, e.CallID); err != nil {
			return err
		}
		e.Owner, e.LeaseEnd = "", time.Time{}
		e.LastError, e.DeadAt = lastErr, now
		v, err := encodeEntry(e)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bDead).Put([]byte(e.ID), v); err != nil {
			return err
		}
		return tx.Bucket(bDeadByTime).Put(timeKey(e.DeadAt, e.ID), nil)
	})
	if err != nil {
		return fmt.Errorf("store: dead: %w", err)
	}
	return nil
}

// ListDead lists dead letters, oldest death first, at most limit (limit <= 0: all).
func (s *Store) ListDead(ctx context.Context, limit int) ([]adapter.Entry, error) {
	var out []adapter.Entry
	err := s.view(ctx, func(tx *bolt.Tx) error {
		dead := tx.Bucket(bDead)
		c := tx.Bucket(bDeadByTime).Cursor()
		for k, _ := c.First(); k != nil && (limit <= 0 || len(out) < limit); k, _ = c.Next() {
			v := dead.Get(k[8:])
			if v == nil {
				return fmt.Errorf("dead letter index names missing entry %s", k[8:])
			}
			e, err := decodeEntry(v)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: list dead letters: %w", err)
	}
	return out, nil
}

// Replay puts a dead letter back in the queue, due now, with no attempts and no lease. It
// takes its place in its call's order by Seq again. The error wraps adapter.ErrNotFound when id
// is not a dead letter.
func (s *Store) Replay(ctx context.Context, id string) error {
	now := time.Now().UTC()
	err := s.update(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bDead).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("dead letter %s: %w", id, adapter.ErrNotFound)
		}
		e, err := decodeEntry(v)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bDeadByTime).Delete(timeKey(e.DeadAt, e.ID)); err != nil {
			return err
		}
		if err := tx.Bucket(bDead).Delete([]byte(id)); err != nil {
			return err
		}
		e.DeadAt, e.Attempts, e.NextAt = time.Time{}, 0, now
		e.Owner, e.LeaseEnd = "", time.Time{}
		if err := insertQueued(tx, e); err != nil {
			return err
		}
		return reschedule(tx, e.CallID)
	})
	if err != nil {
		return fmt.Errorf("store: replay: %w", err)
	}
	return nil
}

// Pending counts queued entries (leased or not; dead letters excluded). It reads a counter
// kept with every queue change, not the queue.
func (s *Store) Pending(ctx context.Context) (int, error) {
	var n int64
	err := s.view(ctx, func(tx *bolt.Tx) error {
		n = bytesInt64(tx.Bucket(bMeta).Get(keyPending))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: pending: %w", err)
	}
	return int(n), nil
}

func getEntry(tx *bolt.Tx, id string) (adapter.Entry, error) {
	v := tx.Bucket(bEntries).Get([]byte(id))
	if v == nil {
		return adapter.Entry{}, fmt.Errorf("entry %s: %w", id, adapter.ErrNotFound)
	}
	return decodeEntry(v)
}

func ownedEntry(tx *bolt.Tx, id, owner string) (adapter.Entry, error) {
	e, err := getEntry(tx, id)
	if err != nil {
		return e, err
	}
	if owner == "" || e.Owner != owner {
		return e, fmt.Errorf("entry %s: leased to %q, not %q: %w", id, e.Owner, owner, adapter.ErrConflict)
	}
	return e, nil
}

func putEntry(tx *bolt.Tx, e adapter.Entry) error {
	v, err := encodeEntry(e)
	if err != nil {
		return err
	}
	return tx.Bucket(bEntries).Put([]byte(e.ID), v)
}

// insertQueued adds an entry to the queue and its indexes, except outbox_due: the caller
// reschedules the entry's call.
func insertQueued(tx *bolt.Tx, e adapter.Entry) error {
	if err := putEntry(tx, e); err != nil {
		return err
	}
	if err := tx.Bucket(bCallSeq).Put(seqKey(e.CallID, e.Seq, e.ID), bitsBytes(timeBits(e.NextAt))); err != nil {
		return err
	}
	if e.Owner != "" {
		if err := tx.Bucket(bLeased).Put(leasedKey(e), bitsBytes(timeBits(e.LeaseEnd))); err != nil {
			return err
		}
	}
	return addPending(tx, 1)
}

// removeQueued removes an entry from the queue and its indexes, except outbox_due: the caller
// reschedules the entry's call.
func removeQueued(tx *bolt.Tx, e adapter.Entry) error {
	if err := tx.Bucket(bEntries).Delete([]byte(e.ID)); err != nil {
		return err
	}
	if err := tx.Bucket(bCallSeq).Delete(seqKey(e.CallID, e.Seq, e.ID)); err != nil {
		return err
	}
	if err := tx.Bucket(bLeased).Delete(leasedKey(e)); err != nil {
		return err
	}
	return addPending(tx, -1)
}

func addPending(tx *bolt.Tx, d int64) error {
	m := tx.Bucket(bMeta)
	return m.Put(keyPending, int64Bytes(bytesInt64(m.Get(keyPending))+d))
}

// leasedKey is prefix(call) + id in outbox_leased; the value is the LeaseEnd's timeBits.
func leasedKey(e adapter.Entry) []byte { return append(prefix(e.CallID), e.ID...) }

func bitsBytes(b uint64) []byte { return binary.BigEndian.AppendUint64(nil, b) }

// reschedule recomputes a call's key in outbox_due (see the comment at the top of this file):
// the head is the first key of the call in outbox_by_call (whose value is the head's NextAt),
// and every lease of the call, the head's own included, pushes claimable-at to its end.
func reschedule(tx *bolt.Tx, call string) error {
	p := prefix(call)
	heads, due := tx.Bucket(bCallHead), tx.Bucket(bDue)
	var newKey []byte
	if k := firstWithPrefix(tx.Bucket(bCallSeq).Cursor(), p); k != nil {
		bits := binary.BigEndian.Uint64(tx.Bucket(bCallSeq).Get(k))
		c := tx.Bucket(bLeased).Cursor()
		for lk, lv := c.Seek(p); lk != nil && bytes.HasPrefix(lk, p); lk, lv = c.Next() {
			bits = max(bits, binary.BigEndian.Uint64(lv))
		}
		newKey = bitsKey(bits, seqKeyID(k, p))
	}
	old := heads.Get([]byte(call))
	if bytes.Equal(old, newKey) {
		return nil
	}
	if old != nil {
		// Delete before Put below: the slice old points into the page Put may rewrite.
		if err := due.Delete(bytes.Clone(old)); err != nil {
			return err
		}
	}
	if newKey == nil {
		return heads.Delete([]byte(call))
	}
	if err := due.Put(newKey, nil); err != nil {
		return err
	}
	return heads.Put([]byte(call), newKey)
}
