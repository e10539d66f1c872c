// Command exampleapp is the call application of the Docker stack (docker/compose.yaml): a
// CarrierX FlexML voicemail. pbxbridge fetches /voicemail for a call to its number; the
// document says a prompt and records until '#', silence or 30 s; pbxbridge then posts the
// action (/after-record, which says goodbye and hangs up), the recording callback
// (/recorded, with RecordingUrl) and the status callback (/status).
//
// It keeps every request it received and serves them as JSON at GET /requests, so that a
// test (docker/test.sh) can see what arrived; it logs one line per request. GET /healthz
// answers 200; `exampleapp -health` asks it, for the image's HEALTHCHECK (the image has no
// shell and no curl). Standard library only: it builds without downloading a module.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// The documents. Paths are relative: pbxbridge resolves them against the document's URL.
const voicemail = `<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Say voice="woman">Please leave a message after the tone, then press pound.</Say>
  <Record action="/after-record" callbackUrl="/recorded" playBeep="true" finishOnKey="#"
          maxLength="30" timeout="10" fileFormat="wav" trim="do-not-trim"/>
  <Say>We did not get a message. Goodbye.</Say>
</Response>
`

const afterRecord = `<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Say>Thank you. Goodbye.</Say>
  <Hangup/>
</Response>
`

// maxRequests bounds what is kept: the oldest requests are dropped beyond it.
const maxRequests = 1000

// request is one request as received: what the test looks at.
type request struct {
	Time   time.Time  `json:"time"`
	Method string     `json:"method"`
	Path   string     `json:"path"`
	Form   url.Values `json:"form"` // the query and the body's parameters together
}

type app struct {
	log *slog.Logger

	mu       sync.Mutex
	requests []request
}

// keep records a request. Its parameters are the query plus the body, a form (Plivo, and
// FlexML documents fetched with POST) or a JSON object (FlexML callbacks): values become their
// text, numbers as written.
func (a *app) keep(r *http.Request) {
	params := url.Values{}
	for k, vs := range r.URL.Query() {
		params[k] = append(params[k], vs...)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		a.log.Warn("unreadable body", "path", r.URL.Path, "err", err)
	}
	switch ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct {
	case "application/x-www-form-urlencoded":
		f, err := url.ParseQuery(string(body))
		if err != nil {
			a.log.Warn("unreadable form", "path", r.URL.Path, "err", err)
		}
		for k, vs := range f {
			params[k] = append(params[k], vs...)
		}
	case "application/json":
		var obj map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			a.log.Warn("unreadable JSON", "path", r.URL.Path, "err", err)
		}
		for k, v := range obj {
			if v != nil {
				params.Set(k, fmt.Sprint(v))
			}
		}
	}
	req := request{Time: time.Now().UTC(), Method: r.Method, Path: r.URL.Path, Form: params}
	a.mu.Lock()
	a.requests = append(a.requests, req)
	if len(a.requests) > maxRequests {
		a.requests = a.requests[len(a.requests)-maxRequests:]
	}
	a.mu.Unlock()
	a.log.Info("request", "method", r.Method, "path", r.URL.Path, "call_sid", params.Get("CallSid"),
		"recording_url", params.Get("RecordingUrl"), "digits", params.Get("Digits"))
}

func (a *app) document(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a.keep(r)
		w.Header().Set("Content-Type", "application/xml")
		_, _ = w.Write([]byte(body))
	}
}

func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	a.keep(r)
	w.WriteHeader(http.StatusNoContent)
}

func (a *app) list(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	out, err := json.Marshal(a.requests)
	a.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/voicemail", a.document(voicemail))
	mux.HandleFunc("/after-record", a.document(afterRecord))
	mux.HandleFunc("POST /recorded", a.callback)
	mux.HandleFunc("POST /status", a.callback)
	mux.HandleFunc("GET /requests", a.list)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return mux
}

func main() {
	listen := flag.String("listen", ":8090", "address to serve on")
	health := flag.Bool("health", false, "ask the server at -listen for /healthz and exit 0 when it answers 200")
	flag.Parse()
	if *health {
		os.Exit(healthcheck(*listen))
	}
	log := slog.New(slog.NewTextHandler(os.Stdout, nil))
	a := &app{log: log}
	srv := &http.Server{Addr: *listen, Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	log.Info("voicemail application (FlexML) listening", "addr", *listen)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}

// healthcheck GETs /healthz on the local server: 0 when it answers 200, 1 otherwise.
func healthcheck(listen string) int {
	host := listen
	if len(host) > 0 && host[0] == ':' {
		host = "127.0.0.1" + host
	}
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + host + "/healthz")
	if err != nil {
		fmt.Fprintln(os.Stderr, "health:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "health: HTTP", resp.StatusCode)
		return 1
	}
	return 0
}
