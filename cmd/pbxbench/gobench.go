package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Parts 3 and 4 are the packages' own Go benchmarks, run here and read back: the outbox
// against the raw posting rate of the same client (webhook.BenchmarkDelivery, both stores),
// and translate/audio throughput.

// GoBench is one benchmark result line: its metrics by unit (ns/op, x_realtime, callbacks/s…).
type GoBench struct {
	Name    string             `json:"name"`
	N       int64              `json:"iterations"`
	Metrics map[string]float64 `json:"metrics"`
}

// goBench runs `go test pkg -run ^$ -bench pattern -benchtime bt -benchmem` and parses its
// output. Extra environment goes to go test.
func goBench(ctx context.Context, pkg, pattern, bt string, env ...string) ([]GoBench, string, error) {
	cmd := exec.CommandContext(ctx, "go", "test", pkg, "-run", "^$", "-bench", pattern, "-benchtime", bt, "-benchmem", "-count", "1")
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	res := parseBench(out.String())
	if err != nil {
		return res, out.String(), fmt.Errorf("go test %s -bench %s: %w\n%s", pkg, pattern, err, tailString(out.String(), 20))
	}
	return res, out.String(), nil
}

func parseBench(out string) []GoBench {
	var res []GoBench
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		b := GoBench{Name: trimProcs(strings.TrimPrefix(f[0], "Benchmark")), N: n, Metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				b.Metrics[f[i+1]] = v
			}
		}
		res = append(res, b)
	}
	return res
}

// trimProcs drops the -GOMAXPROCS suffix go test adds to a benchmark's name.
func trimProcs(s string) string {
	if i := strings.LastIndexByte(s, '-'); i > 0 {
		if _, err := strconv.Atoi(s[i+1:]); err == nil {
			return s[:i]
		}
	}
	return s
}

func tailString(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
