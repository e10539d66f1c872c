package ari

// Integration tests against the project's real Asterisk (integration/asterisk). They skip,
// saying how to start it, when its ARI does not answer. Each test call is a Local channel
// originated into a Stasis application of our own (so that a pbxbridge running against the
// same Asterisk is not disturbed), driven through adapter.Call by a small handler.
//
// Settings: PBX_ARI_URL, PBX_ARI_USER, PBX_ARI_PASSWORD (as printed by run.sh env).
// PBXBRIDGE_TEST_RESTART=1 adds a test that restarts Asterisk with run.sh restart.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/audio"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/translate"
)

func testConfig() config.Asterisk {
	env := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	rest := strings.TrimRight(env("PBX_ARI_URL", "http://127.0.0.1:8088/ari"), "/")
	u, _ := url.Parse(rest)
	ws := "ws://" + u.Host + u.Path + "/events"
	return config.Asterisk{
		Name:           "test-asterisk",
		URL:            rest,
		WebsocketURL:   ws,
		Username:       env("PBX_ARI_USER", "pbxbridge"),
		Password:       config.Secret(env("PBX_ARI_PASSWORD", "pbxbridge-test")),
		Application:    "pbxbridge-ari-test-" + newID()[:8],
		ConnectTimeout: config.Duration(5 * time.Second),
		CommandTimeout: config.Duration(3 * time.Second),
	}
}

// requireAsterisk skips the test when ARI does not answer.
func requireAsterisk(t *testing.T, cfg config.Asterisk) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.URL+"/asterisk/info", nil)
	req.SetBasicAuth(cfg.Username, cfg.Password.Reveal())
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return
		}
		err = fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	msg := fmt.Sprintf("Asterisk ARI does not answer at %s (%v): start it with `make asterisk` (integration/asterisk/setup.sh, then run.sh start; as root)", cfg.URL, err)
	if os.Getenv("PBXBRIDGE_INTEGRATION") == "1" {
		t.Fatal(msg) // make test: the integration tests must run, not skip
	}
	t.Skip(msg)
}

// harness is one served PBX and the test calls it routes.
type harness struct {
	t   *testing.T
	cfg config.Asterisk
	p   *PBX

	mu       sync.Mutex
	handlers map[string]func(context.Context, adapter.Call)
	seen     []evt // every event the dispatcher handled

	stop   context.CancelFunc
	served chan error
}

