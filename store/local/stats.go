package local

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// OldestQueued is the Created time of the oldest queued entry among the heads of the scan
// calls due soonest (metrics: the outbox's age); zero when nothing is queued. outbox_due
// holds one key per call, naming its head, which is the call's oldest entry: with at most
// scan calls queued the answer is exact.
func (s *Store) OldestQueued(ctx context.Context, scan int) (time.Time, error) {
	var oldest time.Time
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bDue).Cursor()
		n := 0
		for k, _ := c.First(); k != nil && n < scan; k, _ = c.Next() {
			n++
			e, err := getEntry(tx, keyID(k))
			if err != nil {
				return err
			}
			if oldest.IsZero() || e.Created.Before(oldest) {
				oldest = e.Created
			}
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("store: oldest queued: %w", err)
	}
	return oldest, nil
}
