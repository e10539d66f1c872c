// Package ops tests how the real pbxbridge binary is operated: the graceful drain on SIGTERM,
// JSON logs, and (drain_asterisk_test.go) the drain on the real Asterisk. Calls come from
// the FreeSWITCH simulator, so most of it needs no Asterisk.
package ops

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/integration/apptest"
	"github.com/pbxbridge/pbxbridge/integration/itest"
)

var bin string

func TestMain(m *testing.M) {
	itest.Main(m, &bin, "set PBXBRIDGE_INTEGRATION=1 (and PBXBRIDGE_BIN, or go builds it) to run the operations tests")
}

// Secrets the configuration holds: none may appear in a log line.
const (
	secretSigning = "sig-secret-4f1c9a7e2b"
	secretAPI     = "api-token-8d2e6b1f0c"
	secretLink    = "link-secret-0123456789abcdef0123456789abcdef"
	secretOutbox  = "outbox-key-0123456789abcdef0123456789abcdef"
)

const number = "15550402000"

// setup is one pbxbridge beside the FreeSWITCH simulator and an application.
type setup struct {
	dir       string
	config    string
	log       string
	httpURL   string
	eslAddr   string
	recordDir string
	app       *apptest.App
}

// newSetup writes a configuration with the FreeSWITCH simulator as the PBX; extra is YAML
// appended at the top level (shutdown:, log_format:).
func newSetup(t *testing.T, doc, extra string) *setup {
	t.Helper()
	return newSetupFull(t, doc, extra, "", "")
}

// newSetupFull is newSetup with more keys for the freeswitch entry (fsExtra, indented) and
// more apps (appsExtra, list items).
func newSetupFull(t *testing.T, doc, extra, fsExtra, appsExtra string) *setup {
	t.Helper()
	app, err := apptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	app.Document("/doc", doc)
	app.Document("/act", `<Response><Hangup/></Response>`)
	for _, p := range []string{"/cb", "/status"} {
		app.Status(p, http.StatusOK)
	}
	dir := t.TempDir()
	httpPort, err := apptest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	eslPort, err := apptest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &setup{dir: dir, config: filepath.Join(dir, "pbxbridge.yaml"), log: filepath.Join(dir, "pbxbridge.log"),
		httpURL: fmt.Sprintf("http://127.0.0.1:%d", httpPort), eslAddr: fmt.Sprintf("127.0.0.1:%d", eslPort),
		recordDir: filepath.Join(dir, "recordings"), app: app}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
data_dir: %s
log_level: debug
api_token: %s
link_secret: %s
outbox:
  key: %s
freeswitch:
  - name: fs1
    listen: %s
    record_dir: %s
    command_timeout: 2s
%s
apps:
  - name: vm
    dialect: flexml
    url: %s/doc
    status_url: %s/status
    signing_secret: %s
    numbers: [%s]
%s
%s
`, httpPort, filepath.Join(dir, "data"), secretAPI, secretLink, secretOutbox, s.eslAddr, s.recordDir, fsExtra,
		app.URL, app.URL, secretSigning, number, appsExtra, extra)
	if err := os.WriteFile(s.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(s.log)
			t.Logf("pbxbridge's log:\n%s", apptest.Tail(string(b), 150))
		}
	})
	return s
}

// start runs pbxbridge and waits until /readyz answers 200.
func (s *setup) start(t *testing.T, args ...string) *itest.Process {
	t.Helper()
	p := itest.Serve(t, bin, s.config, s.log, args...)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := apptest.WaitOK(ctx, s.httpURL+"/readyz"); err != nil {
		t.Fatalf("pbxbridge not ready: %v", err)
	}
	return p
}

// readyz returns /readyz's status and body.
func (s *setup) readyz(t *testing.T) (int, string) {
	t.Helper()
	res, err := http.Get(s.httpURL + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// waitPath waits for the application to receive a request on path matching CallSid sid
// ("" = any).
func (s *setup) waitPath(t *testing.T, path, sid string, d time.Duration) apptest.Request {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	r, err := s.app.Wait(ctx, func(r apptest.Request) bool {
		return r.Path == path && (sid == "" || r.Get("CallSid") == sid)
	})
	if err != nil {
		t.Fatalf("no request on %s for call %q within %v: %v", path, sid, d, err)
	}
	return r
}

// logLines returns the lines of the log, from byte from on.
func (s *setup) logLines(t *testing.T, from int64) []string {
	t.Helper()
	f, err := os.Open(s.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// waitLog waits for a log line containing all of parts.
func (s *setup) waitLog(t *testing.T, d time.Duration, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		for _, l := range s.logLines(t, 0) {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(l, p)
			}
			if ok {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q within %v", parts, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rewrite replaces old with new in the configuration file.
func (s *setup) rewrite(t *testing.T, old, new string) {
	t.Helper()
	b, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.config, []byte(strings.ReplaceAll(string(b), old, new)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitPathTo waits for a request on path for a call to number.
func (s *setup) waitPathTo(t *testing.T, path, number string, d time.Duration) apptest.Request {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	r, err := s.app.Wait(ctx, func(r apptest.Request) bool { return r.Path == path && r.Get("To") == number })
	if err != nil {
		t.Fatalf("no request on %s for a call to %s within %v: %v", path, number, d, err)
	}
	return r
}

// newSetupAsterisk writes a configuration for the shared test Asterisk (the Stasis
// application "pbxbridge" of the documented dialplan): the app "voicemail" (/vm) and an app
// that owns numbers (/doc).
func newSetupAsterisk(t *testing.T, numbers ...string) *setup {
	t.Helper()
	app, err := apptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	for _, p := range []string{"/act", "/cb", "/status"} {
		app.Status(p, http.StatusOK)
	}
	app.Document("/act", `<Response><Hangup/></Response>`)
	dir := t.TempDir()
	httpPort, err := apptest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &setup{dir: dir, config: filepath.Join(dir, "pbxbridge.yaml"), log: filepath.Join(dir, "pbxbridge.log"),
		httpURL: fmt.Sprintf("http://127.0.0.1:%d", httpPort), app: app}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
data_dir: %s
log_level: debug
api_token: %s
link_secret: %s
outbox:
  key: %s
asterisk:
  - name: ast
    password: %s
    application: pbxbridge
apps:
  - name: ops
    dialect: flexml
    url: %s/doc
    status_url: %s/status
    signing_secret: %s
    numbers: [%s]
  - name: voicemail
    dialect: flexml
    url: %s/vm
`, httpPort, filepath.Join(dir, "data"), secretAPI, secretLink, secretOutbox, ariPassword,
		app.URL, app.URL, secretSigning, strings.Join(numbers, ", "), app.URL)
	if err := os.WriteFile(s.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(s.log)
			t.Logf("pbxbridge's log:\n%s", apptest.Tail(string(b), 150))
		}
	})
	return s
}
