package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/translate"
)

// seen is one request as the application received it.
type seen struct {
	Method string
	URL    *url.URL // http(s)://Host + RequestURI, as a verifier rebuilds it
	Header http.Header
	Body   []byte
	At     time.Time
	User   string // Basic auth user, "" without
	Pass   string
}

// app is an httptest server that records every request and answers with the handler of its
// attempt number (1-based, counted per app).
type app struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []seen
	answer func(w http.ResponseWriter, r *http.Request, n int)
}

func newApp(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, n int)) *app {
	t.Helper()
	a := &app{answer: answer}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

func (a *app) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u, _ := url.Parse(scheme + "://" + r.Host + r.RequestURI)
	s := seen{Method: r.Method, URL: u, Header: r.Header.Clone(), Body: body, At: time.Now()}
	s.User, s.Pass, _ = r.BasicAuth()
	a.mu.Lock()
	a.reqs = append(a.reqs, s)
	n := len(a.reqs)
	a.mu.Unlock()
	if a.answer != nil {
		a.answer(w, r, n)
	}
}

func (a *app) seen() []seen {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]seen(nil), a.reqs...)
}

// hang answers nothing until the client goes away.
func hang(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// status answers code with a short body.
func status(code int) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.WriteHeader(code)
		_, _ = io.WriteString(w, http.StatusText(code))
	}
}

func policy(ct, rt, tt time.Duration, rc int, rp translate.RetryClass) translate.RetryPolicy {
	return translate.RetryPolicy{ConnectTimeout: ct, ReadTimeout: rt, TotalTimeout: tt, Retries: rc, RetryOn: rp}
}

// fast is a policy for tests that time nothing: no retry, and timeouts that only matter if
// something hangs.
var fast = policy(2*time.Second, 2*time.Second, 10*time.Second, 0, 0)

func newTestClient(t *testing.T, o Options) *Client {
	t.Helper()
	if o.Version == "" {
		o.Version = "1.2.3"
	}
	c := NewClient(o)
	t.Cleanup(c.Close)
	return c
}

// logBuffer is a slog text handler's output, safe for concurrent writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func deliveryError(t *testing.T, err error) *DeliveryError {
	t.Helper()
	var de *DeliveryError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v (%T), want *DeliveryError", err, err)
	}
	return de
}

