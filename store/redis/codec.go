package redis

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/store"
	"github.com/pbxbridge/pbxbridge/translate"
)

// A call's record is the shared one of package store (the same JSON as store/local, so that a
// dump reads alike); its Version is kept beside it (field v), not in it.
//
// An outbox entry's immutable part (its field of the hash d) is not JSON: the record is read back by every
// Claim, once per delivered callback, and decoding it as JSON cost more CPU than the rest of
// the store's client side. It is a version byte and then the fields of store.EntryRecord in
// a fixed order, each a varint or a length-prefixed string (entryCodec below); decoding it
// from the reply string shares the string's memory for every string field. Its mutable state
// (attempts, due time, lease, last error) is a string in the hash m that the Lua scripts read
// and write (encodeState in outbox.go).

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

// entryCodec is the version byte of an encoded entry. A change of the fields or of their
// meaning takes a new version; decodeEntry refuses versions it does not know.
const entryCodec = 2 // 1 was never used; an earlier layout stored JSON ('{')

// errEntryCodec is wrapped when a stored entry cannot be decoded.
var errEntryCodec = errors.New("outbox entry: bad encoding")

// encodeEntry appends the immutable part of e to b.
func encodeEntry(b []byte, e adapter.Entry) []byte {
	b = append(b, entryCodec)
	b = appendString(b, e.ID)
	b = appendString(b, e.CallID)
	b = binary.AppendVarint(b, e.Seq)
	b = appendString(b, e.App)
	b = appendString(b, string(e.Dialect))
	b = appendString(b, e.Kind)
	b = appendString(b, string(e.Method))
	b = appendString(b, e.URL)
	b = appendString(b, string(e.Auth))
	b = appendString(b, string(e.Body))
	b = appendString(b, e.BodyType)
	p := e.Retry
	b = binary.AppendVarint(b, int64(p.ConnectTimeout))
	b = binary.AppendVarint(b, int64(p.ReadTimeout))
	b = binary.AppendVarint(b, int64(p.TotalTimeout))
	b = binary.AppendVarint(b, int64(p.Retries))
	b = append(b, byte(p.RetryOn))
	b = appendString(b, p.Region)
	flags := byte(0)
	if p.FromFragment {
		flags |= 1
	}
	if e.Created.IsZero() {
		flags |= 2
	}
	b = append(b, flags)
	if !e.Created.IsZero() {
		b = binary.AppendVarint(b, e.Created.Unix())
		b = binary.AppendUvarint(b, uint64(e.Created.Nanosecond()))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// entryReader decodes an encoded entry held in a string; the strings it returns share its
// memory. The first error sticks.
type entryReader struct {
	s   string
	err error
}

func (r *entryReader) fail() {
	if r.err == nil {
		r.err = errEntryCodec
	}
	r.s = ""
}

func (r *entryReader) uvarint() uint64 {
	var v uint64
	for i := 0; i < len(r.s) && i < binary.MaxVarintLen64; i++ {
		c := r.s[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			r.s = r.s[i+1:]
			return v
		}
	}
	r.fail()
	return 0
}

func (r *entryReader) varint() int64 {
	u := r.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

func (r *entryReader) byte() byte {
	if len(r.s) == 0 {
		r.fail()
		return 0
	}
	c := r.s[0]
	r.s = r.s[1:]
	return c
}

func (r *entryReader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.s)) {
		r.fail()
		return ""
	}
	v := r.s[:n]
	r.s = r.s[n:]
	return v
}

func (r *entryReader) bytes() []byte {
	if s := r.string(); s != "" {
		return []byte(s)
	}
	return nil
}

// decodeEntry decodes an entry's immutable part (as encodeEntry wrote it), its mutable state
// zero.
func decodeEntry(s string) (adapter.Entry, error) {
	r := entryReader{s: s}
	if v := r.byte(); v != entryCodec {
		if v == '{' {
			return adapter.Entry{}, fmt.Errorf("%w: JSON of an earlier pbxbridge (drain the outbox before upgrading: docs/operators.md)", errEntryCodec)
		}
		return adapter.Entry{}, fmt.Errorf("%w: version %d", errEntryCodec, v)
	}
	var e adapter.Entry
	e.ID = r.string()
	e.CallID = r.string()
	e.Seq = r.varint()
	e.App = r.string()
	e.Dialect = translate.Dialect(r.string())
	e.Kind = r.string()
	e.Method = translate.Method(r.string())
	e.URL = r.string()
	e.Auth = r.bytes()
	e.Body = r.bytes()
	e.BodyType = r.string()
	e.Retry.ConnectTimeout = time.Duration(r.varint())
	e.Retry.ReadTimeout = time.Duration(r.varint())
	e.Retry.TotalTimeout = time.Duration(r.varint())
	e.Retry.Retries = int(r.varint())
	e.Retry.RetryOn = translate.RetryClass(r.byte())
	e.Retry.Region = r.string()
	flags := r.byte()
	e.Retry.FromFragment = flags&1 != 0
	if flags&2 == 0 {
		sec := r.varint()
		nsec := r.uvarint()
		if nsec >= 1e9 {
			r.fail()
		}
		e.Created = time.Unix(sec, int64(nsec)).UTC()
	}
	if r.err == nil && r.s != "" {
		r.err = fmt.Errorf("%w: %d bytes left over", errEntryCodec, len(r.s))
	}
	if r.err != nil {
		return adapter.Entry{}, fmt.Errorf("decode outbox entry %q: %w", e.ID, r.err)
	}
	return e, nil
}
