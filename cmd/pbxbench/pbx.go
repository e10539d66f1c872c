package main

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/websocket"

	"github.com/pbxbridge/pbxbridge/integration/apptest"
)

// Part 1: N concurrent SIPp calls recorded for recSeconds through Asterisk + pbxbridge (a
// FlexML Record with an action), then the same calls into Asterisk's own dialplan
// ([record-baseline]: Answer, Record RB_MAX=5 s, Hangup), with no pbxbridge.

const (
	recSeconds = 5 // [record-baseline]'s RB_MAX default: both sides record 5 s
	recNumber  = "15550108888"
)

// OverheadRun is one batch of N calls through one path.
type OverheadRun struct {
	Mode          string  `json:"mode"` // "pbxbridge" or "dialplan"
	Calls         int     `json:"calls"`
	OK            int     `json:"calls_ok"`
	AsteriskCPU   float64 `json:"asterisk_cpu_ms_per_call"`
	BridgeCPU     float64 `json:"pbxbridge_cpu_ms_per_call"`
	TotalCPU      float64 `json:"total_cpu_ms_per_call"`
	SetupP50      float64 `json:"setup_p50_ms"` // INVITE → 200 OK, from SIPp's rtd
	SetupP99      float64 `json:"setup_p99_ms"`
	ActionP50     float64 `json:"action_after_recording_p50_ms"` // RecordingFinished → action request
	ActionP99     float64 `json:"action_after_recording_p99_ms"`
	ActionSamples int     `json:"action_samples"`
	// The action latency split at pbxbridge's "recording finished" log line (ms resolution),
	// written once it has fetched the file: Asterisk's RecordingFinished → pbxbridge has the
	// file (Seen: the event, the snoop's hang-up, GET …/file, DELETE), then → the action
	// request reaches the application (Store: storing the file and metadata, the request).
	SeenP50  float64 `json:"recording_end_to_file_p50_ms"`
	SeenP99  float64 `json:"recording_end_to_file_p99_ms"`
	StoreP50 float64 `json:"file_to_action_p50_ms"`
	StoreP99 float64 `json:"file_to_action_p99_ms"`
	Seconds  float64 `json:"seconds"`
	Error    string  `json:"error,omitempty"` // SIPp's failure, when some calls failed
}

// Overhead pairs the two paths at one N.
type Overhead struct {
	N        int         `json:"n"`
	Bridge   OverheadRun `json:"pbxbridge"`
	Dialplan OverheadRun `json:"dialplan"`
	// CPURatio is (Asterisk + pbxbridge) per call over Asterisk alone per call.
	CPURatio float64 `json:"cpu_ratio"`
}

type asteriskEnv struct {
	dir      string // integration/asterisk
	pid      int
	ariURL   string
	user     string
	password string
	version  string
}

func findAsterisk(ctx context.Context, dir string) (*asteriskEnv, error) {
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "run.sh"), "env").Output()
	if err != nil {
		return nil, fmt.Errorf("%s/run.sh env: %w", dir, err)
	}
	env := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			env[strings.TrimPrefix(k, "export ")] = strings.Trim(v, `'"`)
		}
	}
	a := &asteriskEnv{dir: dir, user: env["PBX_ARI_USER"], password: env["PBX_ARI_PASSWORD"]}
	run := env["PBX_ASTERISK_RUN"]
	if run == "" {
		run = "/var/cache/pbxbridge/asterisk-run"
	}
	b, err := os.ReadFile(filepath.Join(run, "asterisk.pid"))
	if err != nil {
		return nil, fmt.Errorf("asterisk is not running (make asterisk): %w", err)
	}
	if a.pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
		return nil, fmt.Errorf("asterisk pid file: %w", err)
	}
	port := env["PBX_ARI_PORT"]
	if port == "" {
		port = "8088"
	}
	a.ariURL = "http://127.0.0.1:" + port + "/ari"
	if a.user == "" {
		a.user = "pbxbridge"
	}
	if a.password == "" {
		a.password = "pbxbridge-test"
	}
	if v, err := exec.CommandContext(ctx, filepath.Join(dir, "run.sh"), "cli", "core show version").Output(); err == nil {
		a.version = strings.TrimSpace(string(v))
	}
	return a, nil
}

