// Package redisfault runs pbxbridge on Redis through Redis faults, end to end: the real
// binary, real redis-server processes (standalone, and a Sentinel set failing over), a real
// HTTP application, and calls from the FreeSWITCH protocol simulator (integration/eslsim).
// Each test asserts that nothing is lost: every callback pbxbridge queued reaches the
// application (counted by its unique X-Pbxbridge-Event-Id), without restarting pbxbridge.
//
// Without PBXBRIDGE_INTEGRATION=1 the tests skip; with it, a missing redis-server is a
// failure. PBXBRIDGE_BIN names the binary (make build); otherwise TestMain builds it.
package redisfault

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var bin string

func TestMain(m *testing.M) {
	if os.Getenv("PBXBRIDGE_INTEGRATION") != "1" {
		fmt.Println("skipping: the Redis fault tests run with PBXBRIDGE_INTEGRATION=1 (make test), and need redis-server (scripts/deps.sh)")
		os.Exit(0)
	}
	for _, b := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(b); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: %s is not installed: run scripts/deps.sh (as root)\n", b)
			os.Exit(1)
		}
	}
	bin = os.Getenv("PBXBRIDGE_BIN")
	if bin == "" {
		dir, err := os.MkdirTemp("", "pbxbridge-redisfault-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			os.Exit(1)
		}
		bin = filepath.Join(dir, "pbxbridge")
		if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/pbxbridge").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: building pbxbridge: %v\n%s", err, out)
			os.Exit(1)
		}
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}
