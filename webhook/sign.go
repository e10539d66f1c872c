package webhook

// This file signs and verifies the HTTP requests the bridge sends to applications: Plivo's V3
// signature (callbacks.md §3.8), so that unmodified Plivo SDK validators accept Plivo-dialect
// requests, and pbxbridge's own X-Pbxbridge-Signature (callbacks.md §4).
//
// Everything here is a pure function of its arguments, safe for concurrent use; the only
// input from outside is the randomness NewNonce reads.

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Header names.
const (
	HeaderPlivoSignature = "X-Plivo-Signature-V3"
	HeaderPlivoNonce     = "X-Plivo-Signature-V3-Nonce"
	HeaderSignature      = "X-Pbxbridge-Signature"
)

// Tolerance is how far the t= of an X-Pbxbridge-Signature may be from the receiver's clock,
// either way (callbacks.md §4). It bounds replay of a captured request.
const Tolerance = 300 * time.Second

// Sentinel errors; every error Verify and VerifyPlivoV3 return wraps exactly one of them.
var (
	// ErrMalformedSignature: a signature header is missing or cannot be parsed.
	ErrMalformedSignature = errors.New("malformed signature header")
	// ErrSignatureMismatch: no signature in the header matches the request.
	ErrSignatureMismatch = errors.New("signature mismatch")
	// ErrSignatureExpired: the signature matches, but its timestamp is outside Tolerance.
	ErrSignatureExpired = errors.New("signature timestamp outside tolerance")
)

// HeaderError is a missing or unparsable signature header.
type HeaderError struct {
	Header string // header name
	Reason string // what is wrong, in words
}

func (e *HeaderError) Error() string { return "webhook: " + e.Header + ": " + e.Reason }

func (e *HeaderError) Unwrap() error { return ErrMalformedSignature }

// SkewError is a correctly signed request whose timestamp is too far from now.
type SkewError struct {
	Signed time.Time // the header's t=
	Now    time.Time // the receiver's clock
}

func (e *SkewError) Error() string {
	return fmt.Sprintf("webhook: %s: signed at %d, %s from now (tolerance %s)",
		HeaderSignature, e.Signed.Unix(), e.Now.Sub(e.Signed), Tolerance)
}

func (e *SkewError) Unwrap() error { return ErrSignatureExpired }

// NewNonce returns 20 random decimal digits for X-Plivo-Signature-V3-Nonce (callbacks.md §3.8,
// Open). A fresh nonce is needed for every attempt. r is the randomness; nil means crypto/rand.
func NewNonce(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	const n = 20
	out := make([]byte, 0, n)
	var buf [32]byte
	for len(out) < n {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", fmt.Errorf("webhook: nonce: %w", err)
		}
		for _, b := range buf {
			// Bytes 250-255 are dropped so that every digit is equally likely.
			if b < 250 && len(out) < n {
				out = append(out, '0'+b%10)
			}
		}
	}
	return string(out), nil
}

// PlivoV3Message is the string Plivo's V3 signature covers, before "." + nonce is appended
// (callbacks.md §3.8 steps 1-4). u is the URL as sent: for a GET it may already hold params
// (AppendQuery), which changes nothing since the merge keeps the URL's values. params are the
// callback params: the body of a POST. Any method other than GET is treated as POST, as the
// official validators do.
//
// This follows plivo-python (plivo/utils/signature_v3.py), where it differs from plivo-go:
//   - GET merge: the URL's value wins a key clash (plivo-go lets the param win);
//   - repeated keys: one k=v per value, values sorted (plivo-go keeps only the first);
//   - path: escaped, as on the wire (plivo-go uses the decoded path);
//   - POST whose URL query parses to nothing ("?&"): no "." before the params (plivo-go
//     writes "?.").
//
// Where plivo-python itself departs from callbacks.md, the spec wins:
//   - text is signed as UTF-8; plivo-python double-encodes non-ASCII characters (it turns
//     bytes into str with chr() per byte) and raises on a non-ASCII decoded query value;
//   - base is scheme://host[:port]/path without userinfo, which is sent as Basic auth and
//     never appears in the request; plivo-python would keep it if handed such a URL;
//   - an empty path is "/", which is what goes on the wire; plivo-python uses "";
//   - ";params" of the last path segment are kept; plivo-python's urlparse drops them.
func PlivoV3Message(method string, u *url.URL, params url.Values) string {
	var b strings.Builder
	b.WriteString(u.Scheme)
	b.WriteString("://")
	b.WriteString(u.Host)
	if p := u.EscapedPath(); p != "" {
		b.WriteString(p)
	} else {
		b.WriteByte('/')
	}
	query := parseQuery(u.RawQuery)
	if method == http.MethodGet {
		all := make(url.Values, len(params)+len(query))
		maps.Copy(all, params)
		maps.Copy(all, query) // the URL's value wins, whole list for whole list
		if q := sortedPairs(all, "=", "&"); q != "" {
			b.WriteByte('?')
			b.WriteString(q)
		}
		return b.String()
	}
	q := sortedPairs(query, "=", "&")
	if len(params) == 0 {
		if q != "" {
			b.WriteByte('?')
			b.WriteString(q)
		}
		return b.String()
	}
	b.WriteByte('?')
	if q != "" {
		b.WriteString(q)
		b.WriteByte('.')
	}
	b.WriteString(sortedPairs(params, "", ""))
	return b.String()
}

// sortedPairs writes k+kv+v for each value, keys in byte order and each key's values sorted,
// joined by sep. Byte order of UTF-8 is code point order, which is how Python sorts.
func sortedPairs(m url.Values, kv, sep string) string {
	segs := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		vs := slices.Sorted(slices.Values(m[k]))
		pairs := make([]string, len(vs))
		for i, v := range vs {
			pairs[i] = k + kv + v
		}
		// A key without values yields an empty segment, exactly as plivo-python joins it.
		segs = append(segs, strings.Join(pairs, sep))
	}
	return strings.Join(segs, sep)
}

