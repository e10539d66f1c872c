package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/blob"
	"github.com/pbxbridge/pbxbridge/store/local"
)

// storageFixture is a server over a real store and blob directory holding files f00…f(n-1)
// in container "a" (even) and "b" (odd), with keys by index, and "a" with a 10,000-byte quota.
type storageFixture struct {
	st   *local.Store
	bl   *blob.Dir
	http *httptest.Server
	data map[string][]byte
}

func newStorageFixture(t *testing.T, n int) *storageFixture {
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
	fx := &storageFixture{st: st, bl: bl, data: map[string][]byte{}}
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	formats := []string{"wav", "mp3", "ul"}
	for i := range n {
		sid := fmt.Sprintf("f%02d", i)
		ct := []string{"a", "b"}[i%2]
		format := formats[i%3]
		data := bytes.Repeat([]byte{byte('A' + i)}, 100+i)
		key := ct + "/" + sid + "." + format
		if _, err := bl.Put(ctx, key, bytes.NewReader(data), ""); err != nil {
			t.Fatal(err)
		}
		ik1, ik2 := int64(i%3), int64(i)
		sk1, sk2 := fmt.Sprintf("s%d", i%2), "same"
		if err := st.CreateFile(ctx, adapter.File{SID: sid, ContainerSID: ct, Format: format, MIMEType: "x/stored",
			Bytes: int64(len(data)), BlobKey: key, Created: now, Modified: now,
			IntegerKey1: &ik1, IntegerKey2: &ik2, StringKey1: &sk1, StringKey2: &sk2}, 0); err != nil {
			t.Fatal(err)
		}
		fx.data[sid] = data
	}
	srv := New(Deps{Store: st, Blob: bl, PublicURL: "http://bridge.test", LinkSecret: []byte("s"), APIToken: "tok",
		Containers: []Container{{SID: "a", QuotaBytes: 10_000}, {SID: "b"}}, Now: func() time.Time { return now }})
	fx.http = httptest.NewServer(srv.Handler())
	t.Cleanup(fx.http.Close)
	return fx
}

// do sends a request with the API token unless tok is empty; it returns the status, the
// headers and the body.
func (fx *storageFixture) do(t *testing.T, method, path, tok string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, fx.http.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func (fx *storageFixture) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	code, _, b := fx.do(t, http.MethodGet, path, "tok")
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, b)
	}
}

func TestStorageAuth(t *testing.T) {
	fx := newStorageFixture(t, 2)
	for _, r := range []struct{ method, path string }{
		{"GET", "/core/v2/storage/containers"}, {"GET", "/core/v2/storage/containers/a"},
		{"GET", "/core/v2/storage/files"}, {"GET", "/core/v2/storage/files/f00"},
		{"GET", "/core/v2/storage/files/f00/data"}, {"DELETE", "/core/v2/storage/files/f00"},
	} {
		for _, tok := range []string{"", "wrong"} {
			if code, _, b := fx.do(t, r.method, r.path, tok); code != http.StatusUnauthorized {
				t.Errorf("%s %s with token %q: %d %s, want 401", r.method, r.path, tok, code, b)
			}
		}
	}
	if _, err := fx.st.GetFile(context.Background(), "f00"); err != nil {
		t.Errorf("a refused DELETE removed the file: %v", err)
	}
}

func TestStorageContainers(t *testing.T) {
	fx := newStorageFixture(t, 4) // a: f00 (100 B), f02 (102 B); b: f01, f03
	var l list[containerObject]
	fx.getJSON(t, "/core/v2/storage/containers", &l)
	if l.Count != 2 || len(l.Items) != 2 || l.HasMore {
		t.Fatalf("containers: %+v", l)
	}
	a, b := l.Items[0], l.Items[1]
	if a.ContainerSID != "a" || a.QuotaBytes != 10_000 || a.BytesUsed != 202 || a.BytesAvailable == nil || *a.BytesAvailable != 9_798 ||
		a.LifecycleAction != "no_action" || a.LifecycleTTL != -1 || a.Publish != "file_sid" {
		t.Errorf("container a: %+v", a)
	}
	if b.ContainerSID != "b" || b.BytesUsed != 204 || b.BytesAvailable != nil {
		t.Errorf("container b: %+v", b)
	}
	var one containerObject
	fx.getJSON(t, "/core/v2/storage/containers/b", &one)
	if one != b {
		t.Errorf("GET containers/b %+v, listed as %+v", one, b)
	}
	if code, _, body := fx.do(t, "GET", "/core/v2/storage/containers/nope", "tok"); code != http.StatusNotFound {
		t.Errorf("unknown container: %d %s", code, body)
	}
}

func sids(items []fileObject) string {
	var s []string
	for _, f := range items {
		s = append(s, f.FileSID)
	}
	return strings.Join(s, ",")
}

