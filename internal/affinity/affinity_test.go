package affinity

import (
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// Pinning a running process (a real one: sleep) to CPU 1 pins all its threads.
func TestPin(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs two CPUs")
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if err := Pin(cmd.Process.Pid, 1); err != nil {
		t.Fatal(err)
	}
	tids, err := threads(cmd.Process.Pid)
	if err != nil || len(tids) == 0 {
		t.Fatalf("threads: %v, %v", tids, err)
	}
	for _, tid := range tids {
		var s unix.CPUSet
		if err := unix.SchedGetaffinity(tid, &s); err != nil {
			t.Fatal(err)
		}
		if s.Count() != 1 || !s.IsSet(1) {
			t.Fatalf("thread %d: %d CPUs after Pin(1), CPU 1 set: %v", tid, s.Count(), s.IsSet(1))
		}
	}
}
