package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
)

// profiled runs f (serve) with the profiles the load harness (cmd/pbxbench, `make bench`)
// asks for through the environment, so that a missed performance target comes with the pprof
// profile that shows why. Both are off unless set; neither changes anything else.
//
//	PBXBRIDGE_CPUPROFILE=path  CPU profile of the whole run, written when serve returns.
//	PBXBRIDGE_MEMPROFILE=path  on each SIGUSR1: a GC, then the heap profile written to path
//	                           and "heap_alloc <bytes>" (runtime.MemStats after that GC)
//	                           to path.txt.
func profiled(stderr io.Writer, f func() int) int {
	if path := os.Getenv("PBXBRIDGE_CPUPROFILE"); path != "" {
		out, err := os.Create(path)
		if err != nil {
			fmt.Fprintf(stderr, "pbxbridge: PBXBRIDGE_CPUPROFILE: %v\n", err)
			return 1
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			fmt.Fprintf(stderr, "pbxbridge: PBXBRIDGE_CPUPROFILE: %v\n", err)
			return 1
		}
		defer func() { pprof.StopCPUProfile(); _ = out.Close() }()
	}
	if path := os.Getenv("PBXBRIDGE_MEMPROFILE"); path != "" {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGUSR1)
		defer signal.Stop(sig)
		go func() {
			for range sig {
				if err := writeHeap(path); err != nil {
					fmt.Fprintf(stderr, "pbxbridge: PBXBRIDGE_MEMPROFILE: %v\n", err)
				}
			}
		}()
	}
	return f()
}

func writeHeap(path string) error {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(out, 0); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.WriteFile(path+".txt", fmt.Appendf(nil, "heap_alloc %d\n", ms.HeapAlloc), 0o644)
}
