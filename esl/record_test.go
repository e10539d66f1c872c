package esl

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
	"github.com/pbxbridge/pbxbridge/translate"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type rig struct {
	p    *PBX
	sim  *eslsim.Sim
	addr string
	dir  string
}

// newRig serves a PBX against a simulator; each test call runs fn as the engine would.
func newRig(t *testing.T, opts eslsim.Options, fn func(ctx context.Context, c adapter.Call), mod ...func(*config.FreeSWITCH)) *rig {
	t.Helper()
	r := &rig{addr: freeAddr(t), dir: t.TempDir()}
	r.sim = eslsim.New(opts)
	t.Cleanup(r.sim.Close)
	cfg := config.FreeSWITCH{Name: "fs", Listen: r.addr, RecordDir: r.dir,
		CommandTimeout: config.Duration(time.Second), ConnectTimeout: config.Duration(time.Second)}
	for _, m := range mod {
		m(&cfg)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r.p = New(cfg, log)
	r.p.probeEvery = 300 * time.Millisecond
	r.p.linger = 2 * time.Second
	r.p.healthEvery = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := r.p.Serve(ctx, fn); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-served })
	deadline := time.Now().Add(3 * time.Second)
	for r.p.Ready() != nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return r
}

type recOut struct {
	res adapter.RecordResult
	err error
}

// record places one simulated call whose handler runs a Record with spec.
func record(t *testing.T, opts eslsim.Options, sc eslsim.Script, spec adapter.RecordSpec, during func(*eslsim.Channel)) (recOut, *eslsim.Channel) {
	t.Helper()
	out := make(chan recOut, 1)
	r := newRig(t, opts, func(ctx context.Context, c adapter.Call) {
		res, err := c.Record(ctx, spec)
		out <- recOut{res, err}
	})
	ch, err := r.sim.Call(r.addr, sc)
	if err != nil {
		t.Fatal(err)
	}
	if during != nil {
		during(ch)
	}
	select {
	case o := <-out:
		return o, ch
	case <-time.After(15 * time.Second):
		t.Fatal("Record did not return")
	}
	return recOut{}, nil
}

func audioLen(wav []byte) time.Duration {
	if len(wav) < 44 {
		return 0
	}
	return time.Duration(len(wav)-44) / 2 * time.Second / eslsim.Rate
}

func within(t *testing.T, what string, d, lo, hi time.Duration) {
	t.Helper()
	if d < lo || d > hi {
		t.Errorf("%s = %v, want [%v, %v]", what, d, lo, hi)
	}
}

// mustKeys builds a KeySet from digits, in translate's bit order ("0123456789#*").
func mustKeys(t *testing.T, s string) translate.KeySet {
	t.Helper()
	const order = "0123456789#*"
	var k translate.KeySet
	for i := 0; i < len(s); i++ {
		j := strings.IndexByte(order, s[i])
		if j < 0 {
			t.Fatalf("key %q", s[i])
		}
		k |= translate.KeySet(1) << j
	}
	if k.String() == "" {
		t.Fatalf("keys %q", s)
	}
	return k
}

func TestRecordKey(t *testing.T) {
	t.Parallel()
	o, _ := record(t, eslsim.Options{}, eslsim.Script{Audio: eslsim.Tone(10*time.Second, 3000), DTMF: []eslsim.DTMF{{At: time.Second, Digit: '#'}}},
		adapter.RecordSpec{Name: "key", MaxDuration: 10 * time.Second, FinishKeys: mustKeys(t, "#")}, nil)
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Reason != adapter.EndKey || o.res.Key != '#' {
		t.Errorf("reason %s key %q, want key '#'", o.res.Reason, o.res.Key)
	}
	within(t, "audio", audioLen(o.res.WAV), 500*time.Millisecond, 1100*time.Millisecond)
}