func TestDoHeadersAndBody(t *testing.T) {
	a := newApp(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/xml")
		_, _ = io.WriteString(w, "<Response/>")
	})
	c := newTestClient(t, Options{})
	params, _ := translate.DocumentParams(translate.FlexML, translate.CallParams{CallID: "9b2e", From: "+15550100001"})
	ct, body := params.Body()

	resp, err := c.Do(t.Context(), Request{
		EventID: "ev-1", Dialect: translate.FlexML, Method: translate.POST,
		URL: mustURL(t, a.URL+"/cb?x=1#rc=3"), Body: body, BodyType: ct, Retry: fast,
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || resp.Attempts != 1 || resp.Body != nil {
		t.Errorf("callback response = %+v, want 200, 1 attempt, no body", resp)
	}
	got := a.seen()[0]
	for k, want := range map[string]string{
		"User-Agent":     "pbxbridge/1.2.3",
		HeaderEventID:    "ev-1",
		HeaderAttempt:    "1",
		"Content-Type":   "application/json; charset=utf-8",
		"Accept":         "",
		HeaderSignature:  "",
		HeaderPlivoNonce: "",
	} {
		if v := got.Header.Get(k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	if got.Method != "POST" || got.URL.RequestURI() != "/cb?x=1" || !bytes.Equal(got.Body, body) {
		t.Errorf("received %s %s %s", got.Method, got.URL.RequestURI(), got.Body)
	}

	// A document fetch by GET: params in the query, Accept sent, body and final URL returned,
	// and a generated event id.
	u := params.AppendQuery(mustURL(t, a.URL+"/doc?app=1"))
	resp, err = c.Do(t.Context(), Request{Dialect: translate.FlexML, Method: translate.GET, URL: u, Retry: fast, Document: true})
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Body) != "<Response/>" || resp.ContentType != "application/xml" || resp.FinalURL.String() != u.String() {
		t.Errorf("document response = %+v (final %s)", resp, resp.FinalURL)
	}
	got = a.seen()[1]
	if got.Header.Get("Accept") != "application/xml, text/xml, */*" || got.Header.Get("Content-Type") != "" {
		t.Errorf("document headers: %v", got.Header)
	}
	if id := got.Header.Get(HeaderEventID); len(id) != 36 || id[14] != '4' {
		t.Errorf("generated event id %q is not a v4 UUID", id)
	}
	if got.URL.RawQuery != u.RawQuery || len(got.Body) != 0 {
		t.Errorf("GET sent query %q body %q", got.URL.RawQuery, got.Body)
	}
}

func TestDoRequestErrors(t *testing.T) {
	c := newTestClient(t, Options{})
	for name, r := range map[string]Request{
		"no URL":       {},
		"ftp":          {URL: mustURL(t, "ftp://user:pw@example.net/x")},
		"no host":      {URL: mustURL(t, "http:///x")},
		"GET and body": {Method: translate.GET, URL: mustURL(t, "http://127.0.0.1:1/"), Body: []byte("x")},
		"PUT":          {Method: "PUT", URL: mustURL(t, "http://127.0.0.1:1/")},
	} {
		_, err := c.Do(t.Context(), r)
		if !errors.Is(err, ErrRequest) {
			t.Errorf("%s: err = %v, want ErrRequest", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("%s: error %q shows the password", name, err)
		}
	}
}

// The event id is the same on every attempt; the attempt number and the Plivo nonce are not.
func TestDoRetryHeaders(t *testing.T) {
	t.Parallel()
	a := newApp(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	c := newTestClient(t, Options{})
	resp, err := c.Do(t.Context(), Request{
		EventID: "ev-retry", Dialect: translate.Plivo, URL: mustURL(t, a.URL), AuthToken: "tok",
		Body: []byte("CallUUID=u1"), BodyType: "application/x-www-form-urlencoded",
		Retry: policy(time.Second, time.Second, 5*time.Second, 1, translate.Retry5xx),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Attempts != 2 {
		t.Errorf("attempts = %d, want 2", resp.Attempts)
	}
	reqs := a.seen()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	for i, r := range reqs {
		if id, n := r.Header.Get(HeaderEventID), r.Header.Get(HeaderAttempt); id != "ev-retry" || n != strconv.Itoa(i+1) {
			t.Errorf("request %d: event id %q attempt %q", i+1, id, n)
		}
	}
	if reqs[0].Header.Get(HeaderPlivoNonce) == reqs[1].Header.Get(HeaderPlivoNonce) {
		t.Error("both attempts have the same nonce")
	}
}

// rp decides which failures are retried; rc how often.
func TestDoRetryPolicy(t *testing.T) {
	t.Parallel()
	refused := closedPort(t)
	cases := []struct {
		name     string
		code     int // answer of every attempt; 0 = connection refused
		rc       int // retries
		rp       translate.RetryClass
		attempts int
		sentinel error
	}{
		{"404 not in 5xx", 404, 1, translate.Retry5xx, 1, ErrStatus},
		{"404 in 4xx", 404, 1, translate.Retry4xx, 2, ErrStatus},
		{"503 in 5xx", 503, 1, translate.Retry5xx, 2, ErrStatus},
		{"503 under the default ct,rt", 503, 1, translate.RetryConnectTimeout | translate.RetryReadTimeout, 1, ErrStatus},
		{"503 with rc=0", 503, 0, translate.RetryAll, 1, ErrStatus},
		{"refused in ct", 0, 1, translate.RetryConnectTimeout, 2, ErrConnect},
		{"refused not in 4xx,5xx,rt", 0, 1, translate.Retry4xx | translate.Retry5xx | translate.RetryReadTimeout, 1, ErrConnect},
		{"302 without Location", 302, 1, translate.RetryAll, 1, ErrStatus},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			target := refused
			var a *app
			if tc.code != 0 {
				a = newApp(t, status(tc.code))
				target = a.URL
			}
			c := newTestClient(t, Options{})
			_, err := c.Do(t.Context(), Request{URL: mustURL(t, target),
				Retry: policy(time.Second, time.Second, 5*time.Second, tc.rc, tc.rp)})
			de := deliveryError(t, err)
			if !errors.Is(err, tc.sentinel) || de.Attempts != tc.attempts || de.Status != tc.code || de.Total {
				t.Errorf("err = %v (attempts %d, status %d, total %v), want %v after %d attempts",
					err, de.Attempts, de.Status, de.Total, tc.sentinel, tc.attempts)
			}
			if a != nil && len(a.seen()) != tc.attempts {
				t.Errorf("app saw %d requests, want %d", len(a.seen()), tc.attempts)
			}
		})
	}
}

// Attempt n is followed by a wait of 500 ms × n.
func TestDoBackoff(t *testing.T) {
	t.Parallel()
	a := newApp(t, status(503))
	c := newTestClient(t, Options{})
	_, err := c.Do(t.Context(), Request{URL: mustURL(t, a.URL),
		Retry: policy(time.Second, time.Second, 10*time.Second, 2, translate.Retry5xx)})
	if de := deliveryError(t, err); de.Attempts != 3 || de.Status != 503 {
		t.Fatalf("err = %v, want 503 after 3 attempts", err)
	}
	reqs := a.seen()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i := 1; i < len(reqs); i++ {
		// Timers never fire early, so the lower bound is exact; no upper bound is asserted.
		if gap := reqs[i].At.Sub(reqs[i-1].At); gap < Backoff(i) {
			t.Errorf("gap before attempt %d = %v, want at least %v", i+1, gap, Backoff(i))
		}
	}
}

// The backoff never goes past tt: when it would, the sequence ends at once.
func TestDoTotalTimeoutStopsRetries(t *testing.T) {
	a := newApp(t, status(503))
	c := newTestClient(t, Options{})
	start := time.Now()
	_, err := c.Do(t.Context(), Request{URL: mustURL(t, a.URL),
		Retry: policy(time.Second, time.Second, 300*time.Millisecond, 5, translate.Retry5xx)})
	de := deliveryError(t, err)
	if !errors.Is(err, ErrTotalTimeout) || !errors.Is(err, ErrStatus) || de.Attempts != 1 || !de.Total {
		t.Errorf("err = %v (attempts %d), want 503 and total timeout after 1 attempt", err, de.Attempts)
	}
	if d := time.Since(start); d >= Backoff(1) {
		t.Errorf("Do took %v: it waited a backoff that passes tt", d)
	}
	if Retryable(translate.RetryPolicy{RetryOn: translate.RetryAll}, err) {
		t.Error("an error that ended with tt is retryable")
	}
}

// tt cuts an attempt short, whatever rt says.
func TestDoTotalTimeoutCutsAttempt(t *testing.T) {
	a := newApp(t, func(w http.ResponseWriter, r *http.Request, _ int) { hang(w, r) })
	c := newTestClient(t, Options{})
	start := time.Now()
	_, err := c.Do(t.Context(), Request{URL: mustURL(t, a.URL),
		Retry: policy(time.Second, 5*time.Second, 200*time.Millisecond, 3, translate.RetryAll)})
	de := deliveryError(t, err)
	if !errors.Is(err, ErrTotalTimeout) || !errors.Is(err, ErrReadTimeout) || de.Attempts != 1 {
		t.Errorf("err = %v, want read timeout ended by tt after 1 attempt", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 4*time.Second {
		t.Errorf("Do took %v, want about tt (200ms), well before rt (5s)", d)
	}
	if !strings.Contains(err.Error(), "total timeout 200ms ran out") {
		t.Errorf("message %q does not name tt", err)
	}
}

func TestReadTimeoutNoAnswer(t *testing.T) {
	a := newApp(t, func(w http.ResponseWriter, r *http.Request, _ int) { hang(w, r) })
	c := newTestClient(t, Options{})
	rt := 150 * time.Millisecond
	start := time.Now()
	_, err := c.Do(t.Context(), Request{URL: mustURL(t, a.URL), Retry: policy(time.Second, rt, 5*time.Second, 0, 0)})
	de := deliveryError(t, err)
	if !errors.Is(err, ErrReadTimeout) || de.Total || de.Timeout != rt || de.Attempts != 1 {
		t.Errorf("err = %v, want a read timeout of %v", err, rt)
	}
	if d := time.Since(start); d < rt {
		t.Errorf("gave up after %v, before rt", d)
	}
	if de.RetryClass() != translate.RetryReadTimeout {
		t.Errorf("retry class = %v, want rt", de.RetryClass())
	}
}

func TestReadTimeoutRetried(t *testing.T) {
	t.Parallel()
	a := newApp(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			hang(w, r)
		}
	})
	c := newTestClient(t, Options{})
	resp, err := c.Do(t.Context(), Request{URL: mustURL(t, a.URL),
		Retry: policy(time.Second, 100*time.Millisecond, 5*time.Second, 1, translate.RetryReadTimeout)})
	if err != nil || resp.Attempts != 2 {
		t.Fatalf("resp %+v, err %v, want success on attempt 2", resp, err)
	}
}

// rt is an idle deadline: it runs between reads of the body, not over the whole body.
// rt is a second and the drip's pace an eighth of it: at 300 ms (a 250 ms margin per gap) a
// loaded machine (load average 11) once let a gap of the drip outlast it.
func TestReadTimeoutBetweenReads(t *testing.T) {
	const rt = time.Second
	const drips = 12 // 11 gaps of rt/8: the body takes longer than rt
	stall := newApp(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		_, _ = io.WriteString(w, "<Response>")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	drip := newApp(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		for i := range drips {
			if i > 0 {
				time.Sleep(rt / 8) // the server's pace, not the test waiting for an event
			}
			_, _ = io.WriteString(w, "<!-- -->")
			w.(http.Flusher).Flush()
		}
	})
	c := newTestClient(t, Options{})
	p := policy(time.Second, rt, 5*time.Second, 0, 0)

	_, err := c.Do(t.Context(), Request{URL: mustURL(t, stall.URL), Retry: p, Document: true})
	if de := deliveryError(t, err); !errors.Is(err, ErrReadTimeout) || de.Status != 200 {
		t.Errorf("stalled body: err = %v, want a read timeout after a 200", err)
	}

	start := time.Now()
	resp, err := c.Do(t.Context(), Request{URL: mustURL(t, drip.URL), Retry: p, Document: true})
	if err != nil {
		t.Fatalf("slow but steady body: %v", err)
	}
	if d := time.Since(start); d <= rt {
		t.Fatalf("drip took %v; the test needs it to last longer than rt", d)
	}
	if len(resp.Body) != drips*len("<!-- -->") {
		t.Errorf("body %q", resp.Body)
	}

	// A notification's body is ignored: a stall after a 2xx is still a delivery.
	if _, err := c.Do(t.Context(), Request{URL: mustURL(t, stall.URL), Retry: p}); err != nil {
		t.Errorf("notification with a stalled body: %v", err)
	}
}

// closedPort is a loopback address where nothing listens: connections are refused.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr + "/cb"
}

func TestConnectRefused(t *testing.T) {
	c := newTestClient(t, Options{})
	_, err := c.Do(t.Context(), Request{URL: mustURL(t, closedPort(t)), Retry: fast})
	de := deliveryError(t, err)
	if !errors.Is(err, ErrConnect) || de.Status != 0 || de.RetryClass() != translate.RetryConnectTimeout {
		t.Errorf("err = %v, want ErrConnect", err)
	}
	if !strings.Contains(err.Error(), "refused") {
		t.Errorf("message %q does not say refused", err)
	}
}

// A connection that breaks after it was made is ErrConnection, in the rt retry class.
func TestConnectionBroken(t *testing.T) {
	a := newApp(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ntruncated")
			_ = conn.Close()
		}
	})
	c := newTestClient(t, Options{})
	for _, doc := range []bool{false, true} {
		_, err := c.Do(t.Context(), Request{URL: mustURL(t, a.URL), Retry: fast, Document: doc})
		if !doc {
			if err != nil {
				t.Errorf("notification: a 200 whose body breaks is delivered, got %v", err)
			}
			continue
		}
		de := deliveryError(t, err)
		if !errors.Is(err, ErrConnection) || de.Status != 200 || !Retryable(policy(0, 0, 0, 1, translate.RetryReadTimeout), err) {
			t.Errorf("document: err = %v, want ErrConnection retryable under rt", err)
		}
	}
}

func TestRedirects(t *testing.T) {
	for _, tc := range []struct {
		code       int
		wantMethod string
		keepBody   bool
	}{
		{301, "GET", false}, {302, "GET", false}, {303, "GET", false},
		{307, "POST", true}, {308, "POST", true},
	} {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			a := newApp(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				if r.URL.Path == "/start" {
					w.Header().Set("Location", "/end?hop=2#frag")
					w.WriteHeader(tc.code)
					return
				}
				_, _ = io.WriteString(w, "<Response/>")
			})
			c := newTestClient(t, Options{})
			body := []byte("CallUUID=u1&From=1555")
			resp, err := c.Do(t.Context(), Request{EventID: "ev-r", Dialect: translate.Plivo, URL: mustURL(t, a.URL+"/start"),
				Body: body, BodyType: "application/x-www-form-urlencoded", Retry: fast, Document: true})
			if err != nil {
				t.Fatal(err)
			}
			if want := a.URL + "/end?hop=2"; resp.FinalURL.String() != want || string(resp.Body) != "<Response/>" || resp.Attempts != 1 {
				t.Errorf("response %+v, final URL %s, want %s", resp, resp.FinalURL, want)
			}
			reqs := a.seen()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			end := reqs[1]
			if end.Method != tc.wantMethod {
				t.Errorf("redirected method = %s, want %s", end.Method, tc.wantMethod)
			}
			if tc.keepBody != bytes.Equal(end.Body, body) || tc.keepBody != (end.Header.Get("Content-Type") != "") {
				t.Errorf("redirected body %q content-type %q, keep body = %v", end.Body, end.Header.Get("Content-Type"), tc.keepBody)
			}
			if end.Header.Get(HeaderEventID) != "ev-r" || end.Header.Get(HeaderAttempt) != "1" {
				t.Errorf("redirect hop headers: %v", end.Header)
			}
		})
	}
}

