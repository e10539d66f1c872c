// Package azure stores blobs in an Azure Blob Storage container through the official SDK
// (azure-sdk-for-go azblob). It lives apart from package blob so that a binary that does not
// use Azure does not link the SDK.
package azure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	azblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/blob"
)

var _ adapter.Blob = (*Store)(nil)

// Config names one container and the credentials to reach it: the account key (SharedKey) or
// a SAS token (CarrierX's azure* Record attributes). Its secret fields must never be logged:
// Config has no String method on purpose.
type Config struct {
	AccountName   string // required
	ContainerName string // required
	AccountKey    string // base64, as the portal shows it; either this
	SASToken      string // or this ("sv=...&sig=...", with or without a leading '?')

	// Endpoint is the blob service URL: default https://<account>.blob.core.windows.net; for
	// an emulator, path-style: http://127.0.0.1:10000/<account>.
	Endpoint string
	// MaxAttempts caps the SDK's attempts per operation (default 3); the durable upload job
	// retries beyond that, across restarts.
	MaxAttempts int
	HTTPClient  *http.Client // default http.DefaultClient
}

// Store is one container. It is safe for concurrent use.
type Store struct {
	base string // the container's URL without any SAS, for URL
	c    *container.Client
}

// New checks cfg and returns its Store. It sends nothing: a bad credential shows on first use.
func New(cfg Config) (*Store, error) {
	switch {
	case cfg.AccountName == "":
		return nil, errors.New("azure: account name is required")
	case cfg.ContainerName == "":
		return nil, errors.New("azure: container name is required")
	case (cfg.AccountKey == "") == (cfg.SASToken == ""):
		return nil, errors.New("azure: exactly one of account key and SAS token is required")
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = "https://" + cfg.AccountName + ".blob.core.windows.net"
	}
	u, err := url.Parse(strings.TrimSuffix(endpoint, "/") + "/" + url.PathEscape(cfg.ContainerName))
	if err != nil {
		return nil, errors.New("azure: endpoint is not a URL")
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	opts := &container.ClientOptions{ClientOptions: azcore.ClientOptions{
		Retry: policy.RetryOptions{MaxRetries: int32(cfg.MaxAttempts - 1), RetryDelay: 200 * time.Millisecond, MaxRetryDelay: 2 * time.Second},
		// Never log a request: the URL of a SAS request carries the signature.
		Logging: policy.LogOptions{IncludeBody: false},
	}}
	if cfg.HTTPClient != nil {
		opts.Transport = cfg.HTTPClient
	}
	var c *container.Client
	if cfg.AccountKey != "" {
		cred, err := container.NewSharedKeyCredential(cfg.AccountName, cfg.AccountKey)
		if err != nil {
			return nil, errors.New("azure: account key is not base64")
		}
		c, err = container.NewClientWithSharedKeyCredential(u.String(), cred, opts)
		if err != nil {
			return nil, fmt.Errorf("azure: client: %w", err)
		}
	} else {
		u.RawQuery = strings.TrimPrefix(cfg.SASToken, "?")
		if _, err := url.ParseQuery(u.RawQuery); err != nil {
			return nil, errors.New("azure: SAS token is not a query string")
		}
		c, err = container.NewClientWithNoCredential(u.String(), opts)
		if err != nil {
			return nil, errors.New("azure: client: bad SAS URL")
		}
	}
	base := *u
	base.RawQuery = ""
	return &Store{base: base.String(), c: c}, nil
}

// Put stores data under key as a block blob: UploadStream sends one Put Blob, or Put Block
// calls and a Put Block List for data beyond one block.
func (s *Store) Put(ctx context.Context, key string, data io.Reader, contentType string) (int64, error) {
	if err := blob.CheckKey(key); err != nil {
		return 0, fmt.Errorf("blob: azure put: %w", err)
	}
	cr := &countReader{r: data}
	opts := &blockblob.UploadStreamOptions{}
	if contentType != "" {
		opts.HTTPHeaders = &azblob.HTTPHeaders{BlobContentType: &contentType}
	}
	if _, err := s.c.NewBlockBlobClient(key).UploadStream(ctx, cr, opts); err != nil {
		if cr.err != nil {
			return 0, fmt.Errorf("blob: azure put %s: %w", key, cr.err)
		}
		return 0, s.fail(ctx, "put", key, err)
	}
	return cr.n, nil
}

// countReader counts what the upload read and remembers the reader's own failure.
type countReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

// Get opens bytes [offset, offset+length) of the object; see blob.Dir.Get for the rules.
func (s *Store) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := blob.CheckKey(key); err != nil {
		return nil, fmt.Errorf("blob: azure get: %w", err)
	}
	length, empty, err := blob.ResolveRange(func() (blob.Info, error) { return s.Stat(ctx, key) }, offset, length)
	if err != nil {
		if errors.Is(err, blob.ErrInvalidRange) {
			return nil, fmt.Errorf("blob: azure get %s: %w", key, err)
		}
		return nil, err
	}
	if empty {
		return blob.EmptyReader(), nil
	}
	opts := &azblob.DownloadStreamOptions{}
	if length > 0 {
		opts.Range = azblob.HTTPRange{Offset: offset, Count: length}
	}
	resp, err := s.c.NewBlobClient(key).DownloadStream(ctx, opts)
	if err != nil {
		return nil, s.fail(ctx, "get", key, err)
	}
	return resp.Body, nil
}

// Stat describes the object at key.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	if err := blob.CheckKey(key); err != nil {
		return blob.Info{}, fmt.Errorf("blob: azure stat: %w", err)
	}
	p, err := s.c.NewBlobClient(key).GetProperties(ctx, nil)
	if err != nil {
		return blob.Info{}, s.fail(ctx, "stat", key, err)
	}
	info := blob.Info{}
	if p.ContentLength != nil {
		info.Size = *p.ContentLength
	}
	if p.ContentType != nil {
		info.ContentType = *p.ContentType
	}
	if p.LastModified != nil {
		info.Modified = *p.LastModified
	}
	return info, nil
}

// Size is the object's length in bytes.
func (s *Store) Size(ctx context.Context, key string) (int64, error) {
	info, err := s.Stat(ctx, key)
	return info.Size, err
}

// Delete removes the object.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := blob.CheckKey(key); err != nil {
		return fmt.Errorf("blob: azure delete: %w", err)
	}
	if _, err := s.c.NewBlobClient(key).Delete(ctx, nil); err != nil {
		return s.fail(ctx, "delete", key, err)
	}
	return nil
}

// fail turns an SDK error into a blob.RemoteError: azcore's own error text holds the request
// URL, and with it a SAS token's signature.
func (s *Store) fail(ctx context.Context, op, key string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("blob: azure %s %s: %w", op, key, context.Cause(ctx))
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return blob.NewRemoteError("azure", op, key, re.StatusCode, re.ErrorCode)
	}
	return blob.NewRemoteError("azure", op, key, 0, blob.TransportCode(err))
}

// URL is where the object at key is, without the SAS token the Store may use.
func (s *Store) URL(key string) string { return s.base + "/" + key }