func TestRecordSilence(t *testing.T) {
	t.Parallel()
	audio := append(eslsim.Tone(time.Second, 3000), eslsim.Silence(10*time.Second)...)
	o, _ := record(t, eslsim.Options{}, eslsim.Script{Audio: audio},
		adapter.RecordSpec{Name: "sil", MaxDuration: 10 * time.Second, SilenceTimeout: time.Second}, nil)
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Reason != adapter.EndSilence {
		t.Errorf("reason %s, want silence", o.res.Reason)
	}
	// the silent tail stays in the file (the engine trims it)
	within(t, "audio", audioLen(o.res.WAV), 1500*time.Millisecond, 2200*time.Millisecond)
}

func TestRecordMaxLength(t *testing.T) {
	t.Parallel()
	o, _ := record(t, eslsim.Options{}, eslsim.Script{Audio: eslsim.Tone(10*time.Second, 3000)},
		adapter.RecordSpec{Name: "max", MaxDuration: time.Second, SilenceTimeout: 5 * time.Second}, nil)
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Reason != adapter.EndMaxLength {
		t.Errorf("reason %s, want max-length", o.res.Reason)
	}
	// FreeSWITCH's limit has whole-second granularity: [limit, limit+1)
	within(t, "audio", audioLen(o.res.WAV), time.Second, 2*time.Second)
}

func TestRecordHangupKeepsAudio(t *testing.T) {
	t.Parallel()
	o, ch := record(t, eslsim.Options{}, eslsim.Script{Audio: eslsim.Tone(10*time.Second, 3000), HangupAt: 1200 * time.Millisecond},
		adapter.RecordSpec{Name: "hup", MaxDuration: 10 * time.Second}, nil)
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Reason != adapter.EndHangup {
		t.Errorf("reason %s, want hangup", o.res.Reason)
	}
	within(t, "audio", audioLen(o.res.WAV), 600*time.Millisecond, 1300*time.Millisecond)
	<-ch.Done()
}

// TestRecordEmpty: a key at once, before any audio: the result is empty (the engine then
// applies the dialect's empty-recording rule).
func TestRecordEmpty(t *testing.T) {
	t.Parallel()
	o, _ := record(t, eslsim.Options{}, eslsim.Script{},
		adapter.RecordSpec{Name: "empty", MaxDuration: 10 * time.Second, FinishKeys: mustKeys(t, "5")},
		func(ch *eslsim.Channel) {
			for ch.Var("current_application") != "record" {
				time.Sleep(2 * time.Millisecond)
			}
			ch.PressDTMF('5')
		})
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Reason != adapter.EndKey || o.res.Key != '5' {
		t.Errorf("reason %s key %q", o.res.Reason, o.res.Key)
	}
	within(t, "audio", audioLen(o.res.WAV), 0, 100*time.Millisecond)
}

// TestRecordNoKeysIgnoresStar: with no finish keys the bridge sets playback_terminators=none;
// FreeSWITCH's default would have stopped on '*'.
func TestRecordNoKeysIgnoresStar(t *testing.T) {
	t.Parallel()
	o, ch := record(t, eslsim.Options{}, eslsim.Script{Audio: eslsim.Tone(10*time.Second, 3000), DTMF: []eslsim.DTMF{{At: 300 * time.Millisecond, Digit: '*'}}},
		adapter.RecordSpec{Name: "star", MaxDuration: time.Second}, nil)
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Reason != adapter.EndMaxLength {
		t.Errorf("reason %s, want max-length ('*' must not stop it)", o.res.Reason)
	}
	if v := ch.Var("playback_terminators"); v != "none" {
		t.Errorf("playback_terminators = %q, want none", v)
	}
}

