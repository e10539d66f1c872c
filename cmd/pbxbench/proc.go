package main

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// logLevel is pbxbridge's log level in the runs (PBXBENCH_LOG_LEVEL, default warn).
var logLevel = cmp.Or(os.Getenv("PBXBENCH_LOG_LEVEL"), "warn")

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// cpuSeconds is utime+stime of a process (its threads included) from /proc/<pid>/stat.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: fields are counted after its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, _ := strconv.ParseFloat(f[11], 64) // field 14
	st, _ := strconv.ParseFloat(f[12], 64) // field 15
	return (ut + st) / clockTicks, nil
}

// rssBytes is VmRSS from /proc/<pid>/status.
func rssBytes(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// percentile of durations in milliseconds (nearest rank); 0 for none.
func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	k := int(p/100*float64(len(s))+0.999999) - 1
	k = max(0, min(k, len(s)-1))
	return float64(s[k]) / float64(time.Millisecond)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// bridge is one running pbxbridge process.
type bridge struct {
	cmd    *exec.Cmd
	listen string
	log    string
	done   chan struct{}
}

// startBridge writes cfg (a YAML body without listen, data_dir and log_level) and runs `pbxbridge serve`
// until /readyz answers 200. Extra environment goes to the process.
func startBridge(ctx context.Context, bin, dir, level, cfg string, env ...string) (*bridge, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	full := fmt.Sprintf("listen: %s\ndata_dir: %s\nlog_level: %s\n%s", listen, filepath.Join(dir, "data"), level, cfg)
	cfgPath := filepath.Join(dir, "pbxbridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(full), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "pbxbridge.log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	b := &bridge{cmd: cmd, listen: listen, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); lf.Close(); close(b.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + listen + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return b, nil
			}
		}
		select {
		case <-b.done:
			return nil, fmt.Errorf("pbxbridge exited before it was ready; log %s:\n%s", logPath, tailFile(logPath, 20))
		case <-ctx.Done():
			b.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.stop()
			return nil, fmt.Errorf("pbxbridge not ready within 30s; log %s:\n%s", logPath, tailFile(logPath, 20))
		}
	}
}

func (b *bridge) pid() int { return b.cmd.Process.Pid }

func (b *bridge) stop() {
	_ = b.cmd.Process.Signal(os.Interrupt)
	select {
	case <-b.done:
	case <-time.After(15 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
}

func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// redisServer is a throwaway redis-server on loopback, no persistence.
type redisServer struct {
	cmd  *exec.Cmd
	addr string
}

func startRedis(dir string) (*redisServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("redis-server (scripts/deps.sh installs it): %w", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return &redisServer{cmd: cmd, addr: addr}, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil, fmt.Errorf("redis-server on %s did not answer", addr)
}

func (r *redisServer) stop() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

// cpuTimes is the first line of /proc/stat: the whole machine's CPU time, in ticks.
type cpuTimes struct{ busy, total float64 }

func machineCPU() cpuTimes {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}
	}
	l, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(l)
	var t cpuTimes
	for i, v := range f[1:] {
		x, _ := strconv.ParseFloat(v, 64)
		if i >= 8 { // guest time is already counted in user
			break
		}
		t.total += x
		if i != 3 && i != 4 { // idle, iowait
			t.busy += x
		}
	}
	return t
}

// busyOver is the busy share of all cores between an earlier reading and this one.
func (t cpuTimes) busyOver(e cpuTimes) float64 {
	if t.total <= e.total {
		return 0
	}
	return (t.busy - e.busy) / (t.total - e.total)
}
