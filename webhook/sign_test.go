package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Vectors produced by testdata/signature_vectors.py, which follows the logic of Plivo's
// official validator (plivo-python validate_v3_signature) on Python's own URL parsing, and
// whose output was checked against a verbatim copy of the official functions. The test does
// not run Python.
const (
	plivoToken = "test-auth-token-3c9d2a61"
	plivoNonce = "05281749930061274835"
)

var plivoVectors = []struct {
	method, url string
	params      url.Values
	message     string // string to sign, before "." + nonce
	signature   string
}{
	{"GET", "https://app.example.net/answer?b=2&a=1&a=0", url.Values{"CallUUID": {"5c1e7f2a-0b3d-4e6f-8a9b-1c2d3e4f5a6b"}, "From": {"15550100001"}, "a": {"mine"}, "Text": {"hi it's"}},
		"https://app.example.net/answer?CallUUID=5c1e7f2a-0b3d-4e6f-8a9b-1c2d3e4f5a6b&From=15550100001&Text=hi it's&a=0&a=1&b=2",
		"9v1I/EOhJrwSF4nFaJl1HDxo8mEPRAsUvkOihBN4RUI="},
	{"GET", "https://app.example.net/answer", url.Values{},
		"https://app.example.net/answer",
		"DnSaE6VUVPyjrgGnf2MuGNndIzrQUunIJGxi5f+CIVo="},
	{"GET", "http://app.example.net:8080/a%20b/c?q=%41%2F%3d&plus=a+b&semi=1;2&bad=%zz&flag", url.Values{"Digits": {"#"}, "e": {""}, "~t": {"x"}},
		"http://app.example.net:8080/a%20b/c?Digits=#&bad=%zz&e=&flag=&plus=a b&q=A/=&semi=1;2&~t=x",
		"R1JSK8+qJbC3qZeAv9Ca7DBwMAHj9vFCZTxc/QvqAJA="},
	{"POST", "https://app.example.net/rec?x=1&y=a+b%26c", url.Values{"Digits": {"#"}, "RecordUrl": {"https://bridge.example.net/f/d2.mp3"}, "RecordingDuration": {"12"}, "Empty": {""}, "k": {"b", "a"}},
		"https://app.example.net/rec?x=1&y=a b&c.Digits#EmptyRecordUrlhttps://bridge.example.net/f/d2.mp3RecordingDuration12kakb",
		"zHv+Fe9JR1eOjV2D3HMPWCUWHLINus1727W2KmAAM3s="},
	{"POST", "https://app.example.net/rec", url.Values{"CallUUID": {"5c1e7f2a-0b3d-4e6f-8a9b-1c2d3e4f5a6b"}, "From": {"15550100001"}, "transcription": {"hi it's sam"}},
		"https://app.example.net/rec?CallUUID5c1e7f2a-0b3d-4e6f-8a9b-1c2d3e4f5a6bFrom15550100001transcriptionhi it's sam",
		"4QOSLHqAB7+/9LM5rCcMQ7KqCzrwtlV82GyuRqEjF04="},
	{"POST", "https://app.example.net/rec?z=9&a=%2B", url.Values{},
		"https://app.example.net/rec?a=+&z=9",
		"/Dd13S0ZgMyre/xH86dxFR3Q1/hmymx3c9yFJ1cybb0="},
	{"POST", "https://app.example.net/rec", url.Values{},
		"https://app.example.net/rec",
		"NzLJdvNpoQf3Bx3SZ0mQyYIHS7ixRLIPG6JJ7/YIKeo="},
	{"POST", "https://app.example.net/rec?&", url.Values{"a": {"1"}},
		"https://app.example.net/rec?a1",
		"yNYc8vHX9THPyOhYFxBmX5u6kbhaMPRt8OzcC7C5CTE="},
}

// pbxbridge scheme vectors from the same script (hex HMAC-SHA256 computed by Python).
const bridgeSecret = "whsec-test-7f0e4b5a"

