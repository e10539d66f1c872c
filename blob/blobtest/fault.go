package blobtest

import (
	"net/http"
	"sync"
)

// Faults wraps an emulator's handler: it can fail the next requests with a status, and
// counts what it served. Safe for concurrent use.
type Faults struct {
	next http.Handler

	mu       sync.Mutex
	failN    int
	status   int
	requests int
	seen     []string // "METHOD path?query" of each request
}

// NewFaults wraps h.
func NewFaults(h http.Handler) *Faults { return &Faults{next: h} }

// FailNext makes the next n requests fail with status (no body an SDK could mistake for an
// answer).
func (f *Faults) FailNext(n, status int) {
	f.mu.Lock()
	f.failN, f.status = n, status
	f.mu.Unlock()
}

// Requests is how many requests came, failed ones included.
func (f *Faults) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// Seen lists the requests that came, as "METHOD path?query".
func (f *Faults) Seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

func (f *Faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	f.seen = append(f.seen, r.Method+" "+r.URL.RequestURI())
	fail := f.failN > 0
	if fail {
		f.failN--
	}
	status := f.status
	f.mu.Unlock()
	if fail {
		w.WriteHeader(status)
		return
	}
	f.next.ServeHTTP(w, r)
}
