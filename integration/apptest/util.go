package apptest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// WaitOK polls url until it answers 200, or ctx is done (then it returns the last failure).
func WaitOK(ctx context.Context, url string) error {
	var last error
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return last
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// handedOut are the ports FreePort returned in this process; portLocks hold each one's lock
// file open (and flocked) until the process ends.
var (
	portsMu   sync.Mutex
	handedOut = map[int]bool{}
	portLocks []*os.File
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for a process that
// binds it itself (a pbxbridge's listen: and freeswitch listen:). It never returns a port
// twice in one process, nor one another test process (holding its lock file in
// os.TempDir()/pbxbridge-ports) was given: the kernel may hand a just-closed port to the next
// bind of port 0, and a pbxbridge was once given the same port for its HTTP and ESL listeners
// ("address already in use").
func FreePort() (int, error) {
	dir := filepath.Join(os.TempDir(), "pbxbridge-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return 0, err
	}
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if handedOut[port] {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_RDWR|os.O_CREATE, 0o666)
		if err != nil {
			return 0, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close() // another test process holds it
			continue
		}
		handedOut[port] = true
		portLocks = append(portLocks, f)
		return port, nil
	}
	return 0, fmt.Errorf("apptest: no free port in 1000 tries")
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
