package ari

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// ErrCommand is the kind of an ARI command failure that maps to no adapter error: a request
// Asterisk refused for a reason other than a missing channel (400, 409, 422, 500...).
var ErrCommand = errors.New("ARI command failed")

// Error is one failed ARI command. Status is the HTTP status, 0 when no answer came. Unwrap
// gives the kind (adapter.ErrHangup, adapter.ErrPBXDown, adapter.ErrRecordingFailed or
// ErrCommand), so callers test it with errors.Is. It never wraps a library error: those stay
// inside this package.
type Error struct {
	Op     string // what we asked, e.g. "record pbxb-1 on channel 17.3"
	Status int
	Msg    string
	Kind   error
}

func (e *Error) Error() string {
	s := "ari: " + e.Op + ": "
	if e.Status != 0 {
		s += fmt.Sprintf("HTTP %d ", e.Status)
	}
	if e.Msg != "" {
		s += e.Msg + ": "
	}
	return s + e.Kind.Error()
}

func (e *Error) Unwrap() error { return e.Kind }

// statusOf digs the HTTP status out of a library error. The library wraps its request errors
// with eris (which unwraps) and, for GETs, in an errDataGet that only has Cause(), so both
// chains are walked.
func statusOf(err error) int {
	for i := 0; err != nil && i < 16; i++ {
		if c, ok := err.(interface{ Code() int }); ok {
			return c.Code()
		}
		if u := errors.Unwrap(err); u != nil {
			err = u
			continue
		}
		if c, ok := err.(interface{ Cause() error }); ok {
			err = c.Cause()
			continue
		}
		break
	}
	return 0
}

// toError turns a library error into an *Error. notFound is the kind for 404 (ErrHangup
// for commands on a call's channel); other refusals get kind refused; no answer at all is
// ErrPBXDown.
func toError(op string, err error, notFound, refused error) error {
	if err == nil {
		return nil
	}
	st := statusOf(err)
	e := &Error{Op: op, Status: st, Kind: refused}
	switch {
	case st == 0:
		e.Kind, e.Msg = adapter.ErrPBXDown, redactErr(err)
	case st == http.StatusNotFound && notFound != nil:
		e.Kind = notFound
	default:
		e.Msg = http.StatusText(st)
	}
	return e
}

// statusError builds an *Error from a raw HTTP exchange of ours.
func statusError(op string, status int, body []byte, notFound, refused error) error {
	e := &Error{Op: op, Status: status, Kind: refused, Msg: http.StatusText(status)}
	if m := ariMessage(body); m != "" {
		e.Msg = m
	}
	if status == http.StatusNotFound && notFound != nil {
		e.Kind = notFound
	}
	return e
}
