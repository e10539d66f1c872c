package adapter_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/blob"
	"github.com/pbxbridge/pbxbridge/blob/blobtest"
	"github.com/pbxbridge/pbxbridge/blob/external"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/seal"
	"github.com/pbxbridge/pbxbridge/store/local"
	"github.com/pbxbridge/pbxbridge/translate"
)

// These tests run external-storage uploads as durable jobs, against the real embedded store,
// blob directory and sealing, with the S3 emulator gofakes3 and the Azure Blob fake on
// loopback as the external stores.

var (
	azKey      = base64.StdEncoding.EncodeToString([]byte("upload-test-azure-account-key!!!"))
	s3Secret   = "s3-secret-MUST-NOT-LEAK-8c1f"
	sealingKey = bytes.Repeat([]byte{7}, 32)
)

// syncBuf is a log sink the test greps.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// uploadRig opens the store in dir and an engine whose external stores are at the given
// endpoints, logging to logs.
func uploadRig(t *testing.T, dir, extraCfg string, logs *syncBuf) *rig {
	t.Helper()
	st, err := local.Open(dir, local.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	bl, err := blob.OpenDir(dir + "/blobs")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(`
apps:
  - {name: cx, dialect: flexml, url: "http://127.0.0.1:1/cx"}
transcription: {poll: 100ms, lease: 3s}
` + extraCfg))
	if err != nil {
		t.Fatal(err)
	}
	box, err := seal.New(sealingKey)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := adapter.New(adapter.Deps{Config: cfg, Store: st, Outbox: st, Blob: bl, Sender: noSender{}, Media: noMedia{},
		Links: noLinks{}, Jobs: st, Seal: box.Seal, Open: box.Open, External: external.New(cfg.ExternalStorage, nil),
		Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, dir: dir, st: st, bl: bl, cfg: cfg, eng: eng}
	t.Cleanup(func() { bl.Close(); st.Close() })
	return r
}

// azureFake starts the Azure Blob fake with fault injection; its endpoint is returned.
func azureFake(t *testing.T) (*blobtest.Azure, *blobtest.Faults, string) {
	t.Helper()
	az, err := blobtest.NewAzure("acct", azKey, "", "recs")
	if err != nil {
		t.Fatal(err)
	}
	f := blobtest.NewFaults(az)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return az, f, srv.URL + "/acct"
}

// runFor runs the job workers until cond holds.
func (r *rig) runUntil(what string, cond func() bool) {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.eng.RunJobs(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: not after 30s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// noSecrets fails when any secret shows in the text.
func noSecrets(t *testing.T, where, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s holds a secret (%.6s...)", where, s)
		}
	}
}

// storeFiles is every byte of the store's directory but the blobs.
func storeFiles(t *testing.T, dir string) string {
	t.Helper()
	var all bytes.Buffer
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() && !strings.Contains(p, "/blobs/") {
			b, _ := os.ReadFile(p)
			all.Write(b)
		}
		return nil
	})
	return all.String()
}

