// Package affinity pins every thread of a process to a set of CPUs (Linux), so that a
// benchmark can place the processes it measures the way they run in production: pbxbridge on
// its CPUs, Redis on its own (webhook's BenchmarkDelivery).
package affinity

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Pin sets the CPU affinity of every thread of process pid to cpus (threads the process
// starts later inherit it from their creator) and returns a func that restores each thread's
// earlier affinity (threads started since get the first thread's).
func Pin(pid int, cpus ...int) (restore func() error, err error) {
	var want unix.CPUSet
	for _, c := range cpus {
		want.Set(c)
	}
	saved := map[int]unix.CPUSet{}
	var first unix.CPUSet
	// A thread started while the others are being pinned may inherit its creator's old
	// affinity: list them again until a pass finds none new.
	for pass := 0; ; pass++ {
		tids, err := threads(pid)
		if err != nil {
			return nil, err
		}
		fresh := 0
		for _, tid := range tids {
			if _, done := saved[tid]; done {
				continue
			}
			var old unix.CPUSet
			if err := unix.SchedGetaffinity(tid, &old); err != nil {
				continue // the thread has exited
			}
			if len(saved) == 0 {
				first = old
			}
			saved[tid] = old
			fresh++
			if err := unix.SchedSetaffinity(tid, &want); err != nil && err != unix.ESRCH {
				return nil, fmt.Errorf("affinity: pin thread %d of %d to %v: %w", tid, pid, cpus, err)
			}
		}
		if fresh == 0 || pass == 10 {
			break
		}
	}
	return func() error {
		tids, err := threads(pid)
		if err != nil {
			return err
		}
		for _, tid := range tids {
			old, ok := saved[tid]
			if !ok {
				old = first
			}
			if err := unix.SchedSetaffinity(tid, &old); err != nil && err != unix.ESRCH {
				return fmt.Errorf("affinity: restore thread %d of %d: %w", tid, pid, err)
			}
		}
		return nil
	}, nil
}

// threads lists the thread ids of process pid, from /proc.
func threads(pid int) ([]int, error) {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return nil, fmt.Errorf("affinity: threads of %d: %w", pid, err)
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}
