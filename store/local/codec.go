package local

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/store"
)

// The on-disk records are the shared ones of package store, with what this store keeps
// beside them inside the same JSON object (embedding flattens): a call's version, an entry's
// mutable state. JSON keeps the file readable with bbolt's own tools.

type callRecord struct {
	store.CallRecord
	Version int64 `json:"version"`
}

func encodeCall(c adapter.CallState) ([]byte, error) {
	return store.Marshal("call "+c.ID, callRecord{CallRecord: store.CallRecordOf(c), Version: c.Version})
}

func decodeCall(b []byte) (adapter.CallState, error) {
	var r callRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return adapter.CallState{}, fmt.Errorf("decode call: %w", err)
	}
	c := r.State()
	c.Version = r.Version
	return c, nil
}

type entryRecord struct {
	store.EntryRecord
	Attempts  int       `json:"attempts"`
	NextAt    time.Time `json:"next_at"`
	Owner     string    `json:"owner,omitempty"`
	LeaseEnd  time.Time `json:"lease_end"`
	LastError string    `json:"last_error,omitempty"`
	DeadAt    time.Time `json:"dead_at"`
}

func encodeEntry(e adapter.Entry) ([]byte, error) {
	return store.Marshal("entry "+e.ID, entryRecord{
		EntryRecord: store.EntryRecordOf(e),
		Attempts:    e.Attempts, NextAt: e.NextAt.UTC(), Owner: e.Owner, LeaseEnd: e.LeaseEnd.UTC(),
		LastError: e.LastError, DeadAt: e.DeadAt.UTC(),
	})
}

func decodeEntry(b []byte) (adapter.Entry, error) {
	var r entryRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return adapter.Entry{}, fmt.Errorf("decode outbox entry: %w", err)
	}
	e := r.Entry()
	e.Attempts, e.NextAt, e.Owner, e.LeaseEnd, e.LastError, e.DeadAt = r.Attempts, r.NextAt, r.Owner, r.LeaseEnd, r.LastError, r.DeadAt
	return e, nil
}
