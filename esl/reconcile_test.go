package esl

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
)

// A PBX whose Serve ended (its lease was lost) takes no call, and takes calls again when
// Serve runs again on the same address (the lease came back).
func TestServeAgain(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	sim := eslsim.New(eslsim.Options{})
	t.Cleanup(sim.Close)
	p := New(config.FreeSWITCH{Name: "fs", Listen: addr, RecordDir: t.TempDir(),
		CommandTimeout: config.Duration(time.Second), ConnectTimeout: config.Duration(time.Second)},
		slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	p.linger = time.Second
	handled := make(chan string, 4)
	h := func(ctx context.Context, c adapter.Call) {
		handled <- c.Info().ChannelID
		_ = c.Hangup(ctx, "NORMAL_CLEARING")
	}
	serve := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := p.Serve(ctx, h); err != nil {
				t.Errorf("Serve: %v", err)
			}
		}()
		return func() { cancel(); <-done }
	}
	call := func() *eslsim.Channel {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for {
			ch, err := sim.Call(addr, eslsim.Script{From: "1", To: "2"})
			if err == nil {
				return ch
			}
			if time.Now().After(deadline) {
				t.Fatalf("call: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ended := func(ch *eslsim.Channel, what string) {
		t.Helper()
		select {
		case <-ch.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the call did not end", what)
		}
	}

	stop := serve()
	ch := call()
	if got := <-handled; got != ch.UUID() {
		t.Fatalf("handled %s, want %s", got, ch.UUID())
	}
	ended(ch, "first serve")
	stop()

	// Not serving: the call is refused, by a closed listener or by a socket answered with
	// resume; either way FreeSWITCH's socket application returns and no handler runs.
	if ch, err := sim.Call(addr, eslsim.Script{From: "1", To: "2"}); err == nil {
		ended(ch, "not serving")
	}
	select {
	case id := <-handled:
		t.Fatalf("call %s handled while not serving", id)
	default:
	}

	stop = serve()
	defer stop()
	ch = call()
	select {
	case got := <-handled:
		if got != ch.UUID() {
			t.Fatalf("handled %s, want %s", got, ch.UUID())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no call handled after Serve ran again")
	}
	ended(ch, "second serve")
}

// The Reconciler side: whether a channel is up and hanging it up go through the inbound
// connection; recordings are files in record_dir.
func TestReconciler(t *testing.T) {
	t.Parallel()
	sim := eslsim.New(eslsim.Options{})
	t.Cleanup(sim.Close)
	inbound, err := sim.ListenInbound("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	handled := make(chan struct{}, 1)
	r := newRig(t, eslsim.Options{}, func(ctx context.Context, c adapter.Call) { handled <- struct{}{}; <-ctx.Done() }, func(c *config.FreeSWITCH) {
		c.Inbound, c.Password = inbound, "ClueCon"
	})
	deadline := time.Now().Add(3 * time.Second)
	for r.p.Ready() != nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// a call on the same simulated FreeSWITCH as the inbound connection
	ch, err := sim.Call(r.addr, eslsim.Script{From: "1", To: "2"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-handled: // the socket is set up: the hangup's events will reach the call
	case <-time.After(5 * time.Second):
		t.Fatal("call not handled")
	}
	ctx := t.Context()
	live, err := r.p.ChannelLive(ctx, ch.UUID())
	if err != nil || !live {
		t.Fatalf("ChannelLive of an up channel: %v %v", live, err)
	}
	if err := r.p.KillChannel(ctx, ch.UUID(), "NORMAL_TEMPORARY_FAILURE"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("KillChannel did not end the call")
	}
	if live, err := r.p.ChannelLive(ctx, ch.UUID()); err != nil || live {
		t.Fatalf("ChannelLive of a gone channel: %v %v", live, err)
	}
	if err := r.p.KillChannel(ctx, ch.UUID(), "NORMAL_CLEARING"); err != nil {
		t.Errorf("KillChannel of a gone channel: %v", err)
	}

	if _, err := r.p.RecordingWAV(ctx, "missing"); !errors.Is(err, adapter.ErrNotFound) {
		t.Errorf("RecordingWAV of a missing recording: %v", err)
	}
	if _, err := r.p.RecordingWAV(ctx, "../escape"); err == nil {
		t.Error("RecordingWAV accepted a name with a slash")
	}
	want := []byte("RIFF....WAVE")
	if err := os.WriteFile(filepath.Join(r.dir, "rec1.wav"), want, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := r.p.RecordingWAV(ctx, "rec1")
	if err != nil || string(got) != string(want) {
		t.Fatalf("RecordingWAV: %q %v", got, err)
	}
	if err := r.p.DeleteRecording(ctx, "rec1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "rec1.wav")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("recording still there after DeleteRecording: %v", err)
	}
}

// When Serve ends (the lease was lost), the calls it runs are cut at once: their handlers see
// the hangup and FreeSWITCH hangs the channels up, so that the next owner finds them gone.
func TestServeEndCutsCalls(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	sim := eslsim.New(eslsim.Options{})
	t.Cleanup(sim.Close)
	p := New(config.FreeSWITCH{Name: "fs", Listen: addr, RecordDir: t.TempDir(),
		CommandTimeout: config.Duration(time.Second), ConnectTimeout: config.Duration(time.Second)},
		slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	started, cut := make(chan struct{}), make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = p.Serve(ctx, func(ctx context.Context, c adapter.Call) {
			close(started)
			<-ctx.Done()
			cut <- context.Cause(ctx)
		})
	}()
	var ch *eslsim.Channel
	deadline := time.Now().Add(3 * time.Second)
	for {
		var err error
		if ch, err = sim.Call(addr, eslsim.Script{From: "1", To: "2"}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("call not handled")
	}
	t0 := time.Now()
	cancel()
	select {
	case err := <-cut:
		if !errors.Is(err, adapter.ErrHangup) {
			t.Errorf("the call's cause: %v, want ErrHangup", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the call went on after Serve ended")
	}
	select {
	case <-ch.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("FreeSWITCH kept the channel")
	}
	t.Logf("call cut %v after Serve's end", time.Since(t0).Round(time.Millisecond))
	<-served
}