func TestRedirectLimit(t *testing.T) {
	// /r/N redirects to /r/N-1; /r/0 answers.
	a := newApp(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
		if n > 0 {
			http.Redirect(w, r, "/r/"+strconv.Itoa(n-1), http.StatusFound)
		}
	})
	c := newTestClient(t, Options{})
	if _, err := c.Do(t.Context(), Request{URL: mustURL(t, a.URL+"/r/10"), Retry: fast}); err != nil {
		t.Errorf("10 redirects: %v", err)
	}
	_, err := c.Do(t.Context(), Request{URL: mustURL(t, a.URL+"/r/11"),
		Retry: policy(time.Second, time.Second, 5*time.Second, 3, translate.RetryAll)})
	if de := deliveryError(t, err); !errors.Is(err, ErrRedirect) || de.Attempts != 1 || de.Status != 302 {
		t.Errorf("11 redirects: err = %v, want ErrRedirect, not retried", err)
	}
}

func TestRedirectRefused(t *testing.T) {
	for _, loc := range []string{"ftp://user:secret@files.example.net/x", "javascript:alert(1)", "file:///etc/passwd", "http://%zz"} {
		a := newApp(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			w.Header().Set("Location", loc)
			w.WriteHeader(http.StatusTemporaryRedirect)
		})
		c := newTestClient(t, Options{})
		_, err := c.Do(t.Context(), Request{URL: mustURL(t, a.URL+"/x"), Retry: fast})
		if !errors.Is(err, ErrRedirect) {
			t.Errorf("Location %q: err = %v, want ErrRedirect", loc, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Location %q: error %q shows the credentials", loc, err)
		}
		if len(a.seen()) != 1 {
			t.Errorf("Location %q: %d requests", loc, len(a.seen()))
		}
	}
}

