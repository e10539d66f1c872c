package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/integration/apptest"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
	"github.com/pbxbridge/pbxbridge/store/redis/redistest"
)

// TestTranscribeSurvivesRestart: a pbxbridge of its own (embedded store, the FreeSWITCH
// simulator) is killed with SIGKILL while the provider is transcribing a Plivo recording. The
// next pbxbridge over the same data_dir takes the job up once its lease has run out, and the
// application gets the transcript, once.
//
// With Redis as the store, the second process is another instance (its own ports and job
// owner; the same data_dir, whose containers hold the recordings): the job is in Redis.
func TestTranscribeSurvivesRestart(t *testing.T) {
	t.Parallel()
	t.Run("embedded", func(t *testing.T) { t.Parallel(); transcribeSurvives(t, "") })
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		transcribeSurvives(t, "store: {url: "+redistest.Standalone(t).URL()+"}\n")
	})
}

func transcribeSurvives(t *testing.T, storeConfig string) {
	slot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The provider: the first request hangs until its client goes away; later ones answer.
	var calls atomic.Int32
	first := make(chan struct{})
	stt := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if calls.Add(1) == 1 {
			close(first)
			<-r.Context().Done()
			return
		}
		_, _ = io.WriteString(w, sttAnswer)
	}))
	defer stt.Close()

	b := newOwnBridge(t, ctx, "", storeConfig+fmt.Sprintf(`apps:
  - name: plivo
    dialect: plivo
    auth_token: %s
    url: %s/answer/plivo
transcription:
  provider: openai
  openai: {url: %q}
  lease: 3s
  poll: 200ms
`, itPlivoToken, env.app.URL, stt.URL))

	c := newCall(t, "plivo")
	// No callbackUrl: the kill could land between its delivery and its acknowledgement, and
	// the call's later entries (the transcript) would then wait out that entry's outbox lease
	// (2 minutes) behind its redelivery, as the outbox's per-call order requires.
	c.doc = `<Response><Record action="` + c.url("after") + `" transcriptionUrl="` + c.url("tr") +
		`" finishOnKey="#" fileFormat="wav"/></Response>`
	c.serve("after", hangupDoc)
	c.ok("tr")

	first1 := b.start()
	sc := callers["s"].script(t)
	sc.From, sc.To = c.number, c.number
	sim := eslsim.New(eslsim.Options{})
	defer sim.Close()
	if _, err := sim.Call(b.fsAddr, sc); err != nil {
		t.Fatalf("simulated FreeSWITCH call: %v", err)
	}
	act := c.wait(ctx, "after")
	select {
	case <-first:
	case <-ctx.Done():
		t.Fatal("the provider never got the recording")
	}
	// Crash while the provider works: no drain, no lease released.
	if err := first1.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first1.Wait()
	if c.requested("tr") {
		t.Fatal("a transcript was sent before the provider answered")
	}
	killed := time.Now()

	next := b
	if storeConfig != "" {
		next = b.twin()
	}
	second := next.start()
	defer stop(second)
	tr := c.wait(ctx, "tr")
	t.Logf("transcript delivered %v after the crash (job lease 3s)", time.Since(killed).Round(time.Millisecond))
	wantForm(t, "transcriptionUrl", tr)
	wantValues(t, "transcriptionUrl", tr, map[string]string{"transcription": sttText, "error": "",
		"call_uuid": act.Get("CallUUID"), "recording_id": act.Get("RecordingID")})
	if n := calls.Load(); n != 2 {
		t.Errorf("the provider was asked %d times, want 2 (the crashed attempt and the retry)", n)
	}
	// The crashed attempt queued nothing, so the transcript so far is the only one.
	if n := c.count("tr"); n != 1 {
		t.Errorf("transcriptionUrl requested %d times, want once", n)
	}
}

// ownBridge is a pbxbridge process of a test's own, with the FreeSWITCH simulator as its PBX
// and its own data_dir, for tests that restart it or need another configuration than the
// shared one.
type ownBridge struct {
	t       *testing.T
	ctx     context.Context
	bin     string
	base    string // its HTTP API
	fsAddr  string // where it listens for the simulator's outbound sockets
	cfgPath string
	logPath string
	dataDir string
	extra   string
}

// twin is another instance with b's configuration and data_dir, on its own ports.
func (b *ownBridge) twin() *ownBridge {
	b.t.Helper()
	return newOwnBridge(b.t, b.ctx, b.dataDir, b.extra)
}

// newOwnBridge writes the configuration (listen, data_dir and freeswitch, then extra) and
// shows the process's log when the test fails. start runs it.
func newOwnBridge(t *testing.T, ctx context.Context, dataDir, extra string) *ownBridge {
	t.Helper()
	port, err := apptest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	fsPort, err := apptest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if dataDir == "" {
		dataDir = filepath.Join(dir, "data")
	}
	b := &ownBridge{t: t, ctx: ctx, bin: testBinary(t), base: fmt.Sprintf("http://127.0.0.1:%d", port),
		fsAddr: fmt.Sprintf("127.0.0.1:%d", fsPort), cfgPath: filepath.Join(dir, "pbxbridge.yaml"),
		logPath: filepath.Join(dir, "pbxbridge.log"), dataDir: dataDir, extra: extra}
	cfg := fmt.Sprintf("listen: 127.0.0.1:%d\ndata_dir: %s\nlog_level: debug\nfreeswitch:\n  - listen: %s\n%s",
		port, dataDir, b.fsAddr, extra)
	if err := os.WriteFile(b.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(b.logPath)
			t.Logf("pbxbridge log:\n%s", log)
		}
	})
	return b
}

// start runs the process and waits until it is ready. The caller stops it (SIGINT) or kills it.
func (b *ownBridge) start() *exec.Cmd {
	b.t.Helper()
	logf, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		b.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(b.bin, "serve", "--config", b.cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := apptest.WaitOK(rctx, b.base+"/readyz"); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		b.t.Fatalf("pbxbridge not ready: %v", err)
	}
	return cmd
}

// stop ends a process started by start gracefully.
func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()
}

// testBinary is the pbxbridge binary the harness runs (PBXBRIDGE_BIN), or one built for the
// test.
func testBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("PBXBRIDGE_BIN"); b != "" {
		return b
	}
	bin := filepath.Join(t.TempDir(), "pbxbridge")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/pbxbridge").CombinedOutput(); err != nil {
		t.Fatalf("building pbxbridge: %v\n%s", err, out)
	}
	return bin
}
