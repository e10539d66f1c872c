package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// Container is a configured recording container, as the files API describes it.
type Container struct {
	SID        string
	QuotaBytes int64 // <= 0: no limit
}

// List limits of GET /core/v2/storage/files (CarrierX's default page is 10 items).
const (
	defaultListLimit = 10
	maxListLimit     = 1000
)

// list is CarrierX's list shape, without offset and total: pages continue after the last
// SID (pagination.next), so counting every match is never needed.
type list[T any] struct {
	Count      int        `json:"count"`
	HasMore    bool       `json:"has_more"`
	Items      []T        `json:"items"`
	Limit      int        `json:"limit"`
	Pagination pagination `json:"pagination"`
}

type pagination struct {
	Next string `json:"next,omitempty"` // the next page's path and query; absent on the last page
}

// containerObject is a container in CarrierX's shape: its quota, the bytes its files use, and
// the defaults new files get (pbxbridge's are CarrierX's: no_action, -1, file_sid).
type containerObject struct {
	ContainerSID    string `json:"container_sid"`
	QuotaBytes      int64  `json:"quota_bytes"`
	BytesUsed       int64  `json:"bytes_used"`
	BytesAvailable  *int64 `json:"bytes_available"` // null without a quota
	LifecycleAction string `json:"lifecycle_action"`
	LifecycleTTL    int64  `json:"lifecycle_ttl"`
	Publish         string `json:"publish"`
	Type            string `json:"type"`
}

func (s *Server) containerObject(ctx context.Context, c Container) (containerObject, error) {
	used, err := s.d.Store.ContainerUsage(ctx, c.SID)
	if err != nil {
		return containerObject{}, err
	}
	o := containerObject{ContainerSID: c.SID, QuotaBytes: c.QuotaBytes, BytesUsed: used,
		LifecycleAction: "no_action", LifecycleTTL: -1, Publish: "file_sid", Type: "container"}
	if c.QuotaBytes > 0 {
		avail := max(c.QuotaBytes-used, 0)
		o.BytesAvailable = &avail
	}
	return o, nil
}

// listContainers is GET /core/v2/storage/containers: every configured container (one page).
func (s *Server) listContainers(c echo.Context) error {
	if err := s.requireToken(c); err != nil {
		return err
	}
	if err := onlyParams(c.QueryParams()); err != nil {
		return err
	}
	out := list[containerObject]{Items: []containerObject{}}
	for _, ct := range s.d.Containers {
		o, err := s.containerObject(c.Request().Context(), ct)
		if err != nil {
			return err
		}
		out.Items = append(out.Items, o)
	}
	out.Count, out.Limit = len(out.Items), len(out.Items)
	return c.JSON(http.StatusOK, out)
}

// getContainer is GET /core/v2/storage/containers/{sid}: 404 for a container that is not
// configured.
func (s *Server) getContainer(c echo.Context) error {
	if err := s.requireToken(c); err != nil {
		return err
	}
	for _, ct := range s.d.Containers {
		if ct.SID == c.Param("sid") {
			o, err := s.containerObject(c.Request().Context(), ct)
			if err != nil {
				return err
			}
			return c.JSON(http.StatusOK, o)
		}
	}
	return adapter.ErrNotFound
}

// listFiles is GET /core/v2/storage/files: files ordered by SID, filtered by container_sid,
// integer_key_1/2 and string_key_1/2 (exact match), limit items per page (default 10, 1–1000),
// continuing after the SID given in after.
func (s *Server) listFiles(c echo.Context) error {
	if err := s.requireToken(c); err != nil {
		return err
	}
	q, err := parseFileQuery(c.QueryParams())
	if err != nil {
		return err
	}
	limit := q.Limit
	q.Limit = limit + 1 // one more tells whether another page follows
	files, err := s.d.Store.ListFiles(c.Request().Context(), q)
	if err != nil {
		return err
	}
	out := list[fileObject]{Items: []fileObject{}, Limit: limit}
	if len(files) > limit {
		files, out.HasMore = files[:limit], true
	}
	for _, f := range files {
		out.Items = append(out.Items, s.fileObject(f))
	}
	out.Count = len(out.Items)
	if out.HasMore {
		next := c.QueryParams()
		next.Set("after", files[len(files)-1].SID)
		next.Set("limit", strconv.Itoa(limit))
		out.Pagination.Next = c.Request().URL.Path + "?" + next.Encode()
	}
	return c.JSON(http.StatusOK, out)
}

var fileListParams = []string{"container_sid", "integer_key_1", "integer_key_2", "string_key_1", "string_key_2", "limit", "after"}

// onlyParams refuses query parameters not in allowed and parameters given twice: a misspelt
// filter would otherwise list every file.
func onlyParams(v url.Values, allowed ...string) error {
	for k, vs := range v {
		known := false
		for _, a := range allowed {
			known = known || a == k
		}
		if !known {
			rule := "is not a parameter of this endpoint"
			if len(allowed) > 0 {
				rule += fmt.Sprintf(" (use %v)", allowed)
			}
			return &BadRequestError{Field: k, Rule: rule, Value: vs[0]}
		}
		if len(vs) > 1 {
			return &BadRequestError{Field: k, Rule: "must be given once", Value: vs[1]}
		}
	}
	return nil
}

