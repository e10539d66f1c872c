// Package redistest starts real redis-server processes for tests: a standalone server, a
// Sentinel set (one master, one replica, one sentinel) and a Cluster of masters, each on free
// loopback ports, with its files in a t.TempDir, killed when the test ends (style.md rule 13).
//
// Without redis-server the tests skip with a message naming scripts/deps.sh; with
// PBXBRIDGE_INTEGRATION=1 (make test) they fail instead.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startTimeout bounds how long a server, a cluster or a sentinel may take to become ready.
const startTimeout = 20 * time.Second

// Require skips (or, under PBXBRIDGE_INTEGRATION=1, fails) the test when redis-server or
// redis-cli is not installed.
func Require(tb testing.TB) {
	tb.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			msg := fmt.Sprintf("%s is not installed: run scripts/deps.sh (as root) to install redis-server", bin)
			if os.Getenv("PBXBRIDGE_INTEGRATION") == "1" {
				tb.Fatal(msg) // make test: the Redis tests must run, not skip
			}
			tb.Skip(msg)
		}
	}
}

// Server is one redis-server process.
type Server struct {
	Addr string // 127.0.0.1:port
	Dir  string
	cmd  *exec.Cmd
	args []string // redis-server's arguments, for Restart
	log  string
}

// freePort asks the kernel for a free loopback port.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start runs redis-server with a config file holding lines, on a free port, and waits for it
// to answer PING. extraArgs follow the config file (e.g. "--sentinel").
func start(tb testing.TB, lines []string, extraArgs ...string) *Server {
	tb.Helper()
	Require(tb)
	port := freePort(tb)
	dir := tb.TempDir()
	conf := append([]string{
		"port " + strconv.Itoa(port),
		"bind 127.0.0.1",
		"dir " + dir,
		"save \"\"",
		"appendonly no",
		"daemonize no",
		"logfile " + filepath.Join(dir, "redis.log"),
	}, lines...)
	path := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		tb.Fatalf("write redis config: %v", err)
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir,
		args: append([]string{path}, extraArgs...), log: filepath.Join(dir, "redis.log")}
	s.run(tb)
	tb.Cleanup(s.Kill)
	return s
}

