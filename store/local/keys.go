package local

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// Index keys are built so that bbolt's byte order is the order we scan in: times and sequence
// numbers are fixed-width big-endian with the sign bit flipped, and variable-length components
// that are followed by more key bytes carry a length prefix, so that no id can be the prefix of
// another's key range ("call-1" vs "call-10").

var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// timeBits maps t to a uint64 whose order is t's order. The zero time maps to 0, the smallest
// value ("due at once", "never" is handled by the callers). Times outside the years 1678–2262
// that int64 nanoseconds can hold are clamped.
func timeBits(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	var n int64
	switch {
	case t.Before(minNanoTime):
		n = math.MinInt64
	case t.After(maxNanoTime):
		n = math.MaxInt64
	default:
		n = t.UnixNano()
	}
	return uint64(n) ^ (1 << 63)
}

// timeKey is an index key: 8 bytes of time, then id.
func timeKey(t time.Time, id string) []byte {
	return bitsKey(timeBits(t), id)
}

func bitsKey(bits uint64, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, bits)
	return append(k, id...)
}

// keyTime and keyID split a timeKey.
func keyTime(k []byte) uint64 { return binary.BigEndian.Uint64(k[:8]) }
func keyID(k []byte) string   { return string(k[8:]) }

// maxPrefixed is the longest id that may start a composite key (its length is a uint16).
const maxPrefixed = math.MaxUint16

// prefix is a length-prefixed id: 2 bytes of length, then the id.
func prefix(id string) []byte {
	k := make([]byte, 2, 2+len(id)+16)
	binary.BigEndian.PutUint16(k, uint16(len(id)))
	return append(k, id...)
}

func checkPrefixable(what, id string) error {
	if id == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if len(id) > maxPrefixed {
		return fmt.Errorf("%s is %d bytes long, longer than %d", what, len(id), maxPrefixed)
	}
	return nil
}

// seqKey orders the entries of one call: prefix(call) + seq + id.
func seqKey(call string, seq int64, id string) []byte {
	k := prefix(call)
	k = binary.BigEndian.AppendUint64(k, uint64(seq)^(1<<63))
	return append(k, id...)
}

// seqKeyID is the entry id at the end of a seqKey with the given call prefix.
func seqKeyID(k, p []byte) string { return string(k[len(p)+8:]) }

// firstWithPrefix is the first key of b that starts with p, or nil.
func firstWithPrefix(c interface{ Seek([]byte) ([]byte, []byte) }, p []byte) []byte {
	k, _ := c.Seek(p)
	if k == nil || !bytes.HasPrefix(k, p) {
		return nil
	}
	return k
}

func int64Bytes(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

func bytesInt64(b []byte) int64 {
	if len(b) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}
