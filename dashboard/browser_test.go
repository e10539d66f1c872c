package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pbxbridge/pbxbridge/integration/apptest"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
	"github.com/pbxbridge/pbxbridge/integration/itest"
)

// The browser test drives the dashboard of a real `pbxbridge serve` (the binary, with its
// embedded store) in Debian's headless Chromium through chromedp. Its data come through the
// real paths: calls from the FreeSWITCH simulator (integration/eslsim) into the engine, a
// recording it stores, a callback that a real loopback application refuses until it is a
// dead letter, then replayed from the dashboard and delivered, and shown with its answers
// under the recording and on the call's page.
//
// It runs in `go test ./dashboard` when chromium is installed (scripts/deps.sh installs it)
// and skips without it, unless PBXBRIDGE_INTEGRATION=1, which makes a missing chromium a
// failure. PBXBRIDGE_BIN names the binary under test (else it is built).
// PBXBRIDGE_SCREENSHOTS names a directory to keep the screenshots in (else a temporary one).

const browserToken = "dashboard-browser-test-token-0123456789"

// chromiumPath finds Debian's chromium, or skips (fails under PBXBRIDGE_INTEGRATION=1).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("PBXBRIDGE_INTEGRATION") == "1" {
		t.Fatal("chromium is not installed: run scripts/deps.sh (as root)")
	}
	t.Skip("chromium is not installed (scripts/deps.sh installs it); PBXBRIDGE_INTEGRATION=1 makes this a failure")
	return ""
}

// binary is PBXBRIDGE_BIN, or pbxbridge built into a temporary directory.
func binary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("PBXBRIDGE_BIN"); b != "" {
		if _, err := os.Stat(b); err != nil {
			t.Fatalf("PBXBRIDGE_BIN: %v", err)
		}
		return b
	}
	b := filepath.Join(t.TempDir(), "pbxbridge")
	if out, err := exec.Command("go", "build", "-o", b, "github.com/pbxbridge/pbxbridge/cmd/pbxbridge").CombinedOutput(); err != nil {
		t.Fatalf("building pbxbridge: %v\n%s", err, out)
	}
	return b
}

// app is the Plivo application: the caller +15550001 records (its callbackUrl answers 500
// until accept is set), anyone else waits on the line.
type app struct {
	srv    *httptest.Server
	mu     sync.Mutex
	accept bool
	hits   map[string][]http.Header // path -> headers of each request
	seen   chan string              // paths, as they arrive
}

func newApp(t *testing.T) *app {
	a := &app{hits: map[string][]http.Header{}, seen: make(chan string, 100)}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *app) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	a.mu.Lock()
	a.hits[r.URL.Path] = append(a.hits[r.URL.Path], r.Header.Clone())
	accept := a.accept
	a.mu.Unlock()
	select {
	case a.seen <- r.URL.Path:
	default:
	}
	w.Header().Set("Content-Type", "application/xml")
	switch r.URL.Path {
	case "/answer":
		if strings.HasSuffix(r.Form.Get("From"), "5550001") { // Plivo sends numbers without the +
			fmt.Fprintf(w, `<Response><Record action="%[1]s/after" redirect="false" callbackUrl="%[1]s/cb#rc=0" `+
				`fileFormat="wav" maxLength="3" playBeep="false"/><Hangup/></Response>`, a.srv.URL)
			return
		}
		fmt.Fprint(w, `<Response><Wait length="600"/></Response>`)
	case "/cb":
		if !accept {
			http.Error(w, "the application is down", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	default:
		fmt.Fprint(w, "<Response/>")
	}
}

func (a *app) headers(path string) []http.Header {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]http.Header(nil), a.hits[path]...)
}

