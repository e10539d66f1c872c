package esl

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
)

// TestServeStops: Serve returns soon after its context ends, with a call in progress, and
// the listening address is free again (eslgo's own listener could never be closed).
func TestServeStops(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	p := New(config.FreeSWITCH{Name: "fs", Listen: addr, RecordDir: t.TempDir(),
		CommandTimeout: config.Duration(time.Second), ConnectTimeout: config.Duration(time.Second)}, nil)
	p.linger = 2 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	arrived := make(chan struct{})
	served := make(chan error, 1)
	go func() {
		served <- p.Serve(ctx, func(ctx context.Context, c adapter.Call) {
			close(arrived)
			<-ctx.Done() // a call that lasts until the PBX goes away
		})
	}()
	sim := eslsim.New(eslsim.Options{})
	defer sim.Close()
	var ch *eslsim.Channel
	for deadline := time.Now().Add(3 * time.Second); ; {
		var err error
		if ch, err = sim.Call(addr, eslsim.Script{}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listener: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the call never reached the handler")
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the listening address is still taken after Serve returned: %v", err)
	}
	ln.Close()
	// FreeSWITCH sees its socket closed and hangs the channel up
	select {
	case <-ch.Done():
	case <-time.After(5 * time.Second):
		t.Error("the call's channel is still up after Serve returned")
	}
	if err := p.Ready(); !errors.Is(err, adapter.ErrPBXDown) {
		t.Errorf("Ready after Serve returned: %v", err)
	}
}

// TestInboundBadPassword: a refused password is ErrAuth, and the error never holds it.
func TestInboundBadPassword(t *testing.T) {
	t.Parallel()
	sim := eslsim.New(eslsim.Options{Password: "right"})
	defer sim.Close()
	addr, err := sim.ListenInbound("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := New(config.FreeSWITCH{Name: "fs", CommandTimeout: config.Duration(time.Second)}, slog.New(slog.DiscardHandler))
	_, err = p.dialInbound(context.Background(), addr, "wrong-secret", time.Second)
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("dial with a wrong password: %v, want ErrAuth", err)
	}
	if s := err.Error(); contains(s, "wrong-secret") {
		t.Errorf("the error shows the password: %s", s)
	}
	s, err := p.dialInbound(context.Background(), addr, "right", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	p.inbound = s
	if body, err := p.api(context.Background(), "status", ""); err != nil || !contains(body, "UP") {
		t.Errorf("api status: %q, %v", body, err)
	}
}

// TestInboundSilentPeer: a peer that accepts and says nothing (an ACL drop, a stuck
// FreeSWITCH) fails the dial within its timeout.
func TestInboundSilentPeer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	p := New(config.FreeSWITCH{Name: "fs", CommandTimeout: config.Duration(time.Second)}, nil)
	start := time.Now()
	if _, err := p.dialInbound(context.Background(), ln.Addr().String(), "pw", 300*time.Millisecond); err == nil {
		t.Fatal("dial to a silent peer succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("dial took %v with a 300ms timeout", d)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
