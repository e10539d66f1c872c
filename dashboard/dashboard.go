// Package dashboard is pbxbridge's operator dashboard: server-rendered pages (html/template,
// embedded with the binary, plain CSS, no script) showing the live calls and the verb each is
// on, recent recordings with a player, the outbox with its dead letters and a Replay button,
// and the health of the store and each PBX.
//
// It reads what the engine already keeps: live calls are the store's call states (so with
// Redis every instance's calls appear), recordings its File metadata, the outbox its queue
// and dead letters. Delivered callbacks leave the outbox, so their answers, and each call's
// trace, come from this instance's in-memory journal (package journal, Deps.Journal): with
// several instances each shows what it sent itself.
//
// Access needs the API token (api_token), as the HTTP API does: a browser signs in with a
// form that sets a session cookie derived from the token (auth.go), and clients may send the
// token as a Bearer header instead. Without a configured token the dashboard is closed.
package dashboard

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// Prefix is the path the dashboard is served under.
const Prefix = "/dashboard"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Deps are what the dashboard shows and acts on.
type Deps struct {
	// Store holds the live calls and the recordings' metadata. Required.
	Store adapter.Store
	// Outbox holds the queued callbacks and dead letters; nil: the outbox page says so. When
	// it also has OldestQueued(ctx, scan) (metrics.TimedStore, the stores) the page shows the
	// age of the oldest queued callback.
	Outbox adapter.Outbox
	// Journal is what this instance sent and did for each call lately; nil: the Recordings
	// page shows dead letters only and there is no call trace.
	Journal Journal
	// Wake, when set, is called after a replay so that delivery starts at once.
	Wake func()
	// Checks are the health checks, as /readyz runs them.
	Checks []Check
	// CheckTimeout bounds each check. Default 2s.
	CheckTimeout time.Duration
	// Token is the API token (api_token). "" closes the dashboard: it answers 404 with a page
	// saying how to open it.
	Token string
	// FileLink is a URL the browser can fetch a stored recording's bytes from (a signed,
	// expiring /f link). ext is the file's format. Required.
	FileLink func(sid, ext string) string
	Log      *slog.Logger
	Now      func() time.Time
}

// Check is one health check: Check returns nil when Name is healthy. The checks of a request
// run concurrently, each with its own deadline.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// oldestQueued is the optional outbox method that tells the age of the queue.
type oldestQueued interface {
	OldestQueued(ctx context.Context, scan int) (time.Time, error)
}

// Dashboard is the http.Handler of the pages under Prefix.
type Dashboard struct {
	d     Deps
	key   []byte // session and CSRF MAC key, derived from the token (auth.go)
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// New builds the dashboard. It panics when the embedded templates do not parse (a build
// defect, caught by any test).
func New(d Deps) *Dashboard {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.CheckTimeout <= 0 {
		d.CheckTimeout = 2 * time.Second
	}
	db := &Dashboard{d: d, pages: map[string]*template.Template{}, mux: http.NewServeMux()}
	if d.Token != "" {
		db.key = sessionKey(d.Token)
	}
	for _, p := range []string{"login", "calls", "recordings", "outbox", "health", "message", "call"} {
		db.pages[p] = template.Must(template.New("layout.html").Funcs(funcs).
			ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html"))
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	m := db.mux
	m.Handle("GET "+Prefix+"/static/", http.StripPrefix(Prefix+"/static/", http.FileServerFS(static)))
	m.HandleFunc("GET "+Prefix+"/login", db.open(db.loginForm))
	m.HandleFunc("POST "+Prefix+"/login", db.open(db.login))
	m.HandleFunc("POST "+Prefix+"/logout", db.open(db.auth(db.logout)))
	m.HandleFunc("GET "+Prefix, db.open(db.auth(db.home)))
	m.HandleFunc("GET "+Prefix+"/{$}", db.open(db.auth(db.home)))
	m.HandleFunc("GET "+Prefix+"/calls", db.open(db.auth(db.calls)))
	m.HandleFunc("GET "+Prefix+"/calls/{id}", db.open(db.auth(db.call)))
	m.HandleFunc("GET "+Prefix+"/recordings", db.open(db.auth(db.recordings)))
	m.HandleFunc("GET "+Prefix+"/outbox", db.open(db.auth(db.outbox)))
	m.HandleFunc("POST "+Prefix+"/outbox/replay", db.open(db.auth(db.replay)))
	m.HandleFunc("GET "+Prefix+"/health", db.open(db.auth(db.health)))
	m.HandleFunc(Prefix+"/", db.open(db.auth(db.notFound)))
	return db
}

// ServeHTTP serves the dashboard's pages, with headers that keep them out of caches and
// frames and allow no script.
func (db *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; media-src 'self'; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// The audio links carry a signature in their query: keep it out of Referer headers.
	h.Set("Referrer-Policy", "no-referrer")
	if !strings.HasPrefix(r.URL.Path, Prefix+"/static/") {
		h.Set("Cache-Control", "no-store")
	}
	db.mux.ServeHTTP(w, r)
}

// open refuses every page but the stylesheet while no API token is configured.
func (db *Dashboard) open(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if db.d.Token == "" {
			db.message(w, r, http.StatusNotFound, "Dashboard closed",
				"The dashboard needs an API token: set api_token in the configuration and restart pbxbridge.")
			return
		}
		next(w, r)
	}
}

func (db *Dashboard) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, Prefix+"/calls", http.StatusSeeOther)
}

func (db *Dashboard) notFound(w http.ResponseWriter, r *http.Request) {
	db.message(w, r, http.StatusNotFound, "Not found", "There is no dashboard page at "+r.URL.Path+".")
}

// page is what every template gets: the layout's fields and the page's own data.
type page struct {
	Title   string
	Nav     string // the nav entry to highlight
	CSRF    string // "" on pages seen signed out
	Refresh int    // seconds between automatic reloads; 0 = none
	Now     time.Time
	Flash   string
	Error   string
	Data    any
}

// render executes a page's template into a buffer first, so that a template error is a clean
// 500 rather than half a page.
func (db *Dashboard) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if p.Now.IsZero() {
		p.Now = db.d.Now()
	}
	var b bytes.Buffer
	if err := db.pages[name].Execute(&b, p); err != nil {
		db.d.Log.Error("dashboard: rendering", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// message renders a page with a title and a sentence (errors, the closed dashboard).
func (db *Dashboard) message(w http.ResponseWriter, r *http.Request, status int, title, text string) {
	db.render(w, r, status, "message", page{Title: title, CSRF: db.csrfFor(r), Data: text})
}

// fail renders a page for an error of the store or the outbox; its text is logged, and shown,
// since the operator is the one who needs it (the stores' errors carry no secrets).
func (db *Dashboard) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	db.d.Log.Warn("dashboard: "+what, "err", err)
	db.message(w, r, http.StatusServiceUnavailable, "Unavailable", what+": "+err.Error())
}

var funcs = template.FuncMap{
	"dur":  fmtDuration,
	"time": fmtTime,
	"ago": func(now, t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return fmtDuration(now.Sub(t))
	},
	"bytes": fmtBytes,
}

// fmtDuration shows a duration to the second (to the millisecond under ten seconds, to the
// microsecond under one millisecond).
func fmtDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < time.Millisecond {
		return d.Round(time.Microsecond).String()
	}
	if d < 10*time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func fmtBytes(n int64) string {
	const k = 1024
	switch {
	case n < k:
		return fmt.Sprintf("%d B", n)
	case n < k*k:
		return fmt.Sprintf("%.1f KiB", float64(n)/k)
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(k*k))
	}
}
