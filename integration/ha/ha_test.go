package ha

import (
	"context"
	"errors"
	"fmt"
	"github.com/pbxbridge/pbxbridge/integration/itest"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/integration/apptest"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
	"github.com/pbxbridge/pbxbridge/store/redis"
	"github.com/pbxbridge/pbxbridge/store/redis/redistest"
)

const (
	pbxName  = "fs1"
	leaseKey = "pbx:" + pbxName
	number   = "15550401000"
)

// instance is one pbxbridge process.
type instance struct {
	name    string
	config  string
	eslAddr string // where the simulator's outbound sockets reach it
	log     string
	logFrom int64 // where the current process's lines start in log
	proc    *itest.Process
}

func (in *instance) start(t *testing.T) {
	t.Helper()
	in.proc = itest.Serve(t, bin, in.config, in.log)
	in.logFrom = in.proc.LogFrom
}

// kill is kill -9: no drain, no lease release, no goodbye to FreeSWITCH.
func (in *instance) kill(t *testing.T) { t.Helper(); in.proc.Kill(t) }

// application is the HTTP application: the document records until '#' (or for long), the
// action ends the call, and the fire-and-forget callbacks are refused with 503 while refuse
// is set. It counts what it accepted by idempotency key.
type application struct {
	*apptest.App
	refuse atomic.Bool

	mu        sync.Mutex
	delivered map[string]map[string]bool // path -> CallSid -> accepted
	ids       map[string]int             // X-Pbxbridge-Event-Id -> accepted deliveries
	refused   int
	last      time.Time // the last callback request
}

var callbackPaths = []string{"/cb", "/rs", "/status"}

func startApp(t *testing.T) *application {
	t.Helper()
	a, err := apptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	app := &application{App: a, delivered: map[string]map[string]bool{}, ids: map[string]int{}}
	app.refuse.Store(true)
	retry := "#rc=5&amp;rp=5xx"
	app.Document("/doc", `<Response><Record action="`+a.URL+`/act" callbackUrl="`+a.URL+`/cb`+retry+
		`" recordingStatusCallback="`+a.URL+`/rs`+retry+`" recordingStatusCallbackEvent="completed,failed,absent"`+
		` finishOnKey="#" maxLength="60" timeout="30" trim="do-not-trim"/></Response>`)
	app.Document("/act", `<Response><Hangup/></Response>`)
	for _, p := range callbackPaths {
		app.Handle(p, func(r apptest.Request) (int, string) {
			app.mu.Lock()
			defer app.mu.Unlock()
			app.last = time.Now()
			if app.refuse.Load() {
				app.refused++
				return http.StatusServiceUnavailable, ""
			}
			if app.delivered[r.Path] == nil {
				app.delivered[r.Path] = map[string]bool{}
			}
			app.delivered[r.Path][r.Get("CallSid")] = true
			app.ids[r.Header.Get("X-Pbxbridge-Event-Id")]++
			return http.StatusOK, ""
		})
	}
	return app
}

// missing lists the callbacks not yet accepted for the calls.
func (app *application) missing(calls []string) []string {
	app.mu.Lock()
	defer app.mu.Unlock()
	var out []string
	for _, p := range callbackPaths {
		for _, c := range calls {
			if !app.delivered[p][c] {
				out = append(out, p+" of "+c)
			}
		}
	}
	return out
}

// waitQuiet waits for a gap of d since the last callback request: then no delivery attempt is
// in flight, and a kill leaves no callback leased to the dead worker (whose lease, outbox.lease,
// would hold it back for 56 s: not lost, but slow).
func (app *application) waitQuiet(t *testing.T, d time.Duration) {
	t.Helper()
	waitFor(t, 20*time.Second, "a pause in the callback retries", func() bool {
		app.mu.Lock()
		defer app.mu.Unlock()
		return time.Since(app.last) >= d
	})
}

func (app *application) refusedCount() int {
	app.mu.Lock()
	defer app.mu.Unlock()
	return app.refused
}

// callSids are the CallSids the application has seen in document fetches.
func (app *application) callSids() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range app.Requests() {
		if r.Path == "/doc" && !seen[r.Get("CallSid")] {
			seen[r.Get("CallSid")] = true
			out = append(out, r.Get("CallSid"))
		}
	}
	return out
}

