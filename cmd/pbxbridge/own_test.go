package main

import (
	"context"
	"errors"
	"testing"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/config"
)

// oncePBX serves once only, as ari.PBX does.
type oncePBX struct{ served bool }

func (p *oncePBX) Name() string { return "asterisk" }
func (p *oncePBX) Ready() error { return nil }
func (p *oncePBX) Serve(context.Context, func(context.Context, adapter.Call)) error {
	if p.served {
		return errors.New("served twice")
	}
	p.served = true
	return nil
}

// With a shared store a PBX is served again each time its lease comes back: reservable makes
// a new one for each Serve after the first.
func TestReservable(t *testing.T) {
	made := 0
	mk := func() adapter.PBX { made++; return &oncePBX{} }
	cfg := &config.Config{Store: config.Store{URL: "redis://127.0.0.1:1"}}
	p := reservable(cfg, mk)
	if err := p.Ready(); err != nil {
		t.Errorf("a standby is not ready: %v", err)
	}
	for i := range 3 {
		if err := p.Serve(t.Context(), nil); err != nil {
			t.Fatalf("Serve %d: %v", i+1, err)
		}
	}
	if made != 3 {
		t.Errorf("made %d PBXs for 3 serves, want 3", made)
	}
	if _, err := p.(adapter.Reconciler).ChannelLive(t.Context(), "x"); !errors.Is(err, adapter.ErrUnsupported) {
		t.Errorf("ChannelLive through a PBX without reconciler: %v", err)
	}
	made = 0
	if p := reservable(&config.Config{}, mk); p.Serve(t.Context(), nil) != nil || made != 1 {
		t.Errorf("embedded store: want the PBX itself")
	}
}

// blockPBX serves until its context ends and is never connected.
type blockPBX struct{ serving chan struct{} }

func (p blockPBX) Name() string { return "freeswitch" }
func (p blockPBX) Ready() error { return errors.New("not connected") }
func (p blockPBX) Serve(ctx context.Context, _ func(context.Context, adapter.Call)) error {
	close(p.serving)
	<-ctx.Done()
	return nil
}

// A standby reports ready; the owner reports its PBX connection.
func TestReservableReady(t *testing.T) {
	cfg := &config.Config{Store: config.Store{URL: "redis://127.0.0.1:1"}}
	b := blockPBX{serving: make(chan struct{})}
	p := reservable(cfg, func() adapter.PBX { return b })
	if err := p.Ready(); err != nil {
		t.Errorf("standby: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { _ = p.Serve(ctx, nil); close(done) }()
	<-b.serving
	if err := p.Ready(); err == nil {
		t.Error("owner with its PBX down reports ready")
	}
	cancel()
	<-done
	if err := p.Ready(); err != nil {
		t.Errorf("standby again: %v", err)
	}
}
