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

// Process is one `pbxbridge serve` run by a test.
type Process struct {
	cmd *exec.Cmd
	// LogFrom is the size of the log before this process started: where its lines begin when
	// several runs append to one log.
	LogFrom int64
}

// Serve starts `bin serve --config config` with its output appended to logPath. The test's
// cleanup kills it if it still runs.
func Serve(t testing.TB, bin, config, logPath string) *Process {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &Process{cmd: exec.Command(bin, "serve", "--config", config)}
	if fi, err := f.Stat(); err == nil {
		p.LogFrom = fi.Size()
	}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start pbxbridge (%s): %v", config, err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	return p
}

// Kill is kill -9: no drain, no lease release, no goodbye to the PBX.
func (p *Process) Kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill -9 pbxbridge: %v", err)
	}
	_ = p.cmd.Wait()
}