// observer is a second ARI application subscribed to everything: it sees the
// RecordingFinished events of pbxbridge's recordings, whose timestamp is the end of the
// recording as Asterisk saw it.
type observer struct {
	ws       *websocket.Conn
	mu       sync.Mutex
	finished map[string]time.Time // recording name → RecordingFinished timestamp
}

func observe(a *asteriskEnv) (*observer, error) {
	u := strings.Replace(a.ariURL, "http://", "ws://", 1) + "/events?app=pbxbench-observer&subscribeAll=true"
	cfg, err := websocket.NewConfig(u, "http://127.0.0.1/")
	if err != nil {
		return nil, err
	}
	cfg.Header.Set("Authorization", "Basic "+basicAuth(a.user, a.password))
	ws, err := websocket.DialConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("observer websocket: %w", err)
	}
	o := &observer{ws: ws, finished: map[string]time.Time{}}
	go func() {
		for {
			var data []byte
			if err := websocket.Message.Receive(ws, &data); err != nil {
				return
			}
			var ev struct {
				Type      string `json:"type"`
				Timestamp string `json:"timestamp"`
				Recording struct {
					Name string `json:"name"`
				} `json:"recording"`
			}
			if json.Unmarshal(data, &ev) != nil || ev.Type != "RecordingFinished" {
				continue
			}
			t, err := time.Parse("2006-01-02T15:04:05.000-0700", ev.Timestamp)
			if err != nil {
				continue
			}
			o.mu.Lock()
			o.finished[ev.Recording.Name] = t
			o.mu.Unlock()
		}
	}()
	return o, nil
}

func (o *observer) close() { _ = o.ws.Close() }

func (o *observer) snapshot() map[string]time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := make(map[string]time.Time, len(o.finished))
	for k, v := range o.finished {
		m[k] = v
	}
	return m
}