// TestRecordReorderedEvents: the simulator swaps every pair of events on the wire; the
// outcome must not change.
func TestRecordReorderedEvents(t *testing.T) {
	t.Parallel()
	o, _ := record(t, eslsim.Options{SwapEvents: true}, eslsim.Script{Audio: eslsim.Tone(10*time.Second, 3000), DTMF: []eslsim.DTMF{{At: time.Second, Digit: '1'}}},
		adapter.RecordSpec{Name: "swap", MaxDuration: 10 * time.Second, FinishKeys: mustKeys(t, "1#"), Beep: true}, nil)
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Reason != adapter.EndKey || o.res.Key != '1' {
		t.Errorf("reason %s key %q, want key '1'", o.res.Reason, o.res.Key)
	}
}

// TestRecordFailed: FreeSWITCH cannot open the file and hangs up with
// DESTINATION_OUT_OF_ORDER: the outcome is a failed recording, not a hangup.
func TestRecordFailed(t *testing.T) {
	t.Parallel()
	out := make(chan recOut, 1)
	r := newRig(t, eslsim.Options{}, func(ctx context.Context, c adapter.Call) {
		res, err := c.Record(ctx, adapter.RecordSpec{Name: "fail", MaxDuration: 5 * time.Second})
		out <- recOut{res, err}
	})
	// the shared directory disappears after startup (an unmounted volume)
	if err := os.RemoveAll(r.dir); err != nil {
		t.Fatal(err)
	}
	ch, err := r.sim.Call(r.addr, eslsim.Script{Audio: eslsim.Tone(time.Second, 3000)})
	if err != nil {
		t.Fatal(err)
	}
	o := <-out
	if !errors.Is(o.err, adapter.ErrRecordingFailed) {
		t.Errorf("err = %v, want ErrRecordingFailed", o.err)
	}
	<-ch.Done()
	if c := ch.HangupCause(); c != "DESTINATION_OUT_OF_ORDER" {
		t.Errorf("hangup cause %s", c)
	}
}

// TestRecordSocketDrop: the socket dies mid-recording. FreeSWITCH hangs the channel up and
// closes the file; the bridge notices (no events, probe fails) and keeps the audio.
func TestRecordSocketDrop(t *testing.T) {
	t.Parallel()
	o, _ := record(t, eslsim.Options{}, eslsim.Script{Audio: eslsim.Tone(10*time.Second, 3000)},
		adapter.RecordSpec{Name: "drop", MaxDuration: 10 * time.Second},
		func(ch *eslsim.Channel) {
			for ch.Var("current_application") != "record" {
				time.Sleep(2 * time.Millisecond)
			}
			time.Sleep(time.Second)
			ch.DropSocket()
		})
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Reason != adapter.EndHangup {
		t.Errorf("reason %s, want hangup", o.res.Reason)
	}
	within(t, "audio", audioLen(o.res.WAV), 700*time.Millisecond, 1300*time.Millisecond)
}

func TestStartRecordingStop(t *testing.T) {
	t.Parallel()
	out := make(chan recOut, 1)
	r := newRig(t, eslsim.Options{}, func(ctx context.Context, c adapter.Call) {
		if err := c.Answer(ctx); err != nil {
			out <- recOut{err: err}
			return
		}
		rec, err := c.StartRecording(ctx, adapter.RecordSpec{Name: "sess", MaxDuration: time.Minute})
		if err != nil {
			out <- recOut{err: err}
			return
		}
		time.Sleep(1500 * time.Millisecond)
		if err := rec.Stop(ctx); err != nil {
			out <- recOut{err: err}
			return
		}
		<-rec.Done()
		res, err := rec.Result()
		out <- recOut{res, err}
	})
	if _, err := r.sim.Call(r.addr, eslsim.Script{Audio: eslsim.Tone(10*time.Second, 3000)}); err != nil {
		t.Fatal(err)
	}
	o := <-out
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Reason != adapter.EndStopped {
		t.Errorf("reason %s, want stopped", o.res.Reason)
	}
	// the media bug reports about half a second less than wall-clock time
	within(t, "audio", audioLen(o.res.WAV), 700*time.Millisecond, 1500*time.Millisecond)
}

