package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/httpapi"
)

// stopOnSignal returns a context cancelled by the first SIGTERM or SIGINT, which starts the
// drain; a second signal calls exit (the operator wants out now: calls in progress are cut
// and queued callbacks wait in the store for the next start).
func stopOnSignal(log *slog.Logger, exit func()) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	quit := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			log.Info("signal received: draining (a second signal exits at once)", "signal", s.String())
			cancel()
		case <-quit:
			return
		}
		select {
		case s := <-sigs:
			log.Error("second signal: exiting at once, without finishing calls or callbacks", "signal", s.String())
			exit()
		case <-quit:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(quit)
		cancel()
	}
}

// errDraining is /readyz's "draining" check once the drain has started.
var errDraining = errors.New("pbxbridge is stopping and takes no new calls")

func drainCheck(draining *atomic.Bool) httpapi.Check {
	return httpapi.Check{Name: "draining", Check: func(context.Context) error {
		if draining.Load() {
			return errDraining
		}
		return nil
	}}
}

// drainer runs the graceful stop, step by step (serve calls them in order).
type drainer struct {
	cfg    *config.Config
	log    *slog.Logger
	eng    *adapter.Engine
	pbxs   []adapter.PBX
	worker interface{ Wake() }
	outbox interface {
		Pending(context.Context) (int, error)
	}
	draining *atomic.Bool

	began             time.Time
	callsTook         time.Duration
	stopped, leftover int // calls stopped at drain_timeout; callbacks left for the next start
	flushTook         time.Duration
	stopWorker        func(context.Context) error
}

// calls stops the PBXs taking new calls and waits for the calls in progress, up to
// drain_timeout; then it stops those left (their recordings are stored and their callbacks
// queued before they are hung up) and waits for them to end.
func (d *drainer) calls() {
	d.began = time.Now()
	d.draining.Store(true)
	_ = sdNotify("STOPPING=1\nSTATUS=draining")
	running := d.eng.Running()
	d.log.Info("draining: no new calls; calls in progress go on", "calls", running, "drain_timeout", d.cfg.Shutdown.DrainTimeout.D())
	for _, p := range d.pbxs {
		if dr, ok := p.(adapter.Drainer); ok {
			dr.Drain()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.Shutdown.DrainTimeout.D())
	defer cancel()
	if d.eng.WaitCalls(ctx) != nil {
		d.stopped = d.eng.StopCalls()
		d.log.Warn("drain timeout: stopping the calls still in progress (recordings stored, callbacks queued, then hung up)",
			"calls", d.stopped, "after", time.Since(d.began).Round(time.Millisecond))
		// Stopping is bounded by the PBX's command timeouts and the store's retry window;
		// past this, Serve's end cuts what is left.
		sctx, scancel := context.WithTimeout(context.Background(), d.cfg.Store.RetryWindow.D()+30*time.Second)
		defer scancel()
		if err := d.eng.WaitCalls(sctx); err != nil {
			d.log.Error("calls did not end after being stopped; cutting them", "calls", d.eng.Running(), "err", err)
		}
	}
	d.callsTook = time.Since(d.began)
	d.log.Info("drain: calls ended", "took", d.callsTook.Round(time.Millisecond), "stopped_at_timeout", d.stopped)
}

// background waits for background recordings still being processed after their calls.
func (d *drainer) background() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.eng.Wait(ctx); err != nil {
		d.log.Warn("background recordings did not finish", "err", err)
	}
}

// flush delivers queued callbacks until none is left or flush_timeout passes, then stops the
// outbox worker: deliveries in flight finish (each is bounded by its own timeouts, at most
// 55 s), and what is still queued stays in the store for the next start.
func (d *drainer) flush() {
	start := time.Now()
	deadline := start.Add(d.cfg.Shutdown.FlushTimeout.D())
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	d.worker.Wake()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		n, err := d.outbox.Pending(ctx)
		if err == nil && n == 0 {
			break
		}
		select {
		case <-ctx.Done():
		case <-t.C:
			continue
		}
		break
	}
	// The in-flight deliveries finish: up to 55 s past the flush deadline (their total timeout).
	sctx, scancel := context.WithTimeout(context.Background(), max(time.Until(deadline), 0)+55*time.Second)
	defer scancel()
	if d.stopWorker != nil {
		if err := d.stopWorker(sctx); err != nil {
			d.log.Warn("outbox worker stop", "err", err)
		}
	}
	d.flushTook = time.Since(start)
	n, err := d.outbox.Pending(context.Background())
	if err != nil {
		d.log.Warn("outbox: could not count the callbacks left", "err", err)
	}
	d.leftover = n
	if n > 0 {
		d.log.Warn("outbox: callbacks left queued in the store for the next start", "callbacks", n, "took", d.flushTook.Round(time.Millisecond))
	} else {
		d.log.Info("outbox flushed", "took", d.flushTook.Round(time.Millisecond))
	}
}

// done logs the stop's timings.
func (d *drainer) done() {
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	d.log.Info("pbxbridge stopped", "calls_took", ms(d.callsTook), "flush_took", ms(d.flushTook),
		"total", ms(time.Since(d.began)), "calls_stopped", d.stopped, "callbacks_left", d.leftover)
}
