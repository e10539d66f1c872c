package webhook

import (
	"errors"
	"time"
)

// Observer is told what the Worker does with each entry, for metrics (metrics.Set implements
// it). Its methods are called from the worker's delivery goroutines, concurrently, and must
// be quick and must not block. WorkerOptions.Observer nil observes nothing.
type Observer interface {
	// Attempted: one attempt of an entry ended with result (AttemptResult) after took.
	Attempted(result string, took time.Duration)
	// Retried: a failed entry was scheduled for another attempt.
	Retried()
	// DeadLettered: an entry was moved to the dead letters.
	DeadLettered()
}

// Results of an attempt, as AttemptResult names them.
const (
	Result2xx      = "2xx"
	Result3xx      = "3xx" // a redirect not followed, or a 1xx/3xx final status
	Result4xx      = "4xx"
	Result5xx      = "5xx"
	ResultNetwork  = "network"  // no connection, a broken one, or a read timeout
	ResultCanceled = "canceled" // the worker stopped
	ResultInvalid  = "invalid"  // the request could not be sent, or its answer was refused
)

// AttemptResult classifies an attempt's outcome: the status class of the application's
// answer, or what went wrong before there was one.
func AttemptResult(resp *Response, err error) string {
	var de *DeliveryError
	status := 0
	switch {
	case err == nil && resp != nil:
		status = resp.Status
	case errors.As(err, &de) && de.Status > 0:
		status = de.Status
	case errors.Is(err, ErrConnect), errors.Is(err, ErrReadTimeout), errors.Is(err, ErrConnection):
		return ResultNetwork
	case errors.Is(err, ErrCanceled):
		return ResultCanceled
	default:
		return ResultInvalid
	}
	switch status / 100 {
	case 2:
		return Result2xx
	case 4:
		return Result4xx
	case 5:
		return Result5xx
	}
	return Result3xx
}

type nopObserver struct{}

func (nopObserver) Attempted(string, time.Duration) {}
func (nopObserver) Retried()                        {}
func (nopObserver) DeadLettered()                   {}
