package blobtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// GCS credentials the emulator of StartGCS accepts.
const (
	GCSAccessToken  = "ya29.blobtest-access-token"
	GCSClientID     = "blobtest-client.apps.googleusercontent.com"
	GCSClientSecret = "blobtest-client-secret"
	GCSRefreshToken = "1//blobtest-refresh-token"
)

// GCS is fake-gcs-server run in-process, served on loopback behind a bearer-token check (the
// emulator checks none) and fault injection, beside a fake OAuth token endpoint that trades
// the one refresh token (with its client id and secret) for the access token.
type GCS struct {
	Server   *fakestorage.Server
	Faults   *Faults
	Endpoint string // JSON API base, for gcs.Config.Endpoint
	TokenURL string
	Refresh  *atomic.Int32 // token endpoint requests
}

// StartGCS starts the emulator with the given empty buckets; the test's cleanup stops it.
func StartGCS(t testing.TB, buckets ...string) *GCS {
	t.Helper()
	fs, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets {
		fs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	t.Cleanup(fs.Stop)
	api := fs.HTTPHandler()
	f := NewFaults(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+GCSAccessToken {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":401,"message":"Invalid Credentials","errors":[{"reason":"authError","message":"Invalid Credentials"}]}}`))
			return
		}
		api.ServeHTTP(w, r)
	}))
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	var refresh atomic.Int32
	tok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refresh.Add(1)
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if r.Form.Get("grant_type") != "refresh_token" || r.Form.Get("client_id") != GCSClientID ||
			r.Form.Get("client_secret") != GCSClientSecret || r.Form.Get("refresh_token") != GCSRefreshToken {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"Bad Request"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": GCSAccessToken, "token_type": "Bearer", "expires_in": 3600})
	}))
	t.Cleanup(tok.Close)
	return &GCS{Server: fs, Faults: f, Endpoint: srv.URL + "/storage/v1/", TokenURL: tok.URL, Refresh: &refresh}
}
