// Command pbxbench is `make bench`: pbxbridge's load harness. In one run it measures
//
//  1. the overhead against the PBX alone: N concurrent SIPp calls recorded through Asterisk +
//     pbxbridge (FlexML Record with an action) and through Asterisk's own dialplan
//     ([record-baseline]), CPU per call of each process, call set-up latency, and the time
//     from the end of each recording to its action request;
//  2. the engine alone: the real pbxbridge binary against an ARI simulator on loopback (no
//     media), set-ups per second, dispatch latency and memory per live call, for the embedded
//     store and Redis;
//  3. the outbox against the raw posting rate of the same client (webhook.BenchmarkDelivery);
//  4. parsing and audio (translate and audio benchmarks),
//
// and writes bench/report.md, bench/report.json and PNG plots, with the machine, its load and
// the versions. It needs the project's Asterisk running (make asterisk), sipp and
// redis-server (scripts/deps.sh), and a built pbxbridge.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.bin, "pbxbridge", "bin/pbxbridge", "the pbxbridge binary")
	flag.StringVar(&o.astDir, "asterisk", "integration/asterisk", "the project's Asterisk scripts")
	flag.StringVar(&o.out, "out", "bench", "directory for report.md, report.json and the plots")
	flag.StringVar(&o.parts, "parts", "1,2,3,4", "which parts to run")
	flag.StringVar(&o.ns, "calls", "10,50,100", "part 1: concurrent SIPp calls per batch")
	flag.StringVar(&o.rates, "rates", "100,250,500,1000,1500", "part 2: offered call set-ups per second, one step each")
	flag.DurationVar(&o.step, "step", 4*time.Second, "part 2: length of each load step")
	flag.IntVar(&o.live, "live", 1000, "part 2: live calls held for the memory figure")
	flag.DurationVar(&o.timeout, "timeout", 14*time.Minute, "give up after this long")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "pbxbench: %v\n", err)
		os.Exit(1)
	}
}

type options struct {
	bin, astDir, out, parts, ns, rates string
	step, timeout                      time.Duration
	live                               int
}

func ints(s string) ([]int, error) {
	var r []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q: want positive integers separated by commas", s)
		}
		r = append(r, v)
	}
	return r, nil
}

