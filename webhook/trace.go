package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"time"
)

// Exchange is one attempt of a request as a trace reports it (Options.Trace): what was sent
// and what came back. It holds no secret: the URL has no userinfo and no query (the
// parameters of a GET are in Params), and no header is kept, so neither Basic credentials nor
// signatures appear; parameters named like credentials are redacted.
type Exchange struct {
	Kind     string        `json:"kind,omitempty"` // what the request is (answer, action, callback, hangup, ...)
	EventID  string        `json:"event_id"`
	CallID   string        `json:"call_id,omitempty"`
	Attempt  int           `json:"attempt"`
	Method   string        `json:"method"`
	URL      string        `json:"url"`
	Params   url.Values    `json:"params,omitempty"` // the form or JSON object body, or the query of a GET
	Body     string        `json:"body,omitempty"`   // a body that is neither, shortened
	Document bool          `json:"document,omitempty"`
	Status   int           `json:"status,omitempty"` // the final HTTP status, 0 when none came
	Took     time.Duration `json:"took"`
	Err      string        `json:"error,omitempty"`
	Time     time.Time     `json:"time"`
}

// secretParam names parameters whose values are credentials.
var secretParam = regexp.MustCompile(`(?i)(secret|token|password|passwd|credential|signature|accesskey|accountkey|apikey)`)

// traceLimit bounds a non-form body kept in an Exchange.
const traceLimit = 4096

// trace reports attempt n of r to Options.Trace.
func (c *Client) trace(r *Request, n int, start time.Time, resp *Response, err error) {
	if c.tracer == nil {
		return
	}
	u := *r.URL
	u.User, u.Fragment, u.RawFragment = nil, "", ""
	ex := Exchange{Kind: r.Kind, EventID: r.EventID, CallID: r.CallID, Attempt: n, Method: string(r.Method),
		Document: r.Document, Took: time.Since(start), Time: start}
	if u.RawQuery != "" {
		ex.Params = u.Query()
		u.RawQuery = ""
	}
	ex.URL = u.String()
	if len(r.Body) > 0 {
		if isForm(r.BodyType) {
			if ex.Params == nil {
				ex.Params = url.Values{}
			}
			if form, perr := url.ParseQuery(string(r.Body)); perr == nil {
				for k, vs := range form {
					ex.Params[k] = append(ex.Params[k], vs...)
				}
			}
		} else if fields, ok := jsonFields(r.Body); ok {
			if ex.Params == nil {
				ex.Params = url.Values{}
			}
			for k, v := range fields {
				ex.Params[k] = append(ex.Params[k], v)
			}
		} else {
			b := r.Body
			if len(b) > traceLimit {
				b = b[:traceLimit]
			}
			ex.Body = string(b)
		}
	}
	for k, vs := range ex.Params {
		if secretParam.MatchString(k) {
			for i := range vs {
				vs[i] = "[redacted]"
			}
		}
	}
	var de *DeliveryError
	switch {
	case err == nil && resp != nil:
		ex.Status = resp.Status
	case errors.As(err, &de):
		ex.Status, ex.Err = de.Status, de.Error()
	case err != nil:
		ex.Err = err.Error()
	}
	c.tracer(ex)
}

// jsonFields reads a JSON object's fields as text (CarrierX's callbacks are flat objects):
// strings as they are, anything else as its JSON text.
func jsonFields(body []byte) (map[string]string, bool) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, false
	}
	out := make(map[string]string, len(obj))
	for k, raw := range obj {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			out[k] = s
			continue
		}
		out[k] = string(raw)
	}
	return out, true
}

// traceAttempt wraps attempt with its trace.
func (c *Client) traceAttempt(ctx context.Context, r *Request, n int) (*Response, error) {
	start := time.Now()
	resp, err := c.attempt(ctx, r, n)
	c.trace(r, n, start, resp, err)
	return resp, err
}
