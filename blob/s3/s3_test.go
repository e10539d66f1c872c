package s3_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/pbxbridge/pbxbridge/blob"
	"github.com/pbxbridge/pbxbridge/blob/blobtest"
	"github.com/pbxbridge/pbxbridge/blob/s3"
)

const (
	accessKey = "AKIATESTTESTTEST"
	secretKey = "test-secret-key-never-logged"
)

// emulator starts gofakes3, an S3 server, on loopback behind a SigV4 check and fault injection.
func emulator(t *testing.T) (*blobtest.Faults, string, *s3mem.Backend) {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket("recs"); err != nil {
		t.Fatal(err)
	}
	faker := gofakes3.New(be)
	f := blobtest.NewFaults(blobtest.S3Auth(faker.Server(), accessKey, secretKey, "us-east-1"))
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL, be
}

func newStore(t *testing.T, cfg s3.Config) *s3.Store {
	t.Helper()
	s, err := s3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3Conformance(t *testing.T) {
	_, url, _ := emulator(t)
	s := newStore(t, s3.Config{Bucket: "recs", AccessKey: accessKey, SecretKey: secretKey, Endpoint: url})
	blobtest.Conformance(t, s, true)
}

func TestS3AuthFailure(t *testing.T) {
	_, url, be := emulator(t)
	for name, cfg := range map[string]s3.Config{
		"wrong secret": {AccessKey: accessKey, SecretKey: "forged-secret"},
		"unknown key":  {AccessKey: "AKIAOTHER", SecretKey: secretKey},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.Bucket, cfg.Endpoint = "recs", url
			s := newStore(t, cfg)
			_, err := s.Put(t.Context(), "c/f.wav", strings.NewReader("RIFF"), "audio/wav")
			if !errors.Is(err, blob.ErrDenied) {
				t.Fatalf("put: %v, want ErrDenied", err)
			}
			if strings.Contains(err.Error(), cfg.SecretKey) {
				t.Fatalf("the error shows the secret: %v", err)
			}
			if _, err := be.HeadObject("recs", "c/f.wav"); err == nil {
				t.Fatal("a denied put stored the object")
			}
		})
	}
}

func TestS3ServerFailure(t *testing.T) {
	f, url, _ := emulator(t)
	s := newStore(t, s3.Config{Bucket: "recs", AccessKey: accessKey, SecretKey: secretKey, Endpoint: url, MaxAttempts: 2})
	f.FailNext(2, http.StatusInternalServerError)
	if _, err := s.Put(t.Context(), "c/f.wav", strings.NewReader("RIFF"), "audio/wav"); !errors.Is(err, blob.ErrUnavailable) {
		t.Fatalf("put against a failing server: %v, want ErrUnavailable", err)
	}
	f.FailNext(1, http.StatusServiceUnavailable)
	blobtest.Put(t, s, "c/f.wav", "RIFF", "audio/wav")
	if got := blobtest.MustGet(t, s, "c/f.wav", 1, 2); got != "IF" {
		t.Fatalf("get after a retried put: %q", got)
	}
}

func TestS3Unreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	s := newStore(t, s3.Config{Bucket: "recs", AccessKey: accessKey, SecretKey: secretKey, Endpoint: srv.URL, MaxAttempts: 1})
	if _, err := s.Put(t.Context(), "c/f.wav", strings.NewReader("RIFF"), "audio/wav"); !errors.Is(err, blob.ErrUnavailable) {
		t.Fatalf("put to a closed port: %v, want ErrUnavailable", err)
	}
}

func TestS3ConfigErrors(t *testing.T) {
	for _, cfg := range []s3.Config{
		{AccessKey: accessKey, SecretKey: secretKey},
		{Bucket: "b", SecretKey: secretKey},
		{Bucket: "b", AccessKey: accessKey},
	} {
		if _, err := s3.New(cfg); err == nil {
			t.Errorf("New without bucket %q / access key %t / secret %t accepted", cfg.Bucket, cfg.AccessKey != "", cfg.SecretKey != "")
		}
	}
}
