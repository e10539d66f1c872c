package blob

import (
	"errors"
	"fmt"
	"strings"
)

// Errors of every backend, beside adapter.ErrNotFound for a missing key.
var (
	// ErrInvalidKey: the key breaks the rules of CheckKey.
	ErrInvalidKey = errors.New("invalid blob key")
	// ErrInvalidRange: a Get whose offset is negative or past the end of the object.
	ErrInvalidRange = errors.New("invalid byte range")
)

// MaxKeyLen is the longest key, in bytes: within what S3, GCS and Azure accept.
const MaxKeyLen = 1024

// CheckKey reports whether key may name an object: 1 to MaxKeyLen bytes of [A-Za-z0-9._/-],
// '/'-separated segments that are neither empty nor "." nor "..", and no ".." anywhere. So a
// key is a relative path that stays where it is put on every backend and filesystem, and
// needs no escaping in a URL. The error wraps ErrInvalidKey and says which rule failed.
func CheckKey(key string) error {
	bad := func(rule string) error {
		return fmt.Errorf("blob key %q: %s: %w", key, rule, ErrInvalidKey)
	}
	switch {
	case key == "":
		return bad("empty")
	case len(key) > MaxKeyLen:
		return bad(fmt.Sprintf("%d bytes, longer than %d", len(key), MaxKeyLen))
	case key[0] == '/':
		return bad("absolute")
	case strings.Contains(key, ".."):
		return bad(`contains ".."`)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; !keyByte(c) {
			return bad(fmt.Sprintf("byte %q at %d is not one of [A-Za-z0-9._/-]", c, i))
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." {
			return bad(`empty or "." path segment`)
		}
	}
	return nil
}

func keyByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '/' || c == '-'
}