func runOverhead(ctx context.Context, bin string, a *asteriskEnv, ns []int, cpuProfile string, logf func(string, ...any)) ([]Overhead, error) {
	dir, err := os.MkdirTemp("", "pbxbench-pbx-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if os.Getenv("PBXBENCH_KEEP") == "" {
			os.RemoveAll(dir)
		} else {
			logf("kept %s", dir)
		}
	}()
	app, err := apptest.Start()
	if err != nil {
		return nil, err
	}
	defer app.Close()
	app.Document("/record", fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Record action="/after" playBeep="false" maxLength="%d" timeout="60" fileFormat="wav" trim="do-not-trim"/>
</Response>`, recSeconds))
	app.Document("/after", `<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>`)
	cfg := fmt.Sprintf(`asterisk:
  - url: %s
    username: %s
    password: %s
apps:
  - name: bench-record
    dialect: flexml
    url: %s/record
    numbers: ["%s"]
`, a.ariURL, a.user, a.password, app.URL, recNumber)
	// Info level: the log names each call's Asterisk recording, which links the observer's
	// RecordingFinished to the application's action request (CallSid).
	// Profiled throughout (a 100 Hz sampler): the profile is what a missed target is read with.
	b, err := startBridge(ctx, bin, dir, cmp.Or(os.Getenv("PBXBENCH_LOG_LEVEL"), "info"), cfg,
		"PBXBRIDGE_CPUPROFILE="+cpuProfile)
	if err != nil {
		return nil, err
	}
	defer b.stop()
	obs, err := observe(a)
	if err != nil {
		return nil, err
	}
	defer obs.close()

	// Idle CPU (timers, pbxbridge's health pings), measured once over a quiet 3 s (CPU times
	// count in 10 ms ticks), is taken off each batch.
	time.Sleep(time.Second)
	astIdle, brIdle := idleRate(a.pid, b.pid(), 3*time.Second)
	var res []Overhead
	for _, n := range ns {
		var o Overhead
		o.N = n
		o.Dialplan, err = overheadRun(ctx, a, 0, "", "record-baseline", n, dir, nil, nil, astIdle, 0)
		if err != nil {
			return res, err
		}
		logf("overhead: %d calls, dialplan: %d ok, Asterisk %.1f ms CPU/call, setup p50 %.1f p99 %.1f ms",
			n, o.Dialplan.OK, o.Dialplan.AsteriskCPU, o.Dialplan.SetupP50, o.Dialplan.SetupP99)
		o.Bridge, err = overheadRun(ctx, a, b.pid(), b.log, recNumber, n, dir, app, obs, astIdle, brIdle)
		if err != nil {
			return res, err
		}
		if o.Dialplan.AsteriskCPU > 0 {
			o.CPURatio = o.Bridge.TotalCPU / o.Dialplan.TotalCPU
		}
		logf("overhead: %d calls, pbxbridge: %d ok, Asterisk %.1f + pbxbridge %.1f ms CPU/call (×%.2f), setup p50 %.1f p99 %.1f ms, action after recording p50 %.1f p99 %.1f ms (%d)",
			n, o.Bridge.OK, o.Bridge.AsteriskCPU, o.Bridge.BridgeCPU, o.CPURatio, o.Bridge.SetupP50, o.Bridge.SetupP99,
			o.Bridge.ActionP50, o.Bridge.ActionP99, o.Bridge.ActionSamples)
		res = append(res, o)
	}
	return res, nil
}

// overheadRun places n concurrent calls to service with SIPp (7 s of G.711 speech each;
// the far end hangs up) and measures CPU of Asterisk (and pbxbridge when bridgePID > 0).
func overheadRun(ctx context.Context, a *asteriskEnv, bridgePID int, logPath, service string, n int, dir string,
	app *apptest.App, obs *observer, astIdle, brIdle float64) (OverheadRun, error) {
	r := OverheadRun{Mode: "dialplan", Calls: n}
	if bridgePID > 0 {
		r.Mode = "pbxbridge"
	}
	work, err := os.MkdirTemp(dir, "sipp-")
	if err != nil {
		return r, err
	}
	scen := filepath.Join(work, "uac.xml")
	src, err := os.ReadFile(filepath.Join(a.dir, "sipp", "uac_pcap_remote_bye.xml"))
	if err != nil {
		return r, err
	}
	if err := os.WriteFile(scen, src, 0o644); err != nil {
		return r, err
	}
	var before int
	if app != nil {
		before = len(app.Requests())
	}
	ast0, _ := cpuSeconds(a.pid)
	var br0 float64
	if bridgePID > 0 {
		br0, _ = cpuSeconds(bridgePID)
	}
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, "sipp", "-sf", scen, "-s", service,
		"-i", "127.0.0.1", "-p", "5070", "-mi", "127.0.0.1", "-mp", "16000",
		"-m", strconv.Itoa(n), "-l", strconv.Itoa(n), "-r", strconv.Itoa(n), "-rp", "1000",
		"-timeout", "90", "-timeout_error", "-nostdin", "-trace_rtt", "-rtt_freq", "1",
		"-trace_err", "127.0.0.1:5060")
	cmd.Dir = work
	out, err := cmd.CombinedOutput()
	r.Seconds = time.Since(t0).Seconds()
	if err != nil {
		// A failed call is reported, not fatal: the batch's figures cover the calls that worked.
		errs, _ := filepath.Glob(filepath.Join(work, "*_errors.log"))
		var e []byte
		if len(errs) > 0 {
			e, _ = os.ReadFile(errs[0])
		}
		r.Error = fmt.Sprintf("sipp: %v: %s", err, strings.TrimSpace(apptest.Tail(string(e), 3)))
		_ = out
	}
	// Let the last action requests and hang-ups settle before reading CPU.
	time.Sleep(500 * time.Millisecond)
	ast1, _ := cpuSeconds(a.pid)
	wall := time.Since(t0).Seconds()
	r.AsteriskCPU = max(0, ast1-ast0-astIdle*wall) * 1000 / float64(n)
	if bridgePID > 0 {
		br1, _ := cpuSeconds(bridgePID)
		r.BridgeCPU = max(0, br1-br0-brIdle*wall) * 1000 / float64(n)
	}
	r.TotalCPU = r.AsteriskCPU + r.BridgeCPU
	setups, err := readRTT(work)
	if err != nil && r.Error == "" {
		return r, err
	}
	r.OK = len(setups) // one rtd per call that was answered
	r.SetupP50, r.SetupP99 = percentile(setups, 50), percentile(setups, 99)
	if app != nil && obs != nil {
		fin := obs.snapshot()
		recs, seen := recordingsByCall(logPath)
		var lat, toBridge, toApp []time.Duration
		for _, q := range app.Requests()[before:] {
			if q.Path != "/after" {
				continue
			}
			name := recs[q.Get("CallSid")]
			if t, ok := fin[name]; ok {
				lat = append(lat, q.At.Sub(t))
				if b, ok := seen[name]; ok {
					toBridge = append(toBridge, b.Sub(t))
					toApp = append(toApp, q.At.Sub(b))
				}
			}
		}
		r.ActionSamples = len(lat)
		r.ActionP50, r.ActionP99 = percentile(lat, 50), percentile(lat, 99)
		r.SeenP50, r.SeenP99 = percentile(toBridge, 50), percentile(toBridge, 99)
		r.StoreP50, r.StoreP99 = percentile(toApp, 50), percentile(toApp, 99)
	}
	return r, nil
}

// readRTT reads SIPp's -trace_rtt file: "date_ms;response_time_ms;rtd_no" per call.
func readRTT(dir string) ([]time.Duration, error) {
	m, _ := filepath.Glob(filepath.Join(dir, "*_rtt.csv"))
	if len(m) == 0 {
		return nil, fmt.Errorf("sipp wrote no rtt file in %s", dir)
	}
	b, err := os.ReadFile(m[0])
	if err != nil {
		return nil, err
	}
	var ds []time.Duration
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ";")
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(f[1]), 64)
		if err != nil {
			continue // header
		}
		ds = append(ds, time.Duration(v*float64(time.Millisecond)))
	}
	return ds, nil
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// recordingsByCall reads pbxbridge's info log: "call started" links a channel to its call_id
// (the CallSid of the requests), "recording" links a recording name to its channel, and
// "recording finished" says when pbxbridge had the recording's file.
func recordingsByCall(logPath string) (map[string]string, map[string]time.Time) {
	b, _ := os.ReadFile(logPath)
	callOf := map[string]string{}  // channel → call_id
	recOf := map[string]string{}   // call_id → recording
	seen := map[string]time.Time{} // recording → "recording finished"
	for _, l := range strings.Split(string(b), "\n") {
		kv := logFields(l)
		switch kv["msg"] {
		case "call started":
			callOf[kv["channel"]] = kv["call_id"]
		case "recording":
			if c := callOf[kv["channel_id"]]; c != "" {
				recOf[c] = kv["recording"]
			}
		case "recording finished":
			if t, err := time.Parse(time.RFC3339Nano, kv["time"]); err == nil {
				seen[kv["recording"]] = t
			}
		}
	}
	return recOf, seen
}

// logFields splits a slog text line into its key=value pairs (quoted values unquoted).
func logFields(l string) map[string]string {
	m := map[string]string{}
	for l != "" {
		k, rest, ok := strings.Cut(l, "=")
		if !ok {
			break
		}
		k = strings.TrimSpace(k)
		var v string
		if strings.HasPrefix(rest, `"`) {
			if q, err := strconv.QuotedPrefix(rest); err == nil {
				v, _ = strconv.Unquote(q)
				rest = rest[len(q):]
			}
		} else {
			v, rest, _ = strings.Cut(rest, " ")
		}
		m[k] = v
		l = strings.TrimLeft(rest, " ")
	}
	return m
}

// idleRate is the CPU seconds per second Asterisk and pbxbridge (pid 0: none) use with no call.
func idleRate(astPID, brPID int, d time.Duration) (ast, br float64) {
	a0, _ := cpuSeconds(astPID)
	var b0 float64
	if brPID > 0 {
		b0, _ = cpuSeconds(brPID)
	}
	time.Sleep(d)
	a1, _ := cpuSeconds(astPID)
	ast = (a1 - a0) / d.Seconds()
	if brPID > 0 {
		b1, _ := cpuSeconds(brPID)
		br = (b1 - b0) / d.Seconds()
	}
	return ast, br
}
