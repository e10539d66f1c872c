package ari

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/CyCoreSystems/ari/v6"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// Every REST call goes through cmd or raw, each bounded by CommandTimeout. The library's
// requests carry no context and its http.Client has no timeout (RequestTimeout is unused), so
// cmd runs them on a goroutine and stops waiting at the deadline; a stuck request's goroutine
// ends when its TCP connection does. raw is our own client for what the library lacks:
// early media (progress), hangup with a Q.850 code, user events (health pings), and the
// stored-recording file, which the library cannot download.

// cmd runs one library command with the command deadline. notFound and refused are the
// error kinds for a 404 and for other refusals.
func (p *PBX) cmd(ctx context.Context, op string, notFound, refused error, f func(ari.Client) error) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	cl := p.client()
	if cl == nil {
		return &Error{Op: op, Kind: adapter.ErrPBXDown, Msg: "not connected"}
	}
	ctx, cancel := context.WithTimeout(ctx, p.cmdTimeout)
	defer cancel()
	if err := p.acquire(ctx, op); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		defer p.release() // when the request ends, even if we stopped waiting for it
		done <- f(cl)
	}()
	select {
	case err := <-done:
		return toError(op, err, notFound, refused)
	case <-ctx.Done():
		if cause := context.Cause(ctx); cause != context.DeadlineExceeded {
			return cause // the caller's context ended first
		}
		return &Error{Op: op, Kind: adapter.ErrPBXDown, Msg: fmt.Sprintf("no answer within %s", p.cmdTimeout)}
	}
}

// acquire takes one of the maxInflight request slots, waiting within ctx's deadline.
func (p *PBX) acquire(ctx context.Context, op string) error {
	select {
	case p.inflight <- struct{}{}:
		return nil
	case <-ctx.Done():
		if cause := context.Cause(ctx); cause != context.DeadlineExceeded {
			return cause
		}
		return &Error{Op: op, Kind: adapter.ErrPBXDown, Msg: fmt.Sprintf("%d requests outstanding for %s", maxInflight, p.cmdTimeout)}
	}
}

func (p *PBX) release() { <-p.inflight }

// raw sends one request with our own client. path is already escaped; query may be nil.
func (p *PBX) raw(ctx context.Context, method, path string, query url.Values, timeout time.Duration) (int, []byte, error) {
	return p.rawBody(ctx, method, path, query, nil, timeout)
}

// rawBody is raw with a JSON body (nil = none).
func (p *PBX) rawBody(ctx context.Context, method, path string, query url.Values, jsonBody []byte, timeout time.Duration) (int, []byte, error) {
	if timeout <= 0 {
		timeout = p.cmdTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := p.acquire(ctx, method+" "+path); err != nil {
		return 0, nil, err
	}
	defer p.release()
	u := p.restURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if jsonBody != nil {
		rd = bytes.NewReader(jsonBody)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	if jsonBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(p.cfg.Username, p.cfg.Password.Reveal())
	resp, err := p.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	return resp.StatusCode, body, nil
}

// rawCmd is raw for a command whose 2xx answer carries nothing we need.
func (p *PBX) rawCmd(ctx context.Context, op, method, path string, query url.Values, notFound, refused error) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	st, body, err := p.raw(ctx, method, path, query, 0)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
		return &Error{Op: op, Kind: adapter.ErrPBXDown, Msg: redactErr(err)}
	}
	if st/100 != 2 {
		return statusError(op, st, body, notFound, refused)
	}
	return nil
}

// fetchRecording downloads a stored recording and deletes it from Asterisk's spool, so that
// the spool never fills with files the bridge already holds.
func (p *PBX) fetchRecording(ctx context.Context, name string) ([]byte, error) {
	path := "/recordings/stored/" + url.PathEscape(name)
	op := "fetch recording " + name
	// A long recording is large (4 h is 230 MB): allow more than one command's time.
	st, body, err := p.raw(ctx, http.MethodGet, path+"/file", nil, 10*p.cmdTimeout)
	if err != nil {
		return nil, &Error{Op: op, Kind: adapter.ErrPBXDown, Msg: redactErr(err)}
	}
	if st != http.StatusOK {
		return nil, statusError(op, st, body, adapter.ErrRecordingFailed, adapter.ErrRecordingFailed)
	}
	if err := p.rawCmd(ctx, "delete recording "+name, http.MethodDelete, path, nil, nil, ErrCommand); err != nil {
		// The audio is safe with us; a leftover file only costs Asterisk disk space.
		p.log.Warn("stored recording not deleted", "recording", name, "err", err)
	}
	return body, nil
}

// ariMessage extracts ARI's {"message": "..."} error text.
func ariMessage(body []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(bytes.TrimSpace(body), &m) == nil {
		return m.Message
	}
	return ""
}

// redactErr prints a transport error for a log line or an *Error: the innermost cause,
// after the operation and URL (we never put credentials in URLs, but an error may echo one).
func redactErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			return ue.Op + " " + u.Redacted() + ": " + rootCause(ue.Err)
		}
	}
	return rootCause(err)
}

// rootCause is the message of the innermost error: the library wraps with eris, whose
// messages span lines.
func rootCause(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return strings.TrimSpace(err.Error())
		}
		err = u
	}
}