// run starts the process and waits until it answers PING.
func (s *Server) run(tb testing.TB) {
	tb.Helper()
	s.cmd = exec.Command("redis-server", s.args...)
	if err := s.cmd.Start(); err != nil {
		tb.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(startTimeout)
	for {
		if out, err := s.Do("PING"); err == nil && out == "PONG" {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redis-server on %s does not answer PING; log:\n%s", s.Addr, s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Restart starts a killed server again, on the same port, over the same directory (what it
// finds there depends on its persistence settings: see Standalone).
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Kill()
	s.run(tb)
}

// Kill stops the server at once (SIGKILL) and reaps it. Calling it again does nothing.
func (s *Server) Kill() {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// Log is the server's log file.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// Do runs one command through redis-cli and returns its output, trimmed.
func (s *Server) Do(args ...string) (string, error) {
	host, port, _ := net.SplitHostPort(s.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("redis-cli %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Standalone starts one server. Its configuration (no persistence) can be extended with
// config lines, e.g. "appendonly yes", "appendfsync always" for a server whose data survives
// Kill and Restart.
func Standalone(tb testing.TB, config ...string) *Server {
	tb.Helper()
	return start(tb, config)
}

// Cluster starts masters servers in cluster mode (no replicas), creates the cluster with
// redis-cli --cluster create, and waits until every node reports cluster_state:ok. It returns
// the nodes' addresses.
func Cluster(tb testing.TB, masters int) []*Server {
	tb.Helper()
	nodes := make([]*Server, masters)
	addrs := make([]string, masters)
	for i := range nodes {
		nodes[i] = start(tb, []string{
			"cluster-enabled yes",
			"cluster-config-file nodes.conf",
			"cluster-node-timeout 2000",
			"cluster-port " + strconv.Itoa(freePort(tb)),
		})
		addrs[i] = nodes[i].Addr
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(startTimeout)
	for _, n := range nodes {
		for {
			info, err := n.Do("CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("cluster node %s not ready: %v %s", n.Addr, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nodes
}

// Addrs lists servers' addresses.
func Addrs(ss []*Server) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Addr
	}
	return out
}

// SentinelSet is a master, its replica and one sentinel watching them under MasterName.
type SentinelSet struct {
	MasterName string
	Master     *Server
	Replica    *Server
	Sentinel   *Server
}

// Sentinel starts a master, a replica of it and a sentinel (quorum 1) monitoring it, and
// waits until the sentinel names the master and knows the replica.
func Sentinel(tb testing.TB) *SentinelSet {
	tb.Helper()
	const name = "pbxbridge"
	m := start(tb, nil)
	r := start(tb, []string{"replicaof " + strings.Replace(m.Addr, ":", " ", 1)})
	s := start(tb, []string{
		"sentinel monitor " + name + " " + strings.Replace(m.Addr, ":", " ", 1) + " 1",
		"sentinel down-after-milliseconds " + name + " 1000",
		"sentinel failover-timeout " + name + " 5000",
	}, "--sentinel")
	deadline := time.Now().Add(startTimeout)
	for {
		out, err := s.Do("SENTINEL", "get-master-addr-by-name", name)
		if err == nil {
			sc := bufio.NewScanner(strings.NewReader(out))
			var parts []string
			for sc.Scan() {
				parts = append(parts, sc.Text())
			}
			// A failover needs the sentinel to know the replica, which it learns from the
			// master's INFO: wait for that too.
			reps, _ := s.Do("SENTINEL", "replicas", name)
			if len(parts) == 2 && net.JoinHostPort(parts[0], parts[1]) == m.Addr &&
				strings.Contains(reps, "flags") && !strings.Contains(reps, "disconnected") {
				return &SentinelSet{MasterName: name, Master: m, Replica: r, Sentinel: s}
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("sentinel does not name the master: %v %q; log:\n%s", err, out, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Pid is the redis-server process's id (0 when it is not running).
func (s *Server) Pid() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// CPU is the CPU time (user and system) the server has used, from INFO cpu: benchmarks read
// it before and after a run to charge Redis's share of the work per operation.
func (s *Server) CPU() (time.Duration, error) {
	out, err := s.Do("INFO", "cpu")
	if err != nil {
		return 0, err
	}
	var total float64
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("INFO cpu: %s: %w", line, err)
			}
			total += f
		}
	}
	return time.Duration(total * float64(time.Second)), nil
}

// CommandStats is what INFO commandstats reports of the commands a benchmark charges to the
// store: scripts (EVAL, EVALSHA, the commands they run included) and data commands (run by
// the scripts or sent on their own; administration such as INFO, PING or CLUSTER aside).
type CommandStats struct {
	Scripts, Cmds       int64 // calls
	ScriptUsec, CmdUsec int64 // µs spent in them
}

// CommandStats reads INFO commandstats. The counts do not move with the machine's load, so
// they are the figures to compare outbox layouts by.
func (s *Server) CommandStats() (CommandStats, error) {
	var st CommandStats
	out, err := s.Do("INFO", "commandstats")
	if err != nil {
		return st, err
	}
	for _, line := range strings.Split(out, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		var calls, usec int64
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "calls":
				calls, err = strconv.ParseInt(v, 10, 64)
			case "usec":
				usec, err = strconv.ParseInt(v, 10, 64)
			}
			if err != nil {
				return st, fmt.Errorf("INFO commandstats: %s: %w", line, err)
			}
		}
		switch name = strings.TrimPrefix(name, "cmdstat_"); {
		case name == "eval" || name == "evalsha":
			st.Scripts, st.ScriptUsec = st.Scripts+calls, st.ScriptUsec+usec
		case strings.HasPrefix(name, "cluster") || strings.HasPrefix(name, "client") ||
			strings.HasPrefix(name, "config") || strings.HasPrefix(name, "script") ||
			strings.HasPrefix(name, "command") || name == "info" || name == "hello" ||
			name == "ping" || name == "readonly":
		default:
			st.Cmds, st.CmdUsec = st.Cmds+calls, st.CmdUsec+usec
		}
	}
	return st, nil
}
