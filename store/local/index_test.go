package local

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// TestRandomOutbox runs a random workload and checks, after every step, that the indexes
// agree with the entries and that Claim returns exactly what a brute-force reading of the
// rules (head of each call, due, no live lease in the call) says is claimable.
func TestRandomOutbox(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Unix(1_700_000_000, 0).UTC()
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	owners := []string{"w1", "w2", "w3"}
	next := 0

	var all []adapter.Entry // the queued entries, as of the last check
	for step := range 700 {
		now := at(step * 10)
		// pick an entry that has an owner, to settle.
		pick := func() (adapter.Entry, bool) {
			var owned []adapter.Entry
			for _, e := range all {
				if e.Owner != "" {
					owned = append(owned, e)
				}
			}
			if len(owned) == 0 {
				return adapter.Entry{}, false
			}
			return owned[rng.IntN(len(owned))], true
		}
		switch op := rng.IntN(10); {
		case op < 3:
			var es []adapter.Entry
			for range 1 + rng.IntN(2) {
				next++
				e := adapter.Entry{
					ID: fmt.Sprintf("e%d", next), CallID: fmt.Sprintf("c%d", rng.IntN(6)),
					Seq: int64(rng.IntN(20)), URL: "http://x", NextAt: now.Add(time.Duration(rng.IntN(50)-10) * time.Millisecond),
				}
				if rng.IntN(5) == 0 {
					e.Owner, e.LeaseEnd = "call", now.Add(time.Duration(rng.IntN(100))*time.Millisecond)
				}
				es = append(es, e)
			}
			if err := s.Enqueue(ctx, es...); err != nil {
				t.Fatalf("step %d: enqueue: %v", step, err)
			}
		case op < 6:
			want := bruteClaimable(all, now)
			got, err := s.Claim(ctx, owners[rng.IntN(len(owners))], now, time.Duration(10+rng.IntN(100))*time.Millisecond, 1000)
			if err != nil {
				t.Fatalf("step %d: claim: %v", step, err)
			}
			gotIDs := make([]string, len(got))
			for i, e := range got {
				gotIDs[i] = e.ID
			}
			slices.Sort(gotIDs)
			if !slices.Equal(gotIDs, want) {
				t.Fatalf("step %d: claim at %v got %v, want %v", step, now, gotIDs, want)
			}
		case op < 8:
			if e, ok := pick(); ok {
				if err := s.Ack(ctx, e.ID, e.Owner); err != nil {
					t.Fatalf("step %d: ack: %v", step, err)
				}
			}
		case op < 9:
			if e, ok := pick(); ok {
				if err := s.Retry(ctx, e.ID, e.Owner, now.Add(time.Duration(rng.IntN(40))*time.Millisecond), "x"); err != nil {
					t.Fatalf("step %d: retry: %v", step, err)
				}
			}
		default:
			if e, ok := pick(); ok && rng.IntN(2) == 0 {
				if err := s.Dead(ctx, e.ID, e.Owner, "x"); err != nil {
					t.Fatalf("step %d: dead: %v", step, err)
				}
			} else if dead := loadEntries(t, s, bDead); len(dead) > 0 {
				if err := s.Replay(ctx, dead[rng.IntN(len(dead))].ID); err != nil {
					t.Fatalf("step %d: replay: %v", step, err)
				}
			}
		}
		all = checkOutboxIndexes(t, s, step)
	}
}

// bruteClaimable is the sorted ids Claim must return at now, from the rules alone.
func bruteClaimable(all []adapter.Entry, now time.Time) []string {
	byCall := map[string][]adapter.Entry{}
	for _, e := range all {
		byCall[e.CallID] = append(byCall[e.CallID], e)
	}
	var out []string
	for _, es := range byCall {
		slices.SortFunc(es, func(a, b adapter.Entry) int {
			if a.Seq != b.Seq {
				return int(a.Seq - b.Seq)
			}
			return bytes.Compare([]byte(a.ID), []byte(b.ID))
		})
		head := es[0]
		if head.NextAt.After(now) {
			continue
		}
		if slices.ContainsFunc(es, func(e adapter.Entry) bool { return e.Owner != "" && e.LeaseEnd.After(now) }) {
			continue
		}
		out = append(out, head.ID)
	}
	slices.Sort(out)
	return out
}

