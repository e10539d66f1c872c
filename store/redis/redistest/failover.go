package redistest

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// FailoverSet is a Sentinel deployment as docs/operators.md describes it: a master, replicas,
// and a sentinel (quorum 1) watching them under MasterName; every data node runs with the
// given config lines (e.g. "min-replicas-to-write 1", "appendonly yes").
type FailoverSet struct {
	MasterName string
	Nodes      []*Server // Nodes[0] is the first master
	Sentinel   *Server
}

// Failover starts a master with replicas and a sentinel, and waits until the sentinel names
// the master and has found every replica (so that a failover has candidates).
func Failover(tb testing.TB, replicas int, config ...string) *FailoverSet {
	tb.Helper()
	const name = "pbxbridge"
	base := append([]string{"repl-diskless-sync-delay 0"}, config...)
	m := start(tb, base)
	f := &FailoverSet{MasterName: name, Nodes: []*Server{m}}
	for range replicas {
		f.Nodes = append(f.Nodes, start(tb, append(base, "replicaof "+strings.Replace(m.Addr, ":", " ", 1))))
	}
	f.Sentinel = start(tb, []string{
		"sentinel monitor " + name + " " + strings.Replace(m.Addr, ":", " ", 1) + " 1",
		"sentinel down-after-milliseconds " + name + " 1000",
		"sentinel failover-timeout " + name + " 5000",
	}, "--sentinel")
	deadline := time.Now().Add(startTimeout)
	for {
		addr, _ := f.MasterAddr()
		out, _ := f.Sentinel.Do("SENTINEL", "replicas", name)
		if addr == m.Addr && strings.Count(out, "flags") == replicas && !strings.Contains(out, "disconnected") {
			return f
		}
		if time.Now().After(deadline) {
			tb.Fatalf("sentinel: master %q, replicas:\n%s\nlog:\n%s", addr, out, f.Sentinel.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// MasterAddr is the master's address as the sentinel names it now.
func (f *FailoverSet) MasterAddr() (string, error) {
	out, err := f.Sentinel.Do("SENTINEL", "get-master-addr-by-name", f.MasterName)
	if err != nil {
		return "", err
	}
	var parts []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		parts = append(parts, sc.Text())
	}
	if len(parts) != 2 {
		return "", nil
	}
	return net.JoinHostPort(parts[0], parts[1]), nil
}

// Node is the data node listening on addr, or nil.
func (f *FailoverSet) Node(addr string) *Server {
	for _, n := range f.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}
