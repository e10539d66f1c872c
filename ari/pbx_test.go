package ari

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v6"
	"github.com/CyCoreSystems/ari/v6/client/native"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/audio"
	"github.com/pbxbridge/pbxbridge/config"
)

// TestServeConnectWatchdog: the library's connect retries forever and its websocket dial
// has no timeout. Serve must give up at ConnectTimeout, with ErrPBXDown, and leave nothing
// running once the far end goes away.
func TestServeConnectWatchdog(t *testing.T) {
	before := runtime.NumGoroutine()
	// A server that accepts TCP and never answers the websocket handshake.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	// And a port that refuses.
	refused, _ := net.Listen("tcp", "127.0.0.1:0")
	refusedAddr := refused.Addr().String()
	refused.Close()

	for _, tc := range []struct{ name, addr string }{{"silent", ln.Addr().String()}, {"refused", refusedAddr}} {
		p := New(config.Asterisk{Name: "x", URL: "http://" + tc.addr + "/ari", WebsocketURL: "ws://" + tc.addr + "/ari/events",
			Username: "u", Password: "p", Application: "a",
			ConnectTimeout: config.Duration(400 * time.Millisecond), CommandTimeout: config.Duration(time.Second)}, nil)
		t0 := time.Now()
		err := p.Serve(context.Background(), func(context.Context, adapter.Call) {})
		el := time.Since(t0)
		if !errors.Is(err, adapter.ErrPBXDown) {
			t.Errorf("%s: Serve: %v, want ErrPBXDown", tc.name, err)
		}
		if el < 350*time.Millisecond || el > 2*time.Second {
			t.Errorf("%s: Serve returned after %s, want about 400ms", tc.name, el)
		}
		if p.Ready() == nil {
			t.Errorf("%s: ready without a connection", tc.name)
		}
		t.Logf("%s: %v after %s", tc.name, err, el.Round(time.Millisecond))
	}
	ln.Close()
	mu.Lock()
	for _, c := range conns {
		c.Close()
	}
	mu.Unlock()
	// The abandoned library goroutines notice within its one-second retry.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d before, %d after\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// TestCommandErrors drives commands against a fake ARI: statuses become adapter errors,
// and a command that never answers becomes ErrPBXDown at CommandTimeout.
func TestCommandErrors(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/ari/channels/gone"):
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"Channel not found"}`))
		case strings.HasPrefix(r.URL.Path, "/ari/channels/busy"):
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"message":"Channel not in Stasis application"}`))
		case strings.HasPrefix(r.URL.Path, "/ari/channels/stuck"):
			<-release
		case r.Method == http.MethodGet && r.URL.EscapedPath() == "/ari/recordings/stored/a%20b/file":
			_, _ = w.Write(testWAV(t, 1, 2))
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	defer close(release)
	p, cancel := testPBX(t)
	defer cancel()
	p.cfg.Username, p.cfg.Password = "u", "p"
	p.restURL = srv.URL + "/ari"
	p.cmdTimeout = 200 * time.Millisecond
	p.cl = native.New(&native.Options{Application: "a", URL: p.restURL, Username: "u", Password: "p"})
	ctx := context.Background()

	gone := p.newCall(evt{Channel: "gone", ChannelState: "Ring"})
	err := gone.Answer(ctx)
	var e *Error
	if !errors.Is(err, adapter.ErrHangup) || !errors.As(err, &e) || e.Status != 404 {
		t.Errorf("answer on a gone channel: %v, want ErrHangup with status 404", err)
	}
	if err := gone.Hangup(ctx, "NORMAL_CLEARING"); !errors.Is(err, adapter.ErrHangup) {
		t.Errorf("hangup of a gone channel: %v, want ErrHangup", err)
	}
	// The library wraps GET errors twice (eris, then errDataGet with Cause only).
	_, derr := p.cl.Channel().Data(gone.key())
	if st := statusOf(derr); st != 404 {
		t.Errorf("status of a GET error: %d (%v), want 404", st, derr)
	}

	busy := p.newCall(evt{Channel: "busy", ChannelState: "Ring"})
	err = busy.Answer(ctx)
	if !errors.Is(err, ErrCommand) || !errors.As(err, &e) || e.Status != 409 {
		t.Errorf("answer refused: %v, want ErrCommand with status 409", err)
	}
	err = busy.PreAnswer(ctx)
	if !errors.As(err, &e) || e.Status != 409 || e.Msg != "Channel not in Stasis application" {
		t.Errorf("progress refused: %v, want 409 with ARI's message", err)
	}

	stuck := p.newCall(evt{Channel: "stuck", ChannelState: "Ring"})
	t0 := time.Now()
	err = stuck.Answer(ctx)
	if !errors.Is(err, adapter.ErrPBXDown) || time.Since(t0) > time.Second {
		t.Errorf("stuck command: %v after %s, want ErrPBXDown at 200ms", err, time.Since(t0))
	}
	cctx, ccancel := context.WithCancelCause(ctx)
	ccancel(adapter.ErrHangup)
	if err := stuck.Answer(cctx); !errors.Is(err, adapter.ErrHangup) {
		t.Errorf("command on a hung-up call's context: %v", err)
	}

	ok := p.newCall(evt{Channel: "fine", ChannelState: "Ring"})
	if err := ok.Reject(ctx, "busy"); err != nil {
		t.Errorf("reject: %v", err)
	}
	b, err := p.fetchRecording(ctx, "a b")
	if err != nil || len(b) != 48 {
		t.Errorf("fetch with a name that needs escaping: %d bytes, %v", len(b), err)
	}
	if err := ok.SendDTMF(ctx, "12x"); !errors.Is(err, adapter.ErrUnsupported) {
		t.Errorf("bad DTMF: %v", err)
	}
	if _, err := ok.Play(ctx, adapter.PlaySpec{URL: "ftp://x/y.wav"}); !errors.Is(err, adapter.ErrUnsupported) {
		t.Errorf("ftp media: %v", err)
	}
}

