package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Report is everything one run measured; report.json is this struct.
type Report struct {
	Started           time.Time      `json:"started"`
	Seconds           float64        `json:"seconds"`
	Machine           Machine        `json:"machine"`
	Loaded            bool           `json:"machine_loaded"` // 1-minute load above half the cores at start or end
	Overhead          []Overhead     `json:"overhead"`
	Engine            []EngineResult `json:"engine"`
	OverheadProfile   string         `json:"overhead_cpu_profile_top,omitempty"`
	EngineProfile     string         `json:"engine_cpu_profile_top,omitempty"`
	EngineHeapProfile string         `json:"engine_heap_profile_top,omitempty"`
	Outbox            []GoBench      `json:"outbox"`
	Parsing           []GoBench      `json:"parsing"`
	Audio             []GoBench      `json:"audio"`
	Targets           []Target       `json:"targets"`
}

// Target is one of issue 10's targets and whether this run met it.
type Target struct {
	Name     string `json:"name"`
	Want     string `json:"target"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
}

func (r *Report) evaluate() {
	for _, l := range []string{r.Machine.LoadStart, r.Machine.LoadEnd} {
		var one float64
		if _, err := fmt.Sscanf(l, "%f", &one); err == nil && one > float64(r.Machine.Cores)/2 {
			r.Loaded = true
		}
	}
	if len(r.Overhead) > 0 {
		var worst, worstAct float64
		var at, atAct int
		for _, o := range r.Overhead {
			if o.CPURatio > worst {
				worst, at = o.CPURatio, o.N
			}
			if o.Bridge.ActionP99 > worstAct {
				worstAct, atAct = o.Bridge.ActionP99, o.N
			}
		}
		r.Targets = append(r.Targets,
			Target{"CPU per recorded call, Asterisk + pbxbridge over Asterisk's dialplan alone", "≤ 1.10×",
				fmt.Sprintf("%.2f× (worst, at %d calls)", worst, at), worst > 0 && worst <= 1.10},
			Target{"End of recording → action request (wav), p99", "≤ 20 ms",
				fmt.Sprintf("%.1f ms (worst, at %d calls)", worstAct, atAct), worstAct > 0 && worstAct <= 20})
	}
	for _, e := range r.Engine {
		r.Targets = append(r.Targets,
			Target{"Engine call set-ups per second sustained (" + e.Store + ")", "≥ 1,000/s on 2 cores",
				fmt.Sprintf("%.0f/s (CPU-bound estimate %.0f/s)", e.Sustained, e.CPUCapacity), e.Sustained >= 1000},
			Target{"Memory per live call (" + e.Store + ", live heap after GC)", "< 64 KiB",
				fmt.Sprintf("%.1f KiB (RSS: %.1f KiB)", e.HeapPerCall/1024, e.RSSPerCall/1024), e.HeapPerCall > 0 && e.HeapPerCall < 64<<10})
	}
}

func (r *Report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	plots, err := r.plots(dir)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(r.markdown(plots)), 0o644)
}

type plotRef struct{ file, caption string }

func (r *Report) plots(dir string) (map[string]plotRef, error) {
	out := map[string]plotRef{}
	legend := func(ss []series) string {
		var p []string
		for _, s := range ss {
			for _, c := range palette {
				if c.C == s.Color {
					p = append(p, c.Name+": "+s.Name)
				}
			}
		}
		return strings.Join(p, "; ")
	}
	add := func(key, file, title string, ss []series) error {
		if len(ss) == 0 {
			return nil
		}
		if err := plotLines(filepath.Join(dir, file), title, ss); err != nil {
			return err
		}
		out[key] = plotRef{file, title + " (" + legend(ss) + ")"}
		return nil
	}
	if len(r.Overhead) > 0 {
		var cpu, lat [4]series
		names := []string{"Asterisk, dialplan alone", "Asterisk, with pbxbridge", "pbxbridge", "Asterisk + pbxbridge"}
		for i := range cpu {
			cpu[i] = series{Name: names[i], Color: palette[i].C}
		}
		lnames := []string{"set-up p99, dialplan", "set-up p99, pbxbridge", "recording end → action p99", "recording end → action p50"}
		for i := range lat {
			lat[i] = series{Name: lnames[i], Color: palette[i].C}
		}
		for _, o := range r.Overhead {
			x := float64(o.N)
			cpu[0].Pts = append(cpu[0].Pts, [2]float64{x, o.Dialplan.AsteriskCPU})
			cpu[1].Pts = append(cpu[1].Pts, [2]float64{x, o.Bridge.AsteriskCPU})
			cpu[2].Pts = append(cpu[2].Pts, [2]float64{x, o.Bridge.BridgeCPU})
			cpu[3].Pts = append(cpu[3].Pts, [2]float64{x, o.Bridge.TotalCPU})
			lat[0].Pts = append(lat[0].Pts, [2]float64{x, o.Dialplan.SetupP99})
			lat[1].Pts = append(lat[1].Pts, [2]float64{x, o.Bridge.SetupP99})
			lat[2].Pts = append(lat[2].Pts, [2]float64{x, o.Bridge.ActionP99})
			lat[3].Pts = append(lat[3].Pts, [2]float64{x, o.Bridge.ActionP50})
		}
		if err := add("overhead-cpu", "overhead-cpu.png", "CPU ms per recorded call (y) against concurrent calls (x)", cpu[:]); err != nil {
			return nil, err
		}
		if err := add("overhead-latency", "overhead-latency.png", "latency in ms (y) against concurrent calls (x)", lat[:]); err != nil {
			return nil, err
		}
	}
	if len(r.Engine) > 0 {
		var lat, cpu []series
		for i, e := range r.Engine {
			a := series{Name: e.Store + ": StasisStart → first command p99", Color: palette[2*i].C}
			b := series{Name: e.Store + ": verb dispatch p99", Color: palette[2*i+1].C}
			c := series{Name: e.Store + ": pbxbridge CPU (cores)", Color: palette[2*i].C}
			for _, s := range e.Steps {
				x := float64(s.Rate)
				a.Pts = append(a.Pts, [2]float64{x, s.FirstP99})
				b.Pts = append(b.Pts, [2]float64{x, s.VerbP99})
				c.Pts = append(c.Pts, [2]float64{x, s.BridgeCPU})
			}
			lat = append(lat, a, b)
			cpu = append(cpu, c)
		}
		if err := add("engine-latency", "engine-latency.png", "latency in ms (y) against offered set-ups per second (x)", lat); err != nil {
			return nil, err
		}
		if err := add("engine-cpu", "engine-cpu.png", "pbxbridge CPU in cores (y) against offered set-ups per second (x)", cpu); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (r *Report) markdown(plots map[string]plotRef) string {
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	img := func(key string) {
		if p, ok := plots[key]; ok {
			w("\n![%s](%s)\n\n*%s*\n", p.caption, p.file, p.caption)
		}
	}
	m := r.Machine
	w("# pbxbridge load report\n\n")
	w("Run %s, %.0f s (`make bench`).\n\n", r.Started.Format(time.RFC3339), r.Seconds)
	w("| machine | |\n|---|---|\n")
	w("| cores | %d (%s) |\n| memory | %.1f GiB |\n| kernel | %s |\n", m.Cores, m.CPU, float64(m.MemBytes)/(1<<30), m.Kernel)
	w("| load average (1, 5, 15 min) | start %s, end %s |\n", m.LoadStart, m.LoadEnd)
	w("| Go | %s |\n| pbxbridge | %s |\n| Asterisk | %s |\n| SIPp | %s |\n| Redis | %s |\n\n", m.Go, m.Pbxbridge, m.Asterisk, m.SIPp, m.Redis)
	if r.Loaded {
		w("**The machine was loaded** (load average above half its cores): other work shared the CPUs, so latencies and rates are pessimistic and noisy.\n\n")
	}
	if len(r.Targets) > 0 {
		w("## Targets\n\n| target | wanted | measured | met |\n|---|---|---|---|\n")
		for _, t := range r.Targets {
			w("| %s | %s | %s | %s |\n", t.Name, t.Want, t.Measured, yesNo(t.Met))
		}
		w("\n")
	}
	if len(r.Overhead) > 0 {
		w("## 1. Overhead against the PBX alone\n\n")
		w("N concurrent SIPp calls (7 s of G.711 speech each), each recorded for %d s: through Asterisk + pbxbridge (FlexML `<Record maxLength=%d action=…>` then `<Hangup/>`), and through Asterisk's dialplan `[record-baseline]` (Answer, Record(), Hangup) with no pbxbridge. CPU is utime+stime from /proc/<pid>/stat over the batch, divided by N. Set-up is INVITE → 200 OK (SIPp rtd, ms resolution). Recording end → action is the RecordingFinished timestamp (seen by a second ARI app subscribed to all events) to the action request's arrival at the application.\n\n", recSeconds, recSeconds)
		w("| N | path | Asterisk CPU ms/call | pbxbridge CPU ms/call | total ms/call | ratio | set-up p50 / p99 ms | recording end → action p50 / p99 ms (n) |\n|---|---|---|---|---|---|---|---|\n")
		for _, o := range r.Overhead {
			w("| %d | dialplan | %.1f | – | %.1f | 1 | %.0f / %.0f | – |\n", o.N, o.Dialplan.AsteriskCPU, o.Dialplan.TotalCPU, o.Dialplan.SetupP50, o.Dialplan.SetupP99)
			w("| %d | pbxbridge | %.1f | %.1f | %.1f | %.2f× | %.0f / %.0f | %.1f / %.1f (%d) |\n", o.N, o.Bridge.AsteriskCPU, o.Bridge.BridgeCPU, o.Bridge.TotalCPU, o.CPURatio,
				o.Bridge.SetupP50, o.Bridge.SetupP99, o.Bridge.ActionP50, o.Bridge.ActionP99, o.Bridge.ActionSamples)
		}
		w("\nThe recording end → action time, split at pbxbridge's \"recording finished\" log line (ms resolution), which pbxbridge writes once it has the file: *to file* is Asterisk's RecordingFinished → pbxbridge has handled the event, hung up the snoop, fetched the WAV over ARI (GET /recordings/stored/{name}/file) and deleted it; *to action* is that → the action request at the application (storing the file and its metadata, rendering and sending the request).\n\n| N | to file p50 / p99 ms | to action p50 / p99 ms |\n|---|---|---|\n")
		for _, o := range r.Overhead {
			w("| %d | %.0f / %.0f | %.0f / %.0f |\n", o.N, o.Bridge.SeenP50, o.Bridge.SeenP99, o.Bridge.StoreP50, o.Bridge.StoreP99)
		}
		for _, o := range r.Overhead {
			for _, run := range []OverheadRun{o.Dialplan, o.Bridge} {
				if run.Error != "" {
					w("\n%d calls, %s: only %d answered; %s\n", o.N, run.Mode, run.OK, run.Error)
				}
			}
		}
		img("overhead-cpu")
		img("overhead-latency")
		if r.OverheadProfile != "" {
			w("\nCPU profile of pbxbridge over all the batches (bench/profiles/overhead-cpu-pbxbridge.pprof):\n\n```\n%s\n```\n", r.OverheadProfile)
		}
		w("\n")
	}
	if len(r.Engine) > 0 {
		w("## 2. The engine alone (ARI simulator, no media)\n\n")
		w("The real pbxbridge binary against a simulated Asterisk on loopback (REST and websocket events shaped like Asterisk 22's). Each call: StasisStart → Plivo `<DTMF>1</DTMF><Hangup/>` (document fetched from a loopback app) → answer, DTMF, DELETE → StasisEnd, ChannelDestroyed. Open-loop steps of %s each. *First command* is StasisStart → POST answer (includes the document fetch); *verb dispatch* is the DTMF command → the Hangup's DELETE. *pbxbridge cores* and *simulator cores* are CPU seconds per second while calls were offered; *machine busy* is the share of both cores busy then, every process counted (other helpers' work included).\n\n", time.Duration(r.Engine[0].Steps[0].Seconds*float64(time.Second)))
		w("| store | offered/s | completed | completed/s | first command p50 / p99 ms | verb dispatch p50 / p99 ms | set-up → hang-up p99 ms | pbxbridge cores | CPU ms/call | simulator cores | machine busy |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, e := range r.Engine {
			for _, s := range e.Steps {
				w("| %s | %d | %d/%d | %.0f | %.2f / %.2f | %.2f / %.2f | %.1f | %.2f | %.3f | %.2f | %.0f%% |\n", e.Store, s.Rate, s.Completed, s.Offered, s.Achieved,
					s.FirstP50, s.FirstP99, s.VerbP50, s.VerbP99, s.SetupP99, s.BridgeCPU, s.CPUPerCall, s.SimCPU, 100*s.MachineBusy)
			}
		}
		w("\n| store | sustained set-ups/s | CPU-bound estimate on 2 cores | live calls | live heap per call | RSS per call | ARI bus-full warnings |\n|---|---|---|---|---|---|---|\n")
		for _, e := range r.Engine {
			w("| %s | %.0f | %.0f | %d | %.1f KiB | %.1f KiB | %d |\n", e.Store, e.Sustained, e.CPUCapacity, e.LiveCalls, e.HeapPerCall/1024, e.RSSPerCall/1024, e.BusFull)
		}
		w("\n*Sustained* is the highest offered rate up to which every step completed ≥ 99%% of its calls with set-up → hang-up p99 under 1 s. *ARI bus-full warnings* count pbxbridge's log lines saying the ARI library's event buffer (100 events per subscription) was full: the library drops events then, and the calls whose events were lost end only at the next reconcile. *CPU-bound estimate* is 2 cores divided by pbxbridge's CPU per call at the step where that is lowest. Live heap is runtime.MemStats.HeapAlloc after a GC, with N calls in a 300 s Wait, minus the same when idle, over N.\n")
		img("engine-latency")
		img("engine-cpu")
		if r.EngineProfile != "" {
			w("\nCPU profile of the load steps (local store; bench/profiles/engine-cpu-local.pprof):\n\n```\n%s\n```\n", r.EngineProfile)
		}
		if r.EngineHeapProfile != "" {
			w("\nHeap profile with the live calls (local store; bench/profiles/engine-heap-local.pprof, inuse_space):\n\n```\n%s\n```\n", r.EngineHeapProfile)
		}
		w("\n")
	}
	if len(r.Outbox) > 0 {
		w("## 3. Outbox against the raw posting rate\n\n`go test ./webhook -bench '^BenchmarkDelivery$' -benchtime 5000x`: callbacks per second from Enqueue to the application's 2xx through a Worker of 8, beside the same Client posting the same requests from 8 goroutines.\n\n| benchmark | callbacks/s | vs raw |\n|---|---|---|\n")
		var raw float64
		for _, g := range r.Outbox {
			if strings.HasSuffix(g.Name, "raw-client") {
				raw = g.Metrics["callbacks/s"]
			}
		}
		for _, g := range r.Outbox {
			v := g.Metrics["callbacks/s"]
			ratio := "–"
			if raw > 0 {
				ratio = fmt.Sprintf("%.0f%%", 100*v/raw)
			}
			w("| %s | %.0f | %s |\n", g.Name, v, ratio)
		}
		w("\n")
	}
	if len(r.Parsing) > 0 || len(r.Audio) > 0 {
		w("## 4. Parsing and audio\n\n| benchmark | figure |\n|---|---|\n")
		for _, g := range r.Parsing {
			if ns := g.Metrics["ns/op"]; ns > 0 {
				w("| translate %s | %.0f documents/s (%.1f µs, %.0f allocs) |\n", g.Name, 1e9/ns, ns/1000, g.Metrics["allocs/op"])
			}
		}
		for _, g := range r.Audio {
			w("| audio %s (60 s recording) | %.0f× real time |\n", g.Name, g.Metrics["x_realtime"])
		}
		w("\n")
	}
	return b.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}
