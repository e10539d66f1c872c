package ari

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v6"
	"github.com/CyCoreSystems/ari/v6/stdbus"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/translate"
)

// Real ARI frames from Asterisk 22.10.1 (shared/fixtures/asterisk-22/README.md).
const fixtureDir = "../../shared/fixtures/asterisk-22"

func fixturePath(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(fixtureDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("fixtures not found at %s: %v", fixtureDir, err)
	}
	return p
}

type frame struct {
	Scenario string          `json:"scenario"`
	Event    json.RawMessage `json:"event"`
}

// loadFrames reads all-events.jsonl, in arrival order.
func loadFrames(t *testing.T) []frame {
	t.Helper()
	f, err := os.Open(fixturePath(t, "all-events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []frame
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var fr frame
		if err := json.Unmarshal(sc.Bytes(), &fr); err != nil {
			t.Fatal(err)
		}
		out = append(out, fr)
	}
	if len(out) != 267 {
		t.Fatalf("%d frames, want 267", len(out))
	}
	return out
}

// scenarioEvents decodes one scenario's frames through the library's decoder and ours.
func scenarioEvents(t *testing.T, frames []frame, scenario string) []evt {
	t.Helper()
	var out []evt
	for _, fr := range frames {
		if fr.Scenario != scenario {
			continue
		}
		e, ok, err := decodeFrame(fr.Event)
		if err != nil {
			t.Fatalf("%s: %v", scenario, err)
		}
		if ok {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no events for scenario %s", scenario)
	}
	return out
}

func TestDecodeFixtureFrames(t *testing.T) {
	read := func(name string) evt {
		t.Helper()
		b, err := os.ReadFile(fixturePath(t, name))
		if err != nil {
			t.Fatal(err)
		}
		e, ok, err := decodeFrame(b)
		if err != nil || !ok {
			t.Fatalf("%s: ok=%v err=%v", name, ok, err)
		}
		return e
	}
	ts := func(s string) time.Time {
		v, err := time.Parse(ari.DateFormat, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		file string
		want evt
	}{
		{"StasisStart.json", evt{Type: evStasisStart, At: ts("2026-11-21T18:15:16.330+0000"), Channel: "probe-snoop-181516",
			ChannelName: "Local/s@play-test-00000002;1", ChannelState: "Up", CallerNumber: "1000", CallerName: "Probe",
			Exten: "s", Args: []string{"probe", "snoop"}}},
		{"RecordingFinished.json", evt{Type: evRecordingFinished, At: ts("2026-11-21T18:15:22.013+0000"),
			Recording: "rec-snoop-181516", RecState: "done", Target: "channel:snoop-181516"}},
		{"RecordingFailed.json", evt{Type: evRecordingFailed, At: ts("2026-11-21T18:15:55.570+0000"),
			Recording: "rec-bridge-181555", RecState: "failed", RecCause: "Cannot record channel while in bridge",
			Target: "channel:probe-bridge-181555"}},
		{"RecordingStarted.json", evt{Type: evRecordingStarted, At: ts("2026-11-21T18:15:16.334+0000"),
			Recording: "rec-snoop-181516", RecState: "recording", Target: "channel:snoop-181516"}},
		{"PlaybackFinished.json", evt{Type: evPlaybackFinished, At: ts("2026-11-21T18:15:30.658+0000"),
			Playback: "pb-181527", PBState: "done", Target: "channel:probe-play-181527", Media: "sound:tt-weasels"}},
	}
	for _, c := range cases {
		got := read(c.file)
		if !got.At.Equal(c.want.At) {
			t.Errorf("%s: At %v, want %v", c.file, got.At, c.want.At)
		}
		got.At = c.want.At
		if !equalEvt(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.file, got, c.want)
		}
	}
	d := read("ChannelDtmfReceived.json")
	if d.Type != evChannelDtmfReceived || d.Digit != '#' || d.Channel != "probe-snoop-181516" {
		t.Errorf("ChannelDtmfReceived: %+v", d)
	}
	h := read("ChannelHangupRequest.json")
	if h.Type != evChannelHangupRequest || !h.isHangup() || h.Cause == 0 {
		t.Errorf("ChannelHangupRequest: %+v", h)
	}
	for _, f := range []string{"StasisEnd.json", "ChannelDestroyed.json"} {
		if e := read(f); !e.isHangup() {
			t.Errorf("%s is not a hangup: %+v", f, e)
		}
	}
	// Every frame of the capture decodes.
	for _, fr := range loadFrames(t) {
		if _, _, err := decodeFrame(fr.Event); err != nil {
			t.Errorf("%s: %v: %s", fr.Scenario, err, fr.Event)
		}
	}
}

func equalEvt(a, b evt) bool { return reflect.DeepEqual(a, b) }

// testPBX is a PBX whose dispatcher runs without a connection: commands fail at once with
// ErrPBXDown, which is what the routing tests want.
func testPBX(t *testing.T) (*PBX, context.CancelFunc) {
	t.Helper()
	p := New(config.Asterisk{Name: "fixture", URL: "http://127.0.0.1:1/ari", Application: "probe",
		CommandTimeout: config.Duration(time.Second)}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	p.runCtx, p.stopRun = ctx, cancel
	p.callBase, p.stopCalls = context.WithCancelCause(context.Background())
	return p, cancel
}

// TestDispatchFixtures feeds the whole capture, in order, through the library's bus, our
// drain and the dispatcher, and checks which channels became calls and what each call saw.
func TestDispatchFixtures(t *testing.T) {
	frames := loadFrames(t)
	p, cancel := testPBX(t)

	var mu sync.Mutex
	calls := map[string]adapter.CallInfo{}
	causes := map[string]error{}
	var handlers sync.WaitGroup
	h := func(ctx context.Context, c adapter.Call) {
		handlers.Add(1)
		defer handlers.Done()
		info := c.Info()
		mu.Lock()
		calls[info.ChannelID] = info
		mu.Unlock()
		<-ctx.Done()
		mu.Lock()
		causes[info.ChannelID] = context.Cause(ctx)
		mu.Unlock()
	}
	bus := stdbus.New()
	sub := bus.Subscribe(nil, subscribedTypes()...)
	p.wg.Add(2)
	go p.drain(sub)
	go p.dispatcher(h)

	// One frame at a time, as a websocket delivers them: the bus would drop a burst of 267
	// (TestBusDropsAreCounted).
	sent := 0
	for _, fr := range frames {
		e, err := ari.DecodeEvent(fr.Event)
		if err != nil {
			t.Fatal(err)
		}
		bus.Send(e)
		if _, ok := fromARI(e); !ok {
			continue // not subscribed
		}
		sent++
		deadline := time.Now().Add(5 * time.Second)
		for p.Stats().Events < uint64(sent) {
			if time.Now().After(deadline) {
				t.Fatalf("events: %d of %d", p.Stats().Events, sent)
			}
			runtime.Gosched()
		}
	}
	// Every call ends at its StasisEnd: wait for the handlers to see it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n, m := len(calls), len(causes)
		mu.Unlock()
		if n == 12 && m == 12 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	handlers.Wait()
	sub.Cancel()
	cancel()
	p.wg.Wait()

	want := []string{"1795284962.30", "1795284977.32"}
	for _, s := range []string{"snoop", "direct", "play", "snoop-hangup", "direct-hangup", "direct-dtmf",
		"snoop-stop", "direct-scrap", "direct-errors", "bridge"} {
		for _, fr := range frames {
			if fr.Scenario == s {
				e, _, _ := decodeFrame(fr.Event)
				if e.Type == evStasisStart && !isLocalSecondHalf(e.ChannelName, e.Channel) && e.ChannelName[:5] == "Local" {
					want = append(want, e.Channel)
					break
				}
			}
		}
	}
	var got []string
	for id := range calls {
		got = append(got, id)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("calls:\n got %v\nwant %v (no snoop, no ;2 half)", got, want)
	}
	for id, cause := range causes {
		if !errors.Is(cause, adapter.ErrHangup) {
			t.Errorf("call %s ended with cause %v, want ErrHangup", id, cause)
		}
	}
	info := calls["probe-direct-181522"]
	if info.From != "1000" || info.CallerName != "Probe" || !info.Answered || !slices.Equal(info.AppArgs, []string{"probe", "direct"}) || info.To != "probe" {
		t.Errorf("Info of a Local call: %+v", info)
	}
	sip := calls["1795284962.30"]
	if sip.Answered || sip.PBX != "fixture" || sip.Direction != "inbound" {
		t.Errorf("Info of a SIP call: %+v", sip)
	}
	if st := p.Stats(); st.BusFull != 0 || st.Calls != 12 || st.Events != uint64(sent) {
		t.Errorf("stats %+v, want %d events", st, sent)
	}
	t.Logf("%d of %d frames are of a subscribed type", sent, len(frames))
}

// TestClassifyStart checks the StasisStart decisions on the capture's own frames.
func TestClassifyStart(t *testing.T) {
	frames := loadFrames(t)
	p, cancel := testPBX(t)
	defer cancel()
	owner := &call{p: p, id: "probe-snoop-181516"}
	var snoop, local, sip evt
	for _, fr := range frames {
		e, _, _ := decodeFrame(fr.Event)
		if e.Type != evStasisStart {
			continue
		}
		switch {
		case e.Channel == "snoop-181516":
			snoop = e
		case e.Channel == "probe-snoop-181516":
			local = e
		case e.Channel == "1795284962.30":
			sip = e
		}
	}
	check := func(what string, e evt, want startKind) {
		t.Helper()
		p.rmu.Lock()
		got, _ := p.classifyStart(&e)
		p.rmu.Unlock()
		if got != want {
			t.Errorf("%s: %s, want %s", what, got, want)
		}
	}
	check("Local ;1", local, startNew)
	check("PJSIP", sip, startNew)
	check("snoop nobody owns (name Snoop/...)", snoop, startOrphan)
	marked := snoop
	marked.ChannelName, marked.Args = "Snoop/x", []string{snoopMarker, "rec"}
	check("snoop with our marker", marked, startOrphan)
	p.own(owner, routeChannel, "snoop-181516")
	check("snoop we created", snoop, startOwned)
	half := local
	half.Channel, half.ChannelName = "probe-snoop-181516;2", "Local/s@play-test-00000002;2"
	check("Local ;2", half, startForeign)
	p.calls[local.Channel] = owner
	check("known call", local, startKnown)
}

// fixtureRecorder builds a recorder for a captured scenario, as if we had made it.
func fixtureRecorder(p *PBX, mainID string, spec adapter.RecordSpec, session bool, legs ...*leg) *recorder {
	c := p.newCall(evt{Channel: mainID, ChannelState: "Up"})
	r := &recorder{c: c, spec: spec, session: session, native: "none", legs: legs, t0: time.Now()}
	r.f = facts{maxDur: ceilSeconds(spec.MaxDuration), silence: spec.SilenceTimeout > 0, session: session}
	for _, l := range legs {
		l.posted = true
		if l.target == "" {
			l.target = l.snoopID
		}
	}
	if len(legs) == 1 && legs[0].spy == "" {
		switch spec.FinishKeys {
		case keySet('#'):
			r.native = "#"
		case keySet('*'):
			r.native = "*"
		}
	}
	return r
}

// TestEndReasonFixtures replays each captured scenario through the recorder's state machine
// and checks the end reason it decides (asterisk.md §2).
func TestEndReasonFixtures(t *testing.T) {
	frames := loadFrames(t)
	p, cancel := testPBX(t)
	defer cancel()
	base := adapter.RecordSpec{MaxDuration: 5 * time.Second, SilenceTimeout: 3 * time.Second}
	with := func(keys string, session bool) adapter.RecordSpec {
		s := base
		for i := 0; i < len(keys); i++ {
			s.FinishKeys |= keySet(keys[i])
		}
		_ = session
		return s
	}
	cases := []struct {
		name, scenario, main string
		spec                 adapter.RecordSpec
		session              bool
		legs                 []*leg
		stopReason           adapter.EndReason // stored by us before a stop, as the capture did
		want                 adapter.EndReason
		key                  byte
		failed               bool
	}{
		{name: "direct #", scenario: "direct", main: "probe-direct-181522", spec: with("#", false),
			legs: []*leg{{name: "rec-direct-181522", target: "probe-direct-181522"}}, want: adapter.EndKey, key: '#'},
		{name: "direct-dtmf: 1 and 2 ignored, # ends it (empty file)", scenario: "direct-dtmf", main: "probe-direct-dtmf-181541",
			spec: with("#", false), legs: []*leg{{name: "rec-direct-dtmf-181541", target: "probe-direct-dtmf-181541"}},
			want: adapter.EndKey, key: '#'},
		{name: "direct-dtmf with keys 12#: 1 ends it", scenario: "direct-dtmf", main: "probe-direct-dtmf-181541",
			spec: with("12#", false), legs: []*leg{{name: "rec-direct-dtmf-181541", target: "probe-direct-dtmf-181541"}},
			want: adapter.EndKey, key: '1'},
		{name: "direct-hangup", scenario: "direct-hangup", main: "probe-direct-hangup-181536", spec: with("#", false),
			legs: []*leg{{name: "rec-direct-hangup-181536", target: "probe-direct-hangup-181536"}}, want: adapter.EndHangup},
		{name: "snoop at its limit (no keys)", scenario: "snoop", main: "probe-snoop-181516", spec: with("", false),
			legs: []*leg{{name: "rec-snoop-181516", spy: "both", snoopID: "snoop-181516"}}, want: adapter.EndMaxLength},
		{name: "snoop with # watched on the caller", scenario: "snoop", main: "probe-snoop-181516", spec: with("#", false),
			legs: []*leg{{name: "rec-snoop-181516", spy: "both", snoopID: "snoop-181516"}}, want: adapter.EndKey, key: '#'},
		{name: "snoop-hangup", scenario: "snoop-hangup", main: "probe-snoop-hangup-181531", spec: with("#", false),
			legs: []*leg{{name: "rec-snoop-hangup-181531", spy: "both", snoopID: "snoop-181531"}}, want: adapter.EndHangup},
		{name: "snoop-hangup, background", scenario: "snoop-hangup", main: "probe-snoop-hangup-181531", spec: with("", true),
			session: true, legs: []*leg{{name: "rec-snoop-hangup-181531", spy: "both", snoopID: "snoop-181531"}}, want: adapter.EndSessionEnd},
		{name: "snoop-stop by us", scenario: "snoop-stop", main: "probe-snoop-stop-181545", spec: with("", false),
			legs: []*leg{{name: "rec-snoop-stop-181545", spy: "both", snoopID: "snoop-181545"}}, stopReason: adapter.EndStopped, want: adapter.EndStopped},
		{name: "sip-direct #", scenario: "sip-direct", main: "1795284977.32", spec: with("#", false),
			legs: []*leg{{name: "rec-sip-direct-181616", target: "1795284977.32"}}, want: adapter.EndKey, key: '#'},
		{name: "sip-snoop: RFC 4733 # on the caller", scenario: "sip-snoop", main: "1795284962.30", spec: with("#", false),
			legs: []*leg{{name: "rec-sip-snoop-181600", spy: "both", snoopID: "snoop-181600"}}, want: adapter.EndKey, key: '#'},
		{name: "bridge: RecordingFailed", scenario: "bridge", main: "probe-bridge-181555", spec: with("#", false),
			legs: []*leg{{name: "rec-bridge-181555", target: "probe-bridge-181555"}}, failed: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := fixtureRecorder(p, c.main, c.spec, c.session, c.legs...)
			r.f.stopReason = c.stopReason
			var stoppedAt int = -1
			for i, e := range scenarioEvents(t, frames, c.scenario) {
				r.observe(context.Background(), &e)
				if r.f.stopReason != "" && stoppedAt < 0 && c.stopReason == "" {
					stoppedAt = i
				}
			}
			if !r.allDone() {
				t.Fatal("recording never finished")
			}
			if c.failed {
				if _, err := r.result(context.Background()); !errors.Is(err, errBridged) {
					t.Fatalf("result error %v, want errBridged", err)
				}
				if r.legs[0].failed != "Cannot record channel while in bridge" {
					t.Errorf("failed cause %q", r.legs[0].failed)
				}
				return
			}
			got := r.f.reason()
			if got != c.want || r.f.key != c.key {
				t.Errorf("reason %s key %q, want %s key %q", got, r.f.key, c.want, c.key)
			}
			if c.key != 0 && r.direct() && r.native == "none" && stoppedAt < 0 {
				t.Error("a watched key did not stop the recording")
			}
		})
	}
}

// TestEndReasonOrder checks the rules of asterisk.md §2 on made-up facts.
func TestEndReasonOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		f    facts
		want adapter.EndReason
	}{
		{"stop reason first", facts{stopReason: adapter.EndStopped, key: '#', hangup: true}, adapter.EndStopped},
		{"key before hangup", facts{key: '5', hangup: true}, adapter.EndKey},
		{"hangup before limit", facts{hangup: true, maxDur: 5 * time.Second, started: t0, finished: t0.Add(6 * time.Second)}, adapter.EndHangup},
		{"limit by elapsed time", facts{maxDur: 5 * time.Second, silence: true, started: t0, finished: t0.Add(5680 * time.Millisecond)}, adapter.EndMaxLength},
		{"limit within slack", facts{maxDur: 5 * time.Second, silence: true, started: t0, finished: t0.Add(4950 * time.Millisecond)}, adapter.EndMaxLength},
		{"silence before the limit", facts{maxDur: 5 * time.Second, silence: true, started: t0, finished: t0.Add(4 * time.Second)}, adapter.EndSilence},
		{"background hangup", facts{hangup: true, session: true}, adapter.EndSessionEnd},
		{"background, no visible reason", facts{session: true}, adapter.EndSessionEnd},
		{"foreground, no visible reason", facts{}, adapter.EndSilence},
	}
	for _, c := range cases {
		if got := c.f.reason(); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// TestRecorderChoice checks direct versus snoop and the native terminateOn.
func TestRecorderChoice(t *testing.T) {
	p, cancel := testPBX(t)
	defer cancel()
	c := p.newCall(evt{Channel: "c1", ChannelState: "Up"})
	cases := []struct {
		name   string
		spec   adapter.RecordSpec
		mode   string
		native string
		spies  []string
	}{
		{"in, # only", adapter.RecordSpec{Tracks: translate.TracksIn, FinishKeys: keySet('#')}, "direct", "#", []string{""}},
		{"in, * only", adapter.RecordSpec{Tracks: translate.TracksIn, FinishKeys: keySet('*')}, "direct", "*", []string{""}},
		{"in, #*", adapter.RecordSpec{Tracks: translate.TracksIn, FinishKeys: keySet('#') | keySet('*')}, "direct", "none", []string{""}},
		{"in, no keys", adapter.RecordSpec{Tracks: translate.TracksIn}, "direct", "none", []string{""}},
		{"out", adapter.RecordSpec{Tracks: translate.TracksOut, FinishKeys: keySet('#')}, "snoop", "none", []string{"out"}},
		{"both", adapter.RecordSpec{Tracks: translate.TracksBoth}, "snoop", "none", []string{"both"}},
		{"stereo", adapter.RecordSpec{Tracks: translate.TracksBoth, Channels: 2}, "snoop-stereo", "none", []string{"in", "out"}},
		{"background audio", adapter.RecordSpec{Tracks: translate.TracksBoth, Channels: 2, Background: &adapter.PlaySpec{URL: "tone:1004"}},
			"snoop", "none", []string{"in"}},
	}
	for _, tc := range cases {
		tc.spec.Name = "r1"
		r, err := c.newRecorder(tc.spec, false, false)
		if err != nil {
			t.Fatal(err)
		}
		var spies []string
		for _, l := range r.legs {
			spies = append(spies, l.spy)
		}
		if r.mode() != tc.mode || r.native != tc.native || !slices.Equal(spies, tc.spies) {
			t.Errorf("%s: mode %s terminateOn %s spies %q, want %s %s %q", tc.name, r.mode(), r.native, spies, tc.mode, tc.native, tc.spies)
		}
	}
	c.bridged = true
	if r, _ := c.newRecorder(adapter.RecordSpec{Name: "r2", Tracks: translate.TracksIn}, false, false); r.mode() != "snoop" {
		t.Errorf("bridged channel: %s, want snoop", r.mode())
	}
	for _, bad := range []string{"a/b", "../x", ".hidden", "sp ace"} {
		if _, err := c.newRecorder(adapter.RecordSpec{Name: bad}, false, false); !errors.Is(err, adapter.ErrRecordingFailed) {
			t.Errorf("name %q accepted", bad)
		}
	}
	if got := ceilSeconds(1500 * time.Millisecond); got != 2*time.Second {
		t.Errorf("ceilSeconds(1.5s) = %s", got)
	}
	if got := ceilSeconds(500 * time.Millisecond); got != time.Second {
		t.Errorf("ceilSeconds(0.5s) = %s", got)
	}
}

// TestBusDropsAreCounted bursts events into the library's bus faster than anyone can drain
// it: the bus drops, and the counter must say so. Whatever the scheduling, a loss without a
// count is a failure.
func TestBusDropsAreCounted(t *testing.T) {
	p, cancel := testPBX(t)
	defer cancel()
	bus := stdbus.New()
	sub := bus.Subscribe(nil, subscribedTypes()...)
	p.wg.Add(1)
	go p.drain(sub)
	const n = 20000
	for i := 0; i < n; i++ {
		bus.Send(&ari.ChannelDtmfReceived{EventData: ari.EventData{Type: evChannelDtmfReceived}, Digit: "1",
			Channel: ari.ChannelData{ID: "x"}})
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(sub.Events()) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	sub.Cancel()
	p.wg.Wait()
	st := p.Stats()
	t.Logf("sent %d, received %d, buffer seen full %d times, inbox peak %d", n, st.Events, st.BusFull, st.InboxPeak)
	if st.Events < n && st.BusFull == 0 {
		t.Errorf("%d events lost without a count", n-int(st.Events))
	}
	if st.Events < n && !p.drops.Load() {
		t.Error("drops not flagged for a reconcile")
	}
	if got := p.inbox.len(); uint64(got) != st.Events {
		t.Errorf("inbox holds %d, want %d", got, st.Events)
	}
}