// storeYAML is the store section: Redis, or the embedded store when url is "".
func storeYAML(url string) string {
	if url == "" {
		return "store: {}"
	}
	return "store:\n  url: " + url
}

func writeConfig(t *testing.T, dir, name, redisURL, inbound, recordDir, appURL string) *instance {
	t.Helper()
	httpPort, err := apptest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	eslPort, err := apptest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{name: name, eslAddr: fmt.Sprintf("127.0.0.1:%d", eslPort),
		config: filepath.Join(dir, name+".yaml"), log: filepath.Join(dir, name+".log")}
	// Both instances share the store, the sealing and link keys, the PBX's name and its
	// record_dir; each has its own listeners and data_dir.
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
data_dir: %s
log_level: debug
link_secret: ha-test-link-secret-0123456789abcdef0123456789
%s
outbox:
  key: ha-test-outbox-key-0123456789abcdef0123456789abcdef
  lease: 56s
ha:
  instance: %s
  lease_ttl: 2s
  lease_renew: 500ms
freeswitch:
  - name: %s
    listen: %s
    inbound: %s
    password: ClueCon
    record_dir: %s
    command_timeout: 2s
    connect_timeout: 2s
containers:
  - sid: default
apps:
  - name: vm
    dialect: flexml
    url: %s/doc
    status_url: "%s/status#rc=5&rp=5xx"
    numbers: [%s]
`, httpPort, filepath.Join(dir, name+"-data"), storeYAML(redisURL), name, pbxName, in.eslAddr, inbound, recordDir, appURL, appURL, number)
	if err := os.WriteFile(in.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return in
}

// TestKillOwner: the owner of the PBX takes calls whose callbacks the application refuses;
// it is killed with -9 while those callbacks are undelivered and another call is being
// recorded. The standby takes the lease within seconds, finishes the call that was recording
// (stores the recording, sends its callbacks), and once the application accepts again every
// callback of every call is delivered: none is lost (duplicates are allowed).
func TestKillOwner(t *testing.T) {
	redistest.Require(t)
	rs := redistest.Standalone(t)
	dir := t.TempDir()
	recordDir := filepath.Join(dir, "recordings")
	if err := os.MkdirAll(recordDir, 0o770); err != nil {
		t.Fatal(err)
	}
	sim := eslsim.New(eslsim.Options{})
	t.Cleanup(sim.Close)
	inbound, err := sim.ListenInbound("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := startApp(t)
	st, err := redis.Open(t.Context(), redis.Options{URL: rs.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	defer func() {
		if t.Failed() {
			for _, n := range []string{"a", "b"} {
				b, _ := os.ReadFile(filepath.Join(dir, n+".log"))
				t.Logf("%s's log:\n%s", n, tail(string(b), 120))
			}
		}
	}()

	a := writeConfig(t, dir, "a", rs.URL(), inbound, recordDir, app.URL)
	b := writeConfig(t, dir, "b", rs.URL(), inbound, recordDir, app.URL)
	a.start(t)
	waitOwner(t, st, "a/", 20*time.Second)
	b.start(t)
	waitLog(t, b, "standby", 20*time.Second)

	h := &harness{st: st, sim: sim, app: app, recordDir: recordDir}
	h.round(t, a, b) // b takes over from a, then a comes back as a standby
	h.round(t, b, a) // and the restarted a takes over from b

	app.mu.Lock()
	unique, dups := len(app.ids), 0
	for _, n := range app.ids {
		dups += n - 1
	}
	app.mu.Unlock()
	t.Logf("%d callbacks delivered (unique X-Pbxbridge-Event-Id), %d duplicate deliveries, %d refusals", unique, dups, app.refusedCount())
	if dead, err := st.ListDead(t.Context(), 0); err != nil || len(dead) != 0 {
		t.Errorf("dead letters: %d %v", len(dead), err)
	}
	if n, err := st.Pending(t.Context()); err != nil || n != 0 {
		t.Errorf("pending callbacks: %d %v", n, err)
	}
	files, err := st.ListFiles(t.Context(), adapter.FileQuery{})
	if err != nil || len(files) != 6 {
		t.Errorf("stored recordings: %d, %v; want 6 (the dead owners' live ones included)", len(files), err)
	}
	if ents, _ := os.ReadDir(recordDir); len(ents) != 0 {
		t.Errorf("recordings left in record_dir: %d", len(ents))
	}
}

type harness struct {
	st        *redis.Store
	sim       *eslsim.Sim
	app       *application
	recordDir string
}

// round: calls on owner, two recording until '#' whose callbacks are refused and one still
// recording; kill -9 of owner; standby takes over and finishes the recording call; the
// application recovers and every callback of every call so far is delivered; owner restarts
// as a standby.
func (h *harness) round(t *testing.T, owner, standby *instance) {
	st, sim, app := h.st, h.sim, h.app
	app.refuse.Store(true)
	refused0 := app.refusedCount()
	// A standby takes no call: its listener is closed until it first holds the lease, so
	// FreeSWITCH's socket application fails and the dialplan goes on to the next instance.
	if _, err := sim.Call(standby.eslAddr, eslsim.Script{From: "15550100009", To: number}); err == nil {
		t.Errorf("standby %s accepted a call", standby.name)
	}
	var chans []*eslsim.Channel
	for range 2 {
		ch, err := sim.Call(owner.eslAddr, eslsim.Script{From: "15550100001", To: number,
			Audio: append(eslsim.Tone(time.Second, 3000), eslsim.Silence(30*time.Second)...),
			DTMF:  []eslsim.DTMF{{At: 1200 * time.Millisecond, Digit: '#'}}})
		if err != nil {
			t.Fatal(err)
		}
		chans = append(chans, ch)
	}
	long, err := sim.Call(owner.eslAddr, eslsim.Script{From: "15550100002", To: number,
		Audio: eslsim.Tone(60*time.Second, 3000)})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range chans {
		select {
		case <-ch.Done():
		case <-time.After(20 * time.Second):
			t.Fatal("a call that recorded until '#' did not end")
		}
	}
	waitFor(t, 20*time.Second, "the short calls' callbacks refused at least once each", func() bool {
		return app.refusedCount()-refused0 >= 6
	})
	waitFor(t, 20*time.Second, "the long call's recording live in the store", func() bool {
		calls, err := st.ListCalls(t.Context())
		return err == nil && len(calls) == 1 && len(calls[0].Live) == 1
	})
	pending, _ := st.Pending(t.Context())
	t.Logf("kill -9 %s with %d callbacks pending, %d refused so far, one call recording", owner.name, pending, app.refusedCount()-refused0)

	app.waitQuiet(t, 150*time.Millisecond)
	killed := time.Now()
	owner.kill(t)
	l := waitOwner(t, st, standby.name+"/", 20*time.Second)
	t.Logf("takeover: %s holds the lease %v after kill -9 of %s (lease_ttl 2s, lease_renew 500ms; epoch %d)",
		standby.name, time.Since(killed).Round(time.Millisecond), owner.name, l.Epoch)
	select {
	case <-long.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the call of the dead owner is still up")
	}
	waitFor(t, 20*time.Second, standby.name+" to finish the dead owner's call", func() bool {
		calls, err := st.ListCalls(t.Context())
		return err == nil && len(calls) == 0
	})
	slog, _ := os.ReadFile(standby.log)
	for _, line := range strings.Split(string(slog), "\n") {
		if strings.Contains(line, "instance died") && strings.Contains(line, long.UUID()) {
			t.Log(standby.name + ": " + line)
		}
	}

	// The application recovers; the killed instance comes back as a standby.
	app.refuse.Store(false)
	recovered := time.Now()
	owner.start(t)
	sids := app.callSids()
	deadline := time.Now().Add(75 * time.Second) // a callback leased by the dead worker comes back after outbox.lease (56s)
	for len(app.missing(sids)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("callbacks lost: %v", app.missing(sids))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("every callback of the %d calls so far delivered %v after the application recovered", len(sids), time.Since(recovered).Round(time.Millisecond))
	waitLog(t, owner, "standby", 20*time.Second)
	if l, err := st.GetLease(t.Context(), leaseKey); err != nil || !strings.HasPrefix(l.Owner, standby.name+"/") {
		t.Errorf("after %s restarted: lease %+v %v; %s must keep it", owner.name, l, err, standby.name)
	}
}

func waitOwner(t *testing.T, st *redis.Store, prefix string, limit time.Duration) adapter.Lease {
	t.Helper()
	var l adapter.Lease
	waitFor(t, limit, "lease owner "+prefix, func() bool {
		var err error
		l, err = st.GetLease(t.Context(), leaseKey)
		if err != nil && !errors.Is(err, adapter.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil && strings.HasPrefix(l.Owner, prefix)
	})
	return l
}

func waitLog(t *testing.T, in *instance, text string, limit time.Duration) {
	t.Helper()
	waitFor(t, limit, in.name+" logs "+text, func() bool {
		b, _ := os.ReadFile(in.log)
		return int64(len(b)) > in.logFrom && strings.Contains(string(b[in.logFrom:]), text)
	})
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: not within %v", what, limit)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestKillRestartEmbedded: one instance on the embedded store is killed with -9 while callbacks
// wait for a refusing application and a call records; restarted on the same data_dir, it
// finishes the call that was recording and delivers every callback.
func TestKillRestartEmbedded(t *testing.T) {
	dir := t.TempDir()
	recordDir := filepath.Join(dir, "recordings")
	if err := os.MkdirAll(recordDir, 0o770); err != nil {
		t.Fatal(err)
	}
	sim := eslsim.New(eslsim.Options{})
	t.Cleanup(sim.Close)
	inbound, err := sim.ListenInbound("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := startApp(t)
	a := writeConfig(t, dir, "a", "", inbound, recordDir, app.URL)
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(a.log)
			t.Logf("a's log:\n%s", tail(string(b), 150))
		}
	}()
	a.start(t)
	waitLog(t, a, "listening for outbound sockets", 20*time.Second)

	var chans []*eslsim.Channel
	for range 2 {
		ch := dial(t, sim, a.eslAddr, eslsim.Script{From: "15550100001", To: number,
			Audio: append(eslsim.Tone(time.Second, 3000), eslsim.Silence(30*time.Second)...),
			DTMF:  []eslsim.DTMF{{At: 1200 * time.Millisecond, Digit: '#'}}})
		chans = append(chans, ch)
	}
	long := dial(t, sim, a.eslAddr, eslsim.Script{From: "15550100002", To: number, Audio: eslsim.Tone(60*time.Second, 3000)})
	for _, ch := range chans {
		select {
		case <-ch.Done():
		case <-time.After(20 * time.Second):
			t.Fatal("a call that recorded until '#' did not end")
		}
	}
	waitFor(t, 20*time.Second, "the short calls' callbacks refused at least once each", func() bool {
		return app.refusedCount() >= 6
	})
	waitFor(t, 20*time.Second, "the long call recording", func() bool {
		b, _ := os.ReadFile(a.log)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "msg=recording ") && strings.Contains(line, long.UUID()) {
				return true
			}
		}
		return false
	})
	app.waitQuiet(t, 150*time.Millisecond)
	a.kill(t)
	select {
	case <-long.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("FreeSWITCH kept the call of the dead instance")
	}
	restarted := time.Now()
	a.start(t)
	waitLog(t, a, "recording of a call whose instance died stored", 20*time.Second)
	t.Logf("restarted instance stored the dead run's recording %v after its start", time.Since(restarted).Round(time.Millisecond))
	app.refuse.Store(false)
	sids := app.callSids()
	deadline := time.Now().Add(75 * time.Second) // a callback leased by the dead worker comes back after outbox.lease (56s)
	for len(app.missing(sids)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("callbacks lost: %v", app.missing(sids))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("every callback of the %d calls delivered %v after the restart", len(sids), time.Since(restarted).Round(time.Millisecond))
	if ents, _ := os.ReadDir(recordDir); len(ents) != 0 {
		t.Errorf("recordings left in record_dir: %d", len(ents))
	}
}

// dial places a simulated call, retrying while the listener comes up.
func dial(t *testing.T, sim *eslsim.Sim, addr string, sc eslsim.Script) *eslsim.Channel {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ch, err := sim.Call(addr, sc)
		if err == nil {
			return ch
		}
		if time.Now().After(deadline) {
			t.Fatalf("call %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