func (c *call) key() *ari.Key { return ari.NewKey(ari.ChannelKey, c.id) }

func TestMediaURI(t *testing.T) {
	for in, want := range map[string]string{
		"http://bridge:8080/media/x.wav": "sound:http://bridge:8080/media/x.wav",
		"https://bridge/media/x.wav":     "sound:https://bridge/media/x.wav",
		"sound:beep":                     "sound:beep",
		"tone:ring":                      "tone:ring",
		"digits:123":                     "digits:123",
		"recording:pbxb-1":               "recording:pbxb-1",
		"characters:abc":                 "characters:abc",
		"number:42":                      "number:42",
	} {
		if got, err := mediaURI(in); err != nil || got != want {
			t.Errorf("mediaURI(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := mediaURI("/var/lib/x.wav"); !errors.Is(err, adapter.ErrUnsupported) {
		t.Errorf("a path: %v", err)
	}
}

func TestQ850(t *testing.T) {
	for name, want := range map[string]int{"NORMAL_CLEARING": 16, "user_busy": 17, "CALL_REJECTED": 21, "NO_ANSWER": 19} {
		if got, ok := q850Code(name); !ok || got != want {
			t.Errorf("%s: %d %v, want %d", name, got, ok, want)
		}
	}
	if _, ok := q850Code("NOT_A_CAUSE"); ok {
		t.Error("unknown cause accepted")
	}
}

func TestQueue(t *testing.T) {
	// Interleaved pushes and pops, across compactions: FIFO throughout.
	q := newQueue[int]()
	next := 0
	for i := 0; i < 10000; i++ {
		q.push(i)
		if i%3 != 0 {
			v, ok := q.pop()
			if !ok || v != next {
				t.Fatalf("pop %d, %v; want %d", v, ok, next)
			}
			next++
		}
	}
	for v, ok := q.pop(); ok; v, ok = q.pop() {
		if v != next {
			t.Fatalf("pop %d, want %d", v, next)
		}
		next++
	}
	if next != 10000 || q.maxLen() < 3000 {
		t.Errorf("popped %d, peak %d", next, q.maxLen())
	}
	// Concurrent producers, one consumer: each producer's order is kept.
	q2 := newQueue[int]()
	const producers, each = 4, 5000
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				q2.push(p*each + i)
			}
		}()
	}
	last := make([]int, producers)
	for i := range last {
		last[i] = -1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for n := 0; n < producers*each; n++ {
		v, err := q2.next(ctx)
		if err != nil {
			t.Fatalf("after %d: %v", n, err)
		}
		p, i := v/each, v%each
		if i <= last[p] {
			t.Fatalf("producer %d: %d after %d: order lost", p, i, last[p])
		}
		last[p] = i
	}
	wg.Wait()
	if q2.len() != 0 {
		t.Errorf("%d left", q2.len())
	}
	short, stop := context.WithTimeout(ctx, 20*time.Millisecond)
	defer stop()
	if _, err := q2.next(short); err == nil {
		t.Error("next on an empty queue returned")
	}
}

// testWAV encodes mono 8 kHz samples.
func testWAV(t *testing.T, samples ...int16) []byte {
	t.Helper()
	b, err := audio.EncodeWAV(audio.PCM{Samples: samples, Rate: 8000, Channels: 1})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStereoAlignment: the track that started later is padded at its front, then package
// audio merges (left = in, right = out) and pads the shorter one at its end.
func TestStereoAlignment(t *testing.T) {
	mono := func(vs ...int16) audio.PCM { return audio.PCM{Samples: vs, Rate: 8000, Channels: 1} }
	// The right track started 1 ms (8 samples) later.
	l, r := alignStart(mono(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), mono(-1, -2), time.Millisecond)
	st, err := audio.Stereo(l, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []int16{1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8, 0, 9, -1, 10, -2}
	if !slices.Equal(st.Samples, want) {
		t.Errorf("merge:\n got %v\nwant %v", st.Samples, want)
	}
	// The left one later.
	l, r = alignStart(mono(7), mono(8), -time.Millisecond)
	st, _ = audio.Stereo(l, r)
	if want := []int16{0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0}; !slices.Equal(st.Samples, want) {
		t.Errorf("merge, left later:\n got %v\nwant %v", st.Samples, want)
	}
	// Asterisk's empty recording is a bare header: empty audio, not an error.
	empty := testWAV(t)
	if len(empty) != 44 {
		t.Fatalf("header is %d bytes", len(empty))
	}
	if p, err := audio.ParseWAV(empty); err != nil || !p.Empty() {
		t.Errorf("empty recording: %+v %v", p, err)
	}
	if d := wavDuration(testWAV(t, make([]int16, 8000)...)); d != time.Second {
		t.Errorf("duration %s", d)
	}
}

// TestLibraryLog: the library's log lines reach our handler, and its websocket-loss lines
// mark the PBX for a reconcile.
func TestLibraryLog(t *testing.T) {
	var buf bytes.Buffer
	lost := 0
	l := newLibLogger(slog.NewTextHandler(&buf, nil), func() { lost++ })
	l.With("k", "v").Error("read failure on websocket", "error", errors.New("EOF"))
	l.Debug("noise")
	if lost != 1 {
		t.Errorf("lost called %d times", lost)
	}
	out := buf.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "k=v") || !strings.Contains(out, "error=EOF") || strings.Contains(out, "noise") {
		t.Errorf("log: %q", out)
	}
}