// pbxbridge starts the binary with the embedded store, one FreeSWITCH listener and the app,
// and waits until /readyz answers 200. It returns the HTTP base URL and the ESL address.
func startPBXBridge(t *testing.T, appURL string) (base, fsAddr string) {
	t.Helper()
	bin := binary(t)
	dir := t.TempDir()
	port, err := apptest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	fsPort, err := apptest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	base = fmt.Sprintf("http://127.0.0.1:%d", port)
	fsAddr = fmt.Sprintf("127.0.0.1:%d", fsPort)
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
public_url: %s
data_dir: %s
api_token: %s
freeswitch:
  - listen: %s
apps:
  - name: voicemail
    dialect: plivo
    auth_token: plivo-auth-token-for-the-test
    url: %s/answer
    status_url: %s/status
    numbers: ["+15550100"]
`, port, base, filepath.Join(dir, "data"), browserToken, fsAddr, appURL, appURL)
	cfgPath := filepath.Join(dir, "pbxbridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "pbxbridge.log")
	itest.Serve(t, bin, cfgPath, logPath)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("pbxbridge log:\n%s", b)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return base, fsAddr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pbxbridge not ready after 30 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// apiGet is a GET with the API token, decoded as JSON when v is not nil; it returns the body.
func apiGet(t *testing.T, url string, v any) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+browserToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v: %s", url, err, b)
		}
	}
	return string(b)
}

// waitFor polls cond every 100 ms until it holds or ctx ends.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type deadList struct {
	Items []struct {
		ID, Kind, URL string
	} `json:"items"`
}

func TestDashboardInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	a := newApp(t)
	base, fsAddr := startPBXBridge(t, a.srv.URL)
	sim := eslsim.New(eslsim.Options{})
	t.Cleanup(sim.Close)

	// A recorded call: 3 s of the caller's tone, whose callbackUrl the app refuses once
	// (rc=0: no retry), so that it becomes a dead letter.
	rec, err := sim.Call(fsAddr, eslsim.Script{From: "+15550001", To: "+15550100",
		Audio: append(eslsim.Tone(8*time.Second, 3000), eslsim.Silence(10*time.Second)...)})
	if err != nil {
		t.Fatal(err)
	}
	var dead deadList
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	waitFor(wctx, t, "the refused callback to become a dead letter", func() bool {
		apiGet(t, base+"/v1/outbox/dead", &dead)
		return len(dead.Items) == 1
	})
	deadID := dead.Items[0].ID
	if !strings.HasSuffix(dead.Items[0].URL, "/cb") {
		t.Fatalf("dead letter %+v, want the callbackUrl", dead.Items[0])
	}
	select {
	case <-rec.Done():
	case <-ctx.Done():
		t.Fatal("the recorded call did not end")
	}

	// A live call, waiting on the line while the browser looks.
	live, err := sim.Call(fsAddr, eslsim.Script{From: "+15550002", To: "+15550100", Audio: eslsim.Silence(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.DropSocket() })
	waitFor(wctx, t, "the live call to reach its Wait", func() bool {
		req, _ := http.NewRequest(http.MethodGet, base+"/dashboard/calls?refresh=0", nil)
		req.Header.Set("Authorization", "Bearer "+browserToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return strings.Contains(string(b), `<span class="pill">Wait</span>`)
	})

	shots := os.Getenv("PBXBRIDGE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(profileDir(t)),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer bcancel()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	location := func() string {
		t.Helper()
		l, err := chromedp.Run(bctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	shoot := func(name string) {
		t.Helper()
		b, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		p := filepath.Join(shots, name+".png")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		checkScreenshot(t, p, b)
	}

	// Signed out, the dashboard sends the browser to its login form; a wrong token is refused.
	do("open the calls page", chromedp.Navigate(base+"/dashboard/calls?refresh=0"))
	if l := location(); !strings.HasPrefix(l, base+"/dashboard/login?next=") {
		t.Fatalf("signed out, the calls page went to %s, want the login form", l)
	}
	shoot("login")
	do("type a wrong token", chromedp.SendKeys(chromedp.ID("token"), "not-the-token"))
	res, err := chromedp.RunResponse(bctx, chromedp.Click(chromedp.ID("signin")))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusUnauthorized || text("#error") != "Wrong token." {
		t.Fatalf("wrong token: status %d, error %q", res.Status, text("#error"))
	}
	do("type the token", chromedp.SendKeys(chromedp.ID("token"), browserToken))
	if res, err = chromedp.RunResponse(bctx, chromedp.Click(chromedp.ID("signin"))); err != nil {
		t.Fatal(err)
	}
	if l := location(); res.Status != http.StatusOK || l != base+"/dashboard/calls?refresh=0" {
		t.Fatalf("after signing in: status %d at %s, want the calls page", res.Status, l)
	}
	// The session cookie is HttpOnly: the page's script cannot read it.
	if c, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.cookie`)); err != nil || c != "" {
		t.Errorf("document.cookie = %q (%v), want nothing: the session cookie must be HttpOnly", c, err)
	}

	// Calls: the live call, on its Wait.
	if n := text("#call-count"); n != "1" {
		t.Errorf("live calls shown: %s, want 1", n)
	}
	if v := text("tr.call td.verb"); !strings.Contains(v, "Wait") {
		t.Errorf("current verb %q, want Wait", v)
	}
	if row := text("tr.call"); !strings.Contains(row, "+15550002 → +15550100") || !strings.Contains(row, "voicemail") ||
		!strings.Contains(row, "freeswitch") {
		t.Errorf("call row %q: want the numbers, the app and the PBX", row)
	}
	shoot("calls")

	// Recordings: the one recording, playable, with its dead callback.
	do("open the recordings page", chromedp.Navigate(base+"/dashboard/recordings"))
	if n := text("#recording-count"); n != "1" {
		t.Fatalf("recordings shown: %s, want 1", n)
	}
	dur, err := chromedp.Run(bctx, chromedp.Evaluate[float64](`new Promise((resolve) => {
		const a = document.querySelector("section.recording audio");
		const done = () => resolve(a.error ? -a.error.code : a.duration);
		if (a.readyState >= 1 || a.error) { done(); return; }
		a.addEventListener("loadedmetadata", done);
		a.addEventListener("error", done);
		a.load();
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("audio element: %v", err)
	}
	if math.Abs(dur-3) > 1 {
		t.Errorf("the player's audio lasts %.2f s, want about 3 (negative: a MediaError code)", dur)
	}
	if cb := text("section.recording table.dead"); !strings.Contains(cb, "/cb") || !strings.Contains(cb, "callback") {
		t.Errorf("recording's callbacks %q: want the dead callbackUrl", cb)
	}
	// The journal: the refused callback's attempt with its 500, and the action delivered.
	if cb := text(`section.recording tr.exchange.this[data-kind="callback"][data-status="500"]`); !strings.Contains(cb, "/cb") ||
		!strings.Contains(cb, "HTTP 500") {
		t.Errorf("refused callback row %q: want /cb and its HTTP 500", cb)
	}
	if act := text(`section.recording tr.exchange.this[data-kind="action"][data-status="200"]`); !strings.Contains(act, "/after") {
		t.Errorf("action row %q: want /after answered 200", act)
	}
	shoot("recordings")

	// Outbox: the dead letter; Replay delivers it to the app, which now accepts it.
	do("open the outbox page", chromedp.Navigate(base+"/dashboard/outbox"))
	if n := text("#dead-count"); n != "1" {
		t.Fatalf("dead letters shown: %s, want 1", n)
	}
	if id, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS("tr.deadletter"), "data-id")); err != nil || id.Value != deadID {
		t.Fatalf("dead letter row %v (%v), want %s", id, err, deadID)
	}
	shoot("outbox-dead")
	before := len(a.headers("/cb"))
	a.mu.Lock()
	a.accept = true
	a.mu.Unlock()
	if res, err = chromedp.RunResponse(bctx, chromedp.Click(chromedp.CSS("tr.deadletter button.replay"))); err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusOK || !strings.Contains(text("#flash"), "Replayed "+deadID) {
		t.Fatalf("after Replay: status %d, flash %q", res.Status, text("#flash"))
	}
	waitFor(ctx, t, "the replayed callback to reach the app", func() bool {
		hs := a.headers("/cb")
		return len(hs) > before && hs[len(hs)-1].Get("X-Pbxbridge-Event-Id") == deadID
	})
	waitFor(ctx, t, "no dead letter left", func() bool {
		apiGet(t, base+"/v1/outbox/dead", &dead)
		return len(dead.Items) == 0
	})
	do("reload the outbox page", chromedp.Navigate(base+"/dashboard/outbox"), chromedp.WaitVisible(chromedp.ID("no-dead")))
	shoot("outbox-replayed")

	// Recordings again: the delivered callback is no longer in the outbox, but the journal
	// shows it under the recording with both answers, the refusal and the 200.
	delivered := `section.recording tr.exchange.this[data-kind="callback"][data-status="200"]`
	waitFor(ctx, t, "the delivery's answer in the journal", func() bool {
		return strings.Contains(apiGet(t, base+"/dashboard/recordings", nil), `data-kind="callback" data-status="200"`)
	})
	do("open the recordings page after the replay", chromedp.Navigate(base+"/dashboard/recordings"),
		chromedp.WaitVisible(chromedp.CSS(delivered)))
	cb := text(delivered)
	if !strings.Contains(cb, "/cb") || !strings.Contains(cb, "HTTP 200") || !strings.Contains(cb, "HTTP 500") ||
		!strings.Contains(cb, deadID) {
		t.Errorf("delivered callback row %q: want /cb, its event id, the HTTP 500 and the HTTP 200", cb)
	}
	if n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("section.recording table.dead").length`)); err != nil || n != 0 {
		t.Errorf("dead letter tables after the replay: %d (%v), want none", n, err)
	}
	if s := text("p.summary"); !strings.Contains(s, "sent by this instance") {
		t.Errorf("recordings summary %q: want it to say the callbacks are this instance's", s)
	}
	shoot("recordings-delivered")

	// The call's page: its whole trace, from the call link of the recording.
	if res, err = chromedp.RunResponse(bctx, chromedp.Click(chromedp.CSS(`section.recording dd a[href^="/dashboard/calls/"]`))); err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusOK {
		t.Fatalf("call page: status %d", res.Status)
	}
	tr := text("#trace")
	for _, want := range []string{"call started", "document (answer)", "Record", "recording", "stored", "/cb", "HTTP 200", "call ended"} {
		if !strings.Contains(tr, want) {
			t.Errorf("call trace lacks %q:\n%s", want, tr)
		}
	}
	shoot("call")

	// Health: the store and the FreeSWITCH listener.
	do("open the health page", chromedp.Navigate(base+"/dashboard/health?refresh=0"))
	for _, name := range []string{"store", "pbx freeswitch"} {
		if cls, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS(`tr[data-check="`+name+`"]`), "class")); err != nil ||
			!strings.Contains(cls.Value, "good") {
			t.Errorf("health check %q: class %v (%v), want good", name, cls, err)
		}
	}
	shoot("health")

	// Sign out: the next page asks to sign in again.
	do("sign out", chromedp.Click(chromedp.CSS("form.logout button")), chromedp.WaitVisible(chromedp.ID("token")))
	do("open the outbox page signed out", chromedp.Navigate(base+"/dashboard/outbox"))
	if l := location(); !strings.HasPrefix(l, base+"/dashboard/login") {
		t.Errorf("after signing out the outbox page went to %s", l)
	}
	t.Logf("screenshots in %s", shots)
}