// TestUploadSurvivesRestart, per backend: the store fails, the upload is retried with backoff,
// the process stops with the job pending (no callback sent, the credentials sealed in the
// store), and after a restart the object arrives, then callbackUrl and the status callback go,
// and the job with its credentials is gone.
func TestUploadSurvivesRestart(t *testing.T) {
	t.Run("azure", func(t *testing.T) {
		az, faults, endpoint := azureFake(t)
		uploadSurvivesRestart(t, "azure_endpoint: \""+endpoint+"\"", endpoint+"/recs/rec-1.wav",
			`azureAccountName="acct" azureContainerName="recs" azureAccountKey="`+azKey+`"`, faults,
			func() ([]byte, string, bool) { return az.Object("recs", "rec-1.wav") }, azKey)
	})
	t.Run("gcs", func(t *testing.T) {
		g := blobtest.StartGCS(t, "recs")
		uploadSurvivesRestart(t, "gcs_endpoint: \""+g.Endpoint+"\", gcs_token_url: \""+g.TokenURL+"\"", "",
			`gcpAccessToken="`+blobtest.GCSAccessToken+`" gcpBucketName="recs" gcpProject="p"`, g.Faults,
			func() ([]byte, string, bool) {
				o, err := g.Server.GetObject("recs", "rec-1.wav")
				if err != nil {
					return nil, "", false
				}
				return o.Content, o.ContentType, true
			}, blobtest.GCSAccessToken)
	})
	t.Run("s3", func(t *testing.T) {
		be := s3mem.New()
		if err := be.CreateBucket("recs"); err != nil {
			t.Fatal(err)
		}
		faults := blobtest.NewFaults(blobtest.S3Auth(gofakes3.New(be).Server(), "AKIAUPLOADTEST", s3Secret, "us-east-1"))
		srv := httptest.NewServer(faults)
		t.Cleanup(srv.Close)
		uploadSurvivesRestart(t, "s3_endpoint: \""+srv.URL+"\"", "",
			`awsAccessKey="AKIAUPLOADTEST" awsSecretKey="`+s3Secret+`" awsBucketName="recs"`, faults,
			func() ([]byte, string, bool) {
				o, err := be.GetObject("recs", "rec-1.wav", nil)
				if err != nil {
					return nil, "", false
				}
				defer o.Contents.Close()
				data, err := io.ReadAll(o.Contents)
				return data, o.Metadata["Content-Type"], err == nil
			}, s3Secret)
	})
}

func uploadSurvivesRestart(t *testing.T, endpoints, recURL, attrs string, faults *blobtest.Faults,
	object func() ([]byte, string, bool), secret string) {
	dir := t.TempDir()
	cfg := "external_storage: {" + endpoints + ", backoff: 50ms, max_backoff: 200ms, attempts: 50}\n"
	var logs syncBuf
	r := uploadRig(t, dir, cfg, &logs)
	app, _ := r.cfg.App("cx")
	rec := record(t, translate.FlexML, attrs+` callbackUrl="/cb" recordingStatusCallback="/st"`)
	f := storedFile(t, r, "rec-1")
	local := blobtest.MustGet(t, r.bl, f.BlobKey, 0, -1)
	// RecordingUrl as the engine sets it when the recording is stored (session.externalURL).
	rp := cxRecording("rec-1", time.Second)
	st, err := r.eng.External.Open(context.Background(), rec.Storage.Kind, rec.Storage.Credentials)
	if err != nil {
		t.Fatal(err)
	}
	rp.URL = st.URL(f.Name)
	if c, ok := st.(io.Closer); ok {
		c.Close()
	}
	if recURL != "" && rp.URL != recURL {
		t.Fatalf("the store names the object %s, want %s", rp.URL, recURL)
	}

	faults.FailNext(1_000_000, http.StatusInternalServerError)
	r.eng.FileStoredForTest(context.Background(), app, "c0ffee", cxCall, rec, rp, f)
	r.runUntil("three failed attempts", func() bool { return faults.Requests() >= 3 })
	if es := r.drain(); len(es) != 0 {
		t.Fatalf("callbacks before the upload is confirmed: %v", kinds(es))
	}
	if n, _ := r.st.PendingJobs(context.Background()); n != 1 {
		t.Fatalf("%d jobs pending, want the upload", n)
	}
	noSecrets(t, "the store", storeFiles(t, dir), secret)
	r.bl.Close()
	r.st.Close()

	// Restart, with the store mended.
	faults.FailNext(0, 0)
	r = uploadRig(t, dir, cfg, &logs)
	r.run()
	data, ct, ok := object()
	if !ok {
		t.Fatal("the object never arrived")
	}
	localGone(t, r, f)
	if string(data) != local || ct != "audio/wav" {
		t.Fatalf("object: %d bytes %q, want the %d local bytes as audio/wav", len(data), ct, len(local))
	}
	es := r.drain()
	if got := strings.Join(kinds(es), ","); got != "callback,status" {
		t.Fatalf("callbacks %s, want callback,status", got)
	}
	for _, e := range es {
		body := string(e.Body) + e.URL
		if !strings.Contains(body, `"RecordingUrl":"`+rp.URL+`"`) {
			t.Errorf("%s callback does not point at the object: %s", e.Kind, body)
		}
		noSecrets(t, e.Kind+" callback", body+string(e.Auth), secret)
	}
	noSecrets(t, "the logs", logs.String(), secret)
	noSecrets(t, "the store", storeFiles(t, dir), secret)
}

