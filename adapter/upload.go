package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pbxbridge/pbxbridge/translate"
)

// This file sends recordings to the external store a Record names in its attributes
// (record.md §1.3: awsBucketName, gcpBucketName, azureContainerName and their credentials) as
// a durable job. The recording is first stored locally as any other; RecordingUrl points at
// the object it will become; the job uploads the local copy, retrying with backoff across
// restarts, then sends callbackUrl and the status callback (completed), or, when every
// attempt has failed, the status callback failed. The credentials travel in the job sealed
// with the outbox key and go with it once it is done: they are never logged, never in a
// callback, never stored in clear.

// JobUpload is the Kind of external-storage upload jobs.
const JobUpload = "upload"

// ErrExternalDisabled: a Record names an external store but this engine has no ExternalStores.
var ErrExternalDisabled = errors.New("external storage is not enabled")

// ExternalStore is one bucket or container of an external provider, opened with a Record's
// credentials. Safe for concurrent use.
type ExternalStore interface {
	Put(ctx context.Context, key string, data io.Reader, contentType string) (int64, error)
	// URL is where the object at key is (RecordingUrl). It holds no credential.
	URL(key string) string
}

// ExternalStores opens the external store a Record's attributes describe (blob/external).
// Open sends nothing; an error is a credential or name the provider cannot use, and names
// the attribute. Called from call goroutines and job workers at once.
type ExternalStores interface {
	Open(ctx context.Context, kind translate.StorageKind, c *translate.Credentials) (ExternalStore, error)
}

// isExternal reports whether the Record stores its file in an external store.
func isExternal(r *translate.Record) bool {
	return r.Storage.Credentials != nil && r.Storage.Kind != translate.StorageManaged && r.Storage.Kind != ""
}

// checkExternal refuses, before anything is captured, a Record whose external store cannot
// be used: no ExternalStores, or credentials its provider refuses to take.
func (s *session) checkExternal(ctx context.Context, r *translate.Record) error {
	if !isExternal(r) {
		return nil
	}
	if s.e.External == nil {
		return fmt.Errorf("%w: %w", ErrStorage, ErrExternalDisabled)
	}
	st, err := s.e.External.Open(ctx, r.Storage.Kind, r.Storage.Credentials)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrStorage, r.Storage.Kind, err)
	}
	closeStore(st)
	return nil
}

// closeStore releases a store that holds resources (the GCS client).
func closeStore(st ExternalStore) {
	if c, ok := st.(io.Closer); ok {
		_ = c.Close()
	}
}

// externalURL is the RecordingUrl of a file bound for an external store, and "" for others.
func (s *session) externalURL(ctx context.Context, r *translate.Record, f File) string {
	if !isExternal(r) || s.e.External == nil {
		return ""
	}
	st, err := s.e.External.Open(ctx, r.Storage.Kind, r.Storage.Credentials)
	if err != nil {
		return "" // checked before capture: unreachable
	}
	defer closeStore(st)
	return st.URL(objectKey(f))
}

// objectKey is the name of a file in an external store: its name in the container.
func objectKey(f File) string { return f.Name }

// uploadJob is the payload of an upload Job.
type uploadJob struct {
	App       string                    `json:"app"`
	Dialect   translate.Dialect         `json:"dialect"`
	Call      translate.CallParams      `json:"call"`
	Recording translate.RecordingParams `json:"recording"`
	Kind      translate.StorageKind     `json:"kind"`
	// Credentials is the JSON of sealedCredentials, sealed (Deps.Seal).
	Credentials []byte `json:"credentials"`
	BlobKey     string `json:"blob_key"`
	FileSID     string `json:"file_sid"`
	// DropLocal: once the upload is confirmed, the local copy and its File are removed. Not
	// when a transcription job reads the local copy too.
	DropLocal bool   `json:"drop_local,omitempty"`
	ObjectKey string `json:"object_key"`
	MIMEType  string `json:"mime_type"`
	// FileCallback and Status are callbackUrl and the status callback, held back until the
	// upload is confirmed; StatusFailed is the status callback for a final failure. Outbox
	// entries without their parameters; Auth is already sealed.
	FileCallback *Entry `json:"file_callback,omitempty"`
	Status       *Entry `json:"status,omitempty"`
	StatusFailed *Entry `json:"status_failed,omitempty"`
}