// profileDir is Chromium's profile directory. Not t.TempDir: Chromium's helper processes may
// still write in it for a moment after the browser exits, and t.TempDir's cleanup would fail
// the test on "directory not empty".
func profileDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "pbxbridge-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 50 {
			if os.RemoveAll(dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return dir
}

// checkScreenshot decodes a PNG and checks that it is a rendered page, not a blank or broken
// one: a sensible size, many colours (text is anti-aliased), contrast, and the stylesheet's
// dark header bar across the top.
func checkScreenshot(t *testing.T, path string, b []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Errorf("%s: not a PNG: %v", path, err)
		return
	}
	r := img.Bounds()
	if r.Dx() < 1000 || r.Dy() < 400 {
		t.Errorf("%s: %dx%d, want at least 1000x400", path, r.Dx(), r.Dy())
	}
	colours := map[color.RGBA]bool{}
	var sum, sq float64
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			colours[c] = true
			l := 0.2126*float64(c.R) + 0.7152*float64(c.G) + 0.0722*float64(c.B)
			sum += l
			sq += l * l
			n++
		}
	}
	mean := sum / float64(n)
	sd := math.Sqrt(sq/float64(n) - mean*mean)
	if len(colours) < 64 || sd < 12 {
		t.Errorf("%s looks blank: %d colours, luminance standard deviation %.1f", path, len(colours), sd)
	}
	// The header bar (#1d2430) spans the top of every page: the stylesheet loaded.
	header := color.RGBA{0x1d, 0x24, 0x30, 0xff}
	for _, p := range []image.Point{{r.Min.X + 3, r.Min.Y + 3}, {r.Max.X - 4, r.Min.Y + 40}} {
		if c := color.RGBAModel.Convert(img.At(p.X, p.Y)).(color.RGBA); !near(c, header) {
			t.Errorf("%s: pixel %v is %v, want the header's %v (stylesheet not applied?)", path, p, c, header)
		}
	}
	t.Logf("%s: %dx%d, %d colours, luminance sd %.1f", path, r.Dx(), r.Dy(), len(colours), sd)
}

func near(a, b color.RGBA) bool {
	d := func(x, y uint8) int {
		if x > y {
			return int(x - y)
		}
		return int(y - x)
	}
	return d(a.R, b.R) <= 6 && d(a.G, b.G) <= 6 && d(a.B, b.B) <= 6
}