func TestStartRecordingHangup(t *testing.T) {
	t.Parallel()
	out := make(chan recOut, 1)
	r := newRig(t, eslsim.Options{}, func(ctx context.Context, c adapter.Call) {
		_ = c.Answer(ctx)
		rec, err := c.StartRecording(ctx, adapter.RecordSpec{Name: "sess2", MaxDuration: time.Minute, Channels: 2})
		if err != nil {
			out <- recOut{err: err}
			return
		}
		<-rec.Done()
		res, err := rec.Result()
		out <- recOut{res, err}
	})
	if _, err := r.sim.Call(r.addr, eslsim.Script{Audio: eslsim.Tone(10*time.Second, 3000), HangupAt: 1500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	o := <-out
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Reason != adapter.EndSessionEnd {
		t.Errorf("reason %s, want session-end", o.res.Reason)
	}
	if len(o.res.WAV) == 0 {
		t.Error("no audio")
	}
}

// TestRecordBothKey: Tracks=both (FlexML's default) is a uuid_record media bug that the
// bridge stops on a finish key seen in DTMF events.
func TestRecordBothKey(t *testing.T) {
	t.Parallel()
	o, _ := record(t, eslsim.Options{}, eslsim.Script{Audio: eslsim.Tone(10*time.Second, 3000), DTMF: []eslsim.DTMF{{At: 1500 * time.Millisecond, Digit: '#'}}},
		adapter.RecordSpec{Name: "both", Tracks: translate.TracksBoth, MaxDuration: 10 * time.Second, FinishKeys: mustKeys(t, "#")}, nil)
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Reason != adapter.EndKey || o.res.Key != '#' {
		t.Errorf("reason %s key %q, want key '#'", o.res.Reason, o.res.Key)
	}
	within(t, "audio", audioLen(o.res.WAV), 600*time.Millisecond, 1500*time.Millisecond)
}

// TestRecordStereoSilence: Channels=2 with a silence timeout: FreeSWITCH's
// RECORD_FINAL_TIMEOUT_MS ends it (success-silence); the file is stereo.
func TestRecordStereoSilence(t *testing.T) {
	t.Parallel()
	audio := append(eslsim.Tone(time.Second, 3000), eslsim.Silence(10*time.Second)...)
	o, _ := record(t, eslsim.Options{}, eslsim.Script{Audio: audio},
		adapter.RecordSpec{Name: "stereo", Tracks: translate.TracksBoth, Channels: 2, MaxDuration: 10 * time.Second, SilenceTimeout: time.Second}, nil)
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Reason != adapter.EndSilence {
		t.Errorf("reason %s, want silence", o.res.Reason)
	}
	if len(o.res.WAV) < 44 || o.res.WAV[22] != 2 {
		t.Errorf("not a stereo WAV (%d bytes)", len(o.res.WAV))
	}
}

// TestRecordBothMaxLength: the media bug's own limit (success-maxtime, not our stop).
func TestRecordBothMaxLength(t *testing.T) {
	t.Parallel()
	o, _ := record(t, eslsim.Options{}, eslsim.Script{Audio: eslsim.Tone(10*time.Second, 3000)},
		adapter.RecordSpec{Name: "bmax", Tracks: translate.TracksBoth, MaxDuration: time.Second}, nil)
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Reason != adapter.EndMaxLength {
		t.Errorf("reason %s, want max-length", o.res.Reason)
	}
}

// TestSlowReplies: replies delayed under the command deadline change nothing.
func TestSlowReplies(t *testing.T) {
	t.Parallel()
	o, _ := record(t, eslsim.Options{ReplyDelay: 200 * time.Millisecond}, eslsim.Script{Audio: eslsim.Tone(10*time.Second, 3000), DTMF: []eslsim.DTMF{{At: 1500 * time.Millisecond, Digit: '#'}}},
		adapter.RecordSpec{Name: "slow", MaxDuration: 10 * time.Second, FinishKeys: mustKeys(t, "#")}, nil)
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Reason != adapter.EndKey {
		t.Errorf("reason %s, want key", o.res.Reason)
	}
}

// TestStuckReplies: a reply later than the deadline: the command fails, the socket is
// dropped (eslgo would pair the late reply with the next command) and the call counts as
// hung up.
func TestStuckReplies(t *testing.T) {
	t.Parallel()
	out := make(chan error, 1)
	r := newRig(t, eslsim.Options{ReplyDelay: 1500 * time.Millisecond}, func(ctx context.Context, c adapter.Call) {
		out <- c.Answer(ctx)
	})
	ch, err := r.sim.Call(r.addr, eslsim.Script{})
	if err != nil {
		t.Fatal(err)
	}
	// the socket setup (linger) already times out, so the engine never sees the call
	select {
	case err := <-out:
		t.Errorf("the engine got the call (Answer: %v)", err)
	case <-ch.Done():
	case <-time.After(10 * time.Second):
		t.Error("the simulated channel was not hung up after the socket was dropped")
	}
}

// TestRecordBackground: background audio is displaced into what the caller hears during
// the recording and stopped after it; the recording holds the caller only.
func TestRecordBackground(t *testing.T) {
	t.Parallel()
	var heard string
	o, ch := record(t, eslsim.Options{}, eslsim.Script{Audio: eslsim.Tone(10*time.Second, 3000)},
		adapter.RecordSpec{Name: "bg", MaxDuration: time.Second, Background: &adapter.PlaySpec{URL: "http://127.0.0.1/x.wav"}},
		func(ch *eslsim.Channel) {
			for ch.Var("current_application") != "record" {
				time.Sleep(2 * time.Millisecond)
			}
			heard = ch.Displacing()
		})
	if o.err != nil {
		t.Fatal(o.err)
	}
	if heard != "http_cache://http://127.0.0.1/x.wav" {
		t.Errorf("displaced %q during the recording", heard)
	}
	if d := ch.Displacing(); d != "" {
		t.Errorf("still displacing %q after the recording", d)
	}
}

// TestPlayStopKey: Play with stop keys ends on the key and says which.
func TestPlayStopKey(t *testing.T) {
	t.Parallel()
	type out struct {
		res adapter.PlayResult
		err error
	}
	res := make(chan out, 1)
	r := newRig(t, eslsim.Options{}, func(ctx context.Context, c adapter.Call) {
		_ = c.Answer(ctx)
		pr, err := c.Play(ctx, adapter.PlaySpec{URL: "tone:%(5000,0,440)", Loops: 1, StopKeys: mustKeys(t, "5")})
		res <- out{pr, err}
	})
	if _, err := r.sim.Call(r.addr, eslsim.Script{DTMF: []eslsim.DTMF{{At: 500 * time.Millisecond, Digit: '5'}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-res:
		if o.err != nil || o.res.Key != '5' {
			t.Errorf("Play: key %q, %v; want '5'", o.res.Key, o.err)
		}
	case <-time.After(4 * time.Second):
		t.Error("Play did not stop on the key")
	}
}

// TestInboundHealth: with an inbound address, Ready follows mod_event_socket's health.
func TestInboundHealth(t *testing.T) {
	t.Parallel()
	sim := eslsim.New(eslsim.Options{Password: "pw"})
	addr, err := sim.ListenInbound("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, eslsim.Options{}, func(context.Context, adapter.Call) {}, func(c *config.FreeSWITCH) {
		c.Inbound, c.Password = addr, "pw"
	})
	deadline := time.Now().Add(3 * time.Second)
	for r.p.Ready() != nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.p.Ready(); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	sim.Close()
	deadline = time.Now().Add(5 * time.Second)
	for r.p.Ready() == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.p.Ready(); !errors.Is(err, adapter.ErrPBXDown) {
		t.Errorf("Ready after FreeSWITCH went away: %v", err)
	}
}