// sealedCredentials is what the sealed part of an upload job holds.
type sealedCredentials struct {
	AWSAccessKey, AWSSecretKey, AWSBucket                  string `json:",omitempty"`
	GCPBucket, GCPProject, GCPAccessToken, GCPRefreshToken string `json:",omitempty"`
	GCPClientID, GCPClientSecret                           string `json:",omitempty"`
	AzureAccountName, AzureContainerName                   string `json:",omitempty"`
	AzureAccountKey, AzureSASToken                         string `json:",omitempty"`
}

func sealable(c *translate.Credentials) sealedCredentials {
	return sealedCredentials{
		AWSAccessKey: c.AWSAccessKey.Reveal(), AWSSecretKey: c.AWSSecretKey.Reveal(), AWSBucket: c.AWSBucket,
		GCPBucket: c.GCPBucket, GCPProject: c.GCPProject, GCPAccessToken: c.GCPAccessToken.Reveal(),
		GCPRefreshToken: c.GCPRefreshToken.Reveal(), GCPClientID: c.GCPClientID.Reveal(), GCPClientSecret: c.GCPClientSecret.Reveal(),
		AzureAccountName: c.AzureAccountName, AzureContainerName: c.AzureContainerName,
		AzureAccountKey: c.AzureAccountKey.Reveal(), AzureSASToken: c.AzureSASToken.Reveal(),
	}
}

func (c sealedCredentials) credentials() *translate.Credentials {
	return &translate.Credentials{
		AWSAccessKey: translate.NewSecret(c.AWSAccessKey), AWSSecretKey: translate.NewSecret(c.AWSSecretKey), AWSBucket: c.AWSBucket,
		GCPBucket: c.GCPBucket, GCPProject: c.GCPProject, GCPAccessToken: translate.NewSecret(c.GCPAccessToken),
		GCPRefreshToken: translate.NewSecret(c.GCPRefreshToken), GCPClientID: translate.NewSecret(c.GCPClientID),
		GCPClientSecret:  translate.NewSecret(c.GCPClientSecret),
		AzureAccountName: c.AzureAccountName, AzureContainerName: c.AzureContainerName,
		AzureAccountKey: translate.NewSecret(c.AzureAccountKey), AzureSASToken: translate.NewSecret(c.AzureSASToken),
	}
}

