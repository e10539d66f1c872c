// Package s3 stores blobs in an Amazon S3 bucket, or a bucket of any S3-compatible server, through
// the official SDK (aws-sdk-go-v2). It lives apart from package blob so that a binary that
// does not use S3 does not link the SDK.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/blob"
)

var _ adapter.Blob = (*Store)(nil)

// Config names one bucket and the credentials to reach it. Its secret fields must never be
// logged: Config has no String method on purpose, and the Store keeps it unexported.
type Config struct {
	Bucket    string // required
	Region    string // default "us-east-1"
	AccessKey string // required
	SecretKey string // required
	// Endpoint is the base URL of an S3-compatible server ("http://127.0.0.1:9000"); empty for
	// AWS. With an endpoint, buckets are addressed by path (host/bucket/key).
	Endpoint string
	// MaxAttempts caps the SDK's attempts per operation (default 3); the durable upload job
	// retries beyond that, across restarts.
	MaxAttempts int
	HTTPClient  *http.Client // default http.DefaultClient's transport
}

// Store is one bucket. It is safe for concurrent use.
type Store struct {
	bucket string
	base   string // the URL of the bucket, for URL
	c      *s3.Client
}

// New checks cfg and returns its Store. It sends nothing: a bad credential shows on first use.
func New(cfg Config) (*Store, error) {
	switch {
	case cfg.Bucket == "":
		return nil, errors.New("s3: bucket is required")
	case cfg.AccessKey == "":
		return nil, errors.New("s3: access key is required")
	case cfg.SecretKey == "":
		return nil, errors.New("s3: secret key is required")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	opts := s3.Options{
		Region:           cfg.Region,
		Credentials:      credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
		RetryMaxAttempts: cfg.MaxAttempts,
		// Only the checksums S3 requires: S3-compatible servers do not all know the newer ones.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if cfg.HTTPClient != nil {
		opts.HTTPClient = cfg.HTTPClient
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
		opts.UsePathStyle = true
	}
	base := "https://" + cfg.Bucket + ".s3." + cfg.Region + ".amazonaws.com"
	if cfg.Endpoint != "" {
		base = strings.TrimSuffix(cfg.Endpoint, "/") + "/" + cfg.Bucket
	}
	return &Store{bucket: cfg.Bucket, base: base, c: s3.New(opts)}, nil
}

// Put stores data under key. PutObject needs the length and, over plain HTTP, a seekable body
// to sign, so a reader that is not an io.ReadSeeker is read into memory first: recordings are
// bounded by the session cap.
func (s *Store) Put(ctx context.Context, key string, data io.Reader, contentType string) (int64, error) {
	if err := blob.CheckKey(key); err != nil {
		return 0, fmt.Errorf("blob: s3 put: %w", err)
	}
	rs, ok := data.(io.ReadSeeker)
	if !ok {
		b, err := io.ReadAll(data)
		if err != nil {
			return 0, fmt.Errorf("blob: s3 put %s: read: %w", key, err)
		}
		rs = bytes.NewReader(b)
	}
	start, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, fmt.Errorf("blob: s3 put %s: %w", key, err)
	}
	end, err := rs.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = rs.Seek(start, io.SeekStart)
	}
	if err != nil {
		return 0, fmt.Errorf("blob: s3 put %s: %w", key, err)
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		Body:          rs,
		ContentLength: aws.Int64(end - start),
	}
	if contentType != "" {
		in.ContentType = aws.String(contentType)
	}
	if _, err := s.c.PutObject(ctx, in); err != nil {
		return 0, s.fail(ctx, "put", key, err)
	}
	return end - start, nil
}

// Get opens bytes [offset, offset+length) of the object; see blob.Dir.Get for the rules.
func (s *Store) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := blob.CheckKey(key); err != nil {
		return nil, fmt.Errorf("blob: s3 get: %w", err)
	}
	length, empty, err := blob.ResolveRange(func() (blob.Info, error) { return s.Stat(ctx, key) }, offset, length)
	if err != nil {
		if errors.Is(err, blob.ErrInvalidRange) {
			return nil, fmt.Errorf("blob: s3 get %s: %w", key, err)
		}
		return nil, err
	}
	if empty {
		return blob.EmptyReader(), nil
	}
	in := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
	if length > 0 {
		in.Range = aws.String("bytes=" + strconv.FormatInt(offset, 10) + "-" + strconv.FormatInt(offset+length-1, 10))
	}
	out, err := s.c.GetObject(ctx, in)
	if err != nil {
		return nil, s.fail(ctx, "get", key, err)
	}
	return out.Body, nil
}

// Stat describes the object at key.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	if err := blob.CheckKey(key); err != nil {
		return blob.Info{}, fmt.Errorf("blob: s3 stat: %w", err)
	}
	out, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return blob.Info{}, s.fail(ctx, "stat", key, err)
	}
	return blob.Info{
		Size:        aws.ToInt64(out.ContentLength),
		ContentType: aws.ToString(out.ContentType),
		Modified:    aws.ToTime(out.LastModified),
	}, nil
}

// Size is the object's length in bytes.
func (s *Store) Size(ctx context.Context, key string) (int64, error) {
	info, err := s.Stat(ctx, key)
	return info.Size, err
}

// Delete removes the object. S3 answers a delete of a missing key with success, so Delete
// asks first, to wrap adapter.ErrNotFound as every backend does.
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.Stat(ctx, key); err != nil {
		return err
	}
	if _, err := s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}); err != nil {
		return s.fail(ctx, "delete", key, err)
	}
	return nil
}

// fail turns an SDK error into a blob.RemoteError, which keeps neither the URL nor headers.
func (s *Store) fail(ctx context.Context, op, key string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("blob: s3 %s %s: %w", op, key, context.Cause(ctx))
	}
	status, code := 0, ""
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	} else if status == 0 {
		code = blob.TransportCode(err)
	}
	return blob.NewRemoteError("s3", op, key, status, code)
}

// URL is where the object at key is, virtual-hosted style on AWS, path style on an endpoint.
// Reading it needs the bucket owner's credentials unless the bucket is public.
func (s *Store) URL(key string) string { return s.base + "/" + key }