func TestBasicAuth(t *testing.T) {
	other := newApp(t, nil)
	a := newApp(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/here", http.StatusTemporaryRedirect)
		case "/away":
			http.Redirect(w, r, other.URL+"/there", http.StatusTemporaryRedirect)
		case "/own":
			u := mustURL(t, other.URL+"/there")
			u.User = url.UserPassword("bob", "b0b")
			http.Redirect(w, r, u.String(), http.StatusTemporaryRedirect)
		}
	})
	c := newTestClient(t, Options{})
	withAuth := func(path string) *url.URL {
		u := mustURL(t, a.URL+path)
		u.User = url.UserPassword("alice", "p@ss:w0rd")
		return u
	}
	for _, path := range []string{"/plain", "/same", "/away", "/own"} {
		if _, err := c.Do(t.Context(), Request{URL: withAuth(path), Retry: fast}); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	reqs := a.seen()
	for _, r := range reqs {
		if r.User != "alice" || r.Pass != "p@ss:w0rd" {
			t.Errorf("%s: Basic auth %q:%q, want alice", r.URL.Path, r.User, r.Pass)
		}
		if r.URL.User != nil {
			t.Errorf("%s: userinfo in the URL", r.URL.Path)
		}
	}
	if len(reqs) != 5 || reqs[2].URL.Path != "/here" {
		t.Errorf("requests: %v", reqs)
	}
	// Credentials never follow a redirect to another host; a Location's own userinfo is used.
	away := other.seen()
	if len(away) != 2 || away[0].User != "" || away[1].User != "bob" || away[1].Pass != "b0b" {
		t.Errorf("other host saw %+v", away)
	}
}

