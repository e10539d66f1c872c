// Package systemd holds pbxbridge's systemd unit; this test keeps the unit true to the
// binary (its flags) and to the configuration (its drain defaults), and has systemd itself
// verify it.
package systemd

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/config"
)

// unit reads pbxbridge.service into key -> values (a key may repeat).
func unit(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open("pbxbridge.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kv := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' || l[0] == ';' || l[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("not key=value: %q", l)
		}
		kv[k] = append(kv[k], v)
	}
	return kv
}

func one(t *testing.T, kv map[string][]string, k string) string {
	t.Helper()
	if len(kv[k]) != 1 {
		t.Fatalf("%s: want exactly one, got %q", k, kv[k])
	}
	return kv[k][0]
}

// TestUnitSettings: the settings a graceful stop, a restart and the sandbox depend on.
func TestUnitSettings(t *testing.T) {
	kv := unit(t)
	want := map[string]string{
		"Type": "notify", "User": "pbxbridge", "KillSignal": "SIGTERM", "Restart": "on-failure",
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ReadWritePaths": "/var/lib/pbxbridge",
		"StateDirectory": "pbxbridge", "WorkingDirectory": "/var/lib/pbxbridge", "PrivateTmp": "yes",
		"KillMode": "mixed", // SIGTERM to pbxbridge only; it has no children
	}
	for k, v := range want {
		if got := one(t, kv, k); got != v {
			t.Errorf("%s=%s, want %s", k, got, v)
		}
	}
	stop, err := time.ParseDuration(one(t, kv, "TimeoutStopSec") + "s")
	if err != nil {
		t.Fatal(err)
	}
	// The drain and the flush, then the in-flight deliveries' own bound is not counted: a
	// margin of 30 s covers the stop of the calls and the HTTP server.
	if need := config.DefaultDrainTimeout + config.DefaultFlushTimeout + 30*time.Second; stop < need {
		t.Errorf("TimeoutStopSec=%v: systemd would SIGKILL the default drain (%v + %v) before it ends; want at least %v",
			stop, config.DefaultDrainTimeout, config.DefaultFlushTimeout, need)
	}
}

// binary is the pbxbridge under test: PBXBRIDGE_BIN, or one built here.
func binary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("PBXBRIDGE_BIN"); b != "" {
		return b
	}
	b := filepath.Join(t.TempDir(), "pbxbridge")
	if out, err := exec.Command("go", "build", "-o", b, "../../cmd/pbxbridge").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return b
}

// TestUnitVerifies: ExecStart's flags are flags of `pbxbridge serve`, and systemd-analyze
// verify (systemd's own parser, run offline) accepts the unit.
func TestUnitVerifies(t *testing.T) {
	if testing.Short() {
		t.Skip("builds pbxbridge")
	}
	kv := unit(t)
	exe := strings.Fields(one(t, kv, "ExecStart"))
	if exe[0] != "/usr/local/bin/pbxbridge" || exe[1] != "serve" {
		t.Fatalf("ExecStart=%v", exe)
	}
	bin := binary(t)
	// -h after the unit's flags: serve parses them all, then prints its usage and exits 0;
	// a flag it does not know fails with status 2 instead.
	out, err := exec.Command(bin, append(exe[1:], "-h")...).CombinedOutput()
	if err != nil {
		t.Fatalf("pbxbridge %s -h: %v\n%s", strings.Join(exe[1:], " "), err, out)
	}
	if !strings.Contains(string(out), "usage: pbxbridge serve") {
		t.Errorf("unexpected output: %s", out)
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian package systemd): the unit was checked by TestUnitSettings only")
	}
	raw, err := os.ReadFile("pbxbridge.service")
	if err != nil {
		t.Fatal(err)
	}
	// verify checks that ExecStart's program exists: point it at the binary under test.
	u := filepath.Join(t.TempDir(), "pbxbridge.service")
	if err := os.WriteFile(u, []byte(strings.ReplaceAll(string(raw), "/usr/local/bin/pbxbridge", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(analyze, "verify", u).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
