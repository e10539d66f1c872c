// Package itest is what the end-to-end test packages that run the real pbxbridge binary share:
// the rule that they skip unless PBXBRIDGE_INTEGRATION=1 and then treat a missing prerequisite
// as a failure, and finding (or building) the binary under test.
package itest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Main runs m for a package's TestMain and exits. Without PBXBRIDGE_INTEGRATION=1 it prints
// skip and exits 0. With it, every program in tools must be installed, and *bin is set to
// PBXBRIDGE_BIN, which must exist, or to a pbxbridge built into a temporary directory.
func Main(m *testing.M, bin *string, skip string, tools ...string) {
	os.Exit(run(m, bin, skip, tools))
}

func run(m *testing.M, bin *string, skip string, tools []string) int {
	if os.Getenv("PBXBRIDGE_INTEGRATION") != "1" {
		fmt.Println("skipping:", skip)
		return 0
	}
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: %s is not installed: run scripts/deps.sh (as root)\n", t)
			return 1
		}
	}
	*bin = os.Getenv("PBXBRIDGE_BIN")
	if *bin != "" {
		if _, err := os.Stat(*bin); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: PBXBRIDGE_BIN: %v\n", err)
			return 1
		}
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "pbxbridge-itest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	*bin = filepath.Join(dir, "pbxbridge")
	_, here, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(here), "..", "..", "cmd", "pbxbridge")
	if out, err := exec.Command("go", "build", "-o", *bin, src).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: building pbxbridge: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}
