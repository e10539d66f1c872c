package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pbxbridge/pbxbridge/translate"
)

// Header names the bridge sets on every request (callbacks.md §1.3).
const (
	HeaderEventID = "X-Pbxbridge-Event-Id"
	HeaderAttempt = "X-Pbxbridge-Attempt"
)

// DefaultDocumentLimit is the largest document accepted when neither Options nor the Request
// say otherwise: Plivo's documented 100 KB, applied to both dialects (callbacks.md §1.4).
const DefaultDocumentLimit = 100 << 10

// MaxRedirects is how many redirects one attempt follows (callbacks.md §1.4).
const MaxRedirects = 10

// acceptDocument is the Accept header of document fetches (callbacks.md §1.3).
const acceptDocument = "application/xml, text/xml, */*"

// drainLimit and drainIdle bound what is read, and thrown away, from a body nobody needs
// (redirects, non-2xx answers, notifications), so that the connection can be reused.
const (
	drainLimit = 64 << 10
	drainIdle  = time.Second
)

// Options configures a Client. The zero value is usable.
type Options struct {
	// Version goes into the User-Agent: pbxbridge/<Version>. Default "dev".
	Version string
	// DocumentLimit is the largest document body accepted, in bytes. Default
	// DefaultDocumentLimit. Request.Limit overrides it (the app's document_limit).
	DocumentLimit int64
	// TLS configures HTTPS; nil means the system roots.
	TLS *tls.Config
	// MaxIdleConnsPerHost is how many kept-alive connections to one application host are
	// kept. Default 64, so that N outbox workers posting to one app reuse connections.
	MaxIdleConnsPerHost int
	// Logger receives a line per retried attempt. Default: discard.
	Logger *slog.Logger
	// Now is the clock of X-Pbxbridge-Signature timestamps. Default time.Now.
	Now func() time.Time
	// Rand is the randomness of nonces and generated event ids; it must be safe for
	// concurrent use. Default crypto/rand.
	Rand io.Reader
	// Secrets gives each app's credentials to the requests that name the app rather than
	// carry them (Send, the outbox worker). nil = no app is signed.
	Secrets Secrets
	// Open decrypts an outbox entry's sealed URL credentials (seal.Box.Open).
	Open func(sealed []byte) ([]byte, error)
	// Trace, when set, is given every attempt of every request, after it ended (trace.go;
	// `pbxbridge call` prints them). It is called from the sending goroutine, concurrently,
	// and must not block.
	Trace func(Exchange)
	// TraceLazy leaves a traced request's form or JSON body unparsed: Exchange.Params holds
	// only the query's parameters, and Exchange.Parameters parses the body when the consumer
	// reads it. Parsing every callback's body on the sending goroutine cost about a third of
	// a delivery's CPU; the dashboard's journal reads few of the exchanges it keeps.
	TraceLazy bool
}

// Secrets looks up an app's credentials by its name. It is called once per request, from
// any goroutine, and must be safe for concurrent use; config changes may be seen between
// calls. An unknown app has none ("", ""). The values are never logged.
type Secrets interface {
	For(app string) (authToken, signingSecret string)
}

// Client sends the bridge's HTTP requests: document fetches and callbacks, with the
// attempts, timeouts, redirects, headers and signatures of callbacks.md. One Client is shared
// by the whole process; it is safe for concurrent use and keeps connections alive per host.
type Client struct {
	// tr is used directly, without http.Client: redirects are followed by hand, so that each
	// hop is re-signed for its own URL, Basic auth follows only within the host, the read
	// timeout is re-armed, and a bad Location is never quoted (it may hold credentials).
	tr    *http.Transport
	ua    string
	limit int64
	log   *slog.Logger
	now   func() time.Time
	rand  io.Reader
	sec   Secrets
	open  func([]byte) ([]byte, error)
	// tracer is Options.Trace; traceLazy Options.TraceLazy.
	tracer    func(Exchange)
	traceLazy bool
}

