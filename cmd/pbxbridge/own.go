package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/owner"
)

// runPBX serves one PBX until ctx ends or its connection fails for good. With a shared store
// (Redis) it serves only while this instance holds the PBX's lease (owner.Run), and a
// connection failure releases the lease for another instance to try, instead of stopping the
// process; with the embedded store the process owns every PBX. Either way, once the PBX
// connection is up, the calls that the store holds for it and no goroutine of this process
// runs (a dead owner's, or this process's before a crash) are reconciled.
func runPBX(ctx context.Context, cfg *config.Config, st backend, p adapter.PBX, eng *adapter.Engine, token string, log *slog.Logger) error {
	if !cfg.Store.Redis() {
		return servePBX(ctx, p, eng, log)
	}
	owner.Run(ctx, owner.Options{
		Leases: st, Name: "pbx:" + p.Name(), Owner: token,
		TTL: cfg.HA.LeaseTTL.D(), Renew: cfg.HA.LeaseRenew.D(), Log: log.With("pbx", p.Name()),
	}, func(ctx context.Context, l adapter.Lease) error {
		return servePBX(ctx, p, eng, log.With("pbx", p.Name(), "lease_epoch", l.Epoch))
	})
	return nil
}

// servePBX runs p.Serve and, beside it, the reconciliation of the PBX's calls.
func servePBX(ctx context.Context, p adapter.PBX, eng *adapter.Engine, log *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait() // no reconciliation goes on once this instance stops serving the PBX
	wg.Go(func() { reconcile(ctx, p, eng, log) })
	err := p.Serve(ctx, eng.Handle)
	cancel()
	return err
}

// reconcile waits for the PBX connection, then reconciles its calls, trying again (every
// second, backing off to 30s) while the PBX or the store fail.
func reconcile(ctx context.Context, p adapter.PBX, eng *adapter.Engine, log *slog.Logger) {
	rec, _ := p.(adapter.Reconciler)
	up := p.Ready
	if r, ok := p.(*reserve); ok {
		up = r.connected // its Ready passes for a standby
	}
	wait := time.Second
	for ctx.Err() == nil {
		if up() == nil {
			n, err := eng.Reconcile(ctx, p.Name(), rec)
			if n > 0 {
				log.Warn("finished the calls left by a dead instance", "pbx", p.Name(), "calls", n)
			}
			if err == nil {
				return
			}
			if ctx.Err() == nil {
				log.Warn("reconciling calls; trying again", "pbx", p.Name(), "in", wait, "err", err)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		if up() == nil {
			wait = min(2*wait, 30*time.Second)
		}
	}
}

// leaseToken names this process in PBX leases: the configured instance name (default host
// name and pid) and a random suffix, so that a restarted instance is a new owner.
func leaseToken(cfg *config.Config) string {
	name := cfg.HA.Instance
	if name == "" {
		host, _ := os.Hostname()
		name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return name + "/" + hex.EncodeToString(b[:])
}

// reservable returns the PBX that mk makes. With a shared store it is wrapped: a PBX is
// served again each time this instance takes its lease back, and an ARI PBX serves once only,
// so each Serve after the first runs on a new one from mk (mk may also return the same one, as
// for FreeSWITCH); and a standby reports itself ready (Ready), since it serves the HTTP API
// and stands ready to take the PBX over, while the owner reports its connection.
func reservable(cfg *config.Config, mk func() adapter.PBX) adapter.PBX {
	p := mk()
	if !cfg.Store.Redis() {
		return p
	}
	return &reserve{mk: mk, cur: p}
}

// reserve is a PBX made anew for each period of ownership. It delegates to the current one.
type reserve struct {
	mk       func() adapter.PBX
	serving  atomic.Bool // this instance owns the PBX: Serve runs
	draining atomic.Bool // Drain was called: no new period of ownership starts
	mu       sync.Mutex
	cur      adapter.PBX
	used     bool // cur has been served
}

var (
	_ adapter.PBX        = (*reserve)(nil)
	_ adapter.Reconciler = (*reserve)(nil)
	_ adapter.Drainer    = (*reserve)(nil)
)

// errDrainingPBX: a standby that is draining does not take the PBX over (owner.Run releases
// the lease it just took, for another instance).
var errDrainingPBX = errors.New("draining: not taking the PBX over")

// Drain drains the PBX being served, and keeps this instance from serving it again.
func (r *reserve) Drain() {
	r.draining.Store(true)
	if d, ok := r.current().(adapter.Drainer); ok {
		d.Drain()
	}
}

func (r *reserve) current() adapter.PBX {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

func (r *reserve) Name() string { return r.current().Name() }

func (r *reserve) Ready() error {
	if !r.serving.Load() {
		return nil // a standby
	}
	return r.current().Ready()
}

// connected is the current PBX's own Ready: its connection, standby or not.
func (r *reserve) connected() error { return r.current().Ready() }

func (r *reserve) Serve(ctx context.Context, h func(context.Context, adapter.Call)) error {
	if r.draining.Load() {
		return errDrainingPBX
	}
	r.mu.Lock()
	if r.used {
		r.cur = r.mk()
	}
	r.used = true
	p := r.cur
	r.mu.Unlock()
	r.serving.Store(true)
	defer r.serving.Store(false)
	if d, ok := p.(adapter.Drainer); ok && r.draining.Load() {
		d.Drain() // Drain came while a new one was being made
	}
	return p.Serve(ctx, h)
}

// errNoReconciler: the PBX cannot answer for its calls.
var errNoReconciler = fmt.Errorf("this PBX cannot reconcile: %w", adapter.ErrUnsupported)

func (r *reserve) reconciler() (adapter.Reconciler, error) {
	if rec, ok := r.current().(adapter.Reconciler); ok {
		return rec, nil
	}
	return nil, errNoReconciler
}

func (r *reserve) ChannelLive(ctx context.Context, id string) (bool, error) {
	rec, err := r.reconciler()
	if err != nil {
		return false, err
	}
	return rec.ChannelLive(ctx, id)
}

func (r *reserve) KillChannel(ctx context.Context, id, cause string) error {
	rec, err := r.reconciler()
	if err != nil {
		return err
	}
	return rec.KillChannel(ctx, id, cause)
}

func (r *reserve) RecordingWAV(ctx context.Context, name string) ([]byte, error) {
	rec, err := r.reconciler()
	if err != nil {
		return nil, err
	}
	return rec.RecordingWAV(ctx, name)
}

func (r *reserve) DeleteRecording(ctx context.Context, name string) error {
	rec, err := r.reconciler()
	if err != nil {
		return err
	}
	return rec.DeleteRecording(ctx, name)
}