// TestUploadFinalFailure: when every attempt fails, the status callback says failed, and
// callbackUrl is not sent; the local copy stays.
func TestUploadFinalFailure(t *testing.T) {
	_, faults, endpoint := azureFake(t)
	var logs syncBuf
	r := uploadRig(t, t.TempDir(), "external_storage: {azure_endpoint: \""+endpoint+"\", backoff: 10ms, max_backoff: 20ms, attempts: 3}\n", &logs)
	app, _ := r.cfg.App("cx")
	rec := record(t, translate.FlexML, `azureAccountName="acct" azureContainerName="recs" azureAccountKey="`+azKey+`" callbackUrl="/cb" recordingStatusCallback="/st"`)
	f := storedFile(t, r, "rec-2")
	faults.FailNext(1_000_000, http.StatusServiceUnavailable)
	r.eng.FileStoredForTest(context.Background(), app, "c0ffee", cxCall, rec, cxRecording("rec-2", time.Second), f)
	r.run()
	es := r.drain()
	if got := strings.Join(kinds(es), ","); got != "status" {
		t.Fatalf("callbacks %s, want status only", got)
	}
	if st := jsonBody(t, es[0]); st["RecordingStatus"] != "failed" {
		t.Fatalf("status callback %s, want RecordingStatus failed", es[0].Body)
	}
	if _, err := r.bl.Size(context.Background(), f.BlobKey); err != nil {
		t.Fatalf("the local copy is gone: %v", err)
	}
	noSecrets(t, "the logs", logs.String(), azKey)
}