// Both signatures verify with the receiver-side functions, on every hop of a redirect.
func TestSignatures(t *testing.T) {
	const (
		token  = "plivo-auth-token"
		secret = "whsec-app"
	)
	now := time.Unix(1795284977, 0)
	type check struct {
		plivo, bridge bool
	}
	var (
		mu     sync.Mutex
		checks []check
		errs   []error
	)
	a := newApp(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		s := seen{Method: r.Method}
		s.URL, _ = url.Parse("http://" + r.Host + r.RequestURI)
		body, _ := io.ReadAll(r.Body)
		var params url.Values
		if r.Method == "POST" && r.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
			params, _ = url.ParseQuery(string(body))
		}
		var c check
		var e []error
		if sig := r.Header.Get(HeaderPlivoSignature); sig != "" {
			c.plivo = true
			nonce := r.Header.Get(HeaderPlivoNonce)
			if len(nonce) != 20 {
				e = append(e, fmt.Errorf("nonce %q", nonce))
			}
			if err := VerifyPlivoV3(token, r.Method, s.URL, params, nonce, sig); err != nil {
				e = append(e, fmt.Errorf("%s %s: %w", r.Method, s.URL, err))
			}
		}
		if sig := r.Header.Get(HeaderSignature); sig != "" {
			c.bridge = true
			if err := Verify([]string{secret}, sig, r.Method, s.URL, body, now); err != nil {
				e = append(e, fmt.Errorf("%s %s: %w", r.Method, s.URL, err))
			}
		}
		mu.Lock()
		checks, errs = append(checks, c), append(errs, e...)
		mu.Unlock()
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/final?z=1", http.StatusTemporaryRedirect)
		}
	})
	c := newTestClient(t, Options{Now: func() time.Time { return now }})
	plivoParams, _ := translate.DocumentParams(translate.Plivo, translate.CallParams{CallID: "u1", From: "1555", Status: translate.CallRinging})
	flexParams, _ := translate.DocumentParams(translate.FlexML, translate.CallParams{CallID: "9b2e"})
	pct, pbody := plivoParams.Body()
	fct, fbody := flexParams.Body()
	cases := []struct {
		name string
		r    Request
		want check
	}{
		{"plivo POST", Request{Dialect: translate.Plivo, URL: mustURL(t, a.URL+"/p?x=1&y=a+b"), Body: pbody, BodyType: pct, AuthToken: token, Secret: secret}, check{true, true}},
		{"plivo GET", Request{Dialect: translate.Plivo, Method: translate.GET, URL: plivoParams.AppendQuery(mustURL(t, a.URL+"/p?From=mine")), AuthToken: token}, check{true, false}},
		{"plivo POST 307", Request{Dialect: translate.Plivo, URL: mustURL(t, a.URL+"/redirect"), Body: pbody, BodyType: pct, AuthToken: token, Secret: secret}, check{true, true}},
		{"plivo without token", Request{Dialect: translate.Plivo, URL: mustURL(t, a.URL+"/p"), Body: pbody, BodyType: pct, Secret: secret}, check{false, true}},
		{"flexml POST", Request{Dialect: translate.FlexML, URL: mustURL(t, a.URL+"/f?x=1"), Body: fbody, BodyType: fct, AuthToken: token, Secret: secret}, check{false, true}},
		{"flexml GET", Request{Dialect: translate.FlexML, Method: translate.GET, URL: flexParams.AppendQuery(mustURL(t, a.URL+"/f")), Secret: secret}, check{false, true}},
		{"flexml unsigned", Request{Dialect: translate.FlexML, URL: mustURL(t, a.URL+"/f"), Body: fbody, BodyType: fct}, check{false, false}},
	}
	for _, tc := range cases {
		mu.Lock()
		checks, errs = nil, nil
		mu.Unlock()
		tc.r.Retry = fast
		if _, err := c.Do(t.Context(), tc.r); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		mu.Lock()
		for _, e := range errs {
			t.Errorf("%s: %v", tc.name, e)
		}
		for i, got := range checks {
			if got != tc.want {
				t.Errorf("%s, hop %d: signed (plivo, bridge) = %v, want %v", tc.name, i+1, got, tc.want)
			}
		}
		if len(checks) == 0 {
			t.Errorf("%s: no request", tc.name)
		}
		mu.Unlock()
	}
}

