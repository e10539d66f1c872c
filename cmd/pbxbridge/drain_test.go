package main

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/config"
)

// drainPBX counts Drain calls.
type drainPBX struct {
	oncePBX
	drained int
}

func (p *drainPBX) Drain() { p.drained++ }

// TestReservableDrain: with a shared store, Drain reaches the PBX being served, and a
// draining instance does not take the PBX over again (owner.Run then releases the lease).
func TestReservableDrain(t *testing.T) {
	var made []*drainPBX
	mk := func() adapter.PBX { p := &drainPBX{}; made = append(made, p); return p }
	cfg := &config.Config{Store: config.Store{URL: "redis://127.0.0.1:1"}}
	p := reservable(cfg, mk)
	if err := p.Serve(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	p.(adapter.Drainer).Drain()
	if made[0].drained != 1 {
		t.Errorf("Drain reached the PBX %d times", made[0].drained)
	}
	if err := p.Serve(t.Context(), nil); !errors.Is(err, errDrainingPBX) {
		t.Errorf("Serve while draining: %v, want errDrainingPBX", err)
	}
	if len(made) != 1 {
		t.Errorf("a new PBX was made while draining")
	}
}

func TestDrainCheck(t *testing.T) {
	var flag atomic.Bool
	c := drainCheck(&flag)
	if err := c.Check(context.Background()); err != nil || c.Name != "draining" {
		t.Errorf("before: %v", err)
	}
	flag.Store(true)
	if err := c.Check(context.Background()); !errors.Is(err, errDraining) {
		t.Errorf("after: %v", err)
	}
}