// upload queues the upload of a stored recording to its Record's external store, with the
// callbacks that wait for it (all of them unless transcription holds callbackUrl: then only
// the failed status). It reports false when the job could not be made: the caller then sends
// the callbacks as for a local file, and the failure shows as status failed.
func (s *session) upload(ctx context.Context, r *translate.Record, st stored, holdCallbacks bool) {
	if s.e.Seal == nil {
		// Deps.Seal is always set by cmd/pbxbridge; without it the credentials could only be
		// stored in clear, so the upload is not made.
		s.log.Error("external storage upload not made: no sealing key for its credentials", "recording", st.params.ID)
		s.statusCallback(ctx, r, translate.RecordingParams{Status: translate.StatusFailed})
		return
	}
	plain, err := json.Marshal(sealable(r.Storage.Credentials))
	if err != nil {
		s.log.Error("external storage upload not made", "recording", st.params.ID, "err", err)
		return
	}
	uj := uploadJob{
		App: s.app.Name, Dialect: s.app.Dialect, Call: s.paramsFor(r), Recording: st.params,
		Kind: r.Storage.Kind, Credentials: s.e.Seal(plain),
		BlobKey: st.file.BlobKey, FileSID: st.file.SID, DropLocal: holdCallbacks,
		ObjectKey: objectKey(st.file), MIMEType: st.file.MIMEType,
	}
	clear(plain)
	if holdCallbacks {
		if r.FileCallback != nil {
			e := s.entry("callback", r.FileCallback, r.FileCallback.URL, nil, "")
			uj.FileCallback = &e
		}
		if r.StatusCallback.Wants(st.params.Status) {
			e := s.entry("status", &r.StatusCallback.Target, r.StatusCallback.Target.URL, nil, "")
			uj.Status = &e
		}
	}
	if r.StatusCallback.Wants(translate.StatusFailed) {
		e := s.entry("status", &r.StatusCallback.Target, r.StatusCallback.Target.URL, nil, "")
		uj.StatusFailed = &e
	}
	payload, err := json.Marshal(uj)
	if err != nil {
		s.log.Error("upload job could not be encoded and is lost", "err", err)
		return
	}
	now := s.e.Now()
	j := Job{ID: s.e.NewID(), Kind: JobUpload, CallID: s.id, Payload: payload, Created: now}
	s.log.Info("external storage upload queued", "job", j.ID, "recording", st.params.ID, "store", string(r.Storage.Kind), "object", uj.ObjectKey)
	s.e.addJob(ctx, j)
}

// errUploadRetry marks an attempt that failed and will be tried again after the backoff.
var errUploadRetry = errors.New("upload attempt failed; retrying after backoff")

// uploadBackoff is the wait after the attempt-th failed attempt (1-based).
func (e *Engine) uploadBackoff(attempt int) time.Duration {
	x := e.Config.ExternalStorage
	d := x.Backoff.D()
	for i := 1; i < attempt && d < x.MaxBackoff.D(); i++ {
		d *= 2
	}
	return min(d, x.MaxBackoff.D())
}

// runUpload runs one attempt of an upload job. A nil error means the job is done (uploaded,
// or failed for good and reported); an error leaves it queued, its lease pushed past the
// backoff so that no instance claims it before then.
func (e *Engine) runUpload(ctx context.Context, j Job) error {
	var uj uploadJob
	if err := json.Unmarshal(j.Payload, &uj); err != nil {
		e.Log.Error("upload job is unreadable and is dropped", "call_id", j.CallID, "job", j.ID, "err", err)
		return nil
	}
	log := e.Log.With("call_id", j.CallID, "job", j.ID, "app", uj.App, "recording", uj.Recording.ID, "store", string(uj.Kind), "attempt", j.Attempts)
	if uj.DropLocal {
		// The File goes only after the upload is confirmed and its callbacks queued: an
		// earlier attempt got that far and then stopped before the job was removed.
		if _, err := e.Store.GetFile(ctx, uj.FileSID); errors.Is(err, ErrNotFound) {
			log.Info("upload already confirmed by an earlier attempt")
			e.dropLocal(ctx, log, uj)
			return nil
		}
	}
	err := e.tryUpload(ctx, uj)
	if err == nil {
		log.Info("recording uploaded to external storage", "object", uj.ObjectKey)
		if err := e.uploadCallbacks(ctx, j, uj, uj.FileCallback, uj.Status, uj.Recording); err != nil {
			return err
		}
		if uj.DropLocal {
			e.dropLocal(ctx, log, uj)
		}
		return nil
	}
	if c := context.Cause(ctx); c != nil {
		return c // shutdown or lost lease: run again
	}
	var perm permanentError
	final := errors.As(err, &perm) || j.Attempts >= e.Config.ExternalStorage.Attempts || e.Jobs == nil
	if !final {
		wait := e.uploadBackoff(max(j.Attempts, 1))
		log.Warn("external storage upload failed; retrying", "err", err, "in", wait)
		return retryAfter{at: e.Now().Add(wait), err: fmt.Errorf("%w: %w", errUploadRetry, err)}
	}
	log.Error("external storage upload failed for good; the recording stays in its local container", "err", err, "attempts", j.Attempts)
	rp := translate.RecordingParams{Status: translate.StatusFailed}
	return e.uploadCallbacks(ctx, j, uj, nil, uj.StatusFailed, rp)
}

