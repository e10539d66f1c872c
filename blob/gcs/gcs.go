// Package gcs stores blobs in a Google Cloud Storage bucket through the official SDK
// (cloud.google.com/go/storage). It lives apart from package blob so that a binary that does
// not use GCS does not link the SDK.
package gcs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/blob"
)

var _ adapter.Blob = (*Store)(nil)

// GoogleTokenURL is Google's OAuth 2.0 token endpoint, where a refresh token becomes an access
// token.
const GoogleTokenURL = "https://oauth2.googleapis.com/token"

// Config names one bucket and the credentials to reach it: an access token, or a client id,
// client secret and refresh token (CarrierX's gcp* Record attributes). Its secret fields must
// never be logged: Config has no String method on purpose.
type Config struct {
	Bucket  string // required
	Project string // the bucket's project; informational, objects need only the bucket

	AccessToken  string // either this
	ClientID     string // or these three
	ClientSecret string
	RefreshToken string
	TokenURL     string // default GoogleTokenURL

	// Endpoint is the JSON API base of an emulator ("http://127.0.0.1:4443/storage/v1/"); empty
	// for Google.
	Endpoint string
	// MaxAttempts caps the SDK's attempts per operation (default 3); the durable upload job
	// retries beyond that, across restarts.
	MaxAttempts int
	// Timeout bounds one Put, retries included (default 2m): the SDK retries an upload until
	// its deadline whatever MaxAttempts says.
	Timeout    time.Duration
	HTTPClient *http.Client // used for the API and the token endpoint; default http.DefaultClient
}

// Store is one bucket. It is safe for concurrent use; Close releases it.
type Store struct {
	base    string // the URL of the bucket, for URL
	bucket  string
	timeout time.Duration
	c       *storage.Client
}

// New checks cfg and returns its Store. It sends nothing: a bad credential shows on first use.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("gcs: bucket is required")
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	var ts oauth2.TokenSource
	switch {
	case cfg.AccessToken != "":
		ts = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: cfg.AccessToken, TokenType: "Bearer"})
	case cfg.ClientID != "" && cfg.ClientSecret != "" && cfg.RefreshToken != "":
		tokenURL := cfg.TokenURL
		if tokenURL == "" {
			tokenURL = GoogleTokenURL
		}
		oc := &oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
			Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams}}
		// The token source outlives ctx: it refreshes for as long as the Store is used.
		tctx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, hc)
		ts = oc.TokenSource(tctx, &oauth2.Token{RefreshToken: cfg.RefreshToken})
	default:
		return nil, errors.New("gcs: an access token, or a client id, client secret and refresh token, are required")
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	opts := []option.ClientOption{
		option.WithHTTPClient(&http.Client{Transport: &oauth2.Transport{Source: ts, Base: base}}),
		// The JSON API for reads too: one endpoint to configure for an emulator.
		storage.WithJSONReads(),
	}
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.Endpoint))
	}
	c, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("gcs: client: %w", err)
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	// RetryAlways: a Put writes the same bytes to the same key whenever it is repeated, so an
	// upload is as safe to retry as a read, though GCS calls it non-idempotent.
	c.SetRetry(storage.WithMaxAttempts(cfg.MaxAttempts), storage.WithPolicy(storage.RetryAlways),
		storage.WithBackoff(gax.Backoff{Initial: 100 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2}))
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	bucketURL := "https://storage.googleapis.com/" + cfg.Bucket
	if cfg.Endpoint != "" {
		bucketURL = strings.TrimSuffix(strings.TrimSuffix(cfg.Endpoint, "/"), "/storage/v1") + "/" + cfg.Bucket
	}
	return &Store{base: bucketURL, bucket: cfg.Bucket, timeout: cfg.Timeout, c: c}, nil
}

// Close releases the client.
func (s *Store) Close() error { return s.c.Close() }

