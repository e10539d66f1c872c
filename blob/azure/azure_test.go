package azure_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/blob"
	"github.com/pbxbridge/pbxbridge/blob/azure"
	"github.com/pbxbridge/pbxbridge/blob/blobtest"
)

var accountKey = base64.StdEncoding.EncodeToString([]byte("a-test-account-key-of-32-bytes!!"))

// fake starts the Azure Blob fake on loopback; the SAS it accepts is returned.
func fake(t *testing.T) (*blobtest.Azure, *blobtest.Faults, string, string) {
	t.Helper()
	sas := "sv=2021-08-06&ss=b&srt=sco&sp=rwdlc&se=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + "&sig=c2lnbmF0dXJl"
	az, err := blobtest.NewAzure("acct", accountKey, sas, "recs")
	if err != nil {
		t.Fatal(err)
	}
	f := blobtest.NewFaults(az)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return az, f, srv.URL + "/acct", sas
}

func newStore(t *testing.T, cfg azure.Config) *azure.Store {
	t.Helper()
	s, err := azure.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAzureSharedKeyConformance(t *testing.T) {
	_, f, endpoint, _ := fake(t)
	s := newStore(t, azure.Config{AccountName: "acct", ContainerName: "recs", AccountKey: accountKey, Endpoint: endpoint})
	blobtest.Conformance(t, s, true)
	// The 2 MiB object went up in blocks: Put Block and Put Block List, not only Put Blob.
	var block, list bool
	for _, r := range f.Seen() {
		block = block || strings.Contains(r, "comp=block&") || strings.HasSuffix(r, "comp=block")
		list = list || strings.Contains(r, "comp=blocklist")
	}
	if !block || !list {
		t.Errorf("no Put Block / Put Block List among %d requests", len(f.Seen()))
	}
}

func TestAzureSASConformance(t *testing.T) {
	_, _, endpoint, sas := fake(t)
	s := newStore(t, azure.Config{AccountName: "acct", ContainerName: "recs", SASToken: "?" + sas, Endpoint: endpoint})
	blobtest.Conformance(t, s, true)
}

func TestAzureAuthFailure(t *testing.T) {
	az, _, endpoint, sas := fake(t)
	other := base64.StdEncoding.EncodeToString([]byte("another-key"))
	for name, cfg := range map[string]azure.Config{
		"wrong key":     {AccountKey: other},
		"wrong SAS":     {SASToken: strings.Replace(sas, "sig=c2lnbmF0dXJl", "sig=Zm9yZ2Vk", 1)},
		"read-only SAS": {SASToken: strings.Replace(sas, "sp=rwdlc", "sp=r", 1)},
		"expired SAS":   {SASToken: strings.Replace(sas, "se=", "se=2001-01-01T00:00:00Z&x=", 1)},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.AccountName, cfg.ContainerName, cfg.Endpoint = "acct", "recs", endpoint
			s := newStore(t, cfg)
			_, err := s.Put(t.Context(), "c/f.wav", strings.NewReader("RIFF"), "audio/wav")
			if !errors.Is(err, blob.ErrDenied) {
				t.Fatalf("put: %v, want ErrDenied", err)
			}
			if strings.Contains(err.Error(), "sig=") || strings.Contains(err.Error(), "Zm9yZ2Vk") {
				t.Fatalf("the error shows the SAS: %v", err)
			}
			if _, _, ok := az.Object("recs", "c/f.wav"); ok {
				t.Fatal("a denied put stored the blob")
			}
		})
	}
}

func TestAzureServerFailure(t *testing.T) {
	_, f, endpoint, _ := fake(t)
	s := newStore(t, azure.Config{AccountName: "acct", ContainerName: "recs", AccountKey: accountKey, Endpoint: endpoint, MaxAttempts: 2})
	f.FailNext(2, http.StatusInternalServerError)
	_, err := s.Put(t.Context(), "c/f.wav", strings.NewReader("RIFF"), "audio/wav")
	if !errors.Is(err, blob.ErrUnavailable) {
		t.Fatalf("put against a failing server: %v, want ErrUnavailable", err)
	}
	// One failure is absorbed by the SDK's own retry.
	f.FailNext(1, http.StatusServiceUnavailable)
	blobtest.Put(t, s, "c/f.wav", "RIFF", "audio/wav")
	if got := blobtest.MustGet(t, s, "c/f.wav", 1, 2); got != "IF" {
		t.Fatalf("get after a retried put: %q", got)
	}
}

func TestAzureUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	endpoint := srv.URL + "/acct"
	srv.Close()
	_, _, _, sas := fake(t)
	s := newStore(t, azure.Config{AccountName: "acct", ContainerName: "recs", SASToken: sas, Endpoint: endpoint, MaxAttempts: 1})
	_, err := s.Put(t.Context(), "c/f.wav", strings.NewReader("RIFF"), "audio/wav")
	if !errors.Is(err, blob.ErrUnavailable) {
		t.Fatalf("put to a closed port: %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "sig=") || strings.Contains(err.Error(), "c2lnbmF0dXJl") {
		t.Fatalf("the error shows the SAS: %v", err)
	}
}

func TestAzureConfigErrors(t *testing.T) {
	for _, cfg := range []azure.Config{
		{ContainerName: "c", AccountKey: accountKey},
		{AccountName: "a", AccountKey: accountKey},
		{AccountName: "a", ContainerName: "c"},
		{AccountName: "a", ContainerName: "c", AccountKey: accountKey, SASToken: "sig=x"},
		{AccountName: "a", ContainerName: "c", AccountKey: "not base64!"},
	} {
		if _, err := azure.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg.AccountName+"/"+cfg.ContainerName)
		}
	}
}