func TestDocumentLimit(t *testing.T) {
	const limit = 1000
	a := newApp(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if r.URL.Query().Has("chunked") {
			w.(http.Flusher).Flush() // no Content-Length: the limit is found while reading
		}
		_, _ = w.Write(bytes.Repeat([]byte("x"), n))
	})
	c := newTestClient(t, Options{DocumentLimit: limit})
	get := func(query string, r Request) (*Response, error) {
		r.URL, r.Method, r.Retry = mustURL(t, a.URL+"/?"+query), translate.GET, policy(time.Second, time.Second, 5*time.Second, 3, translate.RetryAll)
		return c.Do(t.Context(), r)
	}
	if resp, err := get("n=1000", Request{Document: true}); err != nil || len(resp.Body) != limit {
		t.Errorf("exactly the limit: %v", err)
	}
	for _, q := range []string{"n=1001", "n=1001&chunked", "n=200000&chunked"} {
		_, err := get(q, Request{Document: true})
		de := deliveryError(t, err)
		if !errors.Is(err, ErrTooLarge) || de.Attempts != 1 || !strings.Contains(err.Error(), "1000-byte limit") {
			t.Errorf("%s: err = %v, want ErrTooLarge naming the limit, not retried", q, err)
		}
	}
	if _, err := get("n=1001", Request{Document: true, Limit: 2000}); err != nil {
		t.Errorf("request limit 2000: %v", err)
	}
	if resp, err := get("n=200000", Request{}); err != nil || resp.Body != nil {
		t.Errorf("notification with a large body: %v", err)
	}

	def := newTestClient(t, Options{})
	if def.limit != 102400 {
		t.Errorf("default limit %d, want 100 KB = 102400", def.limit)
	}
}

