package blob_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/blob"
	"github.com/pbxbridge/pbxbridge/blob/blobtest"
)

func openDir(t *testing.T) (*blob.Dir, string) {
	t.Helper()
	path := t.TempDir()
	d, err := blob.OpenDir(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d, path
}

func put(t *testing.T, d *blob.Dir, key, data string) {
	t.Helper()
	n, err := d.Put(t.Context(), key, strings.NewReader(data), "audio/wav")
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	if n != int64(len(data)) {
		t.Fatalf("put %s: %d bytes, want %d", key, n, len(data))
	}
}

func get(t *testing.T, d *blob.Dir, key string, off, n int64) (string, error) {
	t.Helper()
	r, err := d.Get(t.Context(), key, off, n)
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return string(b), nil
}

// tmpFiles lists what is left in the temporary directory.
func tmpFiles(t *testing.T, path string) []os.DirEntry {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(path, "~tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestDirPutGetSizeDelete(t *testing.T) {
	d, path := openDir(t)
	ctx := t.Context()
	put(t, d, "c-1/f-1.wav", "RIFF....WAVE")
	if got, err := get(t, d, "c-1/f-1.wav", 0, -1); err != nil || got != "RIFF....WAVE" {
		t.Fatalf("get: %q, %v", got, err)
	}
	if n, err := d.Size(ctx, "c-1/f-1.wav"); err != nil || n != 12 {
		t.Fatalf("size: %d, %v", n, err)
	}
	b, err := os.ReadFile(filepath.Join(path, "c-1", "f-1.wav"))
	if err != nil || string(b) != "RIFF....WAVE" {
		t.Fatalf("file on disk: %q, %v", b, err)
	}

	put(t, d, "c-1/f-1.wav", "replaced") // overwrite
	if got, _ := get(t, d, "c-1/f-1.wav", 0, -1); got != "replaced" {
		t.Fatalf("after overwrite: %q", got)
	}
	put(t, d, "empty", "")
	if n, err := d.Size(ctx, "empty"); err != nil || n != 0 {
		t.Fatalf("size of an empty object: %d, %v", n, err)
	}

	if err := d.Delete(ctx, "c-1/f-1.wav"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if len(tmpFiles(t, path)) != 0 {
		t.Fatalf("temporary files left behind")
	}
	for name, err := range map[string]error{
		"get":                 func() error { _, err := d.Get(ctx, "c-1/f-1.wav", 0, -1); return err }(),
		"size":                func() error { _, err := d.Size(ctx, "c-1/f-1.wav"); return err }(),
		"delete":              d.Delete(ctx, "c-1/f-1.wav"),
		"get under a file":    func() error { _, err := d.Get(ctx, "empty/x", 0, -1); return err }(),
		"size of a directory": func() error { _, err := d.Size(ctx, "c-1"); return err }(),
		"delete a directory":  d.Delete(ctx, "c-1"),
	} {
		if !errors.Is(err, adapter.ErrNotFound) {
			t.Errorf("%s of a missing object: %v, want ErrNotFound", name, err)
		}
	}
}

func TestDirRanges(t *testing.T) {
	d, _ := openDir(t)
	put(t, d, "k", "0123456789")
	for _, tc := range []struct {
		off, n int64
		want   string
	}{
		{0, -1, "0123456789"},
		{3, -1, "3456789"},
		{3, 4, "3456"},
		{8, 100, "89"},
		{10, -1, ""},
		{10, 5, ""},
		{0, 0, ""},
	} {
		got, err := get(t, d, "k", tc.off, tc.n)
		if err != nil || got != tc.want {
			t.Errorf("get [%d, +%d): %q, %v, want %q", tc.off, tc.n, got, err, tc.want)
		}
	}
	for _, off := range []int64{-1, 11} {
		if _, err := get(t, d, "k", off, -1); !errors.Is(err, blob.ErrInvalidRange) {
			t.Errorf("get at %d: %v, want ErrInvalidRange", off, err)
		}
	}
}

func TestCheckKey(t *testing.T) {
	for _, k := range []string{"a", "c-1/f-1.wav", "A.B_c-d/e/f.mp3", ".hidden", "a/.b", strings.Repeat("x", blob.MaxKeyLen)} {
		if err := blob.CheckKey(k); err != nil {
			t.Errorf("CheckKey(%q): %v", k, err)
		}
	}
	for _, k := range []string{
		"", "/abs", "../x", "a/../b", "a/..", "..", "a..b", "a//b", "a/", "./a", "a/./b", ".",
		"a b", `a\b`, "a:b", "~tmp/x", "é", "a\x00b", "a?b", "a%2e", strings.Repeat("x", blob.MaxKeyLen+1),
	} {
		if err := blob.CheckKey(k); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("CheckKey(%q): %v, want ErrInvalidKey", k, err)
		}
	}
}

func TestDirRejectsInvalidKeys(t *testing.T) {
	d, path := openDir(t)
	ctx := t.Context()
	for _, k := range []string{"../escape", "/etc/passwd", "~tmp/x"} {
		if _, err := d.Put(ctx, k, strings.NewReader("x"), ""); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("put %q: %v, want ErrInvalidKey", k, err)
		}
		if _, err := d.Get(ctx, k, 0, -1); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("get %q: %v, want ErrInvalidKey", k, err)
		}
		if _, err := d.Size(ctx, k); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("size %q: %v, want ErrInvalidKey", k, err)
		}
		if err := d.Delete(ctx, k); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("delete %q: %v, want ErrInvalidKey", k, err)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), "escape")); err == nil {
		t.Fatalf("a key escaped the directory")
	}
}

