package translate

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// attrReader reads the attributes of one element. Every read marks the attribute as known;
// done() then warns about the ones nobody read. Invalid values become errors (or, with
// Options.Lenient, warnings and the default).
//
// Attribute names match exactly first, then case-insensitively with a warning (record.md §0).
// An empty value is the same as an absent attribute.
type attrReader struct {
	p    *parser
	n    *node
	elem string // canonical element name, for messages
	used []bool // parallel to n.attrs
}

func (p *parser) attrs(n *node) *attrReader {
	return &attrReader{p: p, n: n, elem: n.name, used: make([]bool, len(n.attrs))}
}

// lookup returns the attribute called name, or nil when it is absent or empty.
func (a *attrReader) lookup(name string) *attr {
	for i := range a.n.attrs {
		if !a.used[i] && a.n.attrs[i].name == name {
			return a.take(i)
		}
	}
	for i := range a.n.attrs {
		at := &a.n.attrs[i]
		if !a.used[i] && len(at.name) == len(name) && strings.EqualFold(at.name, name) {
			a.p.warns = append(a.p.warns, Warning{Pos: a.p.s.pos(at.off), Element: a.elem, Attr: at.name,
				Msg: fmt.Sprintf("attribute name is written %q; the canonical spelling is %s", at.name, name)})
			return a.take(i)
		}
	}
	return nil
}

func (a *attrReader) take(i int) *attr {
	a.used[i] = true
	if a.n.attrs[i].value == "" {
		return nil
	}
	return &a.n.attrs[i]
}

// present reports whether the attribute is given with a non-empty value, without reading it.
func (a *attrReader) present(name string) bool {
	for i := range a.n.attrs {
		if strings.EqualFold(a.n.attrs[i].name, name) && a.n.attrs[i].value != "" {
			return true
		}
	}
	return false
}

// invalid reports a value that breaks its rule. In lenient mode it is a warning and the caller
// uses the default.
func (a *attrReader) invalid(at *attr, rule string) {
	if a.p.opts.Lenient {
		a.p.warns = append(a.p.warns, Warning{Pos: a.p.s.pos(at.off), Element: a.elem, Attr: at.name,
			Msg: fmt.Sprintf("invalid value %q (%s); lenient mode uses the default", at.value, rule)})
		return
	}
	a.p.errs = append(a.p.errs, &Error{Pos: a.p.s.pos(at.off), Kind: ErrInvalidValue, Element: a.elem,
		Attr: at.name, Value: at.value, Rule: rule})
}

// warn records a warning about an attribute.
func (a *attrReader) warn(at *attr, format string, args ...any) {
	a.p.warns = append(a.p.warns, Warning{Pos: a.p.s.pos(at.off), Element: a.elem, Attr: at.name, Msg: fmt.Sprintf(format, args...)})
}

// String reads a free-form string.
func (a *attrReader) String(name, def string) string {
	if at := a.lookup(name); at != nil {
		return at.value
	}
	return def
}

// Bool reads true/false, compared case-insensitively.
func (a *attrReader) Bool(name string, def bool) bool {
	at := a.lookup(name)
	if at == nil {
		return def
	}
	switch strings.ToLower(strings.TrimSpace(at.value)) {
	case "true":
		return true
	case "false":
		return false
	}
	a.invalid(at, "must be true or false")
	return def
}

// Int reads a decimal integer in [lo, hi]. rule describes the range for messages.
func (a *attrReader) Int(name string, def, lo, hi int64, rule string) int64 {
	v, _ := a.IntSet(name, def, lo, hi, rule)
	return v
}

// IntSet is Int that also reports whether a valid value was given.
func (a *attrReader) IntSet(name string, def, lo, hi int64, rule string) (int64, bool) {
	at := a.lookup(name)
	if at == nil {
		return def, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(at.value), 10, 64)
	if err != nil || v < lo || v > hi {
		a.invalid(at, rule)
		return def, false
	}
	return v, true
}

// Seconds reads a whole number of seconds in [lo, hi].
func (a *attrReader) Seconds(name string, def time.Duration, lo, hi int64, rule string) time.Duration {
	d, _ := a.SecondsSet(name, def, lo, hi, rule)
	return d
}

// SecondsSet is Seconds that also reports whether a valid value was given.
func (a *attrReader) SecondsSet(name string, def time.Duration, lo, hi int64, rule string) (time.Duration, bool) {
	if hi > math.MaxInt64/int64(time.Second) {
		hi = math.MaxInt64 / int64(time.Second)
	}
	v, ok := a.IntSet(name, 0, lo, hi, rule)
	if !ok {
		return def, false
	}
	return time.Duration(v) * time.Second, true
}