func loadEntries(t *testing.T, s *Store, bucket []byte) []adapter.Entry {
	t.Helper()
	var out []adapter.Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(_, v []byte) error {
			e, err := decodeEntry(v)
			out = append(out, e)
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkOutboxIndexes recomputes every outbox index from the entries and compares. It returns
// the queued entries.
func checkOutboxIndexes(t *testing.T, s *Store, step int) []adapter.Entry {
	t.Helper()
	var all []adapter.Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		entries := map[string]adapter.Entry{}
		wantSeq, wantLeased, wantDue, wantHead := map[string]uint64{}, map[string]uint64{}, map[string]bool{}, map[string]string{}
		heads := map[string]adapter.Entry{}
		leaseMax := map[string]uint64{}
		if err := tx.Bucket(bEntries).ForEach(func(k, v []byte) error {
			e, err := decodeEntry(v)
			if err != nil {
				return err
			}
			entries[e.ID] = e
			all = append(all, e)
			wantSeq[string(seqKey(e.CallID, e.Seq, e.ID))] = timeBits(e.NextAt)
			if e.Owner != "" {
				wantLeased[string(leasedKey(e))] = timeBits(e.LeaseEnd)
				leaseMax[e.CallID] = max(leaseMax[e.CallID], timeBits(e.LeaseEnd))
			}
			if h, ok := heads[e.CallID]; !ok || bytes.Compare(seqKey(e.CallID, e.Seq, e.ID), seqKey(h.CallID, h.Seq, h.ID)) < 0 {
				heads[e.CallID] = e
			}
			return nil
		}); err != nil {
			return err
		}
		for call, h := range heads {
			k := string(bitsKey(max(timeBits(h.NextAt), leaseMax[call]), h.ID))
			wantDue[k] = true
			wantHead[call] = k
		}
		if err := sameBucket(tx, bCallSeq, func(k, v []byte) error {
			if b, ok := wantSeq[string(k)]; !ok || b != binary.BigEndian.Uint64(v) {
				return fmt.Errorf("outbox_by_call key %x value %x unexpected", k, v)
			}
			return nil
		}, len(wantSeq)); err != nil {
			return err
		}
		if err := sameBucket(tx, bLeased, func(k, v []byte) error {
			if b, ok := wantLeased[string(k)]; !ok || b != binary.BigEndian.Uint64(v) {
				return fmt.Errorf("outbox_leased key %x unexpected", k)
			}
			return nil
		}, len(wantLeased)); err != nil {
			return err
		}
		if err := sameBucket(tx, bDue, func(k, _ []byte) error {
			if !wantDue[string(k)] {
				return fmt.Errorf("outbox_due key %x unexpected", k)
			}
			return nil
		}, len(wantDue)); err != nil {
			return err
		}
		if err := sameBucket(tx, bCallHead, func(k, v []byte) error {
			if wantHead[string(k)] != string(v) {
				return fmt.Errorf("outbox_head of %s is %x, want %x", k, v, wantHead[string(k)])
			}
			return nil
		}, len(wantHead)); err != nil {
			return err
		}
		if n := bytesInt64(tx.Bucket(bMeta).Get(keyPending)); n != int64(len(entries)) {
			return fmt.Errorf("pending counter %d, %d entries", n, len(entries))
		}
		deadN := 0
		_ = tx.Bucket(bDead).ForEach(func(_, _ []byte) error { deadN++; return nil })
		return sameBucket(tx, bDeadByTime, func(k, _ []byte) error {
			if tx.Bucket(bDead).Get(k[8:]) == nil {
				return fmt.Errorf("outbox_dead_by_time names missing %s", k[8:])
			}
			return nil
		}, deadN)
	})
	if err != nil {
		t.Fatalf("step %d: %v", step, err)
	}
	return all
}

// sameBucket checks every key of a bucket with check, and that it has want keys.
func sameBucket(tx *bolt.Tx, name []byte, check func(k, v []byte) error, want int) error {
	n := 0
	if err := tx.Bucket(name).ForEach(func(k, v []byte) error {
		n++
		return check(k, v)
	}); err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("bucket %s has %d keys, want %d", name, n, want)
	}
	return nil
}

func TestCloseAndLock(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{LockTimeout: 50 * time.Millisecond}); err == nil {
		t.Fatal("a second Open of a locked directory succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	ctx := context.Background()
	if _, err := s.GetCall(ctx, "x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("get after close: %v, want ErrClosed", err)
	}
	if err := s.Enqueue(ctx, adapter.Entry{ID: "e", CallID: "c"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("enqueue after close: %v, want ErrClosed", err)
	}
	s2, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	_ = s2.Close()
}

func TestNewerSchemaRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bMeta).Put(keySchema, binary.BigEndian.AppendUint64(nil, schemaVersion+1))
	}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if s, err := Open(dir, Options{}); err == nil {
		_ = s.Close()
		t.Fatal("Open accepted a newer schema")
	}
}

func TestTimeBitsOrder(t *testing.T) {
	// Within int64 nanoseconds the order is strict; outside, times clamp to the ends.
	inRange := []time.Time{
		time.Unix(-1, 0), time.Unix(0, 0), time.Unix(0, 1), time.Unix(1_700_000_000, 5),
		time.Date(2200, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600)),
	}
	for i := 1; i < len(inRange); i++ {
		if timeBits(inRange[i-1]) >= timeBits(inRange[i]) {
			t.Errorf("timeBits(%v) >= timeBits(%v)", inRange[i-1], inRange[i])
		}
	}
	if timeBits(time.Time{}) != 0 || timeBits(time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)) != 0 {
		t.Errorf("zero and ancient times do not sort first")
	}
	if timeBits(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)) != 1<<64-1 {
		t.Errorf("far future does not sort last")
	}
}