// Request is one logical request: every attempt of it carries the same EventID.
type Request struct {
	// EventID is sent as X-Pbxbridge-Event-Id. "" = a fresh UUID, stable across the attempts
	// of one Do (an outbox entry passes its ID, stable across processes).
	EventID string
	// CallID is used in log lines only.
	CallID string
	// Kind says what the request is (answer, redirect, action, callback, hangup, ...), for
	// traces only.
	Kind    string
	Dialect translate.Dialect
	// Method is GET or POST; "" means POST.
	Method translate.Method
	// URL is absolute http or https. Its fragment is ignored (it held the retry policy); its
	// userinfo is sent as Basic auth, never in the URL and never in a log line or an error.
	URL *url.URL
	// Body is the rendered POST body (translate.Params.Body); nil for a GET, whose params are
	// already in URL (translate.Params.AppendQuery).
	Body     []byte
	BodyType string // Content-Type of Body
	// Retry is the URL's policy. The zero value means translate.DefaultRetryPolicy; zero
	// timeouts take their defaults.
	Retry translate.RetryPolicy
	// AuthToken is the app's Plivo auth token: Plivo-dialect requests carry
	// X-Plivo-Signature-V3 when it is set. Never logged.
	AuthToken string
	// Secret is the app's signing secret: requests of both dialects carry
	// X-Pbxbridge-Signature when it is set. Never logged.
	Secret string
	// Document marks a request whose answer is a document to execute (document fetch,
	// executed action, errorAction): it sends Accept and reads the body within Limit. The
	// bodies of other requests are ignored.
	Document bool
	// Limit is the largest document accepted; 0 = Options.DocumentLimit.
	Limit int64
	// Deadline is when tt runs out. Zero = tt from the start of Do (or Attempt). The outbox
	// worker sets it, since tt spans attempts made by separate calls of Attempt.
	Deadline time.Time
}

// Response is a successful (2xx) answer.
type Response struct {
	Status int
	// FinalURL is the URL that answered, after redirects, without userinfo and fragment: the
	// base for relative URLs in the returned document (callbacks.md §1.2).
	FinalURL    *url.URL
	Body        []byte // the document; nil unless Request.Document
	ContentType string
	Attempts    int // 1-based number of the attempt that succeeded
}

