package httpapi

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pbxbridge/pbxbridge/config"
)

const uploadToken = config.Secret("upload-token-0123456789")

// lockedBuf collects log lines from the handler's goroutines.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func uploadServer(t *testing.T, max int64) (string, string, *lockedBuf) {
	t.Helper()
	dir := t.TempDir()
	logs := &lockedBuf{}
	srv := New(Deps{Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Uploads: []Upload{{PBX: "fs1", Dir: dir, Token: uploadToken, MaxBytes: max}}})
	h := httptest.NewServer(srv.Handler())
	t.Cleanup(h.Close)
	return h.URL, dir, logs
}

func put(t *testing.T, url string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "audio/x-wav")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestUpload(t *testing.T) {
	base, dir, logs := uploadServer(t, 1<<20)
	fs := config.FreeSWITCH{Name: "fs1", UploadToken: uploadToken}
	wav := append([]byte("RIFF"), make([]byte, 1000)...)
	if code := put(t, base+fs.UploadPath("r1.wav"), wav); code != http.StatusCreated {
		t.Fatalf("PUT: %d, want 201", code)
	}
	got, err := os.ReadFile(filepath.Join(dir, "r1.wav"))
	if err != nil || !bytes.Equal(got, wav) {
		t.Fatalf("stored %d bytes, %v", len(got), err)
	}
	// never replaced
	if code := put(t, base+fs.UploadPath("r1.wav"), []byte("RIFFother")); code != http.StatusConflict {
		t.Errorf("second PUT of the same file: %d, want 409", code)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "r1.wav")); !bytes.Equal(got, wav) {
		t.Error("the second PUT replaced the file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left in the directory: %v", entries)
	}
	if strings.Contains(logs.String(), string(uploadToken)) || strings.Contains(logs.String(), config.UploadSignature(uploadToken, "fs1", "r1.wav")) {
		t.Errorf("the token or the signature reached the log:\n%s", logs.String())
	}
}

func TestUploadRefused(t *testing.T) {
	base, dir, logs := uploadServer(t, 1<<20)
	fs := config.FreeSWITCH{Name: "fs1", UploadToken: uploadToken}
	wrong := config.FreeSWITCH{Name: "fs1", UploadToken: "another-token-0123456789"}
	sig := config.UploadSignature(uploadToken, "fs1", "r2.wav")
	for _, tc := range []struct {
		what, path string
		body       []byte
		code       int
	}{
		{"a wrong token", wrong.UploadPath("r2.wav"), []byte("RIFF"), http.StatusUnauthorized},
		{"another file's signature", "/v1/freeswitch/fs1/recordings/" + sig + "/r3.wav", []byte("RIFF"), http.StatusUnauthorized},
		{"no signature", "/v1/freeswitch/fs1/recordings/x/r2.wav", []byte("RIFF"), http.StatusUnauthorized},
		{"an unknown PBX", "/v1/freeswitch/fs2/recordings/" + sig + "/r2.wav", []byte("RIFF"), http.StatusNotFound},
		{"a traversal", "/v1/freeswitch/fs1/recordings/" + config.UploadSignature(uploadToken, "fs1", "..%2Fx.wav") + "/..%2Fx.wav", []byte("RIFF"), http.StatusBadRequest},
		{"a dot name", fs.UploadPath("..wav"), []byte("RIFF"), http.StatusBadRequest},
		{"another extension", fs.UploadPath("r2.sh"), []byte("RIFF"), http.StatusBadRequest},
		{"too large", fs.UploadPath("big.wav"), make([]byte, 2<<20), http.StatusRequestEntityTooLarge},
	} {
		if code := put(t, base+tc.path, tc.body); code != tc.code {
			t.Errorf("%s: %d, want %d", tc.what, code, tc.code)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("refused uploads left files: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "x.wav")); err == nil {
		t.Error("the traversal wrote outside the directory")
	}
	if strings.Contains(logs.String(), string(uploadToken)) || strings.Contains(logs.String(), sig) {
		t.Errorf("the token or a signature reached the log:\n%s", logs.String())
	}
}

// TestUploadTooLargeChunked: a body without Content-Length is cut at the limit.
func TestUploadTooLargeChunked(t *testing.T) {
	base, dir, _ := uploadServer(t, 1<<20)
	fs := config.FreeSWITCH{Name: "fs1", UploadToken: uploadToken}
	req, _ := http.NewRequest(http.MethodPut, base+fs.UploadPath("big.wav"), struct{ *bytes.Reader }{bytes.NewReader(make([]byte, 3<<20))})
	req.ContentLength = -1
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked upload over the limit: %d, want 413", res.StatusCode)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left in the directory: %v", entries)
	}
}