// TestUploadS3: the S3 attributes, through gofakes3 behind a SigV4 check.
func TestUploadS3(t *testing.T) {
	be := s3mem.New()
	if err := be.CreateBucket("recs"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(blobtest.S3Auth(gofakes3.New(be).Server(), "AKIAUPLOADTEST", s3Secret, "us-east-1"))
	t.Cleanup(srv.Close)
	var logs syncBuf
	r := uploadRig(t, t.TempDir(), "external_storage: {s3_endpoint: \""+srv.URL+"\"}\n", &logs)
	app, _ := r.cfg.App("cx")
	rec := record(t, translate.FlexML, `awsAccessKey="AKIAUPLOADTEST" awsSecretKey="`+s3Secret+`" awsBucketName="recs" recordingStatusCallback="/st"`)
	f := storedFile(t, r, "rec-3")
	r.eng.FileStoredForTest(context.Background(), app, "c0ffee", cxCall, rec, cxRecording("rec-3", time.Second), f)
	r.run()
	obj, err := be.HeadObject("recs", "rec-3.wav")
	if err != nil || obj.Size != f.Bytes {
		t.Fatalf("object: %+v, %v", obj, err)
	}
	localGone(t, r, f)
	es := r.drain()
	if got := strings.Join(kinds(es), ","); got != "status" {
		t.Fatalf("callbacks %s, want status", got)
	}
	noSecrets(t, "the logs", logs.String(), s3Secret)
	noSecrets(t, "the callbacks", string(es[0].Body)+es[0].URL, s3Secret)
}

// TestExternalStoresNameTheAttribute: credentials a provider cannot take are refused with the
// attribute's name.
func TestExternalStoresNameTheAttribute(t *testing.T) {
	x := external.New(config.ExternalStorage{}, nil)
	for _, tc := range []struct {
		kind translate.StorageKind
		c    translate.Credentials
		attr string
	}{
		{translate.StorageS3, translate.Credentials{AWSAccessKey: translate.NewSecret("a"), AWSSecretKey: translate.NewSecret("b")}, "awsBucketName"},
		{translate.StorageS3, translate.Credentials{AWSBucket: "b", AWSSecretKey: translate.NewSecret("b")}, "awsAccessKey"},
		{translate.StorageGCS, translate.Credentials{GCPBucket: "b", GCPClientID: translate.NewSecret("x")}, "gcpAccessToken"},
		{translate.StorageAzure, translate.Credentials{AzureAccountName: "a", AzureContainerName: "c", AzureAccountKey: translate.NewSecret("not base64!")}, "azureAccountKey"},
		{translate.StorageAzure, translate.Credentials{AzureAccountName: "a", AzureAccountKey: translate.NewSecret(azKey)}, "azureContainerName"},
	} {
		_, err := x.Open(context.Background(), tc.kind, &tc.c)
		if err == nil || !strings.Contains(err.Error(), tc.attr) {
			t.Errorf("%s: %v, want an error naming %s", tc.kind, err, tc.attr)
		}
		if err != nil && strings.Contains(err.Error(), "not base64!") {
			t.Errorf("the error shows the key: %v", err)
		}
	}
}

// TestUploadPerAttributeSet: each way the attributes can name a store and its credentials
// uploads the file, and none of the secrets shows in the logs, the callbacks or the store.
func TestUploadPerAttributeSet(t *testing.T) {
	be := s3mem.New()
	if err := be.CreateBucket("recs"); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(blobtest.S3Auth(gofakes3.New(be).Server(), "AKIAUPLOADTEST", s3Secret, "us-east-1"))
	t.Cleanup(s3srv.Close)
	g := blobtest.StartGCS(t, "recs")
	sas := "sv=2021-08-06&ss=b&srt=o&sp=rw&se=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + "&sig=U0FTLXNpZ25hdHVyZQ"
	az, err := blobtest.NewAzure("acct", azKey, sas, "recs")
	if err != nil {
		t.Fatal(err)
	}
	azsrv := httptest.NewServer(az)
	t.Cleanup(azsrv.Close)
	cfg := "external_storage: {s3_endpoint: \"" + s3srv.URL + "\", gcs_endpoint: \"" + g.Endpoint + "\", gcs_token_url: \"" +
		g.TokenURL + "\", azure_endpoint: \"" + azsrv.URL + "/acct\"}\n"
	for _, tc := range []struct {
		name, attrs string
		secrets     []string
		stored      func(key string) bool
	}{
		{"aws keys", `awsAccessKey="AKIAUPLOADTEST" awsSecretKey="` + s3Secret + `" awsBucketName="recs"`, []string{s3Secret},
			func(k string) bool { _, err := be.HeadObject("recs", k); return err == nil }},
		{"gcp access token", `gcpAccessToken="` + blobtest.GCSAccessToken + `" gcpBucketName="recs" gcpProject="p"`, []string{blobtest.GCSAccessToken},
			func(k string) bool { _, err := g.Server.GetObject("recs", k); return err == nil }},
		{"gcp refresh token", `gcpClientId="` + blobtest.GCSClientID + `" gcpClientSecret="` + blobtest.GCSClientSecret + `" gcpRefreshToken="` +
			blobtest.GCSRefreshToken + `" gcpBucketName="recs" gcpProject="p"`, []string{blobtest.GCSClientSecret, blobtest.GCSRefreshToken},
			func(k string) bool { _, err := g.Server.GetObject("recs", k); return err == nil }},
		{"azure account key", `azureAccountName="acct" azureContainerName="recs" azureAccountKey="` + azKey + `"`, []string{azKey},
			func(k string) bool { _, _, ok := az.Object("recs", k); return ok }},
		{"azure sas token", `azureAccountName="acct" azureContainerName="recs" azureSasToken="` + strings.ReplaceAll(sas, "&", "&amp;") + `"`, []string{"U0FTLXNpZ25hdHVyZQ"},
			func(k string) bool { _, _, ok := az.Object("recs", k); return ok }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuf
			dir := t.TempDir()
			r := uploadRig(t, dir, cfg, &logs)
			app, _ := r.cfg.App("cx")
			rec := record(t, translate.FlexML, tc.attrs+` callbackUrl="/cb" recordingStatusCallback="/st"`)
			sid := strings.ReplaceAll(tc.name, " ", "-")
			f := storedFile(t, r, sid)
			r.eng.FileStoredForTest(context.Background(), app, "c0ffee", cxCall, rec, cxRecording(sid, time.Second), f)
			r.run()
			if !tc.stored(f.Name) {
				t.Fatalf("%s: the object is not in the store", f.Name)
			}
			localGone(t, r, f)
			es := r.drain()
			if got := strings.Join(kinds(es), ","); got != "callback,status" {
				t.Fatalf("callbacks %s, want callback,status", got)
			}
			for _, e := range es {
				noSecrets(t, e.Kind+" callback", string(e.Body)+e.URL+string(e.Auth), tc.secrets...)
			}
			noSecrets(t, "the logs", logs.String(), tc.secrets...)
			noSecrets(t, "the store", storeFiles(t, dir), tc.secrets...)
		})
	}
}