// NewClient returns a Client.
func NewClient(o Options) *Client {
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.DocumentLimit <= 0 {
		o.DocumentLimit = DefaultDocumentLimit
	}
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = 64
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	tr := &http.Transport{
		Proxy:       http.ProxyFromEnvironment,
		DialContext: dial,
		// No TLSHandshakeTimeout or ResponseHeaderTimeout: they are per transport, and the
		// read timeout is per URL. The watchdog of each attempt covers both (rt).
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        o.TLS,
		MaxIdleConns:           4 * o.MaxIdleConnsPerHost,
		MaxIdleConnsPerHost:    o.MaxIdleConnsPerHost,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &Client{
		tr:     tr,
		ua:     "pbxbridge/" + o.Version,
		limit:  o.DocumentLimit,
		log:    o.Logger,
		now:    o.Now,
		rand:   o.Rand,
		sec:    o.Secrets,
		open:   o.Open,
		tracer: o.Trace, traceLazy: o.TraceLazy,
	}
}

// Close closes idle connections. In-flight requests are not affected.
func (c *Client) Close() { c.tr.CloseIdleConnections() }

// Do sends r with its retry policy (callbacks.md §3.7): up to 1 + Retries attempts, each
// bounded by ct and rt; a failure is retried only when its class is in RetryOn; attempt n is
// followed by a wait of Backoff(n); the sequence ends when tt runs out, and never waits past
// it. A 2xx is success. Any other outcome is a *DeliveryError, or an error wrapping ErrRequest
// when nothing could be sent. ctx cancels everything (ErrCanceled with ctx's cause).
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	if err := c.prepare(&r); err != nil {
		return nil, err
	}
	for n := 1; ; n++ {
		resp, err := c.traceAttempt(ctx, &r, n)
		if err == nil {
			return resp, nil
		}
		var de *DeliveryError
		if !errors.As(err, &de) || n > r.Retry.Retries || !Retryable(r.Retry, de) {
			return nil, err
		}
		wait := Backoff(n)
		if !time.Now().Add(wait).Before(r.Deadline) {
			de.Total, de.Timeout = true, r.Retry.TotalTimeout
			return nil, de
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "webhook: attempt failed, retrying",
			slog.String("call_id", r.CallID), slog.String("event_id", r.EventID),
			slog.Int("attempt", n), slog.Duration("retry_in", wait), slog.String("error", de.Error()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			de.Class, de.Err, de.Timeout = ClassCanceled, context.Cause(ctx), 0
			return nil, de
		case <-t.C:
		}
	}
}

// Attempt makes attempt n (1-based) of r and nothing more: no retry, no backoff. The outbox
// worker uses it, keeping the attempt count and the schedule in the store; r.Deadline carries
// the tt budget across those attempts. Errors are as for Do.
func (c *Client) Attempt(ctx context.Context, r Request, n int) (*Response, error) {
	if err := c.prepare(&r); err != nil {
		return nil, err
	}
	return c.traceAttempt(ctx, &r, max(n, 1))
}

// prepare checks r and fills its defaults.
func (c *Client) prepare(r *Request) error {
	if r.URL == nil {
		return requestError("no URL")
	}
	if r.URL.Scheme != "http" && r.URL.Scheme != "https" {
		return requestError("URL scheme %q is not http or https", r.URL.Scheme)
	}
	if r.URL.Host == "" {
		return requestError("URL has no host")
	}
	switch r.Method {
	case "":
		r.Method = translate.POST
	case translate.GET:
		if len(r.Body) > 0 {
			return requestError("GET with a body: params of a GET go in the URL")
		}
	case translate.POST:
	default:
		return requestError("method %q is not GET or POST", string(r.Method))
	}
	if r.EventID == "" {
		id, err := newUUID(c.rand)
		if err != nil {
			return err
		}
		r.EventID = id
	}
	r.Retry = withDefaults(r.Retry)
	if r.Deadline.IsZero() {
		r.Deadline = time.Now().Add(r.Retry.TotalTimeout)
	}
	if r.Limit <= 0 {
		r.Limit = c.limit
	}
	return nil
}

// withDefaults fills a policy's zero timeouts; a zero policy is the default one. Retries and
// RetryOn may legitimately be zero, so they are taken as they are.
func withDefaults(p translate.RetryPolicy) translate.RetryPolicy {
	d := translate.DefaultRetryPolicy()
	if p == (translate.RetryPolicy{}) {
		return d
	}
	if p.ConnectTimeout <= 0 {
		p.ConnectTimeout = d.ConnectTimeout
	}
	if p.ReadTimeout <= 0 {
		p.ReadTimeout = d.ReadTimeout
	}
	if p.TotalTimeout <= 0 {
		p.TotalTimeout = d.TotalTimeout
	}
	return p
}

// hop is one HTTP exchange of an attempt: the first request, then one per redirect.
type hop struct {
	url      *url.URL      // as sent: no userinfo, no fragment
	user     *url.Userinfo // Basic auth credentials, nil for none
	method   string
	body     []byte
	bodyType string
}

// Causes of an attempt context's cancellation, to tell the timeouts apart from the caller's
// own cancellation.
var (
	errReadTimeoutCause  = errors.New("webhook: read timeout")
	errTotalTimeoutCause = errors.New("webhook: total timeout")
)

// attempt makes attempt n of r, following redirects. Errors are *DeliveryError, with
// Attempts = n, except ErrRequest for a nonce that cannot be made.
func (c *Client) attempt(ctx context.Context, r *Request, n int) (*Response, error) {
	tctx, cancel := context.WithDeadlineCause(ctx, r.Deadline, errTotalTimeoutCause)
	defer cancel()
	u := *r.URL
	h := &hop{url: &u, user: u.User, method: string(r.Method), body: r.Body, bodyType: r.BodyType}
	h.url.User = nil
	h.url.Fragment, h.url.RawFragment = "", ""
	for redirects := 0; ; redirects++ {
		resp, next, err := c.exchange(tctx, r, n, h, redirects)
		if err != nil {
			var de *DeliveryError
			if errors.As(err, &de) {
				de.Attempts = n
			}
			return nil, err
		}
		if next == nil {
			resp.Attempts = n
			return resp, nil
		}
		h = next
	}
}

// exchange sends one hop. It returns the final response, or the next hop of a redirect.
func (c *Client) exchange(tctx context.Context, r *Request, n int, h *hop, redirects int) (*Response, *hop, error) {
	fail := func(class Class, status int, timeout time.Duration, cause error) *DeliveryError {
		return &DeliveryError{Method: h.method, URL: redact(h.url), Status: status, Class: class,
			Timeout: timeout, Err: cause}
	}
	actx, cancel := context.WithCancelCause(tctx)
	defer cancel(nil)
	wd := newWatchdog(r.Retry.ReadTimeout, func() { cancel(errReadTimeoutCause) })
	defer wd.stop()
	var connected atomic.Bool
	// The read timeout runs from the moment the TCP connection is up (so a stalled TLS
	// handshake counts, being a wait for the server's bytes) and is re-armed by every sign of
	// progress, then by every body read. Before that, only the dialer's ct applies.
	trace := &httptrace.ClientTrace{
		ConnectDone: func(_, _ string, err error) {
			if err == nil {
				wd.kick()
			}
		},
		GotConn: func(httptrace.GotConnInfo) {
			connected.Store(true)
			wd.kick()
		},
		WroteRequest:         func(httptrace.WroteRequestInfo) { wd.kick() },
		GotFirstResponseByte: wd.kick,
	}
	actx = httptrace.WithClientTrace(actx, trace)
	actx = context.WithValue(actx, connectTimeoutKey{}, r.Retry.ConnectTimeout)

	var body io.Reader
	if h.body != nil {
		body = bytes.NewReader(h.body)
	}
	req, err := http.NewRequestWithContext(actx, h.method, h.url.String(), body)
	if err != nil {
		return nil, nil, requestError("%s %s: %v", h.method, redact(h.url), errors.Unwrap(err))
	}
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set(HeaderEventID, r.EventID)
	req.Header.Set(HeaderAttempt, strconv.Itoa(n))
	if r.Document {
		req.Header.Set("Accept", acceptDocument)
	}
	if h.bodyType != "" && (h.body != nil || h.method == http.MethodPost) {
		req.Header.Set("Content-Type", h.bodyType)
	}
	if h.user != nil {
		pw, _ := h.user.Password()
		req.SetBasicAuth(h.user.Username(), pw)
	}
	if err := c.sign(req, r, h); err != nil {
		return nil, nil, err
	}

	res, err := c.tr.RoundTrip(req)
	if err != nil {
		class, total, timeout, cause := classify(tctx, actx, err, connected.Load(), r.Retry)
		de := fail(class, 0, timeout, cause)
		de.Total = total
		return nil, nil, de
	}
	defer res.Body.Close()
	progress := &kickReader{r: res.Body, wd: wd}
	// A body nobody reads (redirect, non-2xx, notification) is drained only so that the
	// connection can be reused; a server slow to finish it is not worth holding a worker for
	// up to rt, so its idle deadline is shorter. Closing the connection costs less.
	discard := func() {
		wd.setIdle(min(r.Retry.ReadTimeout, drainIdle))
		_, _ = io.CopyN(io.Discard, progress, drainLimit)
	}

	if isRedirect(res.StatusCode) && res.Header.Get("Location") != "" {
		discard()
		if redirects >= MaxRedirects {
			return nil, nil, fail(ClassRedirect, res.StatusCode, 0,
				fmt.Errorf("stopped after %d redirects", MaxRedirects))
		}
		next, err := nextHop(res, h)
		if err != nil {
			return nil, nil, fail(ClassRedirect, res.StatusCode, 0, err)
		}
		return nil, next, nil
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		discard()
		return nil, nil, fail(ClassStatus, res.StatusCode, 0, nil)
	}
	resp := &Response{Status: res.StatusCode, FinalURL: h.url, ContentType: res.Header.Get("Content-Type")}
	if !r.Document {
		// The answer to a notification is ignored (callbacks.md §1.1): the status says it all,
		// and a body that stalls or breaks changes nothing.
		discard()
		return resp, nil, nil
	}
	tooLarge := func() *DeliveryError {
		return fail(ClassTooLarge, res.StatusCode, 0,
			fmt.Errorf("document larger than the %d-byte limit", r.Limit))
	}
	if res.ContentLength > r.Limit {
		return nil, nil, tooLarge()
	}
	doc, err := io.ReadAll(io.LimitReader(progress, r.Limit+1))
	if err != nil {
		class, total, timeout, cause := classify(tctx, actx, err, true, r.Retry)
		de := fail(class, res.StatusCode, timeout, cause)
		de.Total = total
		return nil, nil, de
	}
	if int64(len(doc)) > r.Limit {
		return nil, nil, tooLarge()
	}
	resp.Body = doc
	return resp, nil, nil
}

// sign adds the signature headers for the hop's own URL, method and body: each redirect hop
// is signed anew, so that the server that answers can verify what it received.
func (c *Client) sign(req *http.Request, r *Request, h *hop) error {
	if r.Dialect == translate.Plivo && r.AuthToken != "" {
		nonce, err := NewNonce(c.rand) // fresh for every attempt and hop (callbacks.md §3.8)
		if err != nil {
			return requestError("%v", err)
		}
		var params url.Values
		if h.method == http.MethodPost && isForm(h.bodyType) {
			params = parseQuery(string(h.body))
		}
		req.Header.Set(HeaderPlivoSignature, SignPlivoV3(r.AuthToken, h.method, h.url, params, nonce))
		req.Header.Set(HeaderPlivoNonce, nonce)
	}
	if r.Secret != "" {
		req.Header.Set(HeaderSignature, Sign([]string{r.Secret}, c.now(), h.method, h.url, h.body))
	}
	return nil
}

func isForm(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded")
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// nextHop is where a redirect leads (callbacks.md §1.4): 307/308 keep the method and body,
// 301/302/303 turn a POST into a GET without body, as Go's client does; a scheme other than
// http(s) is refused. Basic auth follows only to the same host, and never from https down to
// http; a Location with its own userinfo uses that.
func nextHop(res *http.Response, h *hop) (*hop, error) {
	loc, err := res.Location() // resolved against the hop's URL
	if err != nil {
		// The raw Location is not quoted: it may hold credentials.
		return nil, errors.New("the Location header does not parse")
	}
	if loc.Scheme != "http" && loc.Scheme != "https" {
		return nil, fmt.Errorf("redirect to scheme %q", loc.Scheme)
	}
	if loc.Host == "" {
		return nil, errors.New("redirect to a URL without host")
	}
	next := &hop{url: loc, method: h.method, body: h.body, bodyType: h.bodyType}
	switch {
	case loc.User != nil:
		next.user = loc.User
	case loc.Host == h.url.Host && !(h.url.Scheme == "https" && loc.Scheme == "http"):
		next.user = h.user
	}
	loc.User = nil
	loc.Fragment, loc.RawFragment = "", ""
	switch res.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther:
		if h.method != http.MethodGet && h.method != http.MethodHead {
			next.method, next.body, next.bodyType = http.MethodGet, nil, ""
		}
	}
	return next, nil
}

// classify turns a transport or body-read error into a failure class. tctx carries the tt
// deadline, actx the attempt's read watchdog; connected says whether a connection was made.
func classify(tctx, actx context.Context, err error, connected bool, p translate.RetryPolicy) (class Class, total bool, timeout time.Duration, cause error) {
	switch {
	case errors.Is(context.Cause(actx), errReadTimeoutCause):
		return ClassReadTimeout, false, p.ReadTimeout, nil
	case errors.Is(context.Cause(tctx), errTotalTimeoutCause):
		if connected {
			return ClassReadTimeout, true, p.TotalTimeout, nil
		}
		return ClassConnect, true, p.TotalTimeout, nil
	case tctx.Err() != nil:
		return ClassCanceled, false, 0, context.Cause(tctx)
	}
	var dialErr *dialError
	if errors.As(err, &dialErr) {
		var ne net.Error
		if errors.As(dialErr.err, &ne) && ne.Timeout() {
			return ClassConnect, false, p.ConnectTimeout, nil
		}
		return ClassConnect, false, 0, dialErr.err
	}
	if !connected {
		return ClassConnect, false, 0, err // TLS handshake, proxy
	}
	return ClassConnection, false, 0, err
}

// connectTimeoutKey carries an attempt's ct to dial through the request context (the
// transport keeps the context's values when it dials).
type connectTimeoutKey struct{}

// dialError marks a failure to connect, so that it is told apart from a later one.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

func dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{KeepAlive: 30 * time.Second}
	if ct, ok := ctx.Value(connectTimeoutKey{}).(time.Duration); ok && ct > 0 {
		d.Timeout = ct
	} else {
		d.Timeout = translate.DefaultRetryPolicy().ConnectTimeout
	}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, &dialError{err: err}
	}
	return conn, nil
}

