// Package httpapi is pbxbridge's HTTP server (echo): stored recordings behind signed,
// expiring links or an API token, media for the PBX to play, health and readiness. It maps
// errors to statuses in one place (errorHandler) and holds no business rules.
package httpapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/dashboard"
)

// Errors the handlers return; errorHandler maps them to statuses.
var (
	ErrUnauthorized = errors.New("missing or invalid credentials")
	ErrLinkExpired  = errors.New("link expired")
)

// BadRequestError is a request parameter that breaks its rule (400).
type BadRequestError struct{ Field, Rule, Value string }

func (e *BadRequestError) Error() string {
	return fmt.Sprintf("%s: %s, got %q", e.Field, e.Rule, e.Value)
}

// Deps are what the server serves.
type Deps struct {
	Store adapter.Store
	Blob  adapter.Blob
	// Outbox serves the dead-letter API (nil: 404); Wake, when set, is called after a replay.
	Outbox adapter.Outbox
	Wake   func()
	// Journal is what this instance recently sent and did for each call (package journal),
	// shown on the dashboard; nil: the dashboard shows dead letters only.
	Journal dashboard.Journal
	Media   *MediaStore
	// PublicURL is how clients reach this server (no trailing slash).
	PublicURL string
	// LinkSecret signs /f links; APIToken, when set, also grants access (Bearer).
	LinkSecret []byte
	APIToken   string
	LinkTTL    time.Duration
	// Ready reports whether pbxbridge can take calls (PBX connected, store open). It is the
	// check named "ready" in /readyz's body; Checks name the others (store, each PBX).
	Ready  func(ctx context.Context) error
	Checks []Check
	// ReadyTimeout bounds each check of a /readyz request. Default 2s.
	ReadyTimeout time.Duration
	// Metrics, when set, is served at /metrics in the Prometheus text format. When APIToken
	// is set, /metrics needs it too unless MetricsPublic.
	Metrics       Metrics
	MetricsPublic bool
	Log           *slog.Logger
	Now           func() time.Time
	// Uploads are the FreeSWITCH nodes that PUT their recordings here (upload.go).
	Uploads []Upload
	// Containers are the configured recording containers the files API lists (storage.go).
	Containers []Container
}

// Check is one readiness check: Check returns nil when Name is ready. It is called from the
// request's goroutine with a deadline (Deps.ReadyTimeout), concurrently with the others.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Metrics writes metrics in the Prometheus text format (metrics.Set).
type Metrics interface {
	Write(ctx context.Context, w io.Writer) error
}

// Server is the HTTP API. It implements adapter.Links.
type Server struct {
	d    Deps
	echo *echo.Echo
}

var _ adapter.Links = (*Server)(nil)

// New builds the server and its routes.
func New(d Deps) *Server {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.ReadyTimeout <= 0 {
		d.ReadyTimeout = 2 * time.Second
	}
	if d.LinkTTL == 0 {
		d.LinkTTL = 7 * 24 * time.Hour
	}
	d.PublicURL = strings.TrimRight(d.PublicURL, "/")
	s := &Server{d: d, echo: echo.New()}
	e := s.echo
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.metrics)
	e.GET("/f/:name", s.file)
	e.HEAD("/f/:name", s.file)
	e.GET("/core/v2/storage/containers", s.listContainers)
	e.GET("/core/v2/storage/containers/:sid", s.getContainer)
	e.GET("/core/v2/storage/files", s.listFiles)
	e.GET("/core/v2/storage/files/:sid", s.getFile)
	e.GET("/core/v2/storage/files/:sid/data", s.fileData)
	e.DELETE("/core/v2/storage/files/:sid", s.deleteFile)
	e.GET("/media/:name", s.media)
	e.HEAD("/media/:name", s.media)
	e.GET("/v1/outbox/dead", s.listDead)
	e.POST("/v1/outbox/dead/:id/replay", s.replayDead)
	e.PUT("/v1/freeswitch/:pbx/recordings/:sig/:name", s.upload)
	s.mountDashboard()
	return s
}

// Handler is the root handler, for an http.Server.
func (s *Server) Handler() http.Handler { return s.echo }

// FileURL is the public, signed, expiring URL of a stored file.
func (s *Server) FileURL(sid, ext string) string {
	return s.d.PublicURL + s.filePath(sid, ext, s.d.LinkTTL)
}

// filePath is the signed /f path (and query) of a stored file, valid for ttl.
func (s *Server) filePath(sid, ext string, ttl time.Duration) string {
	name := sid
	if ext != "" {
		name += "." + ext
	}
	exp := s.d.Now().Add(ttl).Unix()
	return fmt.Sprintf("/f/%s?exp=%d&sig=%s", url.PathEscape(name), exp, s.sign(sid, exp))
}

// mountDashboard serves the operator dashboard (package dashboard) under /dashboard, behind
// the API token like the API. Its players fetch recordings through signed /f links relative
// to this server, whatever public_url says, valid for an hour.
func (s *Server) mountDashboard() {
	checks := make([]dashboard.Check, 0, len(s.d.Checks)+1)
	if s.d.Ready != nil {
		checks = append(checks, dashboard.Check{Name: "ready", Check: s.d.Ready})
	}
	for _, c := range s.d.Checks {
		checks = append(checks, dashboard.Check{Name: c.Name, Check: c.Check})
	}
	h := echo.WrapHandler(dashboard.New(dashboard.Deps{
		Store: s.d.Store, Outbox: s.d.Outbox, Wake: s.d.Wake, Checks: checks, CheckTimeout: s.d.ReadyTimeout, Journal: s.d.Journal,
		Token:    s.d.APIToken,
		FileLink: func(sid, ext string) string { return s.filePath(sid, ext, time.Hour) },
		Log:      s.d.Log.With("component", "dashboard"), Now: s.d.Now,
	}))
	s.echo.Any(dashboard.Prefix, h)
	s.echo.Any(dashboard.Prefix+"/*", h)
}