func parseFileQuery(v url.Values) (adapter.FileQuery, error) {
	if err := onlyParams(v, fileListParams...); err != nil {
		return adapter.FileQuery{}, err
	}
	q := adapter.FileQuery{Limit: defaultListLimit}
	nonEmpty := func(name string) (*string, error) {
		if !v.Has(name) {
			return nil, nil
		}
		s := v.Get(name)
		if s == "" {
			return nil, &BadRequestError{Field: name, Rule: "must not be empty", Value: s}
		}
		return &s, nil
	}
	integer := func(name string) (*int64, error) {
		if !v.Has(name) {
			return nil, nil
		}
		n, err := strconv.ParseInt(v.Get(name), 10, 64)
		if err != nil {
			return nil, &BadRequestError{Field: name, Rule: "must be a 64-bit integer", Value: v.Get(name)}
		}
		return &n, nil
	}
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	var container, after *string
	container, err = nonEmpty("container_sid")
	keep(err)
	q.StringKey1, err = nonEmpty("string_key_1")
	keep(err)
	q.StringKey2, err = nonEmpty("string_key_2")
	keep(err)
	after, err = nonEmpty("after")
	keep(err)
	q.IntegerKey1, err = integer("integer_key_1")
	keep(err)
	q.IntegerKey2, err = integer("integer_key_2")
	keep(err)
	if v.Has("limit") {
		n, err := strconv.Atoi(v.Get("limit"))
		if err != nil || n < 1 || n > maxListLimit {
			keep(&BadRequestError{Field: "limit", Rule: fmt.Sprintf("must be an integer from 1 to %d", maxListLimit), Value: v.Get("limit")})
		}
		q.Limit = n
	}
	if len(errs) > 0 {
		return adapter.FileQuery{}, errs[0]
	}
	if container != nil {
		q.ContainerSID = *container
	}
	if after != nil {
		q.After = *after
	}
	return q, nil
}

// mimeTypes are the Content-Types of the stored formats.
var mimeTypes = map[string]string{"wav": "audio/wav", "mp3": "audio/mpeg", "ul": "audio/basic"}

// fileData is GET /core/v2/storage/files/{sid}/data: the file's bytes, with range requests
// (206 and Content-Range; 416 for a range past the end) as http.ServeContent answers them.
// Only the bytes a range asks for are read from the blob store.
func (s *Server) fileData(c echo.Context) error {
	if err := s.requireToken(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	f, err := s.d.Store.GetFile(ctx, c.Param("sid"))
	if err != nil {
		return err
	}
	size, err := s.d.Blob.Size(ctx, f.BlobKey)
	if err != nil {
		return fmt.Errorf("file %s: %w", f.SID, err)
	}
	mime := mimeTypes[f.Format]
	if mime == "" {
		mime = orName(f.MIMEType, "application/octet-stream")
	}
	name := f.SID + "." + f.Format
	h := c.Response().Header()
	h.Set("Content-Type", mime)
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	h.Set("Cache-Control", "private, no-cache")
	rs := &blobSeeker{ctx: ctx, blob: s.d.Blob, key: f.BlobKey, size: size}
	defer rs.Close()
	http.ServeContent(c.Response(), c.Request(), name, f.Modified, rs)
	return nil
}

// blobSeeker reads a blob as an io.ReadSeeker for http.ServeContent: a seek only moves the
// offset, and the next read opens the blob there, so a range reads only its own bytes.
type blobSeeker struct {
	ctx       context.Context
	blob      adapter.Blob
	key       string
	size, off int64
	rc        io.ReadCloser
}

func (b *blobSeeker) Read(p []byte) (int, error) {
	if b.off >= b.size {
		return 0, io.EOF
	}
	if b.rc == nil {
		rc, err := b.blob.Get(b.ctx, b.key, b.off, -1)
		if err != nil {
			return 0, err
		}
		b.rc = rc
	}
	n, err := b.rc.Read(p)
	b.off += int64(n)
	return n, err
}

func (b *blobSeeker) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += b.off
	case io.SeekEnd:
		offset += b.size
	default:
		return 0, errors.New("blob seek: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("blob seek: negative offset")
	}
	if offset != b.off {
		b.Close()
		b.off = offset
	}
	return offset, nil
}

func (b *blobSeeker) Close() error {
	if b.rc == nil {
		return nil
	}
	err := b.rc.Close()
	b.rc = nil
	return err
}

// deleteFile is DELETE /core/v2/storage/files/{sid}: the bytes go first, then the metadata
// (which releases the container's bytes), so a failure leaves a file that a retry deletes,
// never metadata without an owner of its bytes. 204 when deleted; 404 when unknown, or when
// another request or the lifecycle sweep deleted it first.
func (s *Server) deleteFile(c echo.Context) error {
	if err := s.requireToken(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	f, err := s.d.Store.GetFile(ctx, c.Param("sid"))
	if err != nil {
		return err
	}
	if err := s.d.Blob.Delete(ctx, f.BlobKey); err != nil && !errors.Is(err, adapter.ErrNotFound) {
		return fmt.Errorf("file %s: deleting bytes: %w", f.SID, err)
	}
	if err := s.d.Store.DeleteFile(ctx, f.SID); err != nil {
		return err
	}
	s.d.Log.Info("file deleted through the API", "sid", f.SID, "container", f.ContainerSID, "bytes", f.Bytes)
	return c.NoContent(http.StatusNoContent)
}
