package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
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

	// raw is the body, unparsed, when Options.TraceLazy deferred its parameters (Parameters
	// parses it); rawForm says it is a form, else a JSON object.
	raw     []byte
	rawForm bool
}

// lazyLimit is the longest body Options.TraceLazy keeps unparsed; a longer one (a long
// transcription text) is parsed at once, so that its values can be cut by the consumer.
const lazyLimit = 8192

// Parameters returns the exchange's parameters and, for a body that is neither a form nor a
// JSON object, its text: Params and Body, or, when Options.TraceLazy deferred them, parsed
// now (with credential-named parameters redacted, as Params would be). The map is the
// caller's to change when parsed, Params itself otherwise.
func (ex Exchange) Parameters() (url.Values, string) {
	if ex.raw == nil {
		return ex.Params, ex.Body
	}
	p := make(url.Values, len(ex.Params))
	for k, vs := range ex.Params {
		p[k] = append([]string(nil), vs...)
	}
	return bodyParams(p, ex.raw, ex.rawForm)
}

// Param returns one parameter's first value ("" when absent), without parsing the whole of a
// deferred body: the journal indexes exchanges by RecordingID this way on the hot path.
func (ex Exchange) Param(name string) string {
	if v := ex.Params.Get(name); v != "" || ex.raw == nil {
		return v
	}
	if !ex.rawForm && !secretName(name) {
		if v, ok := jsonString(ex.raw, name); ok {
			return v
		}
	}
	if secretName(name) || !ex.rawForm {
		if !ex.rawForm && !bytes.Contains(ex.raw, []byte(`"`+name+`"`)) {
			return ""
		}
		p, _ := ex.Parameters() // redacted, or a JSON object too hard for jsonString
		return p.Get(name)
	}
	q := string(ex.raw)
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != name && !strings.ContainsAny(k, "%+") {
			continue
		}
		if k, err := url.QueryUnescape(k); err != nil || k != name {
			continue
		}
		if v, err := url.QueryUnescape(v); err == nil {
			return v
		}
		return ""
	}
	return ""
}

// jsonString finds a plain string field of a flat JSON object without decoding it: "name",
// a colon, and a string without escapes. ok is false when it cannot tell (no such key, or a
// value of another shape): the caller then decodes.
func jsonString(obj []byte, name string) (string, bool) {
	i := bytes.Index(obj, []byte(`"`+name+`"`))
	if i < 0 {
		return "", false
	}
	rest := bytes.TrimLeft(obj[i+len(name)+2:], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return "", false
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || rest[0] != '"' {
		return "", false
	}
	end := bytes.IndexByte(rest[1:], '"')
	if end < 0 || bytes.IndexByte(rest[1:end+1], '\\') >= 0 {
		return "", false
	}
	return string(rest[1 : end+1]), true
}

// bodyParams adds a body's parameters to p (nil: a new map) and redacts credential-named
// ones; text is the body's start when it is neither a form nor a JSON object.
func bodyParams(p url.Values, body []byte, form bool) (url.Values, string) {
	text := ""
	if form {
		if f, ok := parseForm(body, len(p)); !ok {
			if p == nil {
				p = url.Values{}
			}
		} else if p == nil {
			p = f
		} else {
			for k, vs := range f {
				p[k] = append(p[k], vs...)
			}
		}
	} else if fields, ok := jsonFields(body); ok {
		if p == nil {
			p = url.Values{}
		}
		for k, v := range fields {
			p[k] = append(p[k], v)
		}
	} else {
		b := body
		if len(b) > traceLimit {
			b = b[:traceLimit]
		}
		text = string(b)
	}
	redactParams(p)
	return p, text
}

// redactParams replaces the values of credential-named parameters.
func redactParams(p url.Values) {
	for k, vs := range p {
		if secretName(k) {
			for i := range vs {
				vs[i] = "[redacted]"
			}
		}
	}
}

// secretWords are the words, in lower case, that make a parameter's name a credential's
// (matched anywhere in the name, whatever its case: AuthToken, x_api_secret).
var secretWords = [...][]byte{[]byte("secret"), []byte("token"), []byte("password"), []byte("passwd"), []byte("credential"),
	[]byte("signature"), []byte("accesskey"), []byte("accountkey"), []byte("apikey")}

// secretName reports whether a parameter named k holds a credential. It runs for every
// parameter of every traced attempt, on the outbox's sending goroutines: a case-insensitive
// regexp cost some 50 µs per callback, as much as sending it, so this lowers the name into a
// buffer on the stack and looks for each word.
func secretName(k string) bool {
	var buf [64]byte
	l := buf[:0]
	if len(k) > len(buf) {
		l = make([]byte, 0, len(k))
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		l = append(l, c)
	}
	for _, w := range secretWords {
		if bytes.Contains(l, w) {
			return true
		}
	}
	return false
}

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
	redactParams(ex.Params)
	if len(r.Body) > 0 {
		form := isForm(r.BodyType)
		if c.traceLazy && len(r.Body) <= lazyLimit && (form || bytes.HasPrefix(bytes.TrimSpace(r.Body), []byte("{"))) {
			// Copied: the caller's body may be a buffer it reuses.
			ex.raw, ex.rawForm = bytes.Clone(r.Body), form
		} else {
			ex.Params, ex.Body = bodyParams(ex.Params, r.Body, form)
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

// parseForm is url.ParseQuery for the trace, which runs on the outbox's sending goroutines:
// the map is sized once and the values share one backing array, which makes it about twice
// as quick. ok is false, and nothing is kept, where ParseQuery would report an error (a bad
// escape, a semicolon in a name).
func parseForm(body []byte, extra int) (url.Values, bool) {
	q := string(body)
	n := strings.Count(q, "&") + 1
	m := make(url.Values, n+extra)
	vals := make([]string, 0, n)
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		if kv == "" {
			continue
		}
		if strings.Contains(kv, ";") {
			return nil, false
		}
		k, v, _ := strings.Cut(kv, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			return nil, false
		}
		if v, err = url.QueryUnescape(v); err != nil {
			return nil, false
		}
		if _, dup := m[k]; dup {
			m[k] = append(m[k], v) // rare: its own array
			continue
		}
		vals = append(vals, v)
		m[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	return m, true
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