// No secret reaches an error or a log line: not the Basic auth password, the Plivo token, the
// signing secret, nor the query (which may hold the app's own keys).
func TestRedactedErrors(t *testing.T) {
	t.Parallel()
	const (
		password = "pw-Secret-1"
		token    = "tok-Secret-2"
		secret   = "sig-Secret-3"
		query    = "apikey-Secret-4"
	)
	var logs logBuffer
	c := newTestClient(t, Options{Logger: logs.logger()})
	a := newApp(t, status(500))
	for _, base := range []string{a.URL, strings.TrimSuffix(closedPort(t), "/cb")} {
		u := mustURL(t, base+"/cb?key="+query+"#ct=100")
		u.User = url.UserPassword("alice", password)
		_, err := c.Do(t.Context(), Request{EventID: "ev-redact", CallID: "call-1", Dialect: translate.Plivo, URL: u,
			Body: []byte("a=1"), BodyType: "application/x-www-form-urlencoded", AuthToken: token, Secret: secret,
			Retry: policy(time.Second, time.Second, 5*time.Second, 1, translate.RetryAll)})
		de := deliveryError(t, err)
		if want := base + "/cb"; de.URL != want {
			t.Errorf("DeliveryError.URL = %q, want %q", de.URL, want)
		}
		if de.Attempts != 2 {
			t.Errorf("attempts = %d, want 2", de.Attempts)
		}
		for _, s := range []string{password, token, secret, query, "alice"} {
			if strings.Contains(err.Error(), s) || strings.Contains(fmt.Sprintf("%+v %#v", err, de), s) {
				t.Errorf("error shows %q: %v", s, err)
			}
		}
	}
	out := logs.String()
	if !strings.Contains(out, "call_id=call-1") || !strings.Contains(out, "event_id=ev-redact") {
		t.Errorf("retry log lines lack call_id or event_id:\n%s", out)
	}
	for _, s := range []string{password, token, secret, query, "alice"} {
		if strings.Contains(out, s) {
			t.Errorf("log shows %q:\n%s", s, out)
		}
	}
}

