package blob

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// Errors of the remote backends (blob/s3, blob/gcs, blob/azure), beside adapter.ErrNotFound.
var (
	// ErrDenied: the store refused the credentials or the operation (HTTP 401 or 403). Retrying
	// does not help until the credentials change.
	ErrDenied = errors.New("blob store denied access")
	// ErrUnavailable: the store failed or could not be reached (HTTP 5xx, network). A later
	// attempt may succeed.
	ErrUnavailable = errors.New("blob store unavailable")
)

// Info describes one stored object.
type Info struct {
	Size        int64
	ContentType string    // as given to Put; "" where the backend does not keep it (Dir)
	Modified    time.Time // when the object was last written
}

// RemoteError is a failure reported by a remote store, reduced to what is safe to log: the
// backend, the operation, the key, the HTTP status and the store's error code. It never holds
// the request URL or headers, which can carry a SAS signature or other credentials.
type RemoteError struct {
	Backend string // "s3", "gcs", "azure"
	Op      string // "put", "get", "stat", "delete"
	Key     string
	Status  int    // HTTP status; 0 when no response came
	Code    string // the store's error code (NoSuchKey, BlobNotFound, ...), or the transport failure
	kind    error  // adapter.ErrNotFound, ErrDenied, ErrUnavailable, ErrInvalidRange or nil
}

func (e *RemoteError) Error() string {
	s := fmt.Sprintf("blob: %s %s %s", e.Backend, e.Op, e.Key)
	if e.Status != 0 {
		s += fmt.Sprintf(": HTTP %d", e.Status)
	}
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.kind != nil {
		s += " (" + e.kind.Error() + ")"
	}
	return s
}

// Unwrap gives the sentinel that classifies the failure.
func (e *RemoteError) Unwrap() error { return e.kind }

// NewRemoteError classifies a remote store's answer by its HTTP status: 404 is
// adapter.ErrNotFound, 401 and 403 ErrDenied, 416 ErrInvalidRange, 5xx and 0 (no answer)
// ErrUnavailable, 408 and 429 ErrUnavailable too. For the backends only.
func NewRemoteError(backend, op, key string, status int, code string) *RemoteError {
	e := &RemoteError{Backend: backend, Op: op, Key: key, Status: status, Code: code}
	switch {
	case status == 404:
		e.kind = adapter.ErrNotFound
	case status == 401 || status == 403:
		e.kind = ErrDenied
	case status == 416:
		e.kind = ErrInvalidRange
	case status == 0 || status >= 500 || status == 408 || status == 429:
		e.kind = ErrUnavailable
	}
	return e
}

// TransportCode describes a failure that got no HTTP answer without the URL it was sent to:
// a *url.Error prints the full URL, query string (and so a SAS signature) included.
func TransportCode(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := err.Error()
	// The SDKs wrap the url.Error in their own text, which can repeat the URL: keep only the
	// innermost cause when the text still holds one.
	if strings.Contains(s, "://") {
		for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
			if t := u.Error(); !strings.Contains(t, "://") {
				return t
			}
		}
		return "transport failure"
	}
	return s
}

// ResolveRange prepares a remote Get of [offset, offset+length) with Dir's rules. Remote
// stores answer 416 for a range that starts at the end, which Dir allows (an empty read), and
// cannot express an empty range: those cases, and a negative offset, need the size, which
// stat gives. It returns the length to ask for (< 0: to the end), or empty when the answer is
// an empty reader without asking. Errors wrap ErrInvalidRange, or are stat's.
func ResolveRange(stat func() (Info, error), offset, length int64) (n int64, empty bool, err error) {
	if offset == 0 && length != 0 {
		return length, false, nil
	}
	info, err := stat()
	if err != nil {
		return 0, false, err
	}
	n, err = CheckRange(info.Size, offset, length)
	if err != nil {
		return 0, false, err
	}
	return n, n == 0, nil
}

// EmptyReader is what a Get returns for an empty range of an existing object.
func EmptyReader() io.ReadCloser { return io.NopCloser(strings.NewReader("")) }

// CheckRange validates a Get's range against an object of size bytes, as Dir does, and gives
// the length to read (size-offset when length < 0 or runs past the end).
func CheckRange(size, offset, length int64) (int64, error) {
	if offset < 0 || offset > size {
		return 0, fmt.Errorf("offset %d of a %d-byte object: %w", offset, size, ErrInvalidRange)
	}
	n := size - offset
	if length >= 0 && length < n {
		n = length
	}
	return n, nil
}