func TestStorageListFilters(t *testing.T) {
	fx := newStorageFixture(t, 6)
	for q, want := range map[string]string{
		"":                                     "f00,f01,f02,f03,f04,f05",
		"container_sid=a":                      "f00,f02,f04",
		"container_sid=b&integer_key_1=0":      "f03",
		"integer_key_2=4":                      "f04",
		"string_key_1=s1":                      "f01,f03,f05",
		"string_key_2=same&container_sid=a":    "f00,f02,f04",
		"string_key_1=s0&integer_key_1=2":      "f02",
		"container_sid=nope":                   "",
		"integer_key_1=-7":                     "",
		"string_key_2=same&string_key_1=other": "",
	} {
		var l list[fileObject]
		fx.getJSON(t, "/core/v2/storage/files?"+q, &l)
		if got := sids(l.Items); got != want || l.Count != len(l.Items) || l.HasMore {
			t.Errorf("?%s: %s (count %d, has_more %v), want %s", q, got, l.Count, l.HasMore, want)
		}
	}
	var l list[fileObject]
	fx.getJSON(t, "/core/v2/storage/files?container_sid=b&limit=1", &l)
	f := l.Items[0]
	if f.FileSID != "f01" || f.ContainerSID != "b" || f.ContentFormat != "mp3" || f.FileBytes != 101 ||
		f.IntegerKey1 == nil || *f.IntegerKey1 != 1 || f.StringKey1 == nil || *f.StringKey1 != "s1" || f.Type != "file" {
		t.Errorf("file object %+v", f)
	}
}

func TestStorageListPagination(t *testing.T) {
	fx := newStorageFixture(t, 12)
	var l list[fileObject]
	fx.getJSON(t, "/core/v2/storage/files", &l)
	if l.Count != 10 || l.Limit != 10 || !l.HasMore || sids(l.Items[9:]) != "f09" {
		t.Fatalf("default page: count %d limit %d has_more %v last %s", l.Count, l.Limit, l.HasMore, sids(l.Items[9:]))
	}
	// Follow pagination.next through container a (f00 f02 … f10) two at a time.
	var got []string
	next := "/core/v2/storage/files?container_sid=a&limit=2"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		var p list[fileObject]
		fx.getJSON(t, next, &p)
		got = append(got, sids(p.Items))
		if p.HasMore != (p.Pagination.Next != "") {
			t.Errorf("page %d: has_more %v with next %q", pages, p.HasMore, p.Pagination.Next)
		}
		next = p.Pagination.Next
	}
	if want := "f00,f02|f04,f06|f08,f10"; strings.Join(got, "|") != want {
		t.Errorf("pages %s, want %s", strings.Join(got, "|"), want)
	}
	// after need not name an existing file.
	l = list[fileObject]{}
	fx.getJSON(t, "/core/v2/storage/files?after=f095&limit=1000", &l)
	if sids(l.Items) != "f10,f11" || l.HasMore || l.Pagination.Next != "" {
		t.Errorf("after=f095: %s has_more %v next %q", sids(l.Items), l.HasMore, l.Pagination.Next)
	}
}

func TestStorageListBadParameters(t *testing.T) {
	fx := newStorageFixture(t, 1)
	for q, param := range map[string]string{
		"limit=0":                            "limit",
		"limit=1001":                         "limit",
		"limit=ten":                          "limit",
		"integer_key_1=1.5":                  "integer_key_1",
		"integer_key_2=99999999999999999999": "integer_key_2",
		"container_sid=":                     "container_sid",
		"after=":                             "after",
		"string_key_3=x":                     "string_key_3",
		"containerSid=a":                     "containerSid",
		"string_key_1=a&string_key_1=b":      "string_key_1",
	} {
		code, hdr, b := fx.do(t, "GET", "/core/v2/storage/files?"+q, "tok")
		var e struct{ Error, Parameter, Rule string }
		if err := json.Unmarshal(b, &e); err != nil || code != http.StatusBadRequest || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
			t.Errorf("?%s: %d %s (%v)", q, code, b, err)
			continue
		}
		if e.Parameter != param || e.Rule == "" || !strings.Contains(e.Error, param) {
			t.Errorf("?%s: %s, want the parameter %s and its rule", q, b, param)
		}
	}
	if code, _, b := fx.do(t, "GET", "/core/v2/storage/containers?limit=1", "tok"); code != http.StatusBadRequest {
		t.Errorf("containers?limit=1: %d %s", code, b)
	}
}

