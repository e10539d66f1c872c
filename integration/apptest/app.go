// Package apptest is a real HTTP application for end-to-end tests and the demo: it serves
// FlexML / Plivo documents by path and records every request pbxbridge makes to it, so that
// tests can assert on field names, units and values exactly as an application sees them.
package apptest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Request is one request received, decoded for assertions.
type Request struct {
	Method string
	Path   string
	// RequestURI is the path and query exactly as received (signatures cover it).
	RequestURI string
	Query      url.Values
	Header     http.Header
	Body       []byte
	// Params holds the request's parameters whatever their encoding: the query, a form body,
	// or the fields of a JSON object (numbers as their decimal text).
	Params url.Values
	// JSON is the decoded JSON body, when the body is JSON.
	JSON map[string]any
	At   time.Time
}

// Get returns a parameter.
func (r Request) Get(k string) string { return r.Params.Get(k) }

// Handler answers a request: status and body (an XML document, or anything).
type Handler func(Request) (status int, body string)

// App is the application server. It is safe for concurrent use.
type App struct {
	URL string // http://127.0.0.1:<port>

	srv  *http.Server
	mu   sync.Mutex
	h    map[string]Handler
	reqs []Request
	cond chan struct{} // closed and replaced on every request
}

// Start listens on a free loopback port.
func Start() (*App, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &App{URL: "http://" + ln.Addr().String(), h: map[string]Handler{}, cond: make(chan struct{})}
	a.srv = &http.Server{Handler: a, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = a.srv.Serve(ln) }()
	return a, nil
}

// Close stops the server.
func (a *App) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return a.srv.Shutdown(ctx)
}

// Handle sets the handler of a path.
func (a *App) Handle(path string, h Handler) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.h[path] = h
}

// Document serves a fixed XML document at path.
func (a *App) Document(path, xml string) {
	a.Handle(path, func(Request) (int, string) { return http.StatusOK, xml })
}

// Status answers a path with a status and an empty body (a callback endpoint).
func (a *App) Status(path string, status int) {
	a.Handle(path, func(Request) (int, string) { return status, "" })
}

func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	req := Request{Method: r.Method, Path: r.URL.Path, RequestURI: r.URL.RequestURI(), Query: r.URL.Query(), Header: r.Header.Clone(), Body: body, At: time.Now(), Params: url.Values{}}
	for k, vs := range req.Query {
		req.Params[k] = append(req.Params[k], vs...)
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/x-www-form-urlencoded":
		if f, err := url.ParseQuery(string(body)); err == nil {
			for k, vs := range f {
				req.Params[k] = append(req.Params[k], vs...)
			}
		}
	case "application/json":
		if err := json.Unmarshal(body, &req.JSON); err == nil {
			for k, v := range req.JSON {
				req.Params.Set(k, fmt.Sprint(v))
			}
		}
	}
	a.mu.Lock()
	a.reqs = append(a.reqs, req)
	h := a.h[r.URL.Path]
	close(a.cond)
	a.cond = make(chan struct{})
	a.mu.Unlock()
	if h == nil {
		http.NotFound(w, r)
		return
	}
	status, out := h(req)
	if strings.HasPrefix(strings.TrimSpace(out), "<") {
		w.Header().Set("Content-Type", "application/xml")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, out)
}

// Requests returns every request so far, in arrival order.
func (a *App) Requests() []Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Request(nil), a.reqs...)
}

// Wait returns the first request (in arrival order) for which match is true, waiting for it
// until ctx is done.
func (a *App) Wait(ctx context.Context, match func(Request) bool) (Request, error) {
	for {
		a.mu.Lock()
		for _, r := range a.reqs {
			if match(r) {
				a.mu.Unlock()
				return r, nil
			}
		}
		ch := a.cond
		a.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Request{}, fmt.Errorf("waiting for a request: %w (received: %s)", context.Cause(ctx), a.summary())
		}
	}
}

// WaitPath waits for the first request to path.
func (a *App) WaitPath(ctx context.Context, path string) (Request, error) {
	return a.Wait(ctx, func(r Request) bool { return r.Path == path })
}

func (a *App) summary() string {
	var s []string
	for _, r := range a.Requests() {
		s = append(s, r.Method+" "+r.Path)
	}
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

// Format renders a request for people: method, path, then its parameters sorted.
func (r Request) Format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", r.Method, r.Path)
	keys := make([]string, 0, len(r.Params))
	for k := range r.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "    %-20s %s\n", k, strings.Join(r.Params[k], ","))
	}
	return b.String()
}
