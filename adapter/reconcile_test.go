package adapter_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/blob"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/store/local"
	"github.com/pbxbridge/pbxbridge/translate"
)

// pbxState is a PBX as Reconcile sees it: channels up, recordings on its disk. It is a fake
// because this test pins down the engine's decisions; integration/ha runs the real ESL side.
type pbxState struct {
	mu     sync.Mutex
	live   map[string]bool
	wavs   map[string][]byte
	killed []string
}

func (p *pbxState) ChannelLive(_ context.Context, ch string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live[ch], nil
}

func (p *pbxState) KillChannel(_ context.Context, ch, cause string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.killed = append(p.killed, ch+" "+cause)
	delete(p.live, ch)
	return nil
}

func (p *pbxState) RecordingWAV(_ context.Context, name string) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b, ok := p.wavs[name]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("recording %s: %w", name, adapter.ErrNotFound)
}

func (p *pbxState) DeleteRecording(_ context.Context, name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.wavs, name)
	return nil
}

// wav is RIFF 8 kHz 16-bit mono with d of a loud square wave.
func wav(d time.Duration) []byte {
	n := int(d / (time.Second / 8000))
	data := make([]byte, 2*n)
	for i := range n {
		v := int16(8000)
		if (i/8)%2 == 1 {
			v = -8000
		}
		binary.LittleEndian.PutUint16(data[2*i:], uint16(v))
	}
	h := make([]byte, 44)
	copy(h, "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+len(data)))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], 8000)
	binary.LittleEndian.PutUint32(h[28:], 16000)
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(len(data)))
	return append(h, data...)
}