func run(o options) error {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	logf := func(f string, a ...any) {
		fmt.Fprintf(os.Stderr, "[pbxbench %s] "+f+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, a...)...)
	}
	ns, err := ints(o.ns)
	if err != nil {
		return fmt.Errorf("-calls %w", err)
	}
	rates, err := ints(o.rates)
	if err != nil {
		return fmt.Errorf("-rates %w", err)
	}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("pbxbridge binary: %w (make build)", err)
	}
	profDir := filepath.Join(o.out, "profiles")
	if err := os.MkdirAll(profDir, 0o755); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, p := range strings.Split(o.parts, ",") {
		want[strings.TrimSpace(p)] = true
	}

	rep := &Report{Started: time.Now().UTC()}
	rep.Machine = machine(ctx, bin)
	logf("machine: %d cores, %.1f GiB, %s, load %s", rep.Machine.Cores, float64(rep.Machine.MemBytes)/(1<<30), rep.Machine.Kernel, rep.Machine.LoadStart)

	if want["1"] {
		a, err := findAsterisk(ctx, o.astDir)
		if err != nil {
			return fmt.Errorf("part 1: %w", err)
		}
		rep.Machine.Asterisk = a.version
		prof, err := filepath.Abs(filepath.Join(profDir, "overhead-cpu-pbxbridge.pprof"))
		if err != nil {
			return err
		}
		if rep.Overhead, err = runOverhead(ctx, bin, a, ns, prof, logf); err != nil {
			return fmt.Errorf("part 1: %w", err)
		}
		rep.OverheadProfile = pprofTop(ctx, bin, prof, "")
	}
	if want["2"] {
		for _, store := range []string{"local", "redis"} {
			r, err := runEngine(ctx, bin, store, rates, o.step, o.live, profDir, "", logf)
			if err != nil {
				return fmt.Errorf("part 2 (%s): %w", store, err)
			}
			rep.Engine = append(rep.Engine, *r)
		}
		// A profile of the load steps, for the reading of the set-up figures.
		prof, err := filepath.Abs(filepath.Join(profDir, "engine-cpu-local.pprof"))
		if err != nil {
			return err
		}
		if _, err := runEngine(ctx, bin, "local", rates[len(rates)-2:], o.step, 0, "", prof, logf); err != nil {
			logf("part 2: CPU profile run failed: %v", err)
		} else {
			rep.EngineProfile = pprofTop(ctx, bin, prof, "")
			rep.EngineHeapProfile = pprofTop(ctx, bin, filepath.Join(profDir, "engine-heap-local.pprof"), "inuse_space")
		}
	}
	if want["3"] {
		logf("part 3: go test ./webhook -bench Delivery")
		r, _, err := goBench(ctx, "./webhook", "^BenchmarkDelivery$", "5000x", "PBXBRIDGE_INTEGRATION=1")
		if err != nil {
			return fmt.Errorf("part 3: %w", err)
		}
		rep.Outbox = r
	}
	if want["4"] {
		logf("part 4: go test ./translate -bench Parse")
		r, _, err := goBench(ctx, "./translate", "^BenchmarkParse$", "1s")
		if err != nil {
			return fmt.Errorf("part 4: %w", err)
		}
		rep.Parsing = r
		logf("part 4: go test ./audio -bench Convert|Trim")
		r, _, err = goBench(ctx, "./audio", "^Benchmark(ConvertWAVToMP3|ConvertWAVToULaw|TrimEdges)$", "1s")
		if err != nil {
			return fmt.Errorf("part 4: %w", err)
		}
		rep.Audio = r
	}
	rep.Machine.LoadEnd = loadAvg()
	rep.Seconds = time.Since(rep.Started).Seconds()
	rep.evaluate()
	if err := rep.write(o.out); err != nil {
		return err
	}
	md, _ := os.ReadFile(filepath.Join(o.out, "report.md"))
	fmt.Print(string(md))
	logf("done in %s: %s/report.md, %s/report.json", time.Since(rep.Started).Round(time.Second), o.out, o.out)
	return nil
}

// Machine is where and with what the figures were measured.
type Machine struct {
	Cores     int    `json:"cores"`
	CPU       string `json:"cpu"`
	MemBytes  int64  `json:"mem_bytes"`
	Kernel    string `json:"kernel"`
	LoadStart string `json:"loadavg_start"`
	LoadEnd   string `json:"loadavg_end"`
	Go        string `json:"go"`
	Pbxbridge string `json:"pbxbridge"`
	Asterisk  string `json:"asterisk"`
	SIPp      string `json:"sipp"`
	Redis     string `json:"redis"`
}

func machine(ctx context.Context, bin string) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadAvg()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				m.MemBytes = kb << 10
			}
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	m.Kernel = firstLine(ctx, "uname", "-srm")
	v := firstLine(ctx, bin, "version")
	if rev := firstLine(ctx, "git", "describe", "--always", "--dirty"); rev != "" {
		v += " (git " + rev + ")"
	}
	m.Pbxbridge = v
	m.SIPp = firstLine(ctx, "sipp", "-v")
	if m.SIPp == "" {
		// sipp -v exits 1 and prints a blank line first.
		out, _ := exec.CommandContext(ctx, "sipp", "-v").CombinedOutput()
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "SIPp v") {
				m.SIPp = strings.TrimSpace(l)
				break
			}
		}
	}
	m.Redis = firstLine(ctx, "redis-server", "--version")
	return m
}

func firstLine(ctx context.Context, name string, args ...string) string {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return ""
	}
	l, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(l)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// pprofTop is `go tool pprof -top` of a profile, first 25 lines of functions.
func pprofTop(ctx context.Context, bin, prof, sample string) string {
	args := []string{"tool", "pprof", "-top", "-nodecount=25"}
	if sample != "" {
		args = append(args, "-sample_index="+sample)
	}
	out, err := exec.CommandContext(ctx, "go", append(args, bin, prof)...).CombinedOutput()
	if err != nil {
		return cmp.Or(strings.TrimSpace(string(out)), err.Error())
	}
	return strings.TrimSpace(string(out))
}
