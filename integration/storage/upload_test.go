package storage

import (
	"context"
	"fmt"
	"github.com/pbxbridge/pbxbridge/integration/itest"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/pbxbridge/pbxbridge/blob/blobtest"
	"github.com/pbxbridge/pbxbridge/integration/apptest"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
)

const (
	number    = "15550601000"
	accessKey = "AKIAINTEGRATIONTEST"
	secretKey = "integration-S3-secret-do-not-leak-5d2a"
)

// gate holds the S3 server's object uploads while closed: the test sees an upload in flight
// and kills pbxbridge under it.
type gate struct {
	next http.Handler

	mu      sync.Mutex
	closed  bool
	release chan struct{}
	held    int // uploads that reached the gate
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut {
		g.mu.Lock()
		closed, release := g.closed, g.release
		if closed {
			g.held++
		}
		g.mu.Unlock()
		if closed {
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-release:
			case <-r.Context().Done():
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
	}
	g.next.ServeHTTP(w, r)
}

func (g *gate) heldCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held
}

func (g *gate) open() {
	g.mu.Lock()
	if g.closed {
		g.closed = false
		close(g.release)
	}
	g.mu.Unlock()
}

type instance struct {
	config, log string
	base        string // its HTTP API, http://127.0.0.1:<port>
	proc        *itest.Process
}

func (in *instance) start(t *testing.T) { t.Helper(); in.proc = itest.Serve(t, bin, in.config, in.log) }

func (in *instance) kill(t *testing.T) { t.Helper(); in.proc.Kill(t) }

