package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Part 2: the real pbxbridge binary against the ARI simulator (loopback, no media).

const (
	numSetup = "15550100001" // answer, DTMF, hang up
	numLive  = "15550100002" // answer, DTMF, Wait 300 s: live until the caller hangs up
)

// EngineStep is one open-loop load step: calls offered at Rate per second for Seconds.
type EngineStep struct {
	Rate       int     `json:"offered_per_s"`
	Seconds    float64 `json:"seconds"`
	Offered    int     `json:"offered"`
	Completed  int     `json:"completed"`
	Achieved   float64 `json:"completed_per_s"`
	FirstP50   float64 `json:"first_command_p50_ms"`
	FirstP99   float64 `json:"first_command_p99_ms"`
	VerbP50    float64 `json:"verb_dispatch_p50_ms"` // DTMF command → Hangup's DELETE
	VerbP99    float64 `json:"verb_dispatch_p99_ms"`
	SetupP50   float64 `json:"setup_to_hangup_p50_ms"`
	SetupP99   float64 `json:"setup_to_hangup_p99_ms"`
	BridgeCPU  float64 `json:"pbxbridge_cpu_cores"`   // CPU seconds per wall second while offering
	CPUPerCall float64 `json:"pbxbridge_cpu_ms_call"` // CPU ms per completed call
	SimCPU     float64 `json:"simulator_cpu_cores"`
	// MachineBusy is the share of all cores busy (every process) while calls were offered.
	MachineBusy float64 `json:"machine_busy"`
}

// EngineResult is part 2 for one store.
type EngineResult struct {
	Store        string       `json:"store"`
	Steps        []EngineStep `json:"steps"`
	Sustained    float64      `json:"sustained_setups_per_s"`   // best step completing ≥99% with p99 < 1 s
	CPUCapacity  float64      `json:"cpu_bound_setups_per_s_2"` // 2 cores / CPU per call
	LiveCalls    int          `json:"live_calls"`
	HeapPerCall  float64      `json:"heap_bytes_per_live_call"` // live heap after GC, per call
	HeapBase     uint64       `json:"heap_bytes_idle"`
	HeapLive     uint64       `json:"heap_bytes_live"`
	RSSPerCall   float64      `json:"rss_bytes_per_live_call"`
	RSSBase      int64        `json:"rss_bytes_idle"`
	RSSLive      int64        `json:"rss_bytes_live"`
	UnknownCalls int64        `json:"simulator_unknown_requests"`
	// BusFull counts pbxbridge's "ARI event buffer was full" warnings: the ARI library's bus
	// drops events once a subscription's 100 slots are full.
	BusFull int `json:"ari_bus_full_warnings"`
}

func engineApp() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	docs := map[string]string{
		"/setup": `<?xml version="1.0" encoding="UTF-8"?><Response><DTMF>1</DTMF><Hangup/></Response>`,
		"/live":  `<?xml version="1.0" encoding="UTF-8"?><Response><DTMF>1</DTMF><Wait length="300"/><Hangup/></Response>`,
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		d, ok := docs[r.URL.Path]
		if !ok {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		_, _ = io.WriteString(w, d)
	})}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// runEngine measures one store. With cpuProfile set, it instead runs pbxbridge under