// A symlink planted in the directory cannot lead outside it.
func TestDirSymlinkStaysInside(t *testing.T) {
	d, path := openDir(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(path, "link")); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	if _, err := get(t, d, "link/secret", 0, -1); err == nil {
		t.Fatalf("read through a symlink out of the directory")
	}
	if _, err := d.Put(t.Context(), "link/new", strings.NewReader("x"), ""); err == nil {
		t.Fatalf("wrote through a symlink out of the directory")
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Fatalf("file created outside the directory")
	}
}

// A Put that fails half way (reader error or cancelled context) leaves the old object and no
// temporary file.
func TestDirFailedPutChangesNothing(t *testing.T) {
	d, path := openDir(t)
	put(t, d, "k", "old")
	failing := io.MultiReader(strings.NewReader("new new new"), iotest.ErrReader(errors.New("network down")))
	if _, err := d.Put(t.Context(), "k", failing, ""); err == nil {
		t.Fatalf("put from a failing reader succeeded")
	}
	ctx, cancel := context.WithCancel(t.Context())
	r := &cancelAfter{r: strings.NewReader(strings.Repeat("x", 1<<20)), cancel: cancel}
	if _, err := d.Put(ctx, "k", r, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled put: %v, want context.Canceled", err)
	}
	if got, _ := get(t, d, "k", 0, -1); got != "old" {
		t.Fatalf("after failed puts: %q, want old", got)
	}
	if es := tmpFiles(t, path); len(es) != 0 {
		t.Fatalf("temporary files left: %v", es)
	}
}

// cancelAfter cancels its context after the first read.
type cancelAfter struct {
	r      io.Reader
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	defer c.cancel()
	return c.r.Read(p[:min(len(p), 1024)])
}

// Concurrent writers of one key: the object is always one writer's whole content.
func TestDirConcurrentPuts(t *testing.T) {
	d, _ := openDir(t)
	const writers = 8
	payload := func(i int) string { return strings.Repeat(fmt.Sprint(i), 64<<10) }
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			if _, err := d.Put(t.Context(), "c/shared.wav", strings.NewReader(payload(i)), ""); err != nil {
				t.Errorf("put: %v", err)
			}
		})
		wg.Go(func() {
			if got, err := get(t, d, "c/shared.wav", 0, -1); err == nil && got != "" {
				if got != strings.Repeat(got[:1], len(got)) || len(got) != 64<<10 {
					t.Errorf("read a torn object of %d bytes", len(got))
				}
			}
		})
	}
	wg.Wait()
	got, err := get(t, d, "c/shared.wav", 0, -1)
	if err != nil || !bytes.Equal([]byte(got), []byte(strings.Repeat(got[:1], 64<<10))) {
		t.Fatalf("final object: %d bytes, %v", len(got), err)
	}
}

// OpenDir removes temporary files a crash left long ago, and only those.
func TestDirRemovesStaleTemporaryFiles(t *testing.T) {
	_, path := openDir(t)
	old, fresh := filepath.Join(path, "~tmp", "OLD"), filepath.Join(path, "~tmp", "FRESH")
	for _, f := range []string{old, fresh} {
		if err := os.WriteFile(f, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	d2, err := blob.OpenDir(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("recent temporary file removed: %v", err)
	}
}

func TestDirConformance(t *testing.T) {
	d, _ := openDir(t)
	blobtest.Conformance(t, d, false)
}