// TestUploadBacksOff: after a failed attempt the job is not claimed again before its backoff
// has passed, by this engine or another (a restart).
func TestUploadBacksOff(t *testing.T) {
	_, faults, endpoint := azureFake(t)
	var logs syncBuf
	dir := t.TempDir()
	r := uploadRig(t, dir, "external_storage: {azure_endpoint: \""+endpoint+"\", backoff: 3s, max_backoff: 3s, attempts: 5}\n", &logs)
	app, _ := r.cfg.App("cx")
	rec := record(t, translate.FlexML, `azureAccountName="acct" azureContainerName="recs" azureAccountKey="`+azKey+`" recordingStatusCallback="/st"`)
	f := storedFile(t, r, "rec-4")
	faults.FailNext(3, http.StatusInternalServerError) // one attempt: the SDK's three tries
	r.eng.FileStoredForTest(context.Background(), app, "c0ffee", cxCall, rec, cxRecording("rec-4", time.Second), f)
	failed := time.Now()
	r.run()
	if waited := time.Since(failed); waited < 3*time.Second {
		t.Fatalf("the upload finished %v after a failed attempt; the backoff is 3s", waited)
	}
	if n := faults.Requests(); n != 4 {
		t.Errorf("%d requests, want 3 failed tries and 1 upload", n)
	}
}

// storedFile writes a one-second recording and its File, as a Record stores it before the
// upload.
func storedFile(t *testing.T, r *rig, sid string) adapter.File {
	t.Helper()
	f := r.stored(sid, time.Second)
	f.Name, f.MIMEType, f.Created = sid+".wav", "audio/wav", time.Now()
	if err := r.st.CreateFile(context.Background(), f, 1<<40); err != nil {
		t.Fatal(err)
	}
	return f
}

// localGone fails unless the uploaded recording's local copy and File are gone.
func localGone(t *testing.T, r *rig, f adapter.File) {
	t.Helper()
	if _, err := r.st.GetFile(context.Background(), f.SID); !errors.Is(err, adapter.ErrNotFound) {
		t.Errorf("the File of an uploaded recording stays: %v", err)
	}
	if _, err := r.bl.Size(context.Background(), f.BlobKey); !errors.Is(err, adapter.ErrNotFound) {
		t.Errorf("the local copy of an uploaded recording stays: %v", err)
	}
}

// TestUploadWithTranscription: with transcription on, callbackUrl waits for the transcript
// (not for the upload), the status callback goes at once, and the upload keeps the local
// copy, which the transcription reads.
func TestUploadWithTranscription(t *testing.T) {
	az, _, endpoint := azureFake(t)
	var logs syncBuf
	r := uploadRig(t, t.TempDir(), "external_storage: {azure_endpoint: \""+endpoint+"\"}\n", &logs)
	app, _ := r.cfg.App("cx")
	rec := record(t, translate.FlexML, `azureAccountName="acct" azureContainerName="recs" azureAccountKey="`+azKey+`" transcribe="true" callbackUrl="/cb" recordingStatusCallback="/st"`)
	f := storedFile(t, r, "rec-5")
	r.eng.FileStoredForTest(context.Background(), app, "c0ffee", cxCall, rec, cxRecording("rec-5", time.Second), f)
	r.run()
	if _, _, ok := az.Object("recs", "rec-5.wav"); !ok {
		t.Fatal("the object never arrived")
	}
	if _, err := r.bl.Size(context.Background(), f.BlobKey); err != nil {
		t.Fatalf("the local copy is gone though a transcription reads it: %v", err)
	}
	if got := strings.Join(kinds(r.drain()), ","); got != "status,callback" {
		t.Fatalf("callbacks %s, want status then the transcript's callback", got)
	}
	noSecrets(t, "the logs", logs.String(), azKey)
}