func TestCanceled(t *testing.T) {
	hangup := errors.New("call hung up")
	in := make(chan struct{})
	var once sync.Once
	a := newApp(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		once.Do(func() { close(in) })
		hang(w, r)
	})
	c := newTestClient(t, Options{})
	ctx, cancel := context.WithCancelCause(t.Context())
	go func() {
		<-in // the app has the request: hang up now
		cancel(hangup)
	}()
	_, err := c.Do(ctx, Request{URL: mustURL(t, a.URL), Retry: policy(time.Second, 10*time.Second, 20*time.Second, 3, translate.RetryAll)})
	if !errors.Is(err, ErrCanceled) || !errors.Is(err, hangup) || Retryable(translate.RetryPolicy{RetryOn: translate.RetryAll}, err) {
		t.Errorf("err = %v, want ErrCanceled wrapping the cause", err)
	}
}

func TestHTTPS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshake below is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tlsConf := srv.Client().Transport.(*http.Transport).TLSClientConfig
	c := newTestClient(t, Options{TLS: tlsConf})
	resp, err := c.Do(t.Context(), Request{URL: mustURL(t, srv.URL), Retry: fast, Document: true})
	if err != nil {
		t.Fatal(err)
	}
	if resp.FinalURL.Scheme != "https" {
		t.Errorf("final URL %s", resp.FinalURL)
	}
	// Without the test CA the handshake fails: no connection, so ErrConnect.
	_, err = newTestClient(t, Options{}).Do(t.Context(), Request{URL: mustURL(t, srv.URL), Retry: fast})
	if !errors.Is(err, ErrConnect) {
		t.Errorf("untrusted certificate: err = %v, want ErrConnect", err)
	}
}

func TestRetryClass(t *testing.T) {
	for _, tc := range []struct {
		de   DeliveryError
		want translate.RetryClass
	}{
		{DeliveryError{Class: ClassConnect}, translate.RetryConnectTimeout},
		{DeliveryError{Class: ClassReadTimeout}, translate.RetryReadTimeout},
		{DeliveryError{Class: ClassConnection}, translate.RetryReadTimeout},
		{DeliveryError{Class: ClassStatus, Status: 400}, translate.Retry4xx},
		{DeliveryError{Class: ClassStatus, Status: 499}, translate.Retry4xx},
		{DeliveryError{Class: ClassStatus, Status: 500}, translate.Retry5xx},
		{DeliveryError{Class: ClassStatus, Status: 304}, 0},
		{DeliveryError{Class: ClassTooLarge, Status: 200}, 0},
		{DeliveryError{Class: ClassRedirect, Status: 302}, 0},
		{DeliveryError{Class: ClassCanceled}, 0},
	} {
		if got := tc.de.RetryClass(); got != tc.want {
			t.Errorf("%v %d: retry class %v, want %v", tc.de.Class, tc.de.Status, got, tc.want)
		}
		if !errors.Is(&tc.de, tc.de.Class.sentinel()) {
			t.Errorf("%v does not unwrap to its sentinel", tc.de.Class)
		}
	}
}