// watchdog cancels an attempt when no progress is seen for d: the read timeout, as an idle
// deadline re-armed on progress. Its methods are called from the transport's goroutines
// (trace hooks) and the caller's, hence the lock.
type watchdog struct {
	mu   sync.Mutex
	d    time.Duration
	t    *time.Timer
	done bool
}

func newWatchdog(d time.Duration, fire func()) *watchdog {
	w := &watchdog{d: d, t: time.AfterFunc(time.Hour, fire)}
	w.t.Stop()
	return w
}

func (w *watchdog) kick() {
	w.mu.Lock()
	if !w.done {
		w.t.Reset(w.d)
	}
	w.mu.Unlock()
}

// setIdle changes the idle deadline and re-arms it.
func (w *watchdog) setIdle(d time.Duration) {
	w.mu.Lock()
	w.d = d
	if !w.done {
		w.t.Reset(d)
	}
	w.mu.Unlock()
}

func (w *watchdog) stop() {
	w.mu.Lock()
	w.done = true
	w.t.Stop()
	w.mu.Unlock()
}

// kickReader re-arms the watchdog on every read that made progress.
type kickReader struct {
	r  io.Reader
	wd *watchdog
}

func (k *kickReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if n > 0 {
		k.wd.kick()
	}
	return n, err
}

// redact is a URL as it may appear in errors and logs: scheme, host and path. Userinfo holds
// credentials; the query of a GET holds call data (transcripts, numbers) and sometimes the
// app's own keys; the fragment is retry configuration.
func redact(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	return u.Scheme + "://" + u.Host + p
}

// newUUID is a random (version 4) UUID.
func newUUID(r io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("webhook: event id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexd[x>>4], hexd[x&0x0f])
	}
	return string(out), nil
}