// parseQuery reads a query the way Python's parse_qs(keep_blank_values=True) does, because
// that is what the validator on the other side uses: only '&' separates pairs (url.ParseQuery
// rejects ';'), a pair without '=' has an empty value, '+' is a space, and a '%' not followed by
// two hex digits stays as it is (url.ParseQuery rejects the pair). Decoded bytes that are not
// valid UTF-8 are kept as they are, where Python substitutes U+FFFD.
func parseQuery(raw string) url.Values {
	v := url.Values{}
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		k, val, _ := strings.Cut(pair, "=")
		k = unquotePlus(k)
		v[k] = append(v[k], unquotePlus(val))
	}
	return v
}

func unquotePlus(s string) string {
	if !strings.ContainsAny(s, "+%") {
		return s
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			out = append(out, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			out = append(out, c)
		}
	}
	return string(out)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// SignPlivoV3 is the X-Plivo-Signature-V3 value for a request (callbacks.md §3.8 step 6):
// standard base64, with padding, of HMAC-SHA256(auth token, message + "." + nonce).
func SignPlivoV3(authToken, method string, u *url.URL, params url.Values, nonce string) string {
	mac := hmac.New(sha256.New, []byte(authToken))
	mac.Write([]byte(PlivoV3Message(method, u, params)))
	mac.Write([]byte{'.'})
	mac.Write([]byte(nonce))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// VerifyPlivoV3 checks a request's X-Plivo-Signature-V3 and nonce headers. It accepts the
// request if any comma-separated entry of signature equals the computed value; entries are
// compared exactly, without trimming spaces, as the official validators do.
func VerifyPlivoV3(authToken, method string, u *url.URL, params url.Values, nonce, signature string) error {
	if signature == "" {
		return &HeaderError{Header: HeaderPlivoSignature, Reason: "missing"}
	}
	if nonce == "" {
		return &HeaderError{Header: HeaderPlivoNonce, Reason: "missing"}
	}
	want := []byte(SignPlivoV3(authToken, method, u, params, nonce))
	for entry := range strings.SplitSeq(signature, ",") {
		if hmac.Equal([]byte(entry), want) {
			return nil
		}
	}
	return fmt.Errorf("webhook: %s: %w", HeaderPlivoSignature, ErrSignatureMismatch)
}

// sentURL is the URL exactly as it goes on the wire: no userinfo (it travels as Basic auth),
// no fragment, "/" for an empty path, the query byte for byte.
func sentURL(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.RequestURI()
}

// mac1 is the v1 value: HMAC-SHA256(secret, t "." method "." URL "." body).
func mac1(secret string, t, method, u string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	for _, s := range [...]string{t, ".", method, ".", u, "."} {
		mac.Write([]byte(s))
	}
	mac.Write(body)
	return mac.Sum(nil)
}

// Sign is the X-Pbxbridge-Signature value (callbacks.md §4) for a request sent at t: one v1
// entry per secret, so that during rotation receivers holding either secret accept it. Empty
// secrets are skipped, since anyone can sign with an empty key; with no secret left the result
// is "" and the header must not be sent. body is the raw body, nil for a GET.
func Sign(secrets []string, t time.Time, method string, u *url.URL, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	target := sentURL(u)
	var b strings.Builder
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("t=")
			b.WriteString(ts)
		}
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(mac1(s, ts, method, target, body)))
	}
	return b.String()
}

// Verify checks an X-Pbxbridge-Signature header against the request: a v1 entry must match
// one of the receiver's secrets (several may be held during rotation), and then t must be
// within Tolerance of now. u is the URL as received (scheme, Host and request URI). The
// signature is checked first, so ErrSignatureExpired always means a genuine but stale or
// replayed request. Keys other than t and v1 are ignored, leaving room for future schemes.
func Verify(secrets []string, header, method string, u *url.URL, body []byte, now time.Time) error {
	bad := func(reason string) error { return &HeaderError{Header: HeaderSignature, Reason: reason} }
	if header == "" {
		return bad("missing")
	}
	var (
		ts   string
		sigs [][]byte
	)
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return bad(fmt.Sprintf("entry %q is not key=value", part))
		}
		switch k {
		case "t":
			if ts != "" {
				return bad("t= appears more than once")
			}
			if _, err := strconv.ParseInt(v, 10, 64); err != nil || v == "" {
				return bad(fmt.Sprintf("t=%q is not a decimal Unix time", v))
			}
			ts = v
		case "v1":
			// An entry that is not hex cannot match; it is not worth failing the others for.
			if sig, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	if ts == "" {
		return bad("no t= entry")
	}
	if len(sigs) == 0 {
		return bad("no v1= entry")
	}
	target := sentURL(u)
	if !matchesAny(secrets, sigs, ts, method, target, body) {
		return fmt.Errorf("webhook: %s: %w", HeaderSignature, ErrSignatureMismatch)
	}
	sec, _ := strconv.ParseInt(ts, 10, 64)
	signed := time.Unix(sec, 0)
	if d := now.Sub(signed); d > Tolerance || d < -Tolerance {
		return &SkewError{Signed: signed, Now: now}
	}
	return nil
}

func matchesAny(secrets []string, sigs [][]byte, ts, method, target string, body []byte) bool {
	for _, s := range secrets {
		if s == "" {
			continue
		}
		want := mac1(s, ts, method, target, body)
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				return true
			}
		}
	}
	return false
}
