package storage

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/integration/apptest"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
	"github.com/pbxbridge/pbxbridge/store/local"
)

const (
	apiToken     = "integration-api-token-7c1e"
	lifecycleTTL = 5 * time.Second
)

// TestLifecycleSurvivesKill: a recording stored with lifecycleTtl and lifecycleAction="delete"
// outlives a kill -9 of pbxbridge taken before its TTL ran out; the restarted pbxbridge
// deletes it on time, metadata and bytes, and its container's bytes are released. The files
// API (token) is how the test sees the file, as an application would.
func TestLifecycleSurvivesKill(t *testing.T) {
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
	app, err := apptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	app.Document("/doc", fmt.Sprintf(`<Response><Record lifecycleAction="delete" lifecycleTtl="%d" integerKey1="42"`+
		` callbackUrl="%s/cb" finishOnKey="#" maxLength="60" timeout="30" trim="do-not-trim"/><Hangup/></Response>`,
		int(lifecycleTTL/time.Second), app.URL))
	app.Status("/cb", http.StatusOK)
	app.Status("/status", http.StatusOK)

	in, eslAddr, api, dataDir := startManagedBridge(t, dir, recordDir, inbound, app.URL)
	dial(t, sim, eslAddr, eslsim.Script{From: "15550100001", To: number,
		Audio: append(eslsim.Tone(time.Second, 3000), eslsim.Silence(30*time.Second)...),
		DTMF:  []eslsim.DTMF{{At: 1200 * time.Millisecond, Digit: '#'}}})

	// The file appears in the files API as soon as it is stored.
	var f struct {
		FileSID         string `json:"file_sid"`
		ContainerSID    string `json:"container_sid"`
		ContentFormat   string `json:"content_format"`
		FileBytes       int64  `json:"file_bytes"`
		LifecycleAction string `json:"lifecycle_action"`
		LifecycleTTL    int64  `json:"lifecycle_ttl"`
		IntegerKey1     *int64 `json:"integer_key_1"`
	}
	waitFor(t, 20*time.Second, "the recording in the files API", func() bool {
		var l struct {
			Items []json.RawMessage `json:"items"`
		}
		if code, b := apiGet(t, api+"/core/v2/storage/files?container_sid=default&integer_key_1=42"); code != http.StatusOK || json.Unmarshal(b, &l) != nil || len(l.Items) == 0 {
			return false
		}
		return json.Unmarshal(l.Items[0], &f) == nil
	})
	seen := time.Now()
	// Kill at once: the TTL counts from the store's creation time, which is before seen.
	in.kill(t)
	killed := time.Now()
	if killed.Sub(seen) >= lifecycleTTL {
		t.Fatalf("pbxbridge killed %v after the file appeared: not before its %v TTL", killed.Sub(seen), lifecycleTTL)
	}
	if f.LifecycleAction != "delete" || f.LifecycleTTL != int64(lifecycleTTL/time.Second) || f.FileBytes < 1000 {
		t.Fatalf("stored file %+v: want lifecycle delete after %v and some audio", f, lifecycleTTL)
	}

	// While pbxbridge is down the file is in the store with its deadline, and its bytes on disk.
	st, err := local.Open(filepath.Join(dataDir, "store"), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.GetFile(t.Context(), f.FileSID)
	st.Close()
	if err != nil {
		t.Fatalf("file %s after kill -9: %v", f.FileSID, err)
	}
	expires := stored.ExpiresAt
	if expires.IsZero() || !time.Now().Before(expires) {
		t.Fatalf("file %s expires at %v: want a deadline after the kill (%v)", f.FileSID, expires, killed)
	}
	// Blob keys are paths under the containers directory (blob.Dir).
	blobPath := filepath.Join(dataDir, "containers", filepath.FromSlash(stored.BlobKey))
	if _, err := os.Stat(blobPath); err != nil {
		t.Fatalf("bytes of %s after kill -9: %v", f.FileSID, err)
	}

	in.start(t)
	waitFor(t, 20*time.Second, "pbxbridge listening again", func() bool {
		b, _ := os.ReadFile(in.log)
		return strings.Count(string(b), "listening for outbound sockets") >= 2
	})
	restarted := time.Now()
	if restarted.Before(expires) {
		if code, b := apiGet(t, api+"/core/v2/storage/files/"+f.FileSID); code != http.StatusOK {
			t.Errorf("file %s before its deadline, after the restart: %d %s", f.FileSID, code, b)
		}
	}
	var deleted time.Time
	waitFor(t, lifecycleTTL+20*time.Second, "the file deleted after the restart", func() bool {
		code, _ := apiGet(t, api+"/core/v2/storage/files/"+f.FileSID)
		if code == http.StatusNotFound {
			deleted = time.Now()
			return true
		}
		return false
	})
	if deleted.Before(expires) {
		t.Errorf("file deleted at %v, before its deadline %v", deleted, expires)
	}
	t.Logf("file stored %v, killed %v after it appeared, restarted %v before its deadline; deleted %v after the deadline (sweep every 1s)",
		stored.Created.Format(time.TimeOnly), killed.Sub(seen).Round(time.Millisecond), expires.Sub(restarted).Round(time.Millisecond),
		deleted.Sub(expires).Round(time.Millisecond))
	if _, err := os.Stat(blobPath); !os.IsNotExist(err) {
		t.Errorf("bytes of %s after the lifecycle delete: %v", f.FileSID, err)
	}
	if code, b := apiGet(t, api+"/core/v2/storage/files/"+f.FileSID+"/data"); code != http.StatusNotFound {
		t.Errorf("data of the deleted file: %d %s", code, b)
	}
	var ct struct {
		BytesUsed int64 `json:"bytes_used"`
	}
	if code, b := apiGet(t, api+"/core/v2/storage/containers/"+f.ContainerSID); code != http.StatusOK || json.Unmarshal(b, &ct) != nil || ct.BytesUsed != 0 {
		t.Errorf("container %s after the delete: %d %s, want 0 bytes used", f.ContainerSID, code, b)
	}
	waitFor(t, 5*time.Second, "the lifecycle log line", func() bool {
		b, _ := os.ReadFile(in.log)
		return strings.Contains(string(b), "lifecycle: file deleted")
	})
}

// startManagedBridge starts pbxbridge with one managed container and the files API open to
// apiToken; it returns the instance, its event-socket address, its HTTP base URL and its data
// directory.
func startManagedBridge(t *testing.T, dir, recordDir, inbound, appURL string) (*instance, string, string, string) {
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
	in := &instance{config: filepath.Join(dir, "pbxbridge.yaml"), log: filepath.Join(dir, "pbxbridge.log")}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
data_dir: %s
log_level: debug
api_token: %s
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
`, httpPort, dataDir, apiToken, eslAddr, inbound, recordDir, appURL, appURL, number)
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
	return in, eslAddr, fmt.Sprintf("http://127.0.0.1:%d", httpPort), dataDir
}

// apiGet requests a files API URL with the token; a connection error is status 0.
func apiGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
