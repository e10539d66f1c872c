package redis

import (
	"encoding/json"
	"fmt"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/store"
)

// The stored records are the shared ones of package store (the same JSON as store/local, so
// that a dump reads alike). A call's Version is kept beside its record (field v), not in it,
// and an outbox entry's mutable state (attempts, due time, lease, last error) is kept in hash
// fields that the Lua scripts read and write, beside its immutable record (field d).

func encodeCall(c adapter.CallState) ([]byte, error) {
	return store.Marshal("call "+c.ID, store.CallRecordOf(c))
}

func decodeCall(b []byte) (adapter.CallState, error) {
	var r store.CallRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return adapter.CallState{}, fmt.Errorf("decode call: %w", err)
	}
	return r.State(), nil
}

func encodeEntry(e adapter.Entry) ([]byte, error) {
	return store.Marshal("entry "+e.ID, store.EntryRecordOf(e))
}

func decodeEntry(b []byte) (adapter.Entry, error) {
	var r store.EntryRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return adapter.Entry{}, fmt.Errorf("decode outbox entry: %w", err)
	}
	return r.Entry(), nil
}