// Put stores data under key.
func (s *Store) Put(ctx context.Context, key string, data io.Reader, contentType string) (int64, error) {
	if err := blob.CheckKey(key); err != nil {
		return 0, fmt.Errorf("blob: gcs put: %w", err)
	}
	// Cancelling wctx abandons the write, so that a failed copy stores nothing.
	wctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	w := s.c.Bucket(s.bucket).Object(key).NewWriter(wctx)
	w.ContentType = contentType
	w.ChunkRetryDeadline = s.timeout
	// The default ChunkSize buffers each chunk, which is what lets the SDK retry a failed
	// request; a recording usually fits in one.
	src := &readErr{r: data}
	n, err := io.Copy(w, src)
	if err != nil {
		if src.err != nil {
			// The reader failed: abandon the upload, so that nothing is stored.
			cancel()
			_ = w.Close()
			return 0, fmt.Errorf("blob: gcs put %s: %w", key, src.err)
		}
		// The upload failed; Close reports it.
		if cerr := w.Close(); cerr != nil {
			err = cerr
		}
		return 0, s.fail(ctx, "put", key, err)
	}
	if err := w.Close(); err != nil {
		return 0, s.fail(ctx, "put", key, err)
	}
	return n, nil
}

// Get opens bytes [offset, offset+length) of the object; see blob.Dir.Get for the rules.
func (s *Store) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := blob.CheckKey(key); err != nil {
		return nil, fmt.Errorf("blob: gcs get: %w", err)
	}
	length, empty, err := blob.ResolveRange(func() (blob.Info, error) { return s.Stat(ctx, key) }, offset, length)
	if err != nil {
		if errors.Is(err, blob.ErrInvalidRange) {
			return nil, fmt.Errorf("blob: gcs get %s: %w", key, err)
		}
		return nil, err
	}
	if empty {
		return blob.EmptyReader(), nil
	}
	if length < 0 {
		length = -1
	}
	r, err := s.c.Bucket(s.bucket).Object(key).NewRangeReader(ctx, offset, length)
	if err != nil {
		return nil, s.fail(ctx, "get", key, err)
	}
	return r, nil
}

// Stat describes the object at key.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	if err := blob.CheckKey(key); err != nil {
		return blob.Info{}, fmt.Errorf("blob: gcs stat: %w", err)
	}
	a, err := s.c.Bucket(s.bucket).Object(key).Attrs(ctx)
	if err != nil {
		return blob.Info{}, s.fail(ctx, "stat", key, err)
	}
	return blob.Info{Size: a.Size, ContentType: a.ContentType, Modified: a.Updated}, nil
}

// Size is the object's length in bytes.
func (s *Store) Size(ctx context.Context, key string) (int64, error) {
	info, err := s.Stat(ctx, key)
	return info.Size, err
}

// Delete removes the object.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := blob.CheckKey(key); err != nil {
		return fmt.Errorf("blob: gcs delete: %w", err)
	}
	if err := s.c.Bucket(s.bucket).Object(key).Delete(ctx); err != nil {
		return s.fail(ctx, "delete", key, err)
	}
	return nil
}

// fail turns an SDK error into a blob.RemoteError, which keeps neither the URL nor headers.
func (s *Store) fail(ctx context.Context, op, key string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("blob: gcs %s %s: %w", op, key, context.Cause(ctx))
	}
	if errors.Is(err, storage.ErrObjectNotExist) || errors.Is(err, storage.ErrBucketNotExist) {
		return blob.NewRemoteError("gcs", op, key, http.StatusNotFound, "notFound")
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		code := ""
		if len(ge.Errors) > 0 {
			code = ge.Errors[0].Reason
		}
		return blob.NewRemoteError("gcs", op, key, ge.Code, code)
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := http.StatusUnauthorized
		if re.Response != nil && re.Response.StatusCode >= 500 {
			status = re.Response.StatusCode
		}
		return blob.NewRemoteError("gcs", op, key, status, "token: "+re.ErrorCode)
	}
	return blob.NewRemoteError("gcs", op, key, 0, blob.TransportCode(err))
}

// readErr remembers its reader's failure, to tell it from the upload's.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// URL is where the object at key is (GCS's XML API address).
func (s *Store) URL(key string) string { return s.base + "/" + key }
