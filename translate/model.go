package translate

import (
	"net/url"
	"strings"
	"time"
)

// Dialect names the application language a document is written in.
type Dialect string

const (
	// FlexML is CarrierX FlexML.
	FlexML Dialect = "flexml"
	// Plivo is Plivo XML.
	Plivo Dialect = "plivo"
)

// ParseDialect accepts the dialect names users write ("flexml", "carrierx", "plivo").
func ParseDialect(s string) (Dialect, error) {
	switch strings.ToLower(s) {
	case "flexml", "carrierx":
		return FlexML, nil
	case "plivo":
		return Plivo, nil
	}
	return "", &Error{Kind: ErrDialect, Rule: "unknown dialect " + `"` + s + `"` + ": want flexml or plivo"}
}

// Program is one parsed document: the verbs of its <Response>, in order.
// A Program is immutable once Parse returns it and may be shared between goroutines.
type Program struct {
	Dialect     Dialect
	DocumentURL *url.URL // final URL of the document; base of relative URLs; nil when unknown
	Verbs       []Verb
}

// Verb is one executable element. The concrete types are *Record, *Play, *Say, *Pause,
// *Hangup, *Reject, *Redirect, *PreAnswer, *Dial, *Gather and *DTMF; the engine switches on them.
type Verb interface {
	// Position is where the element starts in the document.
	Position() Pos
	// Element is the element's canonical name in its dialect (Speak, GetDigits, Record, ...).
	Element() string
	verb()
}

// VerbBase is embedded in every verb.
type VerbBase struct {
	Pos  Pos
	Name string // canonical element name in the document's dialect
}

func (b VerbBase) Position() Pos   { return b.Pos }
func (b VerbBase) Element() string { return b.Name }
func (VerbBase) verb()             {}

// Method is an HTTP method for a callback or a document request.
type Method string

const (
	GET  Method = "GET"
	POST Method = "POST"
)

// Target is a URL the bridge will request, with its method and retry policy.
// The URL is absolute when the document URL was known, its fragment removed (it held the
// retry policy), and it may carry userinfo, which is sent as Basic auth and never logged.
type Target struct {
	URL    *url.URL
	Method Method
	Retry  RetryPolicy
}

// RetryClass is a set of failure classes that a RetryPolicy retries.
type RetryClass uint8

const (
	Retry4xx            RetryClass = 1 << iota // HTTP 4xx answers
	Retry5xx                                   // HTTP 5xx answers
	RetryConnectTimeout                        // "ct": no connection within ConnectTimeout
	RetryReadTimeout                           // "rt": no answer within ReadTimeout
	RetryAll            = Retry4xx | Retry5xx | RetryConnectTimeout | RetryReadTimeout
)

func (c RetryClass) String() string {
	var parts []string
	for _, x := range []struct {
		c RetryClass
		n string
	}{{Retry4xx, "4xx"}, {Retry5xx, "5xx"}, {RetryConnectTimeout, "ct"}, {RetryReadTimeout, "rt"}} {
		if c&x.c != 0 {
			parts = append(parts, x.n)
		}
	}
	return strings.Join(parts, ",")
}

// RetryPolicy is how one URL is requested (callbacks.md §1.5 and §3.7).
type RetryPolicy struct {
	ConnectTimeout time.Duration // "ct", 100ms–10s, default 2s
	ReadTimeout    time.Duration // "rt", 100ms–40s, default 40s
	TotalTimeout   time.Duration // "tt", 100ms–55s, default 55s, across all attempts
	Retries        int           // "rc", 0–5, default 1: attempts after the first
	RetryOn        RetryClass    // "rp", default ct,rt
	Region         string        // "er", accepted and ignored (one egress)
	FromFragment   bool          // the policy came from a URL fragment, not the defaults
}

// DefaultRetryPolicy is the policy of a URL without a retry fragment (Plivo's defaults,
// applied to both dialects).
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		ConnectTimeout: 2 * time.Second,
		ReadTimeout:    40 * time.Second,
		TotalTimeout:   55 * time.Second,
		Retries:        1,
		RetryOn:        RetryConnectTimeout | RetryReadTimeout,
		Region:         "nearest",
	}
}

// Secret holds a credential from the document. It never prints, logs or marshals its value;
// only Reveal returns it, for the one place that needs it (the storage client).
type Secret struct{ v string }

// NewSecret wraps a credential.
func NewSecret(v string) Secret { return Secret{v: v} }

// Reveal returns the credential. Call it only where the value is handed to its provider.
func (s Secret) Reveal() string { return s.v }

// IsSet reports whether a value is present.
func (s Secret) IsSet() bool { return s.v != "" }

func (s Secret) String() string {
	if s.v == "" {
		return ""
	}
	return "[redacted]"
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `translate.Secret("` + s.String() + `")` }

// MarshalText keeps encoding/json, YAML and slog's text handler from printing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// KeySet is a set of DTMF keys from 0-9, * and #.
type KeySet uint16

// AllKeys is every key: CarrierX's default finishOnKey.
const AllKeys KeySet = 1<<12 - 1

const keyOrder = "0123456789#*"

func keyBit(c byte) KeySet {
	if i := strings.IndexByte(keyOrder, c); i >= 0 {
		return 1 << i
	}
	return 0
}

// Has reports whether the key (a single character) is in the set.
func (k KeySet) Has(key byte) bool { b := keyBit(key); return b != 0 && k&b != 0 }

// String lists the keys in the order 0-9, #, *.
func (k KeySet) String() string {
	var b []byte
	for i := 0; i < len(keyOrder); i++ {
		if k&(1<<i) != 0 {
			b = append(b, keyOrder[i])
		}
	}
	return string(b)
}
