// Package blobtest holds what the blob backends' tests share: one conformance suite that every
// backend passes (Dir, S3, GCS, Azure), a fault-injecting HTTP middleware for the emulators,
// and a faithful fake of the Azure Blob REST calls azblob makes (Azurite cannot run here).
// For tests only.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/blob"
)

// Store is a backend under test: adapter.Blob and Stat.
type Store interface {
	adapter.Blob
	Stat(ctx context.Context, key string) (blob.Info, error)
}

// Conformance runs the behaviour every backend shares. keepsType says whether Stat gives back
// the content type given to Put (Dir does not keep it).
func Conformance(t *testing.T, s Store, keepsType bool) {
	t.Run("PutGetStatDelete", func(t *testing.T) {
		ctx := t.Context()
		before := time.Now().Add(-time.Minute)
		Put(t, s, "c-1/f-1.wav", "RIFF....WAVE", "audio/wav")
		if got := MustGet(t, s, "c-1/f-1.wav", 0, -1); got != "RIFF....WAVE" {
			t.Fatalf("get: %q", got)
		}
		info, err := s.Stat(ctx, "c-1/f-1.wav")
		if err != nil || info.Size != 12 {
			t.Fatalf("stat: %+v, %v", info, err)
		}
		if keepsType && info.ContentType != "audio/wav" {
			t.Errorf("stat content type %q, want audio/wav", info.ContentType)
		}
		if info.Modified.Before(before) || info.Modified.After(time.Now().Add(time.Minute)) {
			t.Errorf("stat modified %v, want about now", info.Modified)
		}
		if n, err := s.Size(ctx, "c-1/f-1.wav"); err != nil || n != 12 {
			t.Fatalf("size: %d, %v", n, err)
		}
		Put(t, s, "c-1/f-1.wav", "replaced", "audio/mpeg")
		if got := MustGet(t, s, "c-1/f-1.wav", 0, -1); got != "replaced" {
			t.Fatalf("after overwrite: %q", got)
		}
		if info, _ := s.Stat(ctx, "c-1/f-1.wav"); keepsType && info.ContentType != "audio/mpeg" {
			t.Errorf("content type after overwrite %q, want audio/mpeg", info.ContentType)
		}
		Put(t, s, "c-1/empty.ul", "", "audio/basic")
		if n, err := s.Size(ctx, "c-1/empty.ul"); err != nil || n != 0 {
			t.Fatalf("size of an empty object: %d, %v", n, err)
		}
		if got := MustGet(t, s, "c-1/empty.ul", 0, -1); got != "" {
			t.Fatalf("get of an empty object: %q", got)
		}
		if err := s.Delete(ctx, "c-1/f-1.wav"); err != nil {
			t.Fatalf("delete: %v", err)
		}
		for name, err := range map[string]error{
			"get":    func() error { _, err := s.Get(ctx, "c-1/f-1.wav", 0, -1); return err }(),
			"ranged": func() error { _, err := s.Get(ctx, "c-1/f-1.wav", 2, 3); return err }(),
			"size":   func() error { _, err := s.Size(ctx, "c-1/f-1.wav"); return err }(),
			"stat":   func() error { _, err := s.Stat(ctx, "c-1/f-1.wav"); return err }(),
			"delete": s.Delete(ctx, "c-1/f-1.wav"),
		} {
			if !errors.Is(err, adapter.ErrNotFound) {
				t.Errorf("%s of a missing object: %v, want ErrNotFound", name, err)
			}
		}
	})
	t.Run("Ranges", func(t *testing.T) {
		Put(t, s, "r/k", "0123456789", "audio/wav")
		for _, tc := range []struct {
			off, n int64
			want   string
		}{
			{0, -1, "0123456789"}, {3, -1, "3456789"}, {3, 4, "3456"}, {0, 1, "0"},
			{8, 100, "89"}, {10, -1, ""}, {10, 5, ""}, {0, 0, ""},
		} {
			got, err := Get(t, s, "r/k", tc.off, tc.n)
			if err != nil || got != tc.want {
				t.Errorf("get [%d, +%d): %q, %v, want %q", tc.off, tc.n, got, err, tc.want)
			}
		}
		for _, off := range []int64{-1, 11} {
			if _, err := Get(t, s, "r/k", off, -1); !errors.Is(err, blob.ErrInvalidRange) {
				t.Errorf("get at %d: %v, want ErrInvalidRange", off, err)
			}
		}
	})
	t.Run("Large", func(t *testing.T) {
		// Beyond one block or chunk of the SDKs that split uploads.
		data := make([]byte, 2*1024*1024+12345)
		_, _ = rand.Read(data)
		n, err := s.Put(t.Context(), "big/f.wav", bytes.NewReader(data), "audio/wav")
		if err != nil || n != int64(len(data)) {
			t.Fatalf("put: %d, %v", n, err)
		}
		got, err := Get(t, s, "big/f.wav", 1024*1024-7, 1024*1024+100)
		if err != nil || got != string(data[1024*1024-7:2*1024*1024+93]) {
			t.Fatalf("ranged get across the block boundary: %d bytes, %v", len(got), err)
		}
		// A reader that is not a ReadSeeker, as a recording pipe is.
		if _, err := s.Put(t.Context(), "big/g.wav", io.MultiReader(bytes.NewReader(data)), "audio/wav"); err != nil {
			t.Fatalf("put from a plain reader: %v", err)
		}
		if n, err := s.Size(t.Context(), "big/g.wav"); err != nil || n != int64(len(data)) {
			t.Fatalf("size after a plain-reader put: %d, %v", n, err)
		}
	})
	t.Run("InvalidKeys", func(t *testing.T) {
		for _, k := range []string{"", "/abs", "a/../b", "a b", "a//b"} {
			if _, err := s.Put(t.Context(), k, strings.NewReader("x"), ""); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("put %q: %v, want ErrInvalidKey", k, err)
			}
			if _, err := s.Get(t.Context(), k, 0, -1); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("get %q: %v, want ErrInvalidKey", k, err)
			}
		}
	})
	t.Run("FailedReaderStoresNothing", func(t *testing.T) {
		bad := io.MultiReader(strings.NewReader("partial"), errReader{})
		if _, err := s.Put(t.Context(), "fail/f.wav", bad, "audio/wav"); err == nil {
			t.Fatal("put from a failing reader succeeded")
		}
		if _, err := s.Stat(t.Context(), "fail/f.wav"); !errors.Is(err, adapter.ErrNotFound) {
			t.Fatalf("after a failed put: %v, want ErrNotFound", err)
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("reader broke") }

// Put stores data or fails the test.
func Put(t testing.TB, s adapter.Blob, key, data, contentType string) {
	t.Helper()
	n, err := s.Put(t.Context(), key, strings.NewReader(data), contentType)
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	if n != int64(len(data)) {
		t.Fatalf("put %s: %d bytes, want %d", key, n, len(data))
	}
}

// Get reads a range.
func Get(t testing.TB, s adapter.Blob, key string, off, n int64) (string, error) {
	t.Helper()
	r, err := s.Get(t.Context(), key, off, n)
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return string(b), err
}

// MustGet reads a range or fails the test.
func MustGet(t testing.TB, s adapter.Blob, key string, off, n int64) string {
	t.Helper()
	got, err := Get(t, s, key, off, n)
	if err != nil {
		t.Fatalf("get %s [%d, +%d): %v", key, off, n, err)
	}
	return got
}
