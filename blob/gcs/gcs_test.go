package gcs_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/blob"
	"github.com/pbxbridge/pbxbridge/blob/blobtest"
	"github.com/pbxbridge/pbxbridge/blob/gcs"
)

const (
	accessToken  = blobtest.GCSAccessToken
	clientID     = blobtest.GCSClientID
	clientSecret = blobtest.GCSClientSecret
	refreshToken = blobtest.GCSRefreshToken
)

// emulator runs fake-gcs-server in-process behind a bearer-token check, with a fake OAuth
// token endpoint (blobtest.StartGCS).
func emulator(t *testing.T) *blobtest.GCS { return blobtest.StartGCS(t, "recs") }

func newStore(t *testing.T, cfg gcs.Config) *gcs.Store {
	t.Helper()
	s, err := gcs.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestGCSAccessTokenConformance(t *testing.T) {
	e := emulator(t)
	s := newStore(t, gcs.Config{Bucket: "recs", AccessToken: accessToken, Endpoint: e.Endpoint})
	blobtest.Conformance(t, s, true)
}

func TestGCSRefreshTokenConformance(t *testing.T) {
	e := emulator(t)
	s := newStore(t, gcs.Config{Bucket: "recs", ClientID: clientID, ClientSecret: clientSecret,
		RefreshToken: refreshToken, TokenURL: e.TokenURL, Endpoint: e.Endpoint})
	blobtest.Conformance(t, s, true)
	if n := e.Refresh.Load(); n != 1 {
		t.Errorf("%d token refreshes, want 1 (the token lasts an hour)", n)
	}
}

func TestGCSAuthFailure(t *testing.T) {
	e := emulator(t)
	for name, cfg := range map[string]gcs.Config{
		"wrong access token":  {AccessToken: "ya29.forged"},
		"wrong client secret": {ClientID: clientID, ClientSecret: "forged-secret", RefreshToken: refreshToken},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.Bucket, cfg.Endpoint, cfg.TokenURL, cfg.MaxAttempts = "recs", e.Endpoint, e.TokenURL, 1
			s := newStore(t, cfg)
			_, err := s.Put(t.Context(), "c/f.wav", strings.NewReader("RIFF"), "audio/wav")
			if !errors.Is(err, blob.ErrDenied) {
				t.Fatalf("put: %v, want ErrDenied", err)
			}
			for _, secret := range []string{"forged", refreshToken, clientSecret} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the error shows a secret: %v", err)
				}
			}
			if _, err := e.Server.GetObject("recs", "c/f.wav"); err == nil {
				t.Fatal("a denied put stored the object")
			}
		})
	}
}

func TestGCSServerFailure(t *testing.T) {
	e := emulator(t)
	s := newStore(t, gcs.Config{Bucket: "recs", AccessToken: accessToken, Endpoint: e.Endpoint, MaxAttempts: 2})
	e.Faults.FailNext(2, http.StatusInternalServerError)
	if _, err := s.Stat(t.Context(), "c/f.wav"); !errors.Is(err, blob.ErrUnavailable) {
		t.Fatalf("stat against a failing server: %v, want ErrUnavailable", err)
	}
	e.Faults.FailNext(1, http.StatusServiceUnavailable)
	blobtest.Put(t, s, "c/f.wav", "RIFF", "audio/wav")
	if got := blobtest.MustGet(t, s, "c/f.wav", 1, 2); got != "IF" {
		t.Fatalf("get after a retried put: %q", got)
	}
}

func TestGCSUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	s := newStore(t, gcs.Config{Bucket: "recs", AccessToken: accessToken, Endpoint: srv.URL + "/storage/v1/", MaxAttempts: 1, Timeout: time.Second})
	if _, err := s.Put(t.Context(), "c/f.wav", strings.NewReader("RIFF"), "audio/wav"); !errors.Is(err, blob.ErrUnavailable) {
		t.Fatalf("put to a closed port: %v, want ErrUnavailable", err)
	}
}

func TestGCSConfigErrors(t *testing.T) {
	for _, cfg := range []gcs.Config{
		{AccessToken: accessToken},
		{Bucket: "b"},
		{Bucket: "b", ClientID: clientID, ClientSecret: clientSecret},
	} {
		if _, err := gcs.New(t.Context(), cfg); err == nil {
			t.Errorf("New without bucket %q or full credentials accepted", cfg.Bucket)
		}
	}
}