func TestStorageDownload(t *testing.T) {
	fx := newStorageFixture(t, 3) // f00 wav 100 B of 'A', f01 mp3 101 B, f02 ul 102 B
	for sid, mime := range map[string]string{"f00": "audio/wav", "f01": "audio/mpeg", "f02": "audio/basic"} {
		code, hdr, b := fx.do(t, "GET", "/core/v2/storage/files/"+sid+"/data", "tok")
		if code != http.StatusOK || !bytes.Equal(b, fx.data[sid]) || hdr.Get("Content-Type") != mime ||
			hdr.Get("Accept-Ranges") != "bytes" || hdr.Get("Content-Length") != fmt.Sprint(len(fx.data[sid])) {
			t.Errorf("%s: %d %q len %d, headers %v; want 200 %s", sid, code, b, len(b), hdr, mime)
		}
	}
	// Distinct bytes make a misplaced range visible.
	ctx := context.Background()
	data := []byte("0123456789abcdefghij")
	f, _ := fx.st.GetFile(ctx, "f00")
	if _, err := fx.bl.Put(ctx, f.BlobKey, bytes.NewReader(data), ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rng, body, contentRange string
		code                    int
	}{
		{"bytes=0-3", "0123", "bytes 0-3/20", 206},
		{"bytes=-5", "fghij", "bytes 15-19/20", 206},
		{"bytes=17-", "hij", "bytes 17-19/20", 206},
		{"bytes=5-9", "56789", "bytes 5-9/20", 206},
		{"bytes=18-100", "ij", "bytes 18-19/20", 206},
		{"bytes=20-", "", "bytes */20", 416},
		{"bytes=30-40", "", "bytes */20", 416},
	} {
		code, hdr, b := fx.do(t, "GET", "/core/v2/storage/files/f00/data", "tok", "Range", tc.rng)
		if code != tc.code || hdr.Get("Content-Range") != tc.contentRange || (code == 206 && string(b) != tc.body) {
			t.Errorf("Range %s: %d %q Content-Range %q; want %d %q %q", tc.rng, code, b, hdr.Get("Content-Range"), tc.code, tc.body, tc.contentRange)
		}
	}
	// Two ranges: a multipart answer holding both.
	code, hdr, b := fx.do(t, "GET", "/core/v2/storage/files/f00/data", "tok", "Range", "bytes=0-1,-2")
	if code != 206 || !strings.HasPrefix(hdr.Get("Content-Type"), "multipart/byteranges") ||
		!bytes.Contains(b, []byte("\r\n01\r\n")) || !bytes.Contains(b, []byte("\r\nij\r\n")) {
		t.Errorf("two ranges: %d %s %q", code, hdr.Get("Content-Type"), b)
	}
	if code, _, b := fx.do(t, "GET", "/core/v2/storage/files/nope/data", "tok"); code != http.StatusNotFound {
		t.Errorf("unknown file data: %d %s", code, b)
	}
}

func TestStorageDelete(t *testing.T) {
	fx := newStorageFixture(t, 3)
	ctx := context.Background()
	f, _ := fx.st.GetFile(ctx, "f02")
	before, _ := fx.st.ContainerUsage(ctx, "a")
	if code, _, b := fx.do(t, "DELETE", "/core/v2/storage/files/f02", "tok"); code != http.StatusNoContent || len(b) != 0 {
		t.Fatalf("DELETE: %d %s", code, b)
	}
	if _, err := fx.st.GetFile(ctx, "f02"); err == nil {
		t.Error("metadata kept")
	}
	if _, err := fx.bl.Size(ctx, f.BlobKey); err == nil {
		t.Error("bytes kept")
	}
	if after, _ := fx.st.ContainerUsage(ctx, "a"); after != before-f.Bytes {
		t.Errorf("container a uses %d bytes after the delete, want %d", after, before-f.Bytes)
	}
	for _, r := range []struct{ method, path string }{
		{"GET", "/core/v2/storage/files/f02"}, {"GET", "/core/v2/storage/files/f02/data"}, {"DELETE", "/core/v2/storage/files/f02"},
	} {
		if code, _, b := fx.do(t, r.method, r.path, "tok"); code != http.StatusNotFound {
			t.Errorf("%s %s after the delete: %d %s", r.method, r.path, code, b)
		}
	}
	var l list[fileObject]
	fx.getJSON(t, "/core/v2/storage/files", &l)
	if sids(l.Items) != "f00,f01" {
		t.Errorf("listed after the delete: %s", sids(l.Items))
	}
	var c containerObject
	fx.getJSON(t, "/core/v2/storage/containers/a", &c)
	if c.BytesUsed != before-f.Bytes {
		t.Errorf("container a reports %d bytes used", c.BytesUsed)
	}
}

// offsetBlob records the offsets the server opens a real blob directory at.
type offsetBlob struct {
	*blob.Dir
	mu      sync.Mutex
	offsets []int64
}

func (b *offsetBlob) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	b.mu.Lock()
	b.offsets = append(b.offsets, offset)
	b.mu.Unlock()
	return b.Dir.Get(ctx, key, offset, length)
}

// TestStorageRangeReadsItsBytes: a range opens the blob at its start, not at 0, so a suffix
// of a long recording does not read the whole file.
func TestStorageRangeReadsItsBytes(t *testing.T) {
	fx := newStorageFixture(t, 1)
	ob := &offsetBlob{Dir: fx.bl}
	srv := New(Deps{Store: fx.st, Blob: ob, APIToken: "tok", LinkSecret: []byte("s")})
	h := httptest.NewServer(srv.Handler())
	t.Cleanup(h.Close)
	fx.http = h
	code, _, b := fx.do(t, "GET", "/core/v2/storage/files/f00/data", "tok", "Range", "bytes=-5")
	if code != 206 || len(b) != 5 {
		t.Fatalf("suffix range: %d %q", code, b)
	}
	ob.mu.Lock()
	defer ob.mu.Unlock()
	if len(ob.offsets) != 1 || ob.offsets[0] != 95 {
		t.Errorf("blob opened at %v, want once at 95 (the last 5 of 100 bytes)", ob.offsets)
	}
}