// TestUploadSurvivesKill: a recording bound for S3 by the Record's attributes is being
// uploaded when pbxbridge is killed with -9; after the restart the upload job is claimed
// again, the object arrives, and callbackUrl and the status callback are sent with
// RecordingUrl at the object. The secret key is in no log line, callback or store file.
func TestUploadSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	recordDir := filepath.Join(dir, "recordings")
	if err := os.MkdirAll(recordDir, 0o770); err != nil {
		t.Fatal(err)
	}
	be := s3mem.New()
	if err := be.CreateBucket("recs"); err != nil {
		t.Fatal(err)
	}
	g := &gate{next: blobtest.S3Auth(gofakes3.New(be).Server(), accessKey, secretKey, "us-east-1"), closed: true, release: make(chan struct{})}
	s3srv := httptest.NewServer(g)
	t.Cleanup(s3srv.Close)
	t.Cleanup(g.open)

	sim := eslsim.New(eslsim.Options{})
	t.Cleanup(sim.Close)
	inbound, err := sim.ListenInbound("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app, err := apptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	app.Document("/doc", `<Response><Record awsAccessKey="`+accessKey+`" awsSecretKey="`+secretKey+`" awsBucketName="recs"`+
		` callbackUrl="`+app.URL+`/cb" recordingStatusCallback="`+app.URL+`/rs" recordingStatusCallbackEvent="completed,failed,absent"`+
		` finishOnKey="#" maxLength="60" timeout="30" trim="do-not-trim"/><Hangup/></Response>`)
	app.Status("/cb", http.StatusOK)
	app.Status("/rs", http.StatusOK)
	app.Status("/status", http.StatusOK)

	in, eslAddr, dataDir := startBridge(t, dir, recordDir, inbound, app.URL, s3srv.URL)

	ch := dial(t, sim, eslAddr, eslsim.Script{From: "15550100001", To: number,
		Audio: append(eslsim.Tone(time.Second, 3000), eslsim.Silence(30*time.Second)...),
		DTMF:  []eslsim.DTMF{{At: 1200 * time.Millisecond, Digit: '#'}}})
	select {
	case <-ch.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the call did not end")
	}
	waitFor(t, 20*time.Second, "the upload in flight", func() bool { return g.heldCount() > 0 })
	for _, r := range app.Requests() {
		if r.Path == "/cb" || r.Path == "/rs" {
			t.Fatalf("%s sent before the upload was confirmed", r.Path)
		}
	}
	// The call's hangup callback, queued at the hangup, is delivered and acknowledged before
	// the kill: a worker killed while it holds that entry's lease (2 min) holds back the call's
	// later callbacks, the upload's among them, until the lease ends (a loaded machine killed
	// it mid-claim, or after the send but before the Ack, and no callback came in 30 s). What
	// this test kills mid-flight is the upload.
	hctx, hcancel := context.WithTimeout(t.Context(), 20*time.Second)
	_, err = app.WaitPath(hctx, "/status")
	hcancel()
	if err != nil {
		t.Fatalf("the hangup callback before the kill: %v", err)
	}
	waitFor(t, 20*time.Second, "the hangup callback acknowledged (outbox empty)", func() bool {
		resp, err := http.Get(in.base + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK && strings.Contains(string(b), "\npbxbridge_outbox_depth 0\n")
	})
	killed := time.Now()
	in.kill(t)
	g.open()
	in.start(t)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cb, err := app.WaitPath(ctx, "/cb")
	if err != nil {
		t.Fatalf("callbackUrl after the restart: %v", err)
	}
	rs, err := app.WaitPath(ctx, "/rs")
	if err != nil {
		t.Fatalf("status callback after the restart: %v", err)
	}
	t.Logf("upload confirmed and callbacks sent %v after kill -9 mid-upload (lease 3s)", time.Since(killed).Round(time.Millisecond))
	url := cb.Get("RecordingUrl")
	key, ok := strings.CutPrefix(url, s3srv.URL+"/recs/")
	if !ok {
		t.Fatalf("RecordingUrl %q is not the object in %s/recs", url, s3srv.URL)
	}
	obj, err := be.HeadObject("recs", key)
	if err != nil || obj.Size < 1000 {
		t.Fatalf("object %s: %+v, %v", key, obj, err)
	}
	if got := rs.Get("RecordingStatus"); got != "completed" {
		t.Errorf("status callback RecordingStatus %q, want completed", got)
	}
	if rs.Get("RecordingUrl") != url {
		t.Errorf("status callback RecordingUrl %q, want %q", rs.Get("RecordingUrl"), url)
	}

	// The local copy goes once the upload is confirmed.
	waitFor(t, 10*time.Second, "the local copy removed", func() bool {
		ents, _ := os.ReadDir(filepath.Join(dataDir, "containers", "default"))
		return len(ents) == 0
	})

	// The secret key is nowhere: logs, callbacks (and the documents' fetch params), store.
	in.kill(t)
	logs, _ := os.ReadFile(in.log)
	if strings.Contains(string(logs), secretKey) {
		t.Error("the log holds the secret key")
	}
	for _, r := range app.Requests() {
		if strings.Contains(r.Format(), secretKey) {
			t.Errorf("request %s holds the secret key", r.Path)
		}
	}
	_ = filepath.Walk(dataDir, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() && !strings.Contains(p, string(filepath.Separator)+"containers"+string(filepath.Separator)) {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), secretKey) {
				t.Errorf("store file %s holds the secret key", p)
			}
		}
		return nil
	})
}

