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
	"sync"
	"testing"
	"time"
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

	waitOnce sync.Once
	exited   chan struct{} // closed once cmd.Wait has returned
}

// wait reaps the process once, whoever asks first (Kill, Wait, the cleanup).
func (p *Process) wait() <-chan struct{} {
	p.waitOnce.Do(func() {
		go func() {
			_ = p.cmd.Wait()
			close(p.exited)
		}()
	})
	return p.exited
}

// Serve starts `bin serve --config config [args...]` with its output appended to logPath.
// The test's cleanup kills it if it still runs.
func Serve(t testing.TB, bin, config, logPath string, args ...string) *Process {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &Process{cmd: exec.Command(bin, append([]string{"serve", "--config", config}, args...)...), exited: make(chan struct{})}
	if fi, err := f.Stat(); err == nil {
		p.LogFrom = fi.Size()
	}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start pbxbridge (%s): %v", config, err)
	}
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.wait()
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
	<-p.wait()
}

// Signal sends sig (syscall.SIGTERM: a graceful stop) and returns at once; Wait gives the
// exit.
func (p *Process) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to pbxbridge: %v", sig, err)
	}
}

// Wait waits up to d for the process to exit and returns its exit status (-1 when a signal
// ended it). It fails the test if the process is still running after d.
func (p *Process) Wait(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-p.wait():
	case <-time.After(d):
		t.Fatalf("pbxbridge still running %v later", d)
	}
	return p.cmd.ProcessState.ExitCode()
}
