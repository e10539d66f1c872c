package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/blob"
	"github.com/pbxbridge/pbxbridge/store/local"
)

type fixture struct {
	st   *local.Store
	srv  *Server
	http *httptest.Server
	now  time.Time
	data []byte
}

// newFixture serves one stored 8-byte "recording" through a real store and blob directory.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := local.Open(t.TempDir(), local.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bl, err := blob.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bl.Close() })
	f := &fixture{st: st, now: time.Unix(1_800_000_000, 0), data: []byte("RIFFdata")}
	ctx := context.Background()
	if _, err := bl.Put(ctx, "default/s1.wav", bytes.NewReader(f.data), "audio/wav"); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateFile(ctx, adapter.File{SID: "s1", ContainerSID: "default", Format: "wav", MIMEType: "audio/wav",
		Bytes: int64(len(f.data)), BlobKey: "default/s1.wav", Created: f.now, Modified: f.now}, 0); err != nil {
		t.Fatal(err)
	}
	media := NewMediaStore("http://pbx.test", 1<<20)
	f.srv = New(Deps{Store: st, Outbox: st, Blob: bl, Media: media, PublicURL: "http://bridge.test/", LinkSecret: []byte("link-secret"),
		APIToken: "tok", LinkTTL: time.Hour, Now: func() time.Time { return f.now },
		Ready: func(context.Context) error { return nil }})
	f.http = httptest.NewServer(f.srv.Handler())
	t.Cleanup(f.http.Close)
	return f
}

// get requests a public URL of the server (its host replaced by the test server's).
func (f *fixture) get(t *testing.T, public string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	u, err := url.Parse(public)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, f.http.URL+u.RequestURI(), nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestFileLinks(t *testing.T) {
	f := newFixture(t)
	link := f.srv.FileURL("s1", "")
	if !strings.HasPrefix(link, "http://bridge.test/f/s1?exp=") {
		t.Fatalf("FileURL = %s", link)
	}
	resp, body := f.get(t, link, nil)
	if resp.StatusCode != 200 || body != string(f.data) || resp.Header.Get("Content-Type") != "audio/wav" {
		t.Fatalf("signed link: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	// Plivo's form, with the extension, is the same file under the same signature.
	if resp, _ := f.get(t, f.srv.FileURL("s1", "wav"), nil); resp.StatusCode != 200 {
		t.Errorf("/f/s1.wav: %d", resp.StatusCode)
	}
	// Ranges.
	resp, body = f.get(t, link, http.Header{"Range": {"bytes=4-7"}})
	if resp.StatusCode != http.StatusPartialContent || body != "data" {
		t.Errorf("range: %d %q", resp.StatusCode, body)
	}
	// A signature for another file, a tampered one, none, or an expired one.
	other := strings.Replace(link, "/f/s1?", "/f/s2?", 1)
	if resp, _ := f.get(t, other, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("signature of s1 used for s2: %d, want 401", resp.StatusCode)
	}
	tampered := link[:len(link)-1] + "0"
	if strings.HasSuffix(link, "0") {
		tampered = link[:len(link)-1] + "1"
	}
	if resp, _ := f.get(t, tampered, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("tampered signature: %d, want 401", resp.StatusCode)
	}
	if resp, _ := f.get(t, "http://bridge.test/f/s1", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no signature: %d, want 401", resp.StatusCode)
	}
	f.now = f.now.Add(2 * time.Hour)
	if resp, _ := f.get(t, link, nil); resp.StatusCode != http.StatusGone {
		t.Errorf("expired link: %d, want 410", resp.StatusCode)
	}
	// The API token works without a signature; a wrong one does not.
	if resp, _ := f.get(t, "http://bridge.test/f/s1", http.Header{"Authorization": {"Bearer tok"}}); resp.StatusCode != 200 {
		t.Errorf("token: %d", resp.StatusCode)
	}
	if resp, _ := f.get(t, "http://bridge.test/f/s1", http.Header{"Authorization": {"Bearer nope"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", resp.StatusCode)
	}
	// A deleted file is 404 even with a valid link.
	f.now = f.now.Add(-2 * time.Hour)
	gone := f.srv.FileURL("nosuch", "")
	if resp, _ := f.get(t, gone, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing file: %d, want 404", resp.StatusCode)
	}
}

func TestMediaAndHealth(t *testing.T) {
	f := newFixture(t)
	u := f.srv.d.Media.Put([]byte("RIFF....WAVE"), "wav", "audio/wav")
	if u2 := f.srv.d.Media.Put([]byte("RIFF....WAVE"), "wav", "audio/wav"); u2 != u {
		t.Errorf("the same bytes got two URLs: %s %s", u, u2)
	}
	resp, body := f.get(t, u, nil)
	if resp.StatusCode != 200 || body != "RIFF....WAVE" {
		t.Errorf("media: %d %q", resp.StatusCode, body)
	}
	if resp, _ := f.get(t, "http://x/media/0000.wav", nil); resp.StatusCode != 404 {
		t.Errorf("unknown media: %d", resp.StatusCode)
	}
	if resp, _ := f.get(t, "http://x/healthz", nil); resp.StatusCode != 200 {
		t.Errorf("healthz: %d", resp.StatusCode)
	}
	if resp, _ := f.get(t, "http://x/readyz", nil); resp.StatusCode != 200 {
		t.Errorf("readyz: %d", resp.StatusCode)
	}
	f.srv.d.Ready = func(context.Context) error { return errors.New("asterisk: websocket down") }
	if resp, body := f.get(t, "http://x/readyz", nil); resp.StatusCode != 503 || !strings.Contains(body, "websocket down") {
		t.Errorf("readyz when not ready: %d %s", resp.StatusCode, body)
	}
}

func TestMediaStoreEvicts(t *testing.T) {
	m := NewMediaStore("http://x", 10)
	a := m.Put([]byte("aaaaaa"), "wav", "audio/wav")
	b := m.Put([]byte("bbbbbb"), "wav", "audio/wav") // over budget: a goes
	name := func(u string) string { return u[strings.LastIndex(u, "/")+1:] }
	if _, _, ok := m.Get(name(a)); ok {
		t.Error("least recently used entry kept over the budget")
	}
	if _, _, ok := m.Get(name(b)); !ok {
		t.Error("newest entry evicted")
	}
}

func TestFileMetadata(t *testing.T) {
	f := newFixture(t)
	u := "http://bridge.test/core/v2/storage/files/s1"
	resp, body := f.get(t, u, http.Header{"Authorization": {"Bearer tok"}})
	if resp.StatusCode != 200 {
		t.Fatalf("metadata: %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{`"file_sid":"s1"`, `"container_sid":"default"`, `"content_format":"wav"`, `"mime_type":"audio/wav"`,
		`"file_bytes":8`, `"integer_key_1":null`, `"lifecycle_action":"no_action"`, `"lifecycle_ttl":-1`, `"type":"file"`,
		`"publish_uri":"http://bridge.test/f/s1?exp=`} {
		if !strings.Contains(body, want) {
			t.Errorf("metadata lacks %s: %s", want, body)
		}
	}
	if resp, _ := f.get(t, u, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: %d, want 401", resp.StatusCode)
	}
	if resp, _ := f.get(t, "http://bridge.test/core/v2/storage/files/nope", http.Header{"Authorization": {"Bearer tok"}}); resp.StatusCode != 404 {
		t.Errorf("missing file: %d, want 404", resp.StatusCode)
	}
}