// dropLocal removes the local copy of an uploaded recording: its File first (which tells a
// rerun of the job that the upload was confirmed), then its bytes. Best effort: a leftover
// costs space, not correctness.
func (e *Engine) dropLocal(ctx context.Context, log interface{ Warn(string, ...any) }, uj uploadJob) {
	ctx = context.WithoutCancel(ctx)
	if err := e.Store.DeleteFile(ctx, uj.FileSID); err != nil && !errors.Is(err, ErrNotFound) {
		log.Warn("removing the uploaded recording's local file", "err", err)
		return
	}
	if err := e.Blob.Delete(ctx, uj.BlobKey); err != nil && !errors.Is(err, ErrNotFound) {
		log.Warn("removing the uploaded recording's local copy", "err", err)
	}
}

// retryAfter is a job's failed attempt that must not run again before at: the worker holds
// the job's lease until then, so that no instance, this one after a restart included, claims
// it sooner.
type retryAfter struct {
	at  time.Time
	err error
}

func (r retryAfter) Error() string { return r.err.Error() }
func (r retryAfter) Unwrap() error { return r.err }

// permanentError is a failure no retry can mend (the job's credentials or local copy).
type permanentError struct{ error }

func (p permanentError) Unwrap() error { return p.error }

// tryUpload opens the credentials and sends the local copy.
func (e *Engine) tryUpload(ctx context.Context, uj uploadJob) error {
	if e.External == nil {
		return permanentError{ErrExternalDisabled}
	}
	if e.Open == nil {
		return permanentError{errors.New("no key to open the job's sealed credentials")}
	}
	plain, err := e.Open(uj.Credentials)
	if err != nil {
		return permanentError{fmt.Errorf("opening the job's sealed credentials: %w", err)}
	}
	var sc sealedCredentials
	err = json.Unmarshal(plain, &sc)
	clear(plain)
	if err != nil {
		return permanentError{errors.New("the job's credentials are unreadable")}
	}
	st, err := e.External.Open(ctx, uj.Kind, sc.credentials())
	if err != nil {
		return permanentError{err}
	}
	defer closeStore(st)
	rc, err := e.Blob.Get(ctx, uj.BlobKey, 0, -1)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return permanentError{fmt.Errorf("local copy %s: %w", uj.BlobKey, err)}
		}
		return fmt.Errorf("reading local copy %s: %w", uj.BlobKey, err)
	}
	defer rc.Close()
	// A denied upload is retried too: a bucket policy can be mended while the job waits.
	_, err = st.Put(ctx, uj.ObjectKey, rc, uj.MIMEType)
	return err
}

// uploadCallbacks queues the callbacks an upload job held back.
func (e *Engine) uploadCallbacks(ctx context.Context, j Job, uj uploadJob, file, status *Entry, rp translate.RecordingParams) error {
	call := uj.Call
	if _, err := e.Store.GetCall(ctx, j.CallID); errors.Is(err, ErrNotFound) {
		call.Status = translate.CallCompleted // the call has ended since the recording
	}
	var entries []Entry
	if file != nil {
		p, err := translate.FileCallbackParams(uj.Dialect, call, rp)
		if err != nil {
			return err
		}
		entries = append(entries, filled(*file, p, e.Now()))
	}
	if status != nil {
		entries = append(entries, filled(*status, translate.StatusCallbackParams(call, rp), e.Now()))
	}
	if len(entries) == 0 {
		return nil
	}
	if err := e.Outbox.Enqueue(context.WithoutCancel(ctx), entries...); err != nil {
		if !errors.Is(err, ErrConflict) {
			return fmt.Errorf("queueing upload callbacks: %w", err)
		}
	}
	if e.Wake != nil {
		e.Wake()
	}
	return nil
}
