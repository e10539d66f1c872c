package redisfault

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/integration/apptest"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
)

const (
	apiToken = "redisfault-api-token"
	number   = "15550100000" // the app's number: every simulated call dials it
)

// bridge is one pbxbridge process serving the FreeSWITCH simulator's calls on Redis.
type bridge struct {
	base, fsAddr, cfgPath, logPath string
	cmd                            *exec.Cmd
	exited                         chan struct{}
}

// startBridge runs pbxbridge with store (the YAML lines under "store:") and one Plivo app
// whose answer and status URLs are given, and waits until /readyz says ready. outbox are
// extra lines of the outbox section ("  lease: 56s").
func startBridge(t *testing.T, store, answerURL, statusURL string, outbox ...string) *bridge {
	t.Helper()
	dir := t.TempDir()
	port, err := apptest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	fsPort, err := apptest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	b := &bridge{base: fmt.Sprintf("http://127.0.0.1:%d", port), fsAddr: fmt.Sprintf("127.0.0.1:%d", fsPort),
		cfgPath: filepath.Join(dir, "pbxbridge.yaml"), logPath: filepath.Join(dir, "pbxbridge.log"), exited: make(chan struct{})}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
data_dir: %s
log_level: info
api_token: %s
freeswitch:
  - name: fs1
    listen: %s
outbox:
  workers: 16
%s
store:
%s
apps:
  - name: app
    dialect: plivo
    auth_token: redisfault-plivo-token
    url: %s
    status_url: %s
    numbers: ["%s"]
`, port, filepath.Join(dir, "data"), apiToken, b.fsAddr, strings.Join(outbox, "\n"), store, answerURL, statusURL, number)
	if err := os.WriteFile(b.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(b.logPath)
	if err != nil {
		t.Fatal(err)
	}
	b.cmd = exec.Command(bin, "serve", "--config", b.cfgPath)
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = b.cmd.Wait(); logf.Close(); close(b.exited) }()
	t.Cleanup(func() {
		_ = b.cmd.Process.Signal(os.Interrupt)
		select {
		case <-b.exited:
		case <-time.After(15 * time.Second):
			_ = b.cmd.Process.Kill()
			<-b.exited
		}
		if t.Failed() || os.Getenv("PBXBRIDGE_IT_LOG") != "" {
			log, _ := os.ReadFile(b.logPath)
			t.Logf("pbxbridge log (last 80 lines):\n%s", apptest.Tail(string(log), 80))
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := apptest.WaitOK(ctx, b.base+"/readyz"); err != nil {
		log, _ := os.ReadFile(b.logPath)
		t.Fatalf("pbxbridge not ready: %v\n%s", err, log)
	}
	return b
}

// alive fails the test if the process has exited: the faults must not need a restart.
func (b *bridge) alive(t *testing.T) {
	t.Helper()
	select {
	case <-b.exited:
		t.Fatalf("pbxbridge exited (%v): it must ride through the fault without a restart", b.cmd.ProcessState)
	default:
	}
}

// get sends an authenticated GET to the API and returns the status and body.
func (b *bridge) get(path string) (int, string, error) {
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// readiness polls /readyz in the background every 50 ms and records what it saw.
type readiness struct {
	mu       sync.Mutex
	notReady []string // bodies of 503 answers
	readyAt  []time.Time
	stop     chan struct{}
	done     chan struct{}
}

func (b *bridge) watchReady() *readiness {
	r := &readiness{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			code, body, err := b.get("/readyz")
			r.mu.Lock()
			switch {
			case err == nil && code == http.StatusServiceUnavailable:
				r.notReady = append(r.notReady, body)
			case err == nil && code == http.StatusOK:
				r.readyAt = append(r.readyAt, time.Now())
			}
			r.mu.Unlock()
			select {
			case <-r.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return r
}

// end stops polling and returns the 503 bodies seen and whether /readyz was 200 after the
// first of them.
func (r *readiness) end() (notReady []string, readyAfter bool) {
	close(r.stop)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.notReady, len(r.notReady) > 0 && len(r.readyAt) > 0
}

// waitReady waits until /readyz answers 200.
func (b *bridge) waitReady(t *testing.T, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := apptest.WaitOK(ctx, b.base+"/readyz"); err != nil {
		_, body, _ := b.get("/readyz")
		t.Fatalf("/readyz not ready again within %s: %v %s", within, err, body)
	}
}

// metric reads one series from /metrics (0 when absent).
func (b *bridge) metric(t *testing.T, series string) float64 {
	t.Helper()
	code, body, err := b.get("/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("/metrics: %d %v", code, err)
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("/metrics %s: %q", series, v)
			}
			return f
		}
	}
	return 0
}

// outboxCLI runs `pbxbridge outbox <args> --config <the bridge's config>`.
func (b *bridge) outboxCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, append(append([]string{"outbox"}, args...), "--config", b.cfgPath)...).CombinedOutput()
	if err != nil {
		t.Fatalf("pbxbridge outbox %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// call places one simulated FreeSWITCH call to the app's number: the caller speaks for 10 s
// and never hangs up (the document does).
func (b *bridge) call(t *testing.T, sim *eslsim.Sim, from string) *eslsim.Channel {
	t.Helper()
	ch, err := sim.Call(b.fsAddr, eslsim.Script{From: from, To: number, Audio: eslsim.Tone(10*time.Second, 3000)})
	if err != nil {
		t.Fatalf("simulated call: %v", err)
	}
	return ch
}

// sink is the application's callback receiver: a real HTTP server on a fixed loopback port
// that can go down (refusing connections) and come back on the same port, or hang (accept
// and answer nothing until released). It counts deliveries by X-Pbxbridge-Event-Id.
type sink struct {
	URL  string
	addr string

	mu    sync.Mutex
	srv   *http.Server
	hung  chan struct{} // non-nil while hanging; closed to release
	ids   map[string]int
	paths map[string]int // path -> unique ids
	first map[string]time.Time
	cond  chan struct{}
}

func newSink(t *testing.T) *sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{addr: ln.Addr().String(), ids: map[string]int{}, paths: map[string]int{}, first: map[string]time.Time{},
		cond: make(chan struct{})}
	s.URL = "http://" + s.addr
	s.serve(ln)
	t.Cleanup(func() { s.down(); s.release() })
	return s
}

func (s *sink) serve(ln net.Listener) {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// down closes the listener and every connection: the app is gone (connection refused).
func (s *sink) down() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// up listens again on the same port.
func (s *sink) up(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 100 { // the port may linger briefly
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("sink back on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

// hang makes requests wait, unanswered, until release.
func (s *sink) hang() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hung == nil {
		s.hung = make(chan struct{})
	}
}

func (s *sink) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hung != nil {
		close(s.hung)
		s.hung = nil
	}
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	s.mu.Lock()
	hung := s.hung
	s.mu.Unlock()
	if hung != nil {
		select {
		case <-hung:
		case <-r.Context().Done():
			return
		}
	}
	id := r.Header.Get("X-Pbxbridge-Event-Id")
	s.mu.Lock()
	s.ids[id]++
	if s.ids[id] == 1 {
		s.paths[r.URL.Path]++
		s.first[id] = time.Now()
	}
	close(s.cond)
	s.cond = make(chan struct{})
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// counts returns the unique event ids delivered, all deliveries, and per path unique ids.
func (s *sink) counts() (unique, total int, paths map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	paths = map[string]int{}
	for p, n := range s.paths {
		paths[p] = n
	}
	for _, n := range s.ids {
		total += n
	}
	return len(s.ids), total, paths
}

// wait waits until n unique event ids were delivered, or ctx is done.
func (s *sink) wait(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		got, ch := len(s.ids), s.cond
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%d of %d callbacks delivered: %w", got, n, ctx.Err())
		}
	}
}

// lastDelivery is when the last of the unique deliveries arrived.
func (s *sink) lastDelivery() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var last time.Time
	for _, at := range s.first {
		if at.After(last) {
			last = at
		}
	}
	return last
}

// plivoDoc is a Plivo document whose callbacks all go to the sink: recordings foreground
// Records of maxLength seconds (action as a notification, and callbackUrl), then dials
// Records armed for a Dial that never comes (each sends its action at once, nothing else),
// then Hangup. The status callback of the call makes one more. frag is a retry fragment for
// the callback URLs ("" for the defaults).
func plivoDoc(sinkURL string, recordings, dials, maxLength int, frag string) (doc string, callbacks int) {
	var b strings.Builder
	b.WriteString("<Response>")
	for i := range recordings {
		fmt.Fprintf(&b, `<Record maxLength="%d" playBeep="false" fileFormat="wav" redirect="false" action="%s/action?r=%d%s" callbackUrl="%s/recorded?r=%d%s"/>`,
			maxLength, sinkURL, i, frag, sinkURL, i, frag)
	}
	for i := range dials {
		fmt.Fprintf(&b, `<Record startOnDialAnswer="true" maxLength="5" redirect="false" action="%s/armed?d=%d%s"/>`, sinkURL, i, frag)
	}
	b.WriteString("<Hangup/></Response>")
	return b.String(), 2*recordings + dials + 1
}

// delivered is how many times the callback with this event id was delivered.
func (s *sink) delivered(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[id]
}

// deliveredBy counts the distinct callbacks first delivered before at.
func (s *sink) deliveredBy(at time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.first {
		if t.Before(at) {
			n++
		}
	}
	return n
}