// Float reads a decimal number in [lo, hi].
func (a *attrReader) Float(name string, def, lo, hi float64, rule string) float64 {
	at := a.lookup(name)
	if at == nil {
		return def
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(at.value), 64)
	if err != nil || math.IsNaN(v) || v < lo || v > hi {
		a.invalid(at, rule)
		return def
	}
	return v
}

// Enum reads one of the allowed values, matched case-insensitively, and returns it as spelled
// in allowed.
func (a *attrReader) Enum(name, def string, allowed ...string) string {
	at := a.lookup(name)
	if at == nil {
		return def
	}
	v := strings.TrimSpace(at.value)
	for _, x := range allowed {
		if strings.EqualFold(v, x) {
			return x
		}
	}
	a.invalid(at, "must be one of "+strings.Join(allowed, ", "))
	return def
}

// Method reads GET or POST.
func (a *attrReader) Method(name string, def Method) Method {
	return Method(a.Enum(name, string(def), "GET", "POST"))
}

// Keys reads a set of DTMF keys: any combination of 0-9, # and *, or "none" for the empty set.
func (a *attrReader) Keys(name string, def KeySet) KeySet {
	at := a.lookup(name)
	if at == nil {
		return def
	}
	v := strings.TrimSpace(at.value)
	if strings.EqualFold(v, "none") {
		return 0
	}
	var set KeySet
	for i := 0; i < len(v); i++ {
		b := keyBit(v[i])
		if b == 0 {
			a.invalid(at, "must be keys from 0-9, # and * (a set: any one of them ends it), or none")
			return def
		}
		set |= b
	}
	return set
}

// urlKind says whether a URL may carry a retry fragment.
type urlKind uint8

const (
	urlCallback urlKind = iota // requested by the bridge: fragment is a retry policy (§3.7)
	urlMedia                   // audio played to the caller: fragment left alone
)

// URL reads a URL, resolved against the document URL. The retry policy is the fragment's for
// urlCallback URLs, else the default.
func (a *attrReader) URL(name string, kind urlKind) (*url.URL, RetryPolicy) {
	at := a.lookup(name)
	if at == nil {
		return nil, DefaultRetryPolicy()
	}
	return a.resolve(at, at.value, kind)
}

// resolve parses and resolves a URL held by at (an attribute, or the element for text URLs).
func (a *attrReader) resolve(at *attr, raw string, kind urlKind) (*url.URL, RetryPolicy) {
	u, pol, problem, warns := a.p.resolveURL(strings.TrimSpace(raw), kind)
	for _, w := range warns {
		a.warn(at, "%s", w)
	}
	if problem != "" {
		a.invalid(at, problem)
		return nil, DefaultRetryPolicy()
	}
	return u, pol
}

// Target reads a URL attribute and its method attribute. It returns nil when the URL is absent.
func (a *attrReader) Target(urlName, methodName string, def Method) *Target {
	u, pol := a.URL(urlName, urlCallback)
	m := def
	if methodName != "" {
		m = a.Method(methodName, def)
	}
	if u == nil {
		return nil
	}
	return &Target{URL: u, Method: m, Retry: pol}
}

// Ignore marks attributes as known but without effect, warning about each that is present.
func (a *attrReader) Ignore(why string, names ...string) {
	for _, name := range names {
		for i := range a.n.attrs {
			at := &a.n.attrs[i]
			if !a.used[i] && strings.EqualFold(at.name, name) {
				a.used[i] = true
				if at.value != "" {
					a.warn(at, "has no effect %s", why)
				}
			}
		}
	}
}

// done warns about every attribute nobody read. Namespace declarations are ignored silently.
func (a *attrReader) done() {
	for i := range a.n.attrs {
		at := &a.n.attrs[i]
		if a.used[i] || at.name == "xmlns" || strings.HasPrefix(at.name, "xmlns:") {
			continue
		}
		a.warn(at, "unknown attribute of <%s>, ignored", a.elem)
	}
}

// find returns the attribute called name (exact spelling first, then any case) whether or not
// it was read, or nil when it is absent or empty. It neither marks it read nor warns, so a
// parser can point a warning at an attribute it has already read.
func (a *attrReader) find(name string) *attr {
	var folded *attr
	for i := range a.n.attrs {
		at := &a.n.attrs[i]
		if at.value == "" {
			continue
		}
		if at.name == name {
			return at
		}
		if folded == nil && strings.EqualFold(at.name, name) {
			folded = at
		}
	}
	return folded
}