// engineFixture opens an embedded store and a blob directory (closed when t ends) and parses
// a config with the one app given (YAML flow mapping): what an engine under test runs on.
func engineFixture(t *testing.T, app string) (*local.Store, *blob.Dir, *config.Config) {
	t.Helper()
	st, err := local.Open(t.TempDir(), local.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bl, err := blob.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bl.Close() })
	cfg, err := config.Parse([]byte("apps:\n  - " + app + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return st, bl, cfg
}

// TestReconcile: the calls of an instance that died are finished by the one that takes the
// PBX over. A call still up is hung up; a recording found on the PBX is stored and gets the
// callbacks its Record asked for (action as a notification, callbackUrl,
// recordingStatusCallback) before the status callback; a recording the PBX lost gets
// recordingStatusCallback "failed". The live-recording spec below is the stored format: it
// must stay readable.
func TestReconcile(t *testing.T) {
	ctx := context.Background()
	st, bl, cfg := engineFixture(t, `{name: vm, dialect: flexml, url: "http://127.0.0.1:1/vm", status_url: "http://127.0.0.1:1/status"}`)
	spec := `{"mode":"foreground","doc":"http://127.0.0.1:1/vm","format":"mp3","trim":"none",
		"action":{"url":"http://127.0.0.1:1/act","auth":"c2VhbGVkOnU6cA==","method":"POST","retry":{"rc":1}},
		"disposition":"execute",
		"callback":{"url":"http://127.0.0.1:1/cb","method":"POST","retry":{"rc":5,"rp":2}},
		"status":{"url":"http://127.0.0.1:1/rs","method":"POST","retry":{}},
		"status_events":["completed","failed","absent"],"storage":{"kind":"managed","metadata":{}}}`
	t0 := time.Unix(1_800_000_000, 0)
	for _, c := range []adapter.CallState{
		{ID: "up", PBX: "fs", ChannelID: "ch-up", App: "vm", Dialect: translate.FlexML, From: "+15550100001", To: "15550109999",
			Started: t0, Updated: t0.Add(3 * time.Second),
			Live: []adapter.LiveRecording{{Name: "pbxb-up", Started: t0.Add(time.Second), Spec: []byte(spec)}}},
		{ID: "lost", PBX: "fs", ChannelID: "ch-lost", App: "vm", Dialect: translate.FlexML, Started: t0, Updated: t0,
			Live: []adapter.LiveRecording{{Name: "pbxb-lost", Started: t0, Spec: []byte(spec)}}},
		{ID: "other", PBX: "asterisk", App: "vm", Dialect: translate.FlexML, Started: t0, Updated: t0},
	} {
		if _, err := st.PutCall(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	pbx := &pbxState{live: map[string]bool{"ch-up": true}, wavs: map[string][]byte{"pbxb-up": wav(2 * time.Second)}}
	eng, err := adapter.New(adapter.Deps{Config: cfg, Store: st, Outbox: st, Blob: bl, Sender: noSender{}, Media: noMedia{}, Links: noLinks{},
		Seal: func(p []byte) []byte { return append([]byte("sealed:"), p...) },
		Open: func(p []byte) ([]byte, error) { return p[len("sealed:"):], nil }})
	if err != nil {
		t.Fatal(err)
	}
	n, err := eng.Reconcile(ctx, "fs", pbx)
	if err != nil || n != 2 {
		t.Fatalf("Reconcile = %d, %v; want 2 calls", n, err)
	}
	if len(pbx.killed) != 1 || pbx.killed[0] != "ch-up NORMAL_TEMPORARY_FAILURE" {
		t.Errorf("killed %v, want the live channel", pbx.killed)
	}
	if len(pbx.wavs) != 0 {
		t.Error("the stored recording was left on the PBX")
	}
	for _, id := range []string{"up", "lost"} {
		if _, err := st.GetCall(ctx, id); err == nil {
			t.Errorf("call %s still in the store", id)
		}
	}
	if _, err := st.GetCall(ctx, "other"); err != nil {
		t.Errorf("another PBX's call was touched: %v", err)
	}
	files, err := st.ListFiles(ctx, adapter.FileQuery{})
	if err != nil || len(files) != 1 || files[0].CallID != "up" || files[0].Format != "mp3" || files[0].Duration < time.Second {
		t.Fatalf("files %+v, %v; want the recording of call up, as mp3", files, err)
	}
	// the callbacks, in delivery order per call
	got := map[string][]string{}
	bodies := map[string]map[string]any{}
	for {
		es, err := st.Claim(ctx, "test", time.Now(), time.Minute, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			break
		}
		e := es[0]
		got[e.CallID] = append(got[e.CallID], e.Kind+" "+e.URL)
		var body map[string]any
		_ = json.Unmarshal(e.Body, &body)
		bodies[e.CallID+" "+e.Kind+" "+e.URL] = body
		if e.Kind == "action" && string(e.Auth) != "sealed:u:p" {
			t.Errorf("action's credentials: %q", e.Auth)
		}
		if err := st.Ack(ctx, e.ID, "test"); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string][]string{
		"up":   {"action http://127.0.0.1:1/act", "callback http://127.0.0.1:1/cb", "status http://127.0.0.1:1/rs", "hangup http://127.0.0.1:1/status"},
		"lost": {"status http://127.0.0.1:1/rs", "hangup http://127.0.0.1:1/status"},
	}
	for id, w := range want {
		if fmt.Sprint(got[id]) != fmt.Sprint(w) {
			t.Errorf("call %s callbacks:\n got  %v\n want %v", id, got[id], w)
		}
	}
	if b := bodies["up status http://127.0.0.1:1/rs"]; b["RecordingStatus"] != "completed" || b["RecordingSid"] != files[0].SID {
		t.Errorf("recordingStatusCallback of the stored recording: %v", b)
	}
	if b := bodies["lost status http://127.0.0.1:1/rs"]; b["RecordingStatus"] != "failed" {
		t.Errorf("recordingStatusCallback of the lost recording: %v", b)
	}
	if b := bodies["up hangup http://127.0.0.1:1/status"]; b["CallStatus"] != "completed" {
		t.Errorf("status callback: %v", b)
	}
}

// TestReconcilePlivoBackground: a Plivo background recording whose action went at start keeps
// the RecordingID and RecordUrl announced then, and at its end only callbackUrl goes (the
// action is not sent again); the call was already gone from the PBX, so nothing is hung up.
func TestReconcilePlivoBackground(t *testing.T) {
	ctx := context.Background()
	st, bl, cfg := engineFixture(t, `{name: pl, dialect: plivo, url: "http://127.0.0.1:1/answer", status_url: "http://127.0.0.1:1/hangup"}`)
	spec := `{"mode":"session","doc":"http://127.0.0.1:1/answer","format":"mp3",
		"action":{"url":"http://127.0.0.1:1/act","method":"POST","retry":{}},"disposition":"notify","action_at_start":true,
		"callback":{"url":"http://127.0.0.1:1/cb","method":"POST","retry":{}},
		"storage":{"kind":"managed","metadata":{}},
		"announced_sid":"0b7c2a8e-2f5c-4b7e-9a51-6a1e0e6f7d11","announced_url":"http://bridge/f/announced.mp3"}`
	t0 := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	if _, err := st.PutCall(ctx, adapter.CallState{ID: "c1", PBX: "fs", ChannelID: "ch", App: "pl", Dialect: translate.Plivo,
		Started: t0, Updated: t0, Live: []adapter.LiveRecording{{Name: "rec", Started: t0, Spec: []byte(spec)}}}); err != nil {
		t.Fatal(err)
	}
	pbx := &pbxState{live: map[string]bool{}, wavs: map[string][]byte{"rec": wav(time.Second)}}
	eng, err := adapter.New(adapter.Deps{Config: cfg, Store: st, Outbox: st, Blob: bl, Sender: noSender{}, Media: noMedia{}, Links: noLinks{}})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := eng.Reconcile(ctx, "fs", pbx); err != nil || n != 1 {
		t.Fatalf("Reconcile = %d, %v", n, err)
	}
	if len(pbx.killed) != 0 {
		t.Errorf("killed %v: the channel was gone", pbx.killed)
	}
	files, err := st.ListFiles(ctx, adapter.FileQuery{})
	if err != nil || len(files) != 1 || files[0].SID != "0b7c2a8e-2f5c-4b7e-9a51-6a1e0e6f7d11" {
		t.Fatalf("files %+v %v: want the announced RecordingID", files, err)
	}
	var kinds []string
	for {
		es, err := st.Claim(ctx, "test", time.Now(), time.Minute, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			break
		}
		kinds = append(kinds, es[0].Kind+" "+es[0].URL)
		if es[0].Kind == "callback" && !strings.Contains(string(es[0].Body), "RecordUrl=http%3A%2F%2Fbridge%2Ff%2Fannounced.mp3") {
			t.Errorf("callbackUrl without the announced RecordUrl: %s", es[0].Body)
		}
		if err := st.Ack(ctx, es[0].ID, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if want := "[callback http://127.0.0.1:1/cb hangup http://127.0.0.1:1/hangup]"; fmt.Sprint(kinds) != want {
		t.Errorf("callbacks %v, want %s", kinds, want)
	}
}

// endingStore lists the calls, and then (as a call of this process that ends right after
// the list) deletes the one named ends: the list is a snapshot.
type endingStore struct {
	*local.Store
	ends string
}

func (s endingStore) ListCalls(ctx context.Context) ([]adapter.CallState, error) {
	cs, err := s.Store.ListCalls(ctx)
	if err == nil {
		err = s.Store.DeleteCall(ctx, s.ends)
	}
	return cs, err
}

// TestReconcileSkipsCallsEndedMeanwhile: a call that ends between Reconcile's listing of the
// calls and its look at the running ones (it has left running, its state is gone) is not taken
// for a dead instance's: it got its status callback from its own goroutine, and must not get
// a second one (integration/redisfault's TestBacklog saw 46-84 of 100 under load).
func TestReconcileSkipsCallsEndedMeanwhile(t *testing.T) {
	ctx := context.Background()
	st, bl, cfg := engineFixture(t, `{name: vm, dialect: flexml, url: "http://127.0.0.1:1/vm", status_url: "http://127.0.0.1:1/status"}`)
	t0 := time.Unix(1_800_000_000, 0)
	for _, id := range []string{"ended", "dead"} {
		if _, err := st.PutCall(ctx, adapter.CallState{ID: id, PBX: "fs", ChannelID: "ch-" + id, App: "vm",
			Dialect: translate.FlexML, Started: t0, Updated: t0}); err != nil {
			t.Fatal(err)
		}
	}
	eng, err := adapter.New(adapter.Deps{Config: cfg, Store: endingStore{st, "ended"}, Outbox: st, Blob: bl,
		Sender: noSender{}, Media: noMedia{}, Links: noLinks{}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := eng.Reconcile(ctx, "fs", &pbxState{})
	if err != nil || n != 1 {
		t.Fatalf("Reconcile = %d, %v; want 1 call (the dead instance's)", n, err)
	}
	es, err := st.Claim(ctx, "test", time.Now(), time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].CallID != "dead" || es[0].Kind != "hangup" {
		var got []string
		for _, e := range es {
			got = append(got, e.CallID+" "+e.Kind)
		}
		t.Fatalf("callbacks queued: %v; want the dead call's hangup only", got)
	}
}
