package webhook

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pbxbridge/pbxbridge/translate"
)

// Sentinel errors of delivery. Every *DeliveryError unwraps to exactly one of the class
// sentinels (ErrConnect ... ErrCanceled), plus ErrTotalTimeout when tt ended the sequence. The
// engine maps them to outcomes (callbacks.md §1.6) with errors.Is.
var (
	// ErrConnect: no connection was made: refused, ct ran out, the name did not resolve, or
	// the TLS handshake failed. Retried when rp has "ct".
	ErrConnect = errors.New("could not connect")
	// ErrReadTimeout: rt ran out waiting for the response or between two reads of it.
	// Retried when rp has "rt".
	ErrReadTimeout = errors.New("read timeout")
	// ErrConnection: the connection broke after it was made (reset, closed before a complete
	// response). Plivo's classes have no name for it; it is retried when rp has "rt", the
	// class of every failure to read an answer.
	ErrConnection = errors.New("connection failed")
	// ErrStatus: the application answered with a status other than 2xx. Retried when rp has
	// "4xx" or "5xx" matching the status.
	ErrStatus = errors.New("non-2xx status")
	// ErrTooLarge: a document was larger than the limit. Never retried.
	ErrTooLarge = errors.New("response too large")
	// ErrRedirect: a redirect was refused (non-http(s) scheme, bad Location, more than 10
	// hops). Never retried.
	ErrRedirect = errors.New("redirect refused")
	// ErrCanceled: the caller's context ended (a hangup, a shutdown). The DeliveryError also
	// unwraps to the context's cause, so errors.Is(err, adapter.ErrHangup) works.
	ErrCanceled = errors.New("request canceled")
	// ErrTotalTimeout: the total timeout (tt) ran out, during an attempt or because the next
	// backoff would pass it. It comes together with the class of the last failure.
	ErrTotalTimeout = errors.New("total timeout ran out")
	// ErrRequest: the request cannot be sent as given (URL missing or not http(s), GET with a
	// body, unknown method). Nothing was sent.
	ErrRequest = errors.New("invalid request")
)

// Class is the kind of the last failure of a delivery.
type Class uint8

// Failure classes; see the sentinel of the same name for each.
const (
	ClassConnect Class = iota + 1
	ClassReadTimeout
	ClassConnection
	ClassStatus
	ClassTooLarge
	ClassRedirect
	ClassCanceled
)

var classNames = [...]string{
	ClassConnect:     "connect",
	ClassReadTimeout: "read timeout",
	ClassConnection:  "connection",
	ClassStatus:      "http status",
	ClassTooLarge:    "too large",
	ClassRedirect:    "redirect refused",
	ClassCanceled:    "canceled",
}

func (c Class) String() string {
	if int(c) < len(classNames) && classNames[c] != "" {
		return classNames[c]
	}
	return fmt.Sprintf("Class(%d)", uint8(c))
}

func (c Class) sentinel() error {
	switch c {
	case ClassConnect:
		return ErrConnect
	case ClassReadTimeout:
		return ErrReadTimeout
	case ClassConnection:
		return ErrConnection
	case ClassStatus:
		return ErrStatus
	case ClassTooLarge:
		return ErrTooLarge
	case ClassRedirect:
		return ErrRedirect
	}
	return ErrCanceled
}

// DeliveryError is a request that failed for good: every attempt allowed was made, or the
// failure was not one to retry. Its text holds no secret: the URL is redacted (no userinfo,
// query or fragment) and the cause never carries a header.
type DeliveryError struct {
	Method   string
	URL      string // redacted: scheme://host/path of the URL the last attempt was sent to
	Attempts int    // attempts made, 1-based; redirect hops do not count
	Status   int    // last HTTP status, 0 when no response came
	Class    Class  // class of the last failure
	// Total is set when the total timeout (tt) ended the sequence: it ran out during the last
	// attempt, or the backoff before the next one would have passed it.
	Total bool
	// Timeout is the ct, rt or tt that ran out, for the message; 0 for other classes.
	Timeout time.Duration
	// Err is the underlying cause (network error, context cause, detail), or nil. It holds no
	// userinfo.
	Err error
}

func (e *DeliveryError) Error() string {
	var b strings.Builder
	b.WriteString("webhook: ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.URL)
	b.WriteString(": ")
	switch e.Class {
	case ClassStatus:
		fmt.Fprintf(&b, "HTTP %d", e.Status)
	case ClassReadTimeout:
		b.WriteString("read timeout")
		if e.Timeout > 0 && !e.Total {
			fmt.Fprintf(&b, " (%s)", e.Timeout)
		}
	case ClassConnect:
		b.WriteString("could not connect")
		if e.Timeout > 0 && !e.Total {
			fmt.Fprintf(&b, " within %s", e.Timeout)
		}
	default:
		b.WriteString(e.Class.String())
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Total {
		fmt.Fprintf(&b, "; total timeout")
		if e.Timeout > 0 {
			fmt.Fprintf(&b, " %s", e.Timeout)
		}
		b.WriteString(" ran out")
	}
	if e.Attempts == 1 {
		b.WriteString(" (1 attempt)")
	} else {
		fmt.Fprintf(&b, " (%d attempts)", e.Attempts)
	}
	return b.String()
}

// Unwrap gives the class sentinel, ErrTotalTimeout when Total, and the cause.
func (e *DeliveryError) Unwrap() []error {
	errs := []error{e.Class.sentinel()}
	if e.Total {
		errs = append(errs, ErrTotalTimeout)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// RetryClass is the rp class the failure belongs to (callbacks.md §3.7), 0 for failures that
// no policy retries (too large, redirect refused, canceled, a 1xx or 3xx status).
func (e *DeliveryError) RetryClass() translate.RetryClass {
	switch e.Class {
	case ClassConnect:
		return translate.RetryConnectTimeout
	case ClassReadTimeout, ClassConnection:
		return translate.RetryReadTimeout
	case ClassStatus:
		switch {
		case e.Status >= 400 && e.Status < 500:
			return translate.Retry4xx
		case e.Status >= 500 && e.Status < 600:
			return translate.Retry5xx
		}
	}
	return 0
}

// Retryable reports whether err is a failure p retries: a *DeliveryError whose class is in
// p.RetryOn and which did not end because tt ran out. It does not count attempts.
func Retryable(p translate.RetryPolicy, err error) bool {
	var de *DeliveryError
	if !errors.As(err, &de) || de.Total {
		return false
	}
	return p.RetryOn&de.RetryClass() != 0
}

// Backoff is the wait after failed attempt n (1-based) before the next one: 500 ms × n
// (callbacks.md §3.7, Open). Callers never let it pass tt: when it would, the sequence ends.
func Backoff(n int) time.Duration {
	return time.Duration(n) * 500 * time.Millisecond
}

// requestError is a Request that cannot be sent. Its text never includes the raw URL.
func requestError(format string, args ...any) error {
	return fmt.Errorf("webhook: %w: %s", ErrRequest, fmt.Sprintf(format, args...))
}
