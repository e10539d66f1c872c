// Package integration runs pbxbridge end to end: the real binary, the project's real Asterisk
// (integration/asterisk), real SIP calls from SIPp and Local channels, and a real HTTP
// application (apptest) whose received requests the tests assert on.
//
// Without a reachable Asterisk the tests skip, saying how to start it; with
// PBXBRIDGE_INTEGRATION=1 (make test) a missing Asterisk is a failure.
package integration

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/audio"
	"github.com/pbxbridge/pbxbridge/integration/apptest"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
)

// Settings of the project's Asterisk (integration/asterisk/lib.sh defaults).
var (
	ariURL      = envOr("PBX_ARI_URL", "http://127.0.0.1:"+envOr("PBX_ARI_PORT", "8088")+"/ari")
	ariUser     = envOr("PBX_ARI_USER", "pbxbridge")
	ariPassword = envOr("PBX_ARI_PASSWORD", "pbxbridge-test")
	sipTarget   = "127.0.0.1:" + envOr("PBX_SIP_PORT", "5060")
	asteriskDir = "asterisk"
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// Number pools: SIP calls are routed by the dialled number, so each dialect's app owns a
// range of numbers handed out to the tests; Local calls name the app in the Stasis
// arguments and are told apart by their caller id.
const poolSize = 200

func poolNumber(dialect string, i int) string {
	base := 15550200000
	if dialect == "plivo" {
		base = 15550300000
	}
	return fmt.Sprint(base + i)
}

// env is what every test shares: one pbxbridge process, one application server.
var env struct {
	app     *apptest.App
	base    string // pbxbridge's HTTP API
	logPath string
	next    [2]atomic.Int32 // next pool number per dialect
	cases   sync.Map        // caller or dialled number -> *call
	sippMu  sync.Mutex
	sippN   int
	fsAddr  string // where pbxbridge listens for the FreeSWITCH simulator's outbound sockets
}

func TestMain(m *testing.M) {
	// Only when asked: an Asterisk that answers may be someone else's (a benchmark, another
	// checkout's tests), and these tests take its Stasis application "pbxbridge".
	if os.Getenv("PBXBRIDGE_INTEGRATION") != "1" {
		fmt.Println("skipping: the integration tests run with PBXBRIDGE_INTEGRATION=1 (make test), against the project's Asterisk (make asterisk)")
		os.Exit(0)
	}
	if !ariUp() {
		msg := "integration tests need the project's Asterisk: run `make asterisk` (integration/asterisk/setup.sh && integration/asterisk/run.sh start)"
		fmt.Fprintln(os.Stderr, "FAIL: "+msg)
		os.Exit(1)
	}
	code, err := runMain(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runMain(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "pbxbridge-it-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	bin := os.Getenv("PBXBRIDGE_BIN")
	if bin == "" {
		bin = filepath.Join(dir, "pbxbridge")
		out, err := exec.Command("go", "build", "-o", bin, "../cmd/pbxbridge").CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("building pbxbridge: %v\n%s", err, out)
		}
	}
	app, err := apptest.Start()
	if err != nil {
		return 0, err
	}
	defer app.Close()
	defer stopCallee() // dial_test.go
	env.app = app
	for _, d := range []string{"flexml", "plivo"} {
		app.Handle("/answer/"+d, answer)
		app.Status("/status/"+d, http.StatusOK)
	}
	for _, n := range faultAppNames {
		app.Status("/status/"+n, http.StatusOK)
	}

	port, err := apptest.FreePort()
	if err != nil {
		return 0, err
	}
	env.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	fsPort, err := apptest.FreePort()
	if err != nil {
		return 0, err
	}
	env.fsAddr = fmt.Sprintf("127.0.0.1:%d", fsPort)
	var numbers [2][]string
	for i := 0; i < poolSize; i++ {
		numbers[0] = append(numbers[0], poolNumber("flexml", i))
		numbers[1] = append(numbers[1], poolNumber("plivo", i))
	}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
data_dir: %s
log_level: debug
api_token: `+itAPIToken+`
asterisk:
  - password: %q
    url: %q
freeswitch:
  - listen: %s
containers:
  - sid: default
  - sid: tiny
    quota_bytes: 1000
apps:
  - name: flexml
    dialect: flexml
    signing_secret: `+itSecret+`
    url: %s/answer/flexml
    status_url: %s/status/flexml
    numbers: [%s]
  - name: plivo
    dialect: plivo
    auth_token: `+itPlivoToken+`
    url: %s/answer/plivo
    status_url: %s/status/plivo
    numbers: [%s]
%s`, port, filepath.Join(dir, "data"), ariPassword, ariURL, env.fsAddr,
		app.URL, app.URL, strings.Join(numbers[0], ", "), app.URL, app.URL, strings.Join(numbers[1], ", "),
		strings.ReplaceAll(faultApps+recordApps+transcriptionConfig, "{app}", app.URL))
	cfgPath := filepath.Join(dir, "pbxbridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return 0, err
	}
	env.logPath = filepath.Join(dir, "pbxbridge.log")
	logf, err := os.Create(env.logPath)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := apptest.WaitOK(ctx, env.base+"/readyz"); err != nil {
		b, _ := os.ReadFile(env.logPath)
		return 0, fmt.Errorf("pbxbridge not ready: %v\n%s", err, b)
	}
	raiseParallel()
	code := m.Run()
	if code != 0 || os.Getenv("PBXBRIDGE_IT_LOG") != "" {
		b, _ := os.ReadFile(env.logPath)
		fmt.Fprintf(os.Stderr, "--- pbxbridge log\n%s", b)
	}
	return code, nil
}

// call is one test call: its documents and the requests it caused.
type call struct {
	t       *testing.T
	dialect string
	number  string // the caller id (Local) or dialled number (SIP)
	prefix  string // path prefix of this call's endpoints on the app
	doc     string // the answer document
	app     string // the app named in Local calls' Stasis arguments; "" = the dialect's
	// answer, when set, answers the document fetch instead of doc (faults).
	answer func(apptest.Request) (int, string)
	pbx    pbx             // where dial places the call; "" = Asterisk
	fs     *eslsim.Channel // the simulated channel, once dialled on FreeSWITCH
	// callees are the simulated called parties of this call's Dials on FreeSWITCH, by
	// endpoint (dial_test.go).
	callees map[string]eslsim.Callee
}

// newCall registers a call of the dialect whose answer document is doc. Relative URLs in
// documents should use c.path("...").
func newCall(t *testing.T, dialect string) *call {
	t.Helper()
	di := 0
	if dialect == "plivo" {
		di = 1
	}
	n := int(env.next[di].Add(1)) - 1
	if n >= poolSize {
		t.Fatalf("number pool of %s exhausted: raise poolSize", dialect)
	}
	c := &call{t: t, dialect: dialect, number: poolNumber(dialect, n), prefix: fmt.Sprintf("/c/%s-%d", dialect, n)}
	env.cases.Store(c.number, c)
	t.Cleanup(func() { env.cases.Delete(c.number) })
	return c
}

// path is an absolute path on the app for this call: c.path("after") = /c/flexml-3/after.
func (c *call) path(p string) string { return c.prefix + "/" + p }

// url is the full URL of a path of this call.
func (c *call) url(p string) string { return env.app.URL + c.path(p) }

// answer serves each call's answer document, found by its caller id or dialled number.
func answer(r apptest.Request) (int, string) {
	for _, k := range []string{"From", "To", "OriginalFrom"} {
		if v, ok := env.cases.Load(strings.TrimPrefix(r.Get(k), "+")); ok {
			c := v.(*call)
			if c.answer != nil {
				return c.answer(r)
			}
			return http.StatusOK, c.doc
		}
	}
	return http.StatusNotFound, "no test call for this number"
}

// requests returns the requests this call caused (its answer fetch excluded).
func (c *call) requests() []apptest.Request {
	var out []apptest.Request
	for _, r := range env.app.Requests() {
		if strings.HasPrefix(r.Path, c.prefix+"/") {
			out = append(out, r)
		}
	}
	return out
}

// wait waits for the call's first request to p.
func (c *call) wait(ctx context.Context, p string) apptest.Request {
	c.t.Helper()
	r, err := env.app.WaitPath(ctx, c.path(p))
	if err != nil {
		c.t.Fatalf("%s: %v", c.path(p), err)
	}
	return r
}

// waitStatus waits for the call's status (hangup) callback.
func (c *call) waitStatus(ctx context.Context) apptest.Request {
	c.t.Helper()
	r, err := env.app.Wait(ctx, func(r apptest.Request) bool {
		return r.Path == "/status/"+c.dialect && (r.Get("From") == c.number || r.Get("To") == c.number)
	})
	if err != nil {
		c.t.Fatalf("status callback: %v", err)
	}
	return r
}

// local originates Local/<exten>@play-test/n into the app with this call's caller id.
func (c *call) local(exten string) {
	c.t.Helper()
	q := url.Values{
		"endpoint": {"Local/" + exten + "@play-test/n"},
		"app":      {"pbxbridge"},
		"appArgs":  {cmp.Or(c.app, c.dialect)},
		"callerId": {fmt.Sprintf("\"test\" <%s>", c.number)},
	}
	req, _ := http.NewRequest(http.MethodPost, ariURL+"/channels?"+q.Encode(), nil)
	req.SetBasicAuth(ariUser, ariPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("originate: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("originate: HTTP %d: %s", resp.StatusCode, b)
	}
}

// sip places a SIP call to this call's number with a scenario of integration/asterisk/sipp
// and waits for SIPp to finish. extra are more SIPp arguments (-set NAME VALUE).
func (c *call) sip(ctx context.Context, scenario string, extra ...string) {
	c.t.Helper()
	c.sipIn(ctx, "", scenario, extra...)
}

// sipIn is sip with SIPp running in dir ("" = the test's own), where the scenario finds the
// files it names by relative paths (a pcap a test generated).
func (c *call) sipIn(ctx context.Context, dir, scenario string, extra ...string) {
	c.t.Helper()
	env.sippMu.Lock()
	n := env.sippN
	env.sippN++
	env.sippMu.Unlock()
	abs, err := filepath.Abs(asteriskDir)
	if err != nil {
		c.t.Fatal(err)
	}
	args := append([]string{"sipp", "-sf", filepath.Join(abs, "sipp", scenario), "-s", c.number,
		"-i", "127.0.0.1", "-p", fmt.Sprint(5100 + 2*n), "-mi", "127.0.0.1", "-mp", fmt.Sprint(16000 + 8*n),
		"-cp", fmt.Sprint(8900 + n), "-m", "1", "-timeout", "60", "-timeout_error", "-nostdin"}, extra...)
	args = append(args, sipTarget)
	cmd := exec.CommandContext(ctx, filepath.Join(abs, "run.sh"), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("SIPp call failed: %v\n%s", err, apptest.Tail(string(out), 25))
	}
}

// fetch downloads a recording URL.
func fetch(t *testing.T, u string) ([]byte, http.Header) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d: %s", u, resp.StatusCode, b)
	}
	return b, resp.Header
}

func ariUp() bool {
	req, _ := http.NewRequest(http.MethodGet, ariURL+"/asterisk/info", nil)
	req.SetBasicAuth(ariUser, ariPassword)
	cl := &http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// pcapAudio decodes the G.711 RTP payload of a pcap file (Ethernet/IPv4/UDP/RTP, payload
// type 8 = A-law or 0 = µ-law) into 8 kHz PCM: the audio SIPp sends.
func pcapAudio(path string) (audio.PCM, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return audio.PCM{}, err
	}
	if len(b) < 24 {
		return audio.PCM{}, errors.New("pcap: too short")
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if binary.BigEndian.Uint32(b) == 0xa1b2c3d4 {
		bo = binary.BigEndian
	}
	linkType := bo.Uint32(b[20:])
	pcm := audio.PCM{Rate: 8000, Channels: 1}
	for off := 24; off+16 <= len(b); {
		incl := int(bo.Uint32(b[off+8:]))
		pkt := b[off+16 : min(off+16+incl, len(b))]
		off += 16 + incl
		if linkType == 1 { // Ethernet
			if len(pkt) < 14 {
				continue
			}
			pkt = pkt[14:]
		}
		if len(pkt) < 20 || pkt[0]>>4 != 4 {
			continue
		}
		ihl := int(pkt[0]&0x0f) * 4
		if pkt[9] != 17 || len(pkt) < ihl+8+12 {
			continue
		}
		rtp := pkt[ihl+8:]
		pt := rtp[1] & 0x7f
		hdr := 12 + 4*int(rtp[0]&0x0f)
		if len(rtp) <= hdr {
			continue
		}
		for _, s := range rtp[hdr:] {
			switch pt {
			case 8:
				pcm.Samples = append(pcm.Samples, audio.ALawToLinear(s))
			case 0:
				pcm.Samples = append(pcm.Samples, audio.ULawToLinear(s))
			}
		}
	}
	return pcm, nil
}
