package affinity

import (
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// Pinning this process to CPU 0 pins all its threads, and restore gives them back their CPUs.
func TestPinAndRestore(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs two CPUs")
	}
	restore, err := Pin(os.Getpid(), 0)
	if err != nil {
		t.Fatal(err)
	}
	tids, err := threads(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, tid := range tids {
		var s unix.CPUSet
		if err := unix.SchedGetaffinity(tid, &s); err != nil {
			continue
		}
		if s.Count() != 1 || !s.IsSet(0) {
			t.Fatalf("thread %d: %d CPUs after Pin(0)", tid, s.Count())
		}
	}
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	var s unix.CPUSet
	if err := unix.SchedGetaffinity(0, &s); err != nil {
		t.Fatal(err)
	}
	if s.Count() < 2 {
		t.Fatalf("%d CPUs after restore", s.Count())
	}
}