// startBridge writes the configuration and starts pbxbridge; it returns the instance, its
// event-socket address and its data directory.
func startBridge(t *testing.T, dir, recordDir, inbound, appURL, s3URL string) (*instance, string, string) {
	t.Helper()
	httpPort, err := apptest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	eslPort, err := apptest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	eslAddr := fmt.Sprintf("127.0.0.1:%d", eslPort)
	dataDir := filepath.Join(dir, "data")
	in := &instance{config: filepath.Join(dir, "pbxbridge.yaml"), log: filepath.Join(dir, "pbxbridge.log"),
		base: fmt.Sprintf("http://127.0.0.1:%d", httpPort)}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
data_dir: %s
log_level: debug
freeswitch:
  - name: fs1
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
    status_url: %s/status
    numbers: [%s]
transcription: {lease: 3s, poll: 100ms}
external_storage: {s3_endpoint: "%s", backoff: 200ms, max_backoff: 1s}
`, httpPort, dataDir, eslAddr, inbound, recordDir, appURL, appURL, number, s3URL)
	if err := os.WriteFile(in.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(in.log)
			t.Logf("pbxbridge log:\n%s", apptest.Tail(string(b), 150))
		}
	})
	in.start(t)
	waitFor(t, 20*time.Second, "pbxbridge listening", func() bool {
		b, _ := os.ReadFile(in.log)
		return strings.Contains(string(b), "listening for outbound sockets")
	})

	return in, eslAddr, dataDir
}

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

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestInvalidAttributes: attributes of two providers, or a provider's required one missing,
// fail the recording before anything is captured: errorAction runs with RecordingStatus
// failed, the status callback says failed, nothing is uploaded, and the log names the
// attributes.
func TestInvalidAttributes(t *testing.T) {
	dir := t.TempDir()
	recordDir := filepath.Join(dir, "recordings")
	if err := os.MkdirAll(recordDir, 0o770); err != nil {
		t.Fatal(err)
	}
	be := s3mem.New()
	if err := be.CreateBucket("recs"); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(blobtest.S3Auth(gofakes3.New(be).Server(), accessKey, secretKey, "us-east-1"))
	t.Cleanup(s3srv.Close)
	sim := eslsim.New(eslsim.Options{})
	t.Cleanup(sim.Close)
	inbound, err := sim.ListenInbound("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app, err := apptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	cases := map[string]struct{ attrs, names string }{
		"/two":     {`awsAccessKey="` + accessKey + `" awsSecretKey="` + secretKey + `" awsBucketName="recs" azureAccountName="a" azureContainerName="c" azureSasToken="sig=x"`, "use exactly one"},
		"/missing": {`awsAccessKey="` + accessKey + `" awsSecretKey="` + secretKey + `"`, "missing awsBucketName"},
	}
	for path := range cases {
		app.Document(path+"-error", `<Response><Hangup/></Response>`)
		app.Status(path+"-rs", http.StatusOK)
	}
	app.Status("/status", http.StatusOK)
	// The configured application fetches /doc: route it to each case in turn.
	var mu sync.Mutex
	current := ""
	app.Handle("/doc", func(r apptest.Request) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		for path, tc := range cases {
			if path == current {
				return http.StatusOK, `<Response><Record ` + tc.attrs + ` errorAction="` + app.URL + path + `-error" recordingStatusCallback="` + app.URL + path + `-rs"` +
					` finishOnKey="#" maxLength="60" timeout="30"/><Hangup/></Response>`
			}
		}
		return http.StatusNotFound, ""
	})
	in, eslAddr, _ := startBridge(t, dir, recordDir, inbound, app.URL, s3srv.URL)
	for path, tc := range cases {
		mu.Lock()
		current = path
		mu.Unlock()
		ch := dial(t, sim, eslAddr, eslsim.Script{From: "15550100001", To: number, Audio: eslsim.Tone(5*time.Second, 3000)})
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		er, err := app.WaitPath(ctx, path+"-error")
		if err != nil {
			cancel()
			t.Fatalf("%s: errorAction: %v", path, err)
		}
		rs, err := app.WaitPath(ctx, path+"-rs")
		cancel()
		if err != nil {
			t.Fatalf("%s: status callback: %v", path, err)
		}
		if er.Get("RecordingStatus") != "failed" || rs.Get("RecordingStatus") != "failed" {
			t.Errorf("%s: errorAction RecordingStatus %q, status callback %q; want failed", path, er.Get("RecordingStatus"), rs.Get("RecordingStatus"))
		}
		select {
		case <-ch.Done():
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: the call did not end", path)
		}
		waitFor(t, 10*time.Second, "the log naming "+tc.names, func() bool {
			b, _ := os.ReadFile(in.log)
			return strings.Contains(string(b), tc.names)
		})
	}
	if objs, err := be.ListBucket("recs", nil, gofakes3.ListBucketPage{}); err != nil || len(objs.Contents) != 0 {
		t.Errorf("objects uploaded for invalid Records: %v %v", objs, err)
	}
	logs, _ := os.ReadFile(in.log)
	if strings.Contains(string(logs), secretKey) {
		t.Error("the log holds the secret key")
	}
}