func startHarness(t *testing.T, cfg config.Asterisk) *harness {
	t.Helper()
	h := &harness{t: t, cfg: cfg, handlers: map[string]func(context.Context, adapter.Call){}}
	level := slog.LevelInfo
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level})).With("pbx", cfg.Name)
	h.p = New(cfg, log)
	h.p.healthEvery = 300 * time.Millisecond
	h.p.hook = func(e evt) {
		h.mu.Lock()
		h.seen = append(h.seen, e)
		h.mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	h.served = make(chan error, 1)
	go func() {
		h.served <- h.p.Serve(ctx, func(ctx context.Context, c adapter.Call) {
			h.mu.Lock()
			fn := h.handlers[c.Info().ChannelID]
			h.mu.Unlock()
			if fn == nil {
				t.Errorf("call %s not originated by this test", c.Info().ChannelID)
				return
			}
			fn(ctx, c)
		})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for h.p.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("PBX not ready: %v", h.p.Ready())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return h
}

// shutdown stops Serve and waits for it.
func (h *harness) shutdown() error {
	h.stop()
	select {
	case err := <-h.served:
		return err
	case <-time.After(20 * time.Second):
		return errors.New("Serve did not return")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	if testing.Verbose() {
		w.t.Log(strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}

// ari sends one raw ARI request for the test's own purposes (originate, bridges, checks).
func (h *harness) ari(method, path string, q url.Values) (int, []byte) {
	h.t.Helper()
	u := h.cfg.URL + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, _ := http.NewRequest(method, u, nil)
	req.SetBasicAuth(h.cfg.Username, h.cfg.Password.Reveal())
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		h.t.Errorf("%s %s: %v", method, path, err)
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// originate calls Local/<exten>@play-test/n into the app; fn runs as the call's handler.
func (h *harness) originate(t *testing.T, exten string, fn func(context.Context, adapter.Call)) string {
	t.Helper()
	id := "pbxbt-" + exten + "-" + newID()[:8]
	h.mu.Lock()
	h.handlers[id] = fn
	h.mu.Unlock()
	st, body := h.ari(http.MethodPost, "/channels", url.Values{
		"endpoint":  {"Local/" + exten + "@play-test/n"},
		"app":       {h.cfg.Application},
		"appArgs":   {"test," + exten},
		"channelId": {id},
		"callerId":  {"Test <1000>"},
		"timeout":   {"30"},
	})
	if st != http.StatusOK {
		t.Fatalf("originate %s: HTTP %d %s", exten, st, body)
	}
	return id
}

// events returns the events seen so far that match.
func (h *harness) events(match func(evt) bool) []evt {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []evt
	for _, e := range h.seen {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

// storedGone asserts that the recording was removed from Asterisk's spool.
func (h *harness) storedGone(t *testing.T, name string) {
	t.Helper()
	if st, body := h.ari(http.MethodGet, "/recordings/stored/"+url.PathEscape(name), nil); st != http.StatusNotFound {
		t.Errorf("stored recording %s still in Asterisk's spool: HTTP %d %s", name, st, body)
	}
}

// callResult is what a test handler reports.
type callResult struct {
	res     adapter.RecordResult
	err     error
	play    adapter.PlayResult
	cause   error // context.Cause at the end
	elapsed time.Duration
}

func waitResult(t *testing.T, ch <-chan callResult, d time.Duration) callResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(d):
		t.Fatalf("no result within %s", d)
		return callResult{}
	}
}

// wavInfo reads a result WAV: ms = dataBytes / 16 per channel (8 kHz 16-bit).
type wavInfo struct {
	channels int
	ms       int
	samples  [][]int16 // per channel
}

func readWAV(t *testing.T, b []byte) wavInfo {
	t.Helper()
	if len(b) == 0 {
		return wavInfo{}
	}
	p, err := audio.ParseWAV(b)
	if err != nil {
		t.Fatalf("result is not a WAV: %v", err)
	}
	if p.Rate != 8000 || len(b) != 44+2*len(p.Samples) {
		t.Errorf("rate %d, %d bytes for %d samples: want a canonical 8 kHz 16-bit WAV", p.Rate, len(b), len(p.Samples))
	}
	dataBytes := len(b) - 44
	w := wavInfo{channels: p.Channels, ms: dataBytes / p.Channels / 16}
	w.samples = make([][]int16, p.Channels)
	for i := 0; i+p.Channels <= len(p.Samples); i += p.Channels {
		for ch := 0; ch < p.Channels; ch++ {
			w.samples[ch] = append(w.samples[ch], p.Samples[i+ch])
		}
	}
	return w
}

// toneRatio is the share of a track's energy at freq (Goertzel over 20 ms blocks, only
// blocks with sound): near 1 for a pure tone, small for speech.
func toneRatio(s []int16, freq float64) float64 {
	const n = 160
	var tone, total float64
	for off := 0; off+n <= len(s); off += n {
		var e float64
		for _, v := range s[off : off+n] {
			e += float64(v) * float64(v)
		}
		if e/n < 100*100 { // quieter than about -50 dBFS: no sound here
			continue
		}
		k := math.Round(freq * n / 8000)
		w := 2 * math.Pi * k / n
		coeff := 2 * math.Cos(w)
		var s1, s2 float64
		for _, v := range s[off : off+n] {
			s0 := float64(v) + coeff*s1 - s2
			s2, s1 = s1, s0
		}
		power := s1*s1 + s2*s2 - coeff*s1*s2 // |X(k)|^2
		tone += 2 * power / n                // energy in bins k and n-k
		total += e
	}
	if total == 0 {
		return 0
	}
	return tone / total
}

// within checks a figure against a range. Ranges are for an idle two-CPU host plus room
// for load (other test suites share the Asterisk): the far end's dialplan runs slower then.
func within(t *testing.T, what string, got, lo, hi int) {
	t.Helper()
	if got < lo || got > hi {
		t.Errorf("%s = %d, want %d..%d", what, got, lo, hi)
	} else {
		t.Logf("%s = %d (want %d..%d)", what, got, lo, hi)
	}
}

func keys(s string) translate.KeySet {
	var k translate.KeySet
	for i := 0; i < len(s); i++ {
		k |= keySet(s[i])
	}
	return k
}

// recordAsync runs one foreground Record on a fresh call to exten; its outcome comes on the
// channel.
func (h *harness) recordAsync(t *testing.T, exten string, spec adapter.RecordSpec, before func(context.Context, adapter.Call)) <-chan callResult {
	t.Helper()
	out := make(chan callResult, 1)
	h.originate(t, exten, func(ctx context.Context, c adapter.Call) {
		if err := c.Answer(ctx); err != nil {
			out <- callResult{err: err}
			return
		}
		if before != nil {
			before(ctx, c)
		}
		t0 := time.Now()
		res, err := c.Record(ctx, spec)
		out <- callResult{res: res, err: err, elapsed: time.Since(t0), cause: context.Cause(ctx)}
	})
	return out
}

// record is recordAsync, waited for.
func (h *harness) record(t *testing.T, exten string, spec adapter.RecordSpec, before func(context.Context, adapter.Call)) callResult {
	t.Helper()
	return waitResult(t, h.recordAsync(t, exten, spec, before), 40*time.Second)
}

func TestAsterisk(t *testing.T) {
	cfg := testConfig()
	requireAsterisk(t, cfg)
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	goroutines := runtime.NumGoroutine()
	h := startHarness(t, cfg)

	// Independent calls, in parallel: the whole group takes as long as its longest call.
	// Every call is launched first, then each is checked in its own subtest: the calls run
	// side by side whatever -parallel allows, so the group takes as long as its longest call.
	type launched struct {
		name  string
		check func(*testing.T)
	}
	var calls []launched
	launch := func(name string, start func(*testing.T) func(*testing.T)) {
		if selected("calls", name) {
			calls = append(calls, launched{name, start(t)})
		}
	}
	{
		launch("direct-hash", func(t *testing.T) func(*testing.T) {
			name := "pbxbt-direct-hash-" + newID()[:6]
			res := h.recordAsync(t, "s", adapter.RecordSpec{Name: name, Tracks: translate.TracksIn, Channels: 1,
				MaxDuration: 20 * time.Second, FinishKeys: keys("#")}, nil)
			return func(t *testing.T) {
				r := waitResult(t, res, 40*time.Second)
				if r.err != nil {
					t.Fatal(r.err)
				}
				if r.res.Reason != adapter.EndKey || r.res.Key != '#' {
					t.Errorf("reason %s key %q, want key '#'", r.res.Reason, r.res.Key)
				}
				w := readWAV(t, r.res.WAV)
				// Local channel, direct: only the ~2.95 s of received speech (asterisk.md §4).
				within(t, "audio ms", w.ms, 2500, 3500)
				within(t, "elapsed ms (events)", int(r.res.Ended.Sub(r.res.Started).Milliseconds()), 4000, 7000)
				h.storedGone(t, name)
			}
		})
		launch("direct-keys-watched", func(t *testing.T) func(*testing.T) {
			// "2#" is not a lone # or *: terminateOn=none and the keys are watched.
			name := "pbxbt-direct-keys-" + newID()[:6]
			res := h.recordAsync(t, "dtmf", adapter.RecordSpec{Name: name, Tracks: translate.TracksIn,
				MaxDuration: 20 * time.Second, FinishKeys: keys("2#")}, nil)
			return func(t *testing.T) {
				r := waitResult(t, res, 40*time.Second)
				if r.err != nil {
					t.Fatal(r.err)
				}
				if r.res.Reason != adapter.EndKey || r.res.Key != '2' {
					t.Errorf("reason %s key %q, want key '2'", r.res.Reason, r.res.Key)
				}
				// The dtmf far end sends no audio: an empty recording is an empty result.
				if len(r.res.WAV) != 0 {
					t.Errorf("WAV of %d bytes, want none (no audio frame came)", len(r.res.WAV))
				}
				h.storedGone(t, name)
			}
		})
		launch("direct-silence", func(t *testing.T) func(*testing.T) {
			name := "pbxbt-direct-silence-" + newID()[:6]
			res := h.recordAsync(t, "s", adapter.RecordSpec{Name: name, Tracks: translate.TracksIn,
				MaxDuration: 20 * time.Second, SilenceTimeout: 2 * time.Second}, nil)
			return func(t *testing.T) {
				r := waitResult(t, res, 40*time.Second)
				if r.err != nil {
					t.Fatal(r.err)
				}
				if r.res.Reason != adapter.EndSilence {
					t.Errorf("reason %s, want silence", r.res.Reason)
				}
				w := readWAV(t, r.res.WAV)
				within(t, "audio ms", w.ms, 1500, 3500)
				within(t, "elapsed ms (events)", int(r.res.Ended.Sub(r.res.Started).Milliseconds()), 4000, 12000)
				h.storedGone(t, name)
			}
		})
		launch("snoop-silence", func(t *testing.T) func(*testing.T) {
			// A snoop gets frames all the time (silence included), so Asterisk's silence
			// detection really runs: it stops 2 s after the speech and trims the tail.
			name := "pbxbt-snoop-silence-" + newID()[:6]
			res := h.recordAsync(t, "s", adapter.RecordSpec{Name: name, Tracks: translate.TracksBoth,
				MaxDuration: 20 * time.Second, SilenceTimeout: 2 * time.Second}, nil)
			return func(t *testing.T) {
				r := waitResult(t, res, 40*time.Second)
				if r.err != nil {
					t.Fatal(r.err)
				}
				if r.res.Reason != adapter.EndSilence {
					t.Errorf("reason %s, want silence", r.res.Reason)
				}
				// Speech from 1 s to about 4 s after the answer; the stop about 2 s later.
				within(t, "elapsed ms (events)", int(r.res.Ended.Sub(r.res.Started).Milliseconds()), 5000, 9500)
				within(t, "audio ms", readWAV(t, r.res.WAV).ms, 2500, 7000)
				h.storedGone(t, name)
			}
		})
		launch("direct-max", func(t *testing.T) func(*testing.T) {
			name := "pbxbt-direct-max-" + newID()[:6]
			res := h.recordAsync(t, "long", adapter.RecordSpec{Name: name, Tracks: translate.TracksIn,
				MaxDuration: 2500 * time.Millisecond, SilenceTimeout: 5 * time.Second, FinishKeys: keys("#")}, nil)
			return func(t *testing.T) {
				r := waitResult(t, res, 40*time.Second)
				if r.err != nil {
					t.Fatal(r.err)
				}
				if r.res.Reason != adapter.EndMaxLength {
					t.Errorf("reason %s, want max-length", r.res.Reason)
				}
				// 2.5 s is sent as 3 s; Asterisk checks in whole seconds. The first second of a
				// Local call carries no frames, so the file is shorter than the wall time.
				el := int(r.res.Ended.Sub(r.res.Started).Milliseconds())
				within(t, "elapsed ms (events)", el, 3000, 5000)
				within(t, "audio ms", readWAV(t, r.res.WAV).ms, 800, 3200)
				h.storedGone(t, name)
			}
		})
		launch("direct-hangup", func(t *testing.T) func(*testing.T) {
			name := "pbxbt-direct-hangup-" + newID()[:6]
			res := h.recordAsync(t, "hang", adapter.RecordSpec{Name: name, Tracks: translate.TracksIn,
				MaxDuration: 20 * time.Second, FinishKeys: keys("#")}, nil)
			return func(t *testing.T) {
				r := waitResult(t, res, 40*time.Second)
				if r.err != nil {
					t.Fatalf("hangup during capture is not an error: %v", r.err)
				}
				if r.res.Reason != adapter.EndHangup {
					t.Errorf("reason %s, want hangup", r.res.Reason)
				}
				if !errors.Is(r.cause, adapter.ErrHangup) {
					t.Errorf("context cause %v, want ErrHangup", r.cause)
				}
				within(t, "audio ms (kept)", readWAV(t, r.res.WAV).ms, 2000, 3600)
				h.storedGone(t, name)
			}
		})
		launch("snoop-both-beep", func(t *testing.T) func(*testing.T) {
			name := "pbxbt-snoop-both-" + newID()[:6]
			var chanID string
			res := h.recordAsync(t, "s", adapter.RecordSpec{Name: name, Tracks: translate.TracksBoth, Beep: true,
				MaxDuration: 20 * time.Second, FinishKeys: keys("#")}, func(_ context.Context, c adapter.Call) { chanID = c.Info().ChannelID })
			return func(t *testing.T) {
				r := waitResult(t, res, 40*time.Second)
				if r.err != nil {
					t.Fatal(r.err)
				}
				if r.res.Reason != adapter.EndKey || r.res.Key != '#' {
					t.Errorf("reason %s key %q, want key '#' (watched on the caller: snoops carry no DTMF)", r.res.Reason, r.res.Key)
				}
				// A snoop fills the gaps with silence: the file follows the wall time from the
				// end of the beep to the '#' (about 4.65 s after the answer; snoop set-up and
				// beep take 0.9 s), so it is longer than the 2.95 s of speech a direct
				// recording of this call holds. On a loaded host the snoop loses some frames
				// (up to 0.9 s of 4.6 s seen with a load average of 5 on two CPUs).
				w := readWAV(t, r.res.WAV)
				within(t, "audio ms", w.ms, 3150, 6500)
				el := int(r.res.Ended.Sub(r.res.Started).Milliseconds())
				t.Logf("audio %d ms for %d ms elapsed", w.ms, el)
				if w.ms < el-1000 || w.ms > el+300 {
					t.Errorf("audio %d ms vs elapsed %d ms: a snoop recording should follow the clock", w.ms, el)
				}
				beeps := h.events(func(e evt) bool {
					return e.Type == evPlaybackFinished && e.Media == "sound:beep" && e.Target == "channel:"+chanID
				})
				if len(beeps) != 1 || !beeps[0].At.Before(r.res.Started) {
					t.Errorf("beep on the caller's channel before capture: %+v (capture started %v)", beeps, r.res.Started)
				}
				h.storedGone(t, name)
			}
		})
		launch("background-audio", func(t *testing.T) func(*testing.T) {
			// The caller hears a 1004 Hz tone while recording; the recording must not hold it.
			// A background session recording (spy=both) of the same call is the control: it
			// hears the tone.
			name := "pbxbt-bg-" + newID()[:6]
			var chanID string
			var session adapter.Recording
			res := h.recordAsync(t, "s", adapter.RecordSpec{Name: name, Tracks: translate.TracksIn, MaxDuration: 20 * time.Second,
				FinishKeys: keys("#"), Background: &adapter.PlaySpec{URL: "tone:1004", Loops: 0}},
				func(ctx context.Context, c adapter.Call) {
					chanID = c.Info().ChannelID
					var err error
					session, err = c.StartRecording(ctx, adapter.RecordSpec{Name: name + "-ctl", Tracks: translate.TracksBoth, MaxDuration: time.Minute})
					if err != nil {
						t.Errorf("StartRecording: %v", err)
					}
				})
			return func(t *testing.T) {
				r := waitResult(t, res, 40*time.Second)
				if r.err != nil {
					t.Fatal(r.err)
				}
				if r.res.Reason != adapter.EndKey {
					t.Errorf("reason %s, want key", r.res.Reason)
				}
				started := h.events(func(e evt) bool {
					return e.Type == evPlaybackStarted && e.Media == "tone:1004" && e.Target == "channel:"+chanID
				})
				if len(started) == 0 {
					t.Error("background audio never started on the caller's channel")
				}
				w := readWAV(t, r.res.WAV)
				within(t, "audio ms", w.ms, 3000, 6500)
				fg := toneRatio(w.samples[0], 1004)
				if session == nil {
					return
				}
				select {
				case <-session.Done():
				case <-time.After(15 * time.Second):
					t.Fatal("control recording not done after hangup")
				}
				cres, err := session.Result()
				if err != nil {
					t.Fatal(err)
				}
				ctl := toneRatio(readWAV(t, cres.WAV).samples[0], 1004)
				t.Logf("1004 Hz share of energy: recording %.3f, control %.3f", fg, ctl)
				if fg > 0.05 || ctl < 0.3 {
					t.Errorf("background tone in the recording: share %.3f (control %.3f)", fg, ctl)
				}
				h.storedGone(t, name)
				h.storedGone(t, name+"-ctl")
			}
		})
		launch("stereo", func(t *testing.T) func(*testing.T) {
			// Left = what the caller says (the far end's speech), right = what the caller
			// hears (a tone the test plays to the caller).
			name := "pbxbt-stereo-" + newID()[:6]
			res := h.recordAsync(t, "s", adapter.RecordSpec{Name: name, Tracks: translate.TracksBoth, Channels: 2,
				MaxDuration: 20 * time.Second, FinishKeys: keys("#")},
				func(_ context.Context, c adapter.Call) {
					if st, b := h.ari(http.MethodPost, "/channels/"+c.Info().ChannelID+"/play", url.Values{"media": {"tone:1004"}}); st != http.StatusCreated {
						t.Errorf("test tone: HTTP %d %s", st, b)
					}
				})
			return func(t *testing.T) {
				r := waitResult(t, res, 40*time.Second)
				if r.err != nil {
					t.Fatal(r.err)
				}
				if r.res.Reason != adapter.EndKey {
					t.Errorf("reason %s, want key", r.res.Reason)
				}
				w := readWAV(t, r.res.WAV)
				if w.channels != 2 {
					t.Fatalf("%d channels, want 2", w.channels)
				}
				within(t, "audio ms", w.ms, 3000, 6500)
				left, right := toneRatio(w.samples[0], 1004), toneRatio(w.samples[1], 1004)
				t.Logf("1004 Hz share: left %.3f, right %.3f", left, right)
				if left > 0.05 || right < 0.8 {
					t.Errorf("stereo channels mixed up: tone share left %.3f right %.3f", left, right)
				}
				h.storedGone(t, name+"-in")
				h.storedGone(t, name+"-out")
			}
		})
		launch("session-until-hangup", func(t *testing.T) func(*testing.T) {
			name := "pbxbt-session-" + newID()[:6]
			out := make(chan callResult, 1)
			h.originate(t, "hang", func(ctx context.Context, c adapter.Call) {
				rec, err := c.StartRecording(ctx, adapter.RecordSpec{Name: name, Tracks: translate.TracksBoth, Channels: 1, MaxDuration: time.Minute})
				if err != nil {
					out <- callResult{err: err}
					return
				}
				<-ctx.Done()
				select {
				case <-rec.Done():
				case <-time.After(10 * time.Second):
					out <- callResult{err: errors.New("background recording not done after hangup")}
					return
				}
				res, err := rec.Result()
				out <- callResult{res: res, err: err, cause: context.Cause(ctx)}
			})
			return func(t *testing.T) {
				r := waitResult(t, out, 30*time.Second)
				if r.err != nil {
					t.Fatal(r.err)
				}
				if r.res.Reason != adapter.EndSessionEnd || !errors.Is(r.cause, adapter.ErrHangup) {
					t.Errorf("reason %s cause %v, want session-end after hangup", r.res.Reason, r.cause)
				}
				// 1 s of silence, then ~3 s of speech, then the far end hangs up.
				within(t, "audio ms", readWAV(t, r.res.WAV).ms, 3000, 6000)
				h.storedGone(t, name)
			}
		})
		launch("session-stereo-stop", func(t *testing.T) func(*testing.T) {
			name := "pbxbt-session-stop-" + newID()[:6]
			out := make(chan callResult, 1)
			h.originate(t, "long", func(ctx context.Context, c adapter.Call) {
				rec, err := c.StartRecording(ctx, adapter.RecordSpec{Name: name, Tracks: translate.TracksBoth, Channels: 2, MaxDuration: time.Minute})
				if err != nil {
					out <- callResult{err: err}
					return
				}
				time.Sleep(2 * time.Second)
				if err := rec.Stop(ctx); err != nil {
					out <- callResult{err: err}
					return
				}
				res, err := rec.Result()
				out <- callResult{res: res, err: err}
			})
			return func(t *testing.T) {
				r := waitResult(t, out, 30*time.Second)
				if r.err != nil {
					t.Fatal(r.err)
				}
				if r.res.Reason != adapter.EndStopped {
					t.Errorf("reason %s, want stopped", r.res.Reason)
				}
				w := readWAV(t, r.res.WAV)
				if w.channels != 2 {
					t.Errorf("%d channels, want 2", w.channels)
				}
				within(t, "audio ms", w.ms, 1400, 2600)
				h.storedGone(t, name+"-in")
				h.storedGone(t, name+"-out")
			}
		})
		launch("play-stop-key", func(t *testing.T) func(*testing.T) {
			// Loops 0 replays the beep on each PlaybackFinished until a stop key: 1 and 2
			// come first and are not stop keys; # comes about 2.9 s in.
			out := make(chan callResult, 1)
			var chanID string
			h.originate(t, "dtmf", func(ctx context.Context, c adapter.Call) {
				chanID = c.Info().ChannelID
				t0 := time.Now()
				pr, err := c.Play(ctx, adapter.PlaySpec{URL: "sound:beep", Loops: 0, StopKeys: keys("#")})
				out <- callResult{play: pr, err: err, elapsed: time.Since(t0)}
			})
			return func(t *testing.T) {
				r := waitResult(t, out, 30*time.Second)
				if r.err != nil {
					t.Fatal(r.err)
				}
				if r.play.Key != '#' {
					t.Errorf("stop key %q, want '#'", r.play.Key)
				}
				within(t, "ms until stopped", int(r.elapsed.Milliseconds()), 2000, 5000)
				n := len(h.events(func(e evt) bool { return e.Type == evPlaybackStarted && e.Target == "channel:"+chanID }))
				if n < 4 {
					t.Errorf("%d beeps played, want the beep replayed until the key", n)
				}
				t.Logf("%d beeps before the key", n)
			}
		})
		launch("play-http", func(t *testing.T) func(*testing.T) {
			// Remote audio goes through res_http_media_cache as sound:<url>.
			var hits int
			var mu sync.Mutex
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				hits++
				mu.Unlock()
				w.Header().Set("Content-Type", "audio/wav")
				_, _ = w.Write(testTone(800, 440))
			}))
			out := make(chan callResult, 1)
			h.originate(t, "long", func(ctx context.Context, c adapter.Call) {
				t0 := time.Now()
				pr, err := c.Play(ctx, adapter.PlaySpec{URL: srv.URL + "/media/" + newID() + ".wav", Loops: 1})
				out <- callResult{play: pr, err: err, elapsed: time.Since(t0)}
			})
			return func(t *testing.T) {
				defer srv.Close()
				r := waitResult(t, out, 30*time.Second)
				if r.err != nil {
					t.Fatal(r.err)
				}
				mu.Lock()
				defer mu.Unlock()
				if hits == 0 {
					t.Error("Asterisk never fetched the URL")
				}
				within(t, "ms to play 800 ms of audio", int(r.elapsed.Milliseconds()), 750, 3000)
			}
		})
		launch("play-loops", func(t *testing.T) func(*testing.T) {
			out := make(chan callResult, 1)
			var chanID string
			h.originate(t, "long", func(ctx context.Context, c adapter.Call) {
				chanID = c.Info().ChannelID
				t0 := time.Now()
				pr, err := c.Play(ctx, adapter.PlaySpec{URL: "sound:beep", Loops: 3})
				out <- callResult{play: pr, err: err, elapsed: time.Since(t0)}
			})
			return func(t *testing.T) {
				r := waitResult(t, out, 30*time.Second)
				if r.err != nil || r.play.Key != 0 {
					t.Fatalf("play: %v, key %q", r.err, r.play.Key)
				}
				n := len(h.events(func(e evt) bool { return e.Type == evPlaybackFinished && e.Target == "channel:"+chanID }))
				if n != 3 {
					t.Errorf("%d playbacks, want 3", n)
				}
				t.Logf("3 beeps in %s", r.elapsed.Round(time.Millisecond))
			}
		})
		launch("play-bad-media", func(t *testing.T) func(*testing.T) {
			out := make(chan callResult, 1)
			h.originate(t, "long", func(ctx context.Context, c adapter.Call) {
				_, err := c.Play(ctx, adapter.PlaySpec{URL: "sound:no-such-sound-pbxbridge", Loops: 0})
				out <- callResult{err: err}
			})
			return func(t *testing.T) {
				r := waitResult(t, out, 30*time.Second)
				if !errors.Is(r.err, ErrPlaybackFailed) {
					t.Errorf("error %v, want ErrPlaybackFailed (and no endless replay)", r.err)
				}
			}
		})
		launch("bridged", func(t *testing.T) func(*testing.T) {
			// A channel in a bridge cannot be recorded directly (asterisk.md §3): Tracks=in
			// goes through a snoop.
			name := "pbxbt-bridged-" + newID()[:6]
			bridge := "pbxbt-br-" + newID()[:6]
			res := h.recordAsync(t, "long", adapter.RecordSpec{Name: name, Tracks: translate.TracksIn, MaxDuration: 3 * time.Second},
				func(_ context.Context, c adapter.Call) {
					id := c.Info().ChannelID
					if st, b := h.ari(http.MethodPost, "/bridges/"+bridge, url.Values{"type": {"mixing"}}); st != http.StatusOK {
						t.Errorf("create bridge: %d %s", st, b)
					}
					if st, b := h.ari(http.MethodPost, "/bridges/"+bridge+"/addChannel", url.Values{"channel": {id}}); st != http.StatusNoContent {
						t.Errorf("add to bridge: %d %s", st, b)
					}
					deadline := time.Now().Add(3 * time.Second)
					for len(h.events(func(e evt) bool { return e.Type == evChannelEnteredBridge && e.Channel == id })) == 0 && time.Now().Before(deadline) {
						time.Sleep(5 * time.Millisecond)
					}
				})
			return func(t *testing.T) {
				r := waitResult(t, res, 40*time.Second)
				t.Cleanup(func() { h.ari(http.MethodDelete, "/bridges/"+bridge, nil) })
				if r.err != nil {
					t.Fatal(r.err)
				}
				if r.res.Reason != adapter.EndMaxLength {
					t.Errorf("reason %s, want max-length", r.res.Reason)
				}
				within(t, "audio ms", readWAV(t, r.res.WAV).ms, 2400, 4500)
				h.storedGone(t, name)
			}
		})
		launch("bridged-hidden", func(t *testing.T) func(*testing.T) {
			// Like a channel in Stasis's hidden dial bridge (upstream issue 2044), which
			// reports no ChannelEnteredBridge: the direct recording is tried, fails with
			// RecordingFailed, and Record retries through a snoop.
			name := "pbxbt-hidden-" + newID()[:6]
			bridge := "pbxbt-br-" + newID()[:6]
			res := h.recordAsync(t, "long", adapter.RecordSpec{Name: name, Tracks: translate.TracksIn, MaxDuration: 2 * time.Second},
				func(_ context.Context, ac adapter.Call) {
					id := ac.Info().ChannelID
					h.ari(http.MethodPost, "/bridges/"+bridge, url.Values{"type": {"mixing"}})
					h.ari(http.MethodPost, "/bridges/"+bridge+"/addChannel", url.Values{"channel": {id}})
					deadline := time.Now().Add(3 * time.Second)
					for len(h.events(func(e evt) bool { return e.Type == evChannelEnteredBridge && e.Channel == id })) == 0 && time.Now().Before(deadline) {
						time.Sleep(5 * time.Millisecond)
					}
					c := ac.(*call)
					c.mu.Lock()
					c.bridged = false // hide it
					c.mu.Unlock()
				})
			return func(t *testing.T) {
				t.Cleanup(func() { h.ari(http.MethodDelete, "/bridges/"+bridge, nil) })
				r := waitResult(t, res, 40*time.Second)
				if r.err != nil {
					t.Fatal(r.err)
				}
				failed := h.events(func(e evt) bool { return e.Type == evRecordingFailed && e.Recording == name })
				if len(failed) != 1 {
					t.Errorf("RecordingFailed for the direct attempt: %d events", len(failed))
				}
				if r.res.Reason != adapter.EndMaxLength {
					t.Errorf("reason %s, want max-length", r.res.Reason)
				}
				within(t, "audio ms", readWAV(t, r.res.WAV).ms, 1500, 3500)
				h.storedGone(t, name)
				h.storedGone(t, name+"-s")
			}
		})
		launch("reject-busy", func(t *testing.T) func(*testing.T) {
			out := make(chan callResult, 1)
			id := h.originate(t, "long", func(ctx context.Context, c adapter.Call) {
				if err := c.SendDTMF(ctx, "1#"); err != nil {
					t.Errorf("SendDTMF: %v", err)
				}
				err := c.Reject(ctx, "busy")
				select {
				case <-ctx.Done():
				case <-time.After(5 * time.Second):
				}
				out <- callResult{err: err, cause: context.Cause(ctx)}
			})
			return func(t *testing.T) {
				r := waitResult(t, out, 15*time.Second)
				if r.err != nil || !errors.Is(r.cause, adapter.ErrHangup) {
					t.Fatalf("reject: %v, cause %v", r.err, r.cause)
				}
				var cause int
				// ChannelHangupRequest says 32 (a soft hangup asked over ARI); the channel's own
				// cause comes with ChannelDestroyed.
				deadline := time.Now().Add(3 * time.Second)
				for cause == 0 && time.Now().Before(deadline) {
					for _, e := range h.events(func(e evt) bool { return e.Type == evChannelDestroyed && e.Channel == id }) {
						cause = e.Cause
					}
					time.Sleep(5 * time.Millisecond)
				}
				if cause != 17 {
					t.Errorf("hangup cause %d, want 17 (USER_BUSY)", cause)
				}
			}
		})
		launch("after-hangup", func(t *testing.T) func(*testing.T) {
			out := make(chan callResult, 1)
			h.originate(t, "hang", func(ctx context.Context, c adapter.Call) {
				<-ctx.Done()
				_, err := c.Record(ctx, adapter.RecordSpec{Name: "pbxbt-late-" + newID()[:6], MaxDuration: time.Second})
				_, perr := c.Play(context.Background(), adapter.PlaySpec{URL: "sound:beep", Loops: 1})
				aerr := c.Answer(context.Background())
				out <- callResult{err: errors.Join(err, perr, aerr)}
			})
			return func(t *testing.T) {
				r := waitResult(t, out, 20*time.Second)
				for _, err := range r.err.(interface{ Unwrap() []error }).Unwrap() {
					if !errors.Is(err, adapter.ErrHangup) {
						t.Errorf("after hangup: %v, want ErrHangup", err)
					}
				}
			}
		})
	}
	t.Run("calls", func(t *testing.T) {
		for _, c := range calls {
			t.Run(c.name, c.check)
		}
	})

	if selected("reconnect", "") {
		t.Run("reconnect", func(t *testing.T) { testReconnect(t, cfg) })
	}
	if os.Getenv("PBXBRIDGE_TEST_RESTART") == "1" {
		t.Run("asterisk-restart", func(t *testing.T) { testRestart(t, h) })
	}

	if err := h.shutdown(); err != nil {
		t.Errorf("Serve: %v", err)
	}
	st := h.p.Stats()
	t.Logf("stats: %+v", st)
	if st.BusFull != 0 {
		t.Errorf("the library's bus buffer was seen full %d times", st.BusFull)
	}
	checkGoroutines(t, goroutines)
}

// tcpProxy stands between the PBX's websocket and Asterisk, so that a test can cut it.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := p.down
			p.mu.Unlock()
			if down {
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); _, _ = io.Copy(up, c); up.Close() }()
			go func() { defer p.wg.Done(); _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *tcpProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

func (p *tcpProxy) close() {
	p.ln.Close()
	p.cut()
	p.wg.Wait()
}

// testReconnect cuts the websocket (not Asterisk) while one call waits and another records,
// hangs the first up while the events cannot arrive, and checks that the reconcile after
// the reconnect ends that call with ErrHangup and finishes the recording whose
// RecordingFinished was lost.
func testReconnect(t *testing.T, base config.Asterisk) {
	cfg := base
	cfg.Application = base.Application + "-rc"
	u, _ := url.Parse(cfg.WebsocketURL)
	px := newTCPProxy(t, u.Host)
	defer px.close()
	cfg.WebsocketURL = "ws://" + px.ln.Addr().String() + u.Path
	h := startHarness(t, cfg)
	defer func() {
		if err := h.shutdown(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	waiting := make(chan callResult, 1)
	arrived := make(chan struct{})
	waitID := h.originate(t, "long", func(ctx context.Context, c adapter.Call) {
		close(arrived)
		<-ctx.Done()
		waiting <- callResult{cause: context.Cause(ctx)}
	})
	recording := make(chan callResult, 1)
	recName := "pbxbt-rc-" + newID()[:6]
	recStarted := make(chan struct{})
	h.originate(t, "long", func(ctx context.Context, c adapter.Call) {
		go func() {
			for len(h.events(func(e evt) bool { return e.Type == evRecordingStarted && e.Recording == recName })) == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			close(recStarted)
		}()
		res, err := c.Record(ctx, adapter.RecordSpec{Name: recName, Tracks: translate.TracksBoth, MaxDuration: 3 * time.Second})
		recording <- callResult{res: res, err: err}
	})
	<-arrived
	<-recStarted

	t0 := time.Now()
	px.cut()
	if st, b := h.ari(http.MethodDelete, "/channels/"+waitID, nil); st != http.StatusNoContent {
		t.Fatalf("hangup behind the PBX's back: %d %s", st, b)
	}
	sawDown := false
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && !sawDown {
		sawDown = h.p.Ready() != nil
		time.Sleep(20 * time.Millisecond)
	}
	if !sawDown {
		t.Error("Ready stayed nil with the websocket cut")
	}
	// Keep it cut past the recording's limit, so that its RecordingFinished is lost too.
	time.Sleep(time.Until(t0.Add(4 * time.Second)))
	select {
	case r := <-waiting:
		t.Fatalf("call ended while the websocket was down (cause %v): events cannot have told us", r.cause)
	default:
	}
	px.restore()
	tr := time.Now()
	r := waitResult(t, waiting, 15*time.Second)
	t.Logf("call ended %s after the websocket came back (cut for %s)", time.Since(tr).Round(time.Millisecond), tr.Sub(t0).Round(time.Millisecond))
	if !errors.Is(r.cause, adapter.ErrHangup) {
		t.Errorf("cause %v, want ErrHangup", r.cause)
	}
	rr := waitResult(t, recording, 15*time.Second)
	if rr.err != nil {
		t.Fatalf("recording across the cut: %v", rr.err)
	}
	if rr.res.Reason != adapter.EndMaxLength {
		t.Errorf("reason %s, want max-length", rr.res.Reason)
	}
	within(t, "audio ms", readWAV(t, rr.res.WAV).ms, 2500, 4500)
	h.storedGone(t, recName)
	for time.Since(tr) < 10*time.Second && h.p.Ready() != nil {
		time.Sleep(20 * time.Millisecond)
	}
	if err := h.p.Ready(); err != nil {
		t.Errorf("not ready after the reconnect: %v", err)
	}
	st := h.p.Stats()
	t.Logf("stats: %+v", st)
	if st.Reconnects == 0 || st.Reconciles == 0 {
		t.Errorf("reconnects %d, reconciles %d: want both", st.Reconnects, st.Reconciles)
	}
}

// testRestart restarts Asterisk under a live call, then makes a new one.
func testRestart(t *testing.T, h *harness) {
	script, err := filepath.Abs("../integration/asterisk/run.sh")
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan callResult, 1)
	arrived := make(chan struct{})
	h.originate(t, "long", func(ctx context.Context, c adapter.Call) {
		close(arrived)
		<-ctx.Done()
		waiting <- callResult{cause: context.Cause(ctx)}
	})
	<-arrived
	t0 := time.Now()
	out, err := exec.Command(script, "restart").CombinedOutput()
	if err != nil {
		t.Fatalf("run.sh restart: %v\n%s", err, out)
	}
	t.Logf("run.sh restart took %s", time.Since(t0).Round(time.Millisecond))
	r := waitResult(t, waiting, 20*time.Second)
	if !errors.Is(r.cause, adapter.ErrHangup) {
		t.Errorf("cause %v, want ErrHangup", r.cause)
	}
	for time.Since(t0) < 30*time.Second && h.p.Ready() != nil {
		time.Sleep(20 * time.Millisecond)
	}
	if err := h.p.Ready(); err != nil {
		t.Fatalf("not ready after restart: %v", err)
	}
	t.Logf("ready %s after the restart began; call ended with %v", time.Since(t0).Round(time.Millisecond), r.cause)
	name := "pbxbt-after-restart-" + newID()[:6]
	rr := h.record(t, "s", adapter.RecordSpec{Name: name, Tracks: translate.TracksIn, MaxDuration: 20 * time.Second, FinishKeys: keys("#")}, nil)
	if rr.err != nil || rr.res.Reason != adapter.EndKey {
		t.Errorf("call after restart: %v %s", rr.err, rr.res.Reason)
	}
	t.Logf("stats: %+v", h.p.Stats())
}

// selected reports whether -run would run TestAsterisk/<group>/<name>, so that a filtered
// run launches only the calls it checks.
func selected(group, name string) bool {
	f := flag.Lookup("test.run")
	if f == nil || f.Value.String() == "" {
		return true
	}
	parts := strings.Split(f.Value.String(), "/")
	for i, s := range []string{group, name} {
		if i+1 >= len(parts) {
			return true
		}
		if ok, err := regexp.MatchString(parts[i+1], s); err == nil && !ok {
			return false
		}
	}
	return true
}

// testTone is a WAV of a sine wave, 8 kHz 16-bit mono.
func testTone(ms int, freq float64) []byte {
	s := make([]int16, ms*8)
	for i := range s {
		s[i] = int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/8000))
	}
	b, _ := audio.EncodeWAV(audio.PCM{Samples: s, Rate: 8000, Channels: 1})
	return b
}

// checkGoroutines waits for the goroutine count to come back to what it was.
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Idle keep-alive connections of the default transport (the library's and the
		// test's requests) each hold two goroutines: not ours to count.
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		n := runtime.NumGoroutine()
		if n <= before {
			t.Logf("goroutines: %d before, %d after", before, n)
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAsteriskLoad is a load harness, not a check: PBXBRIDGE_TEST_LOAD=N makes N
// simultaneous calls, each a stereo snoop recording with a beep ended by '#', and prints
// what happened. It fails only if an event was possibly dropped.
func TestAsteriskLoad(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PBXBRIDGE_TEST_LOAD"))
	if n <= 0 {
		t.Skip("set PBXBRIDGE_TEST_LOAD=<calls> to run")
	}
	cfg := testConfig()
	requireAsterisk(t, cfg)
	h := startHarness(t, cfg)
	defer h.shutdown()
	var wg sync.WaitGroup
	var mu sync.Mutex
	reasons := map[string]int{}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ch := h.recordAsync(t, "s", adapter.RecordSpec{Name: "pbxbt-load-" + newID()[:8], Tracks: translate.TracksBoth,
			Channels: 2, MaxDuration: 20 * time.Second, FinishKeys: keys("#"), Beep: true}, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := <-ch
			mu.Lock()
			defer mu.Unlock()
			if r.err != nil {
				reasons["error: "+r.err.Error()]++
			} else {
				reasons[string(r.res.Reason)]++
			}
		}()
	}
	wg.Wait()
	st := h.p.Stats()
	t.Logf("%d calls in %s: %v; stats %+v", n, time.Since(t0).Round(time.Millisecond), reasons, st)
	if st.BusFull > 0 {
		t.Errorf("the bus buffer was seen full %d times", st.BusFull)
	}
}

// TestAsteriskSIP takes one inbound SIP call from SIPp (RFC 4733 '#' after 7.5 s, then
// SIPp's BYE). The dialplan routes SIP into the application "pbxbridge" only, so this test
// registers that name and would take calls from a pbxbridge running against the same
// Asterisk: it runs only with PBXBRIDGE_TEST_SIP=1.
func TestAsteriskSIP(t *testing.T) {
	if os.Getenv("PBXBRIDGE_TEST_SIP") != "1" {
		t.Skip("set PBXBRIDGE_TEST_SIP=1 to run (uses the application name pbxbridge)")
	}
	cfg := testConfig()
	cfg.Application = "pbxbridge"
	requireAsterisk(t, cfg)
	h := startHarness(t, cfg)
	defer h.shutdown()
	type outcome struct {
		info              adapter.CallInfo
		pre, beep, answer error
		beepTook          time.Duration
		res               adapter.RecordResult
		err, cause        error
	}
	got := make(chan outcome, 1)
	h.p.hook = func(e evt) {
		if e.Type != evStasisStart || !strings.HasPrefix(e.ChannelName, "PJSIP/") {
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.handlers[e.Channel] = func(ctx context.Context, c adapter.Call) {
			var o outcome
			o.info = c.Info()
			o.pre = c.PreAnswer(ctx)
			t0 := time.Now()
			_, o.beep = c.Play(ctx, adapter.PlaySpec{URL: "sound:beep", Loops: 1}) // early media
			o.beepTook = time.Since(t0)
			o.answer = c.Answer(ctx)
			o.res, o.err = c.Record(ctx, adapter.RecordSpec{Name: "pbxbt-sip-" + newID()[:6], Tracks: translate.TracksIn,
				MaxDuration: 30 * time.Second, FinishKeys: keys("#")})
			<-ctx.Done() // SIPp hangs up: an Asterisk BYE would fail its scenario
			o.cause = context.Cause(ctx)
			got <- o
		}
	}
	cmd := exec.Command("../integration/asterisk/run.sh", "sipp", "-sf", "../integration/asterisk/sipp/uac_pcap_dtmf.xml",
		"-s", "5551234", "-i", "127.0.0.1", "-p", "5070", "-mi", "127.0.0.1", "-mp", "6000", "-m", "1",
		"-timeout", "60", "-timeout_error", "127.0.0.1:5060")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sipp: %v\n%s", err, b)
	}
	var o outcome
	select {
	case o = <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("no outcome")
	}
	t.Logf("info %+v", o.info)
	if o.info.Answered || o.info.To != "5551234" || o.info.From != "sipp" {
		t.Errorf("info: %+v", o.info)
	}
	if o.pre != nil || o.beep != nil || o.answer != nil {
		t.Errorf("progress %v, early-media beep %v, answer %v", o.pre, o.beep, o.answer)
	}
	if o.err != nil || o.res.Reason != adapter.EndKey || o.res.Key != '#' {
		t.Errorf("record: %v %s %q", o.err, o.res.Reason, o.res.Key)
	}
	// SIPp's pcap holds 7.05 s of speech; RTP flows throughout, so the file matches it.
	within(t, "audio ms", readWAV(t, o.res.WAV).ms, 6900, 7600)
	if !errors.Is(o.cause, adapter.ErrHangup) {
		t.Errorf("cause %v", o.cause)
	}
}