// PBXBRIDGE_CPUPROFILE=cpuProfile for the load steps only (no memory measurement).
func runEngine(ctx context.Context, bin, store string, rates []int, stepDur time.Duration, live int, profDir, cpuProfile string, logf func(string, ...any)) (*EngineResult, error) {
	dir, err := os.MkdirTemp("", "pbxbench-engine-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if os.Getenv("PBXBENCH_KEEP") == "" {
			os.RemoveAll(dir)
		} else {
			logf("kept %s", dir)
		}
	}()
	appURL, stopApp, err := engineApp()
	if err != nil {
		return nil, err
	}
	defer stopApp()
	sim, err := newARISim("bench")
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	storeCfg := ""
	if store == "redis" {
		rs, err := startRedis(dir)
		if err != nil {
			return nil, err
		}
		defer rs.stop()
		storeCfg = fmt.Sprintf("store:\n  url: redis://%s\n", rs.addr)
	}
	cfg := fmt.Sprintf(`asterisk:
  - url: %s
    websocket_url: ws://%s/ari/events
    username: pbxbridge
    password: bench
    application: bench
apps:
  - name: setup
    dialect: plivo
    url: %s/setup
    numbers: ["%s"]
  - name: live
    dialect: plivo
    url: %s/live
    numbers: ["%s"]
%s`, sim.URL(), sim.ln.Addr(), appURL, numSetup, appURL, numLive, storeCfg)
	heap := filepath.Join(dir, "heap.pprof")
	env := []string{"PBXBRIDGE_MEMPROFILE=" + heap}
	if cpuProfile != "" {
		env = []string{"PBXBRIDGE_CPUPROFILE=" + cpuProfile}
	}
	b, err := startBridge(ctx, bin, dir, logLevel, cfg, env...)
	if err != nil {
		return nil, err
	}
	defer b.stop()
	res := &EngineResult{Store: store}
	if cpuProfile != "" {
		runStep(sim, b.pid(), 100, time.Second)
		for _, r := range rates {
			st := runStep(sim, b.pid(), r, stepDur)
			logf("engine/%s (profiled): offered %d/s → %.0f/s completed", store, r, st.Achieved)
		}
		return res, nil
	}

	// Warm up (connections, caches), then memory per live call on a quiet process.
	runStep(sim, b.pid(), 100, time.Second)
	time.Sleep(time.Second)
	res.RSSBase, _ = rssBytes(b.pid())
	heapBase, err := heapAlloc(b.pid(), heap)
	if err != nil {
		return nil, err
	}
	var chans []*simChan
	for i := 0; i < live; i++ {
		chans = append(chans, sim.start(numLive))
		if i%50 == 49 {
			time.Sleep(50 * time.Millisecond) // ~1,000/s
		}
	}
	timeout := time.After(60 * time.Second)
	for _, c := range chans {
		select {
		case <-c.firstCh:
		case <-timeout:
			return nil, fmt.Errorf("%s: live calls were not all answered within 60s", store)
		}
	}
	time.Sleep(2 * time.Second) // every call into its Pause
	res.RSSLive, _ = rssBytes(b.pid())
	heapLive, err := heapAlloc(b.pid(), heap)
	if err != nil {
		return nil, err
	}
	if profDir != "" {
		_ = copyFile(heap, filepath.Join(profDir, "engine-heap-"+store+".pprof"))
	}
	res.LiveCalls = live
	res.RSSPerCall = float64(res.RSSLive-res.RSSBase) / float64(live)
	res.HeapBase, res.HeapLive = heapBase, heapLive
	res.HeapPerCall = float64(heapLive-heapBase) / float64(live)
	logf("engine/%s: %d live calls: live heap %.1f → %.1f MiB (%.1f KiB per call), RSS %.1f → %.1f MiB (%.1f KiB per call)", store, live,
		float64(heapBase)/(1<<20), float64(heapLive)/(1<<20), res.HeapPerCall/1024,
		float64(res.RSSBase)/(1<<20), float64(res.RSSLive)/(1<<20), res.RSSPerCall/1024)
	for _, c := range chans {
		sim.hangup(c, 16, "Normal Clearing")
	}
	time.Sleep(3 * time.Second)

	failed := false
	for _, r := range rates {
		st := runStep(sim, b.pid(), r, stepDur)
		res.Steps = append(res.Steps, st)
		logf("engine/%s: offered %d/s → %.0f/s completed (%d/%d), first command p50 %.2f p99 %.2f ms, verb dispatch p50 %.2f p99 %.2f ms, to hang-up p99 %.2f ms, pbxbridge %.2f cores (%.3f ms CPU/call)",
			store, r, st.Achieved, st.Completed, st.Offered, st.FirstP50, st.FirstP99, st.VerbP50, st.VerbP99, st.SetupP99, st.BridgeCPU, st.CPUPerCall)
		// Sustained: every step up to this rate kept up (open loop: the offered rate was met).
		if ok := st.Completed >= st.Offered*99/100 && st.SetupP99 < 1000; ok && !failed {
			res.Sustained = float64(st.Rate)
		} else {
			failed = true
		}
		if st.CPUPerCall > 0 && (res.CPUCapacity == 0 || 2000/st.CPUPerCall > res.CPUCapacity) {
			res.CPUCapacity = 2000 / st.CPUPerCall
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	res.UnknownCalls = sim.unknown.Load()
	log, _ := os.ReadFile(b.log)
	res.BusFull = bytes.Count(log, []byte("ARI event buffer was full"))
	if res.BusFull > 0 {
		logf("engine/%s: pbxbridge logged %d times that the ARI library's event buffer was full (events dropped, calls left to reconcile)", store, res.BusFull)
	}
	if res.UnknownCalls > 0 {
		logf("engine/%s: the simulator had no answer for %d requests (see pbxbridge log %s)", store, res.UnknownCalls, filepath.Join(dir, "pbxbridge.log"))
	}
	return res, nil
}

// runStep offers calls to numSetup at rate per second for d (in 10 ms batches), then waits
// up to 10 s for them to end, and measures.
func runStep(sim *ariSim, pid, rate int, d time.Duration) EngineStep {
	cpu0, _ := cpuSeconds(pid)
	self0, _ := cpuSeconds(os.Getpid())
	m0 := machineCPU()
	t0 := time.Now()
	var (
		mu            sync.Mutex
		first, setups []time.Duration
		verb          []time.Duration
		last          time.Time // the last hang-up seen
		wg            sync.WaitGroup
		offered       int
	)
	tick := time.NewTicker(10 * time.Millisecond)
	end := t0.Add(d)
	for now := t0; now.Before(end); now = <-tick.C {
		due := int(float64(rate) * time.Since(t0).Seconds())
		for ; offered < due; offered++ {
			c := sim.start(numSetup)
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case <-c.gone:
				case <-time.After(10 * time.Second):
					sim.hangup(c, 16, "Normal Clearing")
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if !c.first.IsZero() {
					first = append(first, c.first.Sub(c.started))
				}
				if !c.deleted.IsZero() && !c.dtmf.IsZero() {
					verb = append(verb, c.deleted.Sub(c.dtmf))
				}
				if !c.deleted.IsZero() {
					setups = append(setups, c.deleted.Sub(c.started))
					if c.deleted.After(last) {
						last = c.deleted
					}
				}
			}()
		}
	}
	tick.Stop()
	// Cores in use while calls were offered (not over the wait for stragglers).
	offerWall := time.Since(t0).Seconds()
	cpuOffer, _ := cpuSeconds(pid)
	selfOffer, _ := cpuSeconds(os.Getpid())
	m1 := machineCPU()
	wg.Wait()
	cpu1, _ := cpuSeconds(pid)
	st := EngineStep{Rate: rate, Seconds: d.Seconds(), Offered: offered, Completed: len(setups),
		FirstP50: percentile(first, 50), FirstP99: percentile(first, 99),
		VerbP50: percentile(verb, 50), VerbP99: percentile(verb, 99),
		SetupP50: percentile(setups, 50), SetupP99: percentile(setups, 99),
		BridgeCPU: (cpuOffer - cpu0) / offerWall, SimCPU: (selfOffer - self0) / offerWall,
		MachineBusy: m1.busyOver(m0)}
	// Completed per second from the first offer to the last hang-up: calls that never end (a
	// lost event) count against completion, not against the rate of the others.
	if !last.IsZero() {
		st.Achieved = float64(st.Completed) / max(d.Seconds(), last.Sub(t0).Seconds())
	}
	if st.Completed > 0 {
		st.CPUPerCall = (cpu1 - cpu0) * 1000 / float64(st.Completed)
	}
	return st
}

// heapAlloc asks pbxbridge (PBXBRIDGE_MEMPROFILE) for a GC and its heap profile, and reads
// back HeapAlloc after that GC.
func heapAlloc(pid int, heap string) (uint64, error) {
	txt := heap + ".txt"
	_ = os.Remove(txt)
	p, err := os.FindProcess(pid)
	if err != nil {
		return 0, err
	}
	if err := p.Signal(syscall.SIGUSR1); err != nil {
		return 0, err
	}
	for i := 0; i < 200; i++ {
		time.Sleep(50 * time.Millisecond)
		b, err := os.ReadFile(txt)
		if err != nil {
			continue
		}
		var v uint64
		if _, err := fmt.Sscanf(string(b), "heap_alloc %d", &v); err == nil {
			return v, nil
		}
	}
	return 0, fmt.Errorf("pbxbridge wrote no heap profile to %s within 10s (built without PBXBRIDGE_MEMPROFILE?)", heap)
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}