func (s *Server) sign(sid string, exp int64) string {
	m := hmac.New(sha256.New, s.d.LinkSecret)
	fmt.Fprintf(m, "f\n%s\n%d", sid, exp)
	return hex.EncodeToString(m.Sum(nil))
}

// authorize accepts a valid, unexpired link signature or the API token.
func (s *Server) authorize(c echo.Context, sid string) error {
	if s.tokenOK(c) {
		return nil
	}
	q := c.QueryParams()
	exp, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	if err != nil || q.Get("sig") == "" {
		return ErrUnauthorized
	}
	if !hmac.Equal([]byte(q.Get("sig")), []byte(s.sign(sid, exp))) {
		return ErrUnauthorized
	}
	if s.d.Now().Unix() > exp {
		return ErrLinkExpired
	}
	return nil
}

// tokenOK reports whether the request carries the API token (Authorization: Bearer).
func (s *Server) tokenOK(c echo.Context) bool {
	tok := s.d.APIToken
	h := c.Request().Header.Get("Authorization")
	return tok != "" && strings.HasPrefix(h, "Bearer ") &&
		subtle.ConstantTimeCompare([]byte(strings.TrimPrefix(h, "Bearer ")), []byte(tok)) == 1
}

// file serves a stored recording, with range requests, as /f/<sid> or /f/<sid>.<ext>.
func (s *Server) file(c echo.Context) error {
	name := c.Param("name")
	sid := name
	if i := strings.IndexByte(name, '.'); i > 0 {
		sid = name[:i]
	}
	if err := s.authorize(c, sid); err != nil {
		return err
	}
	ctx := c.Request().Context()
	f, err := s.d.Store.GetFile(ctx, sid)
	if err != nil {
		return err
	}
	rc, err := s.d.Blob.Get(ctx, f.BlobKey, 0, -1)
	if err != nil {
		return err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Content-Type", f.MIMEType)
	h.Set("Cache-Control", "private, max-age=60")
	http.ServeContent(c.Response(), c.Request(), f.SID+"."+f.Format, f.Modified, bytes.NewReader(data))
	return nil
}

// media serves audio prepared for the PBX (converted prompts and speech). Its names are
// content hashes, unguessable and immutable, so they need no signature.
func (s *Server) media(c echo.Context) error {
	if s.d.Media == nil {
		return adapter.ErrNotFound
	}
	data, mime, ok := s.d.Media.Get(c.Param("name"))
	if !ok {
		return adapter.ErrNotFound
	}
	h := c.Response().Header()
	h.Set("Content-Type", mime)
	h.Set("Cache-Control", "public, max-age=86400, immutable")
	http.ServeContent(c.Response(), c.Request(), c.Param("name"), time.Time{}, bytes.NewReader(data))
	return nil
}

// readyz runs every check at once, each with its own deadline, and answers 200 when all pass,
// else 503 with a body naming each check that failed and why:
//
//	{"status":"unavailable","not_ready":{"store":"..."},"error":"store: ..."}
func (s *Server) readyz(c echo.Context) error {
	checks := s.d.Checks
	if s.d.Ready != nil {
		checks = append([]Check{{Name: "ready", Check: s.d.Ready}}, checks...)
	}
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, ch := range checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(c.Request().Context(), s.d.ReadyTimeout)
			defer cancel()
			errs[i] = ch.Check(ctx)
		})
	}
	wg.Wait()
	notReady := map[string]string{}
	var msgs []string
	for i, err := range errs {
		if err != nil {
			notReady[checks[i].Name] = err.Error()
			msgs = append(msgs, checks[i].Name+": "+err.Error())
		}
	}
	if len(notReady) > 0 {
		return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "not_ready": notReady,
			"error": strings.Join(msgs, "; ")})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// metrics serves the Prometheus text format; behind the API token when one is set, unless
// the configuration makes metrics public.
func (s *Server) metrics(c echo.Context) error {
	if s.d.Metrics == nil {
		return adapter.ErrNotFound
	}
	if s.d.APIToken != "" && !s.d.MetricsPublic && !s.tokenOK(c) {
		return ErrUnauthorized
	}
	var b bytes.Buffer
	if err := s.d.Metrics.Write(c.Request().Context(), &b); err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "text/plain; version=0.0.4; charset=utf-8", b.Bytes())
}

// errorHandler is the one place where errors become HTTP statuses.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, msg := http.StatusInternalServerError, "internal error"
	var he *echo.HTTPError
	var bad *BadRequestError
	switch {
	case errors.As(err, &he):
		status, msg = he.Code, fmt.Sprint(he.Message)
	case errors.Is(err, ErrUnauthorized):
		status, msg = http.StatusUnauthorized, err.Error()
	case errors.Is(err, ErrLinkExpired):
		status, msg = http.StatusGone, err.Error()
	case errors.Is(err, adapter.ErrNotFound):
		status, msg = http.StatusNotFound, "not found"
	case errors.As(err, &bad):
		status, msg = http.StatusBadRequest, bad.Error()
	}
	if status >= 500 {
		s.d.Log.Error("http", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	body := map[string]string{"error": msg}
	if bad != nil && status == http.StatusBadRequest {
		body["parameter"], body["rule"] = bad.Field, bad.Rule
	}
	_ = c.JSON(status, body)
}
