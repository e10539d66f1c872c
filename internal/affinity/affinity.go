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

// Pin sets the CPU affinity of every thread of process pid to cpus. Threads the process starts
// later inherit it from their creator; one started while the others are being pinned may
// inherit its creator's old affinity, so the threads are listed again until a pass finds none
// new.
func Pin(pid int, cpus ...int) error {
	var want unix.CPUSet
	for _, c := range cpus {
		want.Set(c)
	}
	pinned := map[int]bool{}
	for pass := 0; pass < 10; pass++ {
		tids, err := threads(pid)
		if err != nil {
			return err
		}
		fresh := 0
		for _, tid := range tids {
			if pinned[tid] {
				continue
			}
			pinned[tid] = true
			fresh++
			if err := unix.SchedSetaffinity(tid, &want); err != nil && err != unix.ESRCH {
				return fmt.Errorf("affinity: pin thread %d of %d to %v: %w", tid, pid, cpus, err)
			}
		}
		if fresh == 0 {
			break
		}
	}
	return nil
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
