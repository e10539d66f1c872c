package adapter

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/pbxbridge/pbxbridge/translate"
)

// ErrDocument: a document could not be fetched or is not a valid document (callbacks.md
// §1.6). The call is hung up after the failure is logged.
var ErrDocument = errors.New("document unavailable")

// DocumentError says which document failed and why.
type DocumentError struct {
	Kind string // answer, redirect, action, errorAction, fallback
	URL  string // redacted
	Err  error
}

func (e *DocumentError) Error() string {
	return fmt.Sprintf("%s document %s: %v", e.Kind, e.URL, e.Err)
}

func (e *DocumentError) Unwrap() []error { return []error{ErrDocument, e.Err} }

// fetchFirst fetches and parses the application's answer document. When it fails, a Plivo
// app's fallback URL gets one request with the same parameters (callbacks.md §1.6).
func (s *session) fetchFirst(ctx context.Context) (*translate.Program, error) {
	t, err := appTarget(s.app.URL, s.app.Method)
	if err != nil {
		return nil, &DocumentError{Kind: "answer", URL: s.app.URL, Err: err}
	}
	params, err := translate.DocumentParams(s.app.Dialect, s.callParams())
	if err != nil {
		return nil, err
	}
	prog, err := s.document(ctx, "answer", t, params, false)
	if err == nil || s.app.FallbackURL == "" || errors.Is(err, ErrHangup) {
		return prog, err
	}
	s.log.Error("answer document failed; trying the fallback URL", "err", err)
	ft, ferr := appTarget(s.app.FallbackURL, s.app.Method)
	if ferr != nil {
		return nil, err
	}
	return s.document(ctx, "fallback", ft, params, false)
}

// fetch requests a flow-control document: a Redirect (plain fetch), or a Record's action or
// errorAction with the recording's parameters (through the outbox).
func (s *session) fetch(ctx context.Context, kind string, t *translate.Target, rec translate.RecordingParams, withRecording bool) (*translate.Program, error) {
	var (
		params translate.Params
		err    error
	)
	switch {
	case kind == "errorAction":
		params = translate.ErrorActionParams(s.callParams())
	case withRecording:
		params, err = translate.ActionParams(s.app.Dialect, s.callParams(), rec)
	default:
		params, err = translate.DocumentParams(s.app.Dialect, s.callParams())
	}
	if err != nil {
		return nil, err
	}
	return s.document(ctx, kind, t, params, withRecording || kind == "errorAction")
}

// document sends one request whose answer is a document, and parses it against the final URL.
// Requests that are callbacks (action, errorAction) go through the outbox; document fetches
// (answer, redirect) do not (callbacks.md §1.1).
func (s *session) document(ctx context.Context, kind string, t *translate.Target, params translate.Params, callback bool) (*translate.Program, error) {
	var (
		resp *Response
		err  error
	)
	if callback {
		resp, err = s.send(ctx, kind, t, params)
	} else {
		u, body, bodyType := request(t, params)
		resp, err = s.e.Sender.Send(ctx, Request{
			EventID: s.e.NewID(), CallID: s.id, Kind: kind, App: s.app.Name, Dialect: s.app.Dialect, Method: t.Method, URL: u,
			Body: body, BodyType: bodyType, Retry: t.Retry, Document: true, Limit: s.app.DocumentLimit,
		})
	}
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && errors.Is(cause, ErrHangup) {
			return nil, cause
		}
		s.trace(TraceEvent{Kind: TraceDocument, Request: kind, URL: redacted(t.URL), Err: err.Error()})
		return nil, &DocumentError{Kind: kind, URL: redacted(t.URL), Err: err}
	}
	base := resp.FinalURL
	if base == nil {
		base = t.URL
	}
	prog, warns, err := translate.ParseOptions(s.app.Dialect, resp.Body, base,
		translate.Options{Lenient: s.app.Lenient, MaxBytes: s.app.DocumentLimit})
	for _, w := range warns {
		s.log.Debug("document warning", "url", redacted(base), "warning", w.String())
	}
	s.traceDocument(kind, base, resp, prog, warns, err)
	if err != nil {
		return nil, &DocumentError{Kind: kind, URL: redacted(base), Err: err}
	}
	s.log.Info("document", "kind", kind, "url", redacted(base), "verbs", verbNames(prog))
	return prog, nil
}

// appTarget is an app URL from config as a Target: its fragment is a retry policy.
func appTarget(raw, method string) (*translate.Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	pol := translate.DefaultRetryPolicy()
	if u.Fragment != "" {
		var probs []string
		pol, probs = translate.ParseRetryFragment(u.EscapedFragment())
		if len(probs) > 0 {
			return nil, fmt.Errorf("retry fragment: %s", strings.Join(probs, "; "))
		}
		u.Fragment, u.RawFragment = "", ""
	}
	return &translate.Target{URL: u, Method: translate.Method(method), Retry: pol}, nil
}

func verbNames(p *translate.Program) string {
	names := make([]string, len(p.Verbs))
	for i, v := range p.Verbs {
		names[i] = v.Element()
	}
	return strings.Join(names, ",")
}
