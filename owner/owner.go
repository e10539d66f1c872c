// Package owner runs work only while this instance holds a lease: one PBX connection is served
// by one instance at a time (design.md "Scaling out"). The holder renews the lease; a standby
// polls and takes it when the holder releases it or dies; a holder that cannot renew in time
// stops before its lease can run out in the store, so that two instances never serve one PBX.
package owner

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// ErrLost is the cause of the serve context when the lease was lost: another owner holds it,
// or no renewal succeeded before it would run out.
var ErrLost = errors.New("lease lost")

// ErrStopping is the cause of the serve context when Run's context ended.
var ErrStopping = errors.New("stopping")

// Options configure Run.
type Options struct {
	Leases adapter.Leases
	Name   string        // the lease's name, e.g. "pbx:freeswitch"
	Owner  string        // this instance's token: unique per process
	TTL    time.Duration // how long the lease lasts without renewal
	Renew  time.Duration // how often the holder renews and a standby tries; at most TTL/3
	Log    *slog.Logger
}

// Run takes the lease whenever it is free and runs serve while it holds it, until ctx is done.
//
// serve's context is cancelled with cause ErrLost when the lease is lost: a renewal was
// refused (adapter.ErrConflict), or none succeeded before the lease would run out (counted from
// before the last successful request, so never later than the store's own expiry, less a safety
// margin of TTL/5 for the time serve takes to notice and for clock rate differences). serve must
// then stop acting for the resource at once. When ctx ends, serve's context is cancelled with
// ErrStopping and the lease is renewed until serve returns (it may drain calls), then released
// so that a standby takes over at once. When serve returns by itself (the PBX connection
// failed for good), the lease is released too, so that another instance may try, and Run
// tries again after Renew.
func Run(ctx context.Context, o Options, serve func(ctx context.Context, l adapter.Lease) error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	log := o.Log.With("lease", o.Name, "owner", o.Owner)
	standby := false
	for ctx.Err() == nil {
		start := time.Now()
		l, err := o.Leases.AcquireLease(ctx, o.Name, o.Owner, o.TTL)
		switch {
		case err == nil:
			log.Info("lease acquired: serving", "epoch", l.Epoch)
			standby = false
			if err := hold(ctx, o, log, l, start, serve); err != nil && ctx.Err() == nil {
				log.Warn("stopped serving; lease released", "err", err)
			}
		case errors.Is(err, adapter.ErrConflict):
			if !standby {
				log.Info("standby: the lease is held by another instance")
				standby = true
			}
		case ctx.Err() == nil:
			log.Warn("acquiring the lease", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(o.Renew):
		}
	}
}

// hold runs serve while the lease is held and returns serve's error.
func hold(ctx context.Context, o Options, log *slog.Logger, l adapter.Lease, start time.Time,
	serve func(context.Context, adapter.Lease) error) error {
	sctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	done := make(chan error, 1)
	go func() { done <- serve(sctx, l) }()

	// The holder stops a fifth of the TTL before the store could expire the lease: a timer
	// that fires exactly at the store's expiry leaves serve no time to stop before a standby
	// polls, and a loaded machine delays both the timer and serve's return (seen: a standby
	// serving 0.3 ms before the old holder stopped, with no margin).
	margin := o.TTL / 5
	deadline := start.Add(o.TTL - margin)
	expire := time.NewTimer(time.Until(deadline))
	defer expire.Stop()
	tick := time.NewTicker(o.Renew)
	defer tick.Stop()
	ctxDone := ctx.Done()
	lost := false
	var serveErr error
wait:
	for {
		select {
		case serveErr = <-done:
			break wait
		case <-ctxDone:
			ctxDone = nil
			cancel(ErrStopping)
		case <-expire.C:
			log.Error("lease not renewed in time: stopping, another instance may take over", "ttl", o.TTL)
			lost = true
			cancel(ErrLost)
			tick.Stop()
		case <-tick.C:
			if lost {
				continue
			}
			rs := time.Now()
			rctx, rcancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
			_, err := o.Leases.RenewLease(rctx, o.Name, o.Owner, o.TTL)
			rcancel()
			switch {
			case err == nil:
				deadline = rs.Add(o.TTL - margin)
				expire.Reset(time.Until(deadline))
			case errors.Is(err, adapter.ErrConflict):
				log.Error("lease taken by another instance: stopping", "err", err)
				lost = true
				cancel(ErrLost)
				tick.Stop()
			default:
				log.Warn("renewing the lease", "err", err, "serving_until", deadline)
			}
		}
	}
	if !lost {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), o.Renew)
		if err := o.Leases.ReleaseLease(rctx, o.Name, o.Owner); err != nil {
			log.Warn("releasing the lease", "err", err)
		} else {
			log.Info("lease released")
		}
		rcancel()
	}
	if lost {
		return ErrLost
	}
	return serveErr
}
