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
)

// TestTranscribeSurvivesRestart: a pbxbridge of its own (embedded store, the FreeSWITCH
// simulator) is killed with SIGKILL while the provider is transcribing a Plivo recording. The
// next pbxbridge over the same data_dir takes the job up once its lease has run out, and the
// application gets the transcript, once.
func TestTranscribeSurvivesRestart(t *testing.T) {
	t.Parallel()
	slot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := testBinary(t)

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

	port, err := apptest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	fsPort, err := apptest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	fsAddr := fmt.Sprintf("127.0.0.1:%d", fsPort)
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
data_dir: %s
log_level: debug
freeswitch:
  - listen: %s
apps:
  - name: plivo
    dialect: plivo
    auth_token: %s
    url: %s/answer/plivo
transcription:
  provider: openai
  openai: {url: %q}
  lease: 3s
  poll: 200ms
`, port, filepath.Join(dir, "data"), fsAddr, itPlivoToken, env.app.URL, stt.URL)
	cfgPath := filepath.Join(dir, "pbxbridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "pbxbridge.log")
	start := func() *exec.Cmd {
		t.Helper()
		logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer logf.Close()
		cmd := exec.Command(bin, "serve", "--config", cfgPath)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
		defer rcancel()
		if err := apptest.WaitOK(rctx, base+"/readyz"); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("pbxbridge not ready: %v", err)
		}
		return cmd
	}
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("pbxbridge log:\n%s", b)
		}
	}()

	c := newCall(t, "plivo")
	// No callbackUrl: the kill could land between its delivery and its acknowledgement, and
	// the call's later entries (the transcript) would then wait out that entry's outbox lease
	// (2 minutes) behind its redelivery, as the outbox's per-call order requires.
	c.doc = `<Response><Record action="` + c.url("after") + `" transcriptionUrl="` + c.url("tr") +
		`" finishOnKey="#" fileFormat="wav"/></Response>`
	c.serve("after", hangupDoc)
	c.ok("tr")

	first1 := start()
	sc := callers["s"].script(t)
	sc.From, sc.To = c.number, c.number
	sim := eslsim.New(eslsim.Options{})
	defer sim.Close()
	if _, err := sim.Call(fsAddr, sc); err != nil {
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

	second := start()
	defer func() {
		_ = second.Process.Signal(os.Interrupt)
		_ = second.Wait()
	}()
	tr := c.wait(ctx, "tr")
	t.Logf("transcript delivered %v after the crash (lease 3s)", time.Since(killed).Round(time.Millisecond))
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
