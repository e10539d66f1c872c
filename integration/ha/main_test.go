// Package ha is the end-to-end test of several pbxbridge instances sharing one Redis: one
// instance owns the FreeSWITCH PBX through its lease, the other stands by; `kill -9` of the
// owner while it holds undelivered callbacks and a live recording loses nothing.
//
// It runs two real pbxbridge binaries (PBXBRIDGE_BIN, or built here), a real redis-server
// (store/redis/redistest), the FreeSWITCH protocol simulator integration/eslsim as the PBX
// and a real HTTP application. It skips unless PBXBRIDGE_INTEGRATION=1; with it set, a
// missing prerequisite is a failure.
package ha

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// bin is the pbxbridge binary under test.
var bin string

func TestMain(m *testing.M) {
	if os.Getenv("PBXBRIDGE_INTEGRATION") != "1" {
		fmt.Println("skipping: the HA test runs two pbxbridge processes and redis-server; run it with PBXBRIDGE_INTEGRATION=1 (make test)")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "pbxbridge-ha-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	bin = os.Getenv("PBXBRIDGE_BIN")
	if bin == "" {
		bin = filepath.Join(dir, "pbxbridge")
		if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/pbxbridge").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: building pbxbridge: %v\n%s", err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	} else if _, err := os.Stat(bin); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: PBXBRIDGE_BIN: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