var bridgeVectors = []struct {
	t           int64
	method, url string
	body, v1    string
}{
	{1795284977, "POST", "https://app.example.net/flexml/after-record?x=1", "{\"a\":\"b\"}", "ee00d785b698f3d02e287fa4a4b92b5949eccd51328788eda892f36733e44fbf"},
	{1795284977, "GET", "https://app.example.net/flexml/after-record?x=1&CallSid=9b2e", "", "96fa14f4a63992f55f7006088b26cd2e98c05e73e8141a4dcf9ddee619dedc21"},
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// appendParams is what a Plivo GET sends: params added to the URL's query, the URL's own
// keys winning (callbacks.md §1.3).
func appendParams(u *url.URL, params url.Values) *url.URL {
	out := *u
	own := parseQuery(u.RawQuery)
	extra := url.Values{}
	for k, vs := range params {
		if _, clash := own[k]; !clash {
			extra[k] = vs
		}
	}
	if e := extra.Encode(); e != "" {
		if out.RawQuery != "" {
			out.RawQuery += "&"
		}
		out.RawQuery += e
	}
	return &out
}

func TestPlivoV3Vectors(t *testing.T) {
	for _, v := range plivoVectors {
		t.Run(v.method+" "+v.url, func(t *testing.T) {
			u := mustURL(t, v.url)
			if got := PlivoV3Message(v.method, u, v.params); got != v.message {
				t.Errorf("message\n got %q\nwant %q", got, v.message)
			}
			if got := SignPlivoV3(plivoToken, v.method, u, v.params, plivoNonce); got != v.signature {
				t.Errorf("signature %s, want %s", got, v.signature)
			}
			// A receiver accepts any comma-separated entry.
			if err := VerifyPlivoV3(plivoToken, v.method, u, v.params, plivoNonce, "bm90LWl0,"+v.signature); err != nil {
				t.Errorf("verify: %v", err)
			}
			if v.method != "GET" {
				return
			}
			// The URL actually sent holds the params; signing it, with or without the params
			// again, gives the same value, as does a receiver that passes only the full URL.
			sent := appendParams(u, v.params)
			for _, p := range []url.Values{v.params, nil} {
				if got := SignPlivoV3(plivoToken, "GET", sent, p, plivoNonce); got != v.signature {
					t.Errorf("sent URL %s with params %v: %s, want %s", sent, p, got, v.signature)
				}
			}
		})
	}
}

func TestPlivoV3Rules(t *testing.T) {
	msg := func(method, raw string, p url.Values) string { return PlivoV3Message(method, mustURL(t, raw), p) }
	tests := []struct {
		name, got, want string
	}{
		{"userinfo and fragment are not signed",
			msg("POST", "https://u:p@h.example/x?a=1#ct=3000", url.Values{"b": {"2"}}), "https://h.example/x?a=1.b2"},
		{"empty path is the / sent on the wire",
			msg("GET", "https://h.example?a=1", nil), "https://h.example/?a=1"},
		{"repeated body keys, values sorted, no separators",
			msg("POST", "https://h.example/x", url.Values{"k": {"2", "10", "1"}, "A": {""}}), "https://h.example/x?Ak1k10k2"},
		{"POST query values are decoded and sorted",
			msg("POST", "https://h.example/x?b=%2F&a=2&a=1", nil), "https://h.example/x?a=1&a=2&b=/"},
		{"GET: URL's whole list replaces the param's",
			msg("GET", "https://h.example/x?k=url", url.Values{"k": {"p1", "p2"}, "z": {"1"}}), "https://h.example/x?k=url&z=1"},
		{"UTF-8 text is signed as UTF-8",
			msg("GET", "https://h.example/x?q=%E2%9C%93", nil), "https://h.example/x?q=\u2713"},
		{"method other than GET is POST",
			msg("PUT", "https://h.example/x?a=1", url.Values{"b": {"2"}}), "https://h.example/x?a=1.b2"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestVerifyPlivoV3Errors(t *testing.T) {
	v := plivoVectors[3]
	u := mustURL(t, v.url)
	tampered := url.Values{}
	for k, vs := range v.params {
		tampered[k] = vs
	}
	tampered.Set("RecordingDuration", "13")

	mismatch := []struct {
		name, token, sig string
		params           url.Values
	}{
		{"wrong token", "other", v.signature, v.params},
		{"tampered param", plivoToken, v.signature, tampered},
		{"entries are not trimmed", plivoToken, "x, " + v.signature, v.params},
	}
	for _, tt := range mismatch {
		if err := VerifyPlivoV3(tt.token, v.method, u, tt.params, plivoNonce, tt.sig); !errors.Is(err, ErrSignatureMismatch) {
			t.Errorf("%s: err = %v, want ErrSignatureMismatch", tt.name, err)
		}
	}
	var he *HeaderError
	if err := VerifyPlivoV3(plivoToken, v.method, u, v.params, plivoNonce, ""); !errors.As(err, &he) || he.Header != HeaderPlivoSignature || !errors.Is(err, ErrMalformedSignature) {
		t.Errorf("missing signature: err = %v", err)
	}
	if err := VerifyPlivoV3(plivoToken, v.method, u, v.params, "", v.signature); !errors.As(err, &he) || he.Header != HeaderPlivoNonce {
		t.Errorf("missing nonce: err = %v", err)
	}
}

func TestNewNonce(t *testing.T) {
	// Bytes of 250 and above are skipped; the rest give b%10.
	src := append(bytes.Repeat([]byte{255, 249, 250, 13}, 8), bytes.Repeat([]byte{7}, 32)...)
	got, err := NewNonce(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat("93", 8) + "7777"; got != want {
		t.Errorf("NewNonce = %q, want %q", got, want)
	}
	if _, err := NewNonce(bytes.NewReader(make([]byte, 10))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short reader: err = %v", err)
	}
	a, err1 := NewNonce(nil)
	b, err2 := NewNonce(nil)
	if err1 != nil || err2 != nil || len(a) != 20 || strings.Trim(a, "0123456789") != "" || a == b {
		t.Errorf("NewNonce(nil) = %q, %q (%v, %v)", a, b, err1, err2)
	}
}

func TestSignVectors(t *testing.T) {
	for _, v := range bridgeVectors {
		u := mustURL(t, v.url)
		var body []byte
		if v.body != "" {
			body = []byte(v.body)
		}
		want := "t=1795284977,v1=" + v.v1
		if got := Sign([]string{bridgeSecret}, time.Unix(v.t, 0), v.method, u, body); got != want {
			t.Errorf("%s %s: Sign = %s, want %s", v.method, v.url, got, want)
		}
		// Userinfo (Basic auth) and the fragment are not part of the URL as sent.
		withExtras := mustURL(t, strings.Replace(v.url, "https://", "https://user:pw@", 1)+"#rc=3")
		if got := Sign([]string{bridgeSecret}, time.Unix(v.t, 0), v.method, withExtras, body); got != want {
			t.Errorf("%s with userinfo and fragment: Sign = %s, want %s", v.url, got, want)
		}
	}
}

func TestVerify(t *testing.T) {
	const (
		oldSecret = "old-secret"
		newSecret = "new-secret"
	)
	u := mustURL(t, "https://app.example.net/cb?x=1")
	body := []byte(`{"CallSid":"9b2e"}`)
	signed := time.Unix(1795284977, 0)
	rotating := Sign([]string{oldSecret, newSecret}, signed, "POST", u, body)
	if n := strings.Count(rotating, ",v1="); n != 2 {
		t.Fatalf("rotation header %q has %d v1 entries, want 2", rotating, n)
	}
	only := func(secret string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte("1795284977.POST.https://app.example.net/cb?x=1."))
		m.Write(body)
		return "t=1795284977,v1=" + hex.EncodeToString(m.Sum(nil))
	}
	if got := Sign([]string{newSecret}, signed, "POST", u, body); got != only(newSecret) {
		t.Errorf("Sign = %s, want %s", got, only(newSecret))
	}

	ok := []struct {
		name    string
		secrets []string
		header  string
		now     time.Time
	}{
		{"receiver has the new secret", []string{newSecret}, rotating, signed},
		{"receiver has the old secret", []string{oldSecret}, rotating, signed},
		{"receiver holds both", []string{"x", newSecret}, only(newSecret), signed},
		{"300 s late", []string{newSecret}, only(newSecret), signed.Add(Tolerance)},
		{"300 s early", []string{newSecret}, only(newSecret), signed.Add(-Tolerance)},
		{"spaces and unknown keys", []string{newSecret}, "v0=zz, " + strings.ReplaceAll(only(newSecret), ",", " , ") + ",v1=nothex", signed},
	}
	for _, tt := range ok {
		if err := Verify(tt.secrets, tt.header, "POST", u, body, tt.now); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}

	var skew *SkewError
	for _, d := range []time.Duration{Tolerance + time.Second, -Tolerance - time.Second} {
		err := Verify([]string{newSecret}, only(newSecret), "POST", u, body, signed.Add(d))
		if !errors.Is(err, ErrSignatureExpired) || !errors.As(err, &skew) || !skew.Signed.Equal(signed) {
			t.Errorf("now = signed%+v: err = %v, want ErrSignatureExpired", d, err)
		}
	}

	other := mustURL(t, "https://app.example.net/cb?x=2")
	mismatch := []struct {
		name, method string
		u            *url.URL
		body         []byte
		secrets      []string
	}{
		{"other secret", "POST", u, body, []string{"third"}},
		{"method", "GET", u, body, []string{newSecret}},
		{"url", "POST", other, body, []string{newSecret}},
		{"body", "POST", u, []byte(`{"CallSid":"9b2f"}`), []string{newSecret}},
		{"no secrets", "POST", u, body, nil},
	}
	for _, tt := range mismatch {
		// Also stale: a mismatch is reported before the timestamp is looked at.
		err := Verify(tt.secrets, rotating, tt.method, tt.u, tt.body, signed.Add(time.Hour))
		if !errors.Is(err, ErrSignatureMismatch) {
			t.Errorf("%s: err = %v, want ErrSignatureMismatch", tt.name, err)
		}
	}

	// An empty secret signs nothing and verifies nothing: anyone can compute that MAC.
	if got := Sign([]string{""}, signed, "POST", u, body); got != "" {
		t.Errorf("Sign with empty secret = %q, want no header", got)
	}
	if err := Verify([]string{""}, only(""), "POST", u, body, signed); !errors.Is(err, ErrSignatureMismatch) {
		t.Errorf("Verify with empty secret: err = %v", err)
	}

	v1 := strings.TrimPrefix(only(newSecret), "t=1795284977,")
	for _, h := range []string{"", "garbage", v1, "t=1795284977", "t=1795284977,v1=nothex", "t=soon," + v1, "t=," + v1, "t=1,t=1795284977," + v1} {
		var he *HeaderError
		err := Verify([]string{newSecret}, h, "POST", u, body, signed)
		if !errors.Is(err, ErrMalformedSignature) || !errors.As(err, &he) || he.Header != HeaderSignature {
			t.Errorf("header %q: err = %v, want ErrMalformedSignature", h, err)
		}
	}
}
