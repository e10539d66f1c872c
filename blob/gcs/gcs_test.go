package gcs_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/pbxbridge/pbxbridge/blob"
	"github.com/pbxbridge/pbxbridge/blob/blobtest"
	"github.com/pbxbridge/pbxbridge/blob/gcs"
)

const (
	accessToken  = "ya29.test-access-token"
	clientID     = "client-1.apps.googleusercontent.com"
	clientSecret = "test-client-secret"
	refreshToken = "1//test-refresh-token"
)

type env struct {
	faults   *blobtest.Faults
	endpoint string
	tokenURL string
	server   *fakestorage.Server
	refresh  *atomic.Int32 // token endpoint calls
}

// emulator runs fake-gcs-server in-process, served on loopback behind a bearer-token check (the
// emulator checks none) and fault injection, beside a fake OAuth token endpoint that trades
// the one refresh token for the access token.
func emulator(t *testing.T) env {
	t.Helper()
	fs, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		t.Fatal(err)
	}
	fs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "recs"})
	t.Cleanup(fs.Stop)
	api := fs.HTTPHandler()
	auth := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+accessToken {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":401,"message":"Invalid Credentials","errors":[{"reason":"authError","message":"Invalid Credentials"}]}}`))
			return
		}
		api.ServeHTTP(w, r)
	})
	f := blobtest.NewFaults(auth)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	var calls atomic.Int32
	tok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if r.Form.Get("grant_type") != "refresh_token" || r.Form.Get("client_id") != clientID ||
			r.Form.Get("client_secret") != clientSecret || r.Form.Get("refresh_token") != refreshToken {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"Bad Request"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": accessToken, "token_type": "Bearer", "expires_in": 3600})
	}))
	t.Cleanup(tok.Close)
	return env{faults: f, endpoint: srv.URL + "/storage/v1/", tokenURL: tok.URL, server: fs, refresh: &calls}
}

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
	s := newStore(t, gcs.Config{Bucket: "recs", AccessToken: accessToken, Endpoint: e.endpoint})
	blobtest.Conformance(t, s, true)
}

func TestGCSRefreshTokenConformance(t *testing.T) {
	e := emulator(t)
	s := newStore(t, gcs.Config{Bucket: "recs", ClientID: clientID, ClientSecret: clientSecret,
		RefreshToken: refreshToken, TokenURL: e.tokenURL, Endpoint: e.endpoint})
	blobtest.Conformance(t, s, true)
	if n := e.refresh.Load(); n != 1 {
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
			cfg.Bucket, cfg.Endpoint, cfg.TokenURL, cfg.MaxAttempts = "recs", e.endpoint, e.tokenURL, 1
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
			if _, err := e.server.GetObject("recs", "c/f.wav"); err == nil {
				t.Fatal("a denied put stored the object")
			}
		})
	}
}

func TestGCSServerFailure(t *testing.T) {
	e := emulator(t)
	s := newStore(t, gcs.Config{Bucket: "recs", AccessToken: accessToken, Endpoint: e.endpoint, MaxAttempts: 2})
	e.faults.FailNext(2, http.StatusInternalServerError)
	if _, err := s.Stat(t.Context(), "c/f.wav"); !errors.Is(err, blob.ErrUnavailable) {
		t.Fatalf("stat against a failing server: %v, want ErrUnavailable", err)
	}
	e.faults.FailNext(1, http.StatusServiceUnavailable)
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
