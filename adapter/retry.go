package adapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrUnavailable: the store cannot be reached or cannot run the operation now (connection
// refused, a timeout, a Redis restart or failover in progress). Implementations wrap it; the
// operation may be tried again. store/redis's ErrUnavailable wraps it.
var ErrUnavailable = errors.New("unavailable")

// Store outages: how a call rides through a store that is briefly unreachable. A callback
// queued, or a call's state written, during a Redis restart or a Sentinel failover must not
// be lost: the call's goroutine (or the background recording) retries the write in place, so
// that the call's later callbacks wait behind it and keep their order, for at most
// Config.Store.RetryWindow, then gives up and logs what is lost.
const (
	retryFirst   = 50 * time.Millisecond // first backoff; it doubles up to retryMax
	retryMax     = time.Second
	retryAttempt = 5 * time.Second // bound of one attempt, so that a hung connection is retried too
)

// retryable reports whether a store error may pass: the store said so, or one attempt's own
// deadline ran out (the write may or may not have landed; ambiguous is the callers' concern).
func retryable(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}

// retryStore runs f until it succeeds, fails in a way trying again will not cure, or the retry
// window runs out; it returns f's last error. retried tells f that an earlier attempt may have
// landed (so that an ErrConflict on an id that must be new means "already written"). ctx
// should not be cancelled by the call's hangup: what a call leaves behind must still be written.
func (e *Engine) retryStore(ctx context.Context, log *slog.Logger, op string, f func(ctx context.Context, retried bool) error) error {
	window := e.Config.Store.RetryWindow.D()
	if window <= 0 {
		window = 30 * time.Second
	}
	deadline := time.Now().Add(window)
	backoff := retryFirst
	for n := 0; ; n++ {
		actx, cancel := context.WithTimeout(ctx, min(retryAttempt, max(time.Until(deadline), 100*time.Millisecond)))
		err := f(actx, n > 0)
		cancel()
		if err == nil || !retryable(err) || ctx.Err() != nil {
			return err
		}
		if !time.Now().Add(backoff).Before(deadline) {
			return fmt.Errorf("%s: store unavailable for %s (%d attempts): %w", op, window, n+1, err)
		}
		if n == 0 {
			log.Warn("store unavailable; retrying", "op", op, "err", err)
		}
		e.observe().StoreRetry(op)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return err
		}
		backoff = min(2*backoff, retryMax)
	}
}

// enqueueDurable writes entries to the outbox, riding through a store outage. An ErrConflict
// after an attempt that may have landed means it did: the ids are new random UUIDs.
func (e *Engine) enqueueDurable(ctx context.Context, log *slog.Logger, es ...Entry) error {
	return e.retryStore(ctx, log, "enqueue", func(ctx context.Context, retried bool) error {
		err := e.Outbox.Enqueue(ctx, es...)
		if retried && errors.Is(err, ErrConflict) {
			return nil
		}
		return err
	})
}

func (e *Engine) observe() Observer {
	if e.Observe == nil {
		return nopObserver{}
	}
	return e.Observe
}
