package translate

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinel kinds of document error. Every *Error wraps exactly one of them, so callers test
// with errors.Is(err, translate.ErrInvalidValue) and never by message.
var (
	// ErrNotWellFormed: the document is not well-formed XML.
	ErrNotWellFormed = errors.New("not well-formed XML")
	// ErrRefused: the document is refused before parsing (too large, DTD or entity declarations).
	ErrRefused = errors.New("document refused")
	// ErrUnknownElement: an element that the dialect does not define.
	ErrUnknownElement = errors.New("unknown element")
	// ErrNesting: an element in a place the dialect does not allow it, or text where none may be.
	ErrNesting = errors.New("element not allowed here")
	// ErrInvalidValue: a known attribute (or element text) with an unparsable or out-of-range value.
	ErrInvalidValue = errors.New("invalid value")
	// ErrMissing: a required attribute or element text is absent.
	ErrMissing = errors.New("missing value")
	// ErrDialect: the dialect name is not flexml or plivo.
	ErrDialect = errors.New("unknown dialect")
)

// Pos is a 1-based line and column (in characters) in the document.
type Pos struct {
	Line int
	Col  int
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Error is one document error. It names where it is, the element, the attribute and value
// when there is one, and the rule that was broken.
type Error struct {
	Pos     Pos
	Kind    error  // one of the Err… sentinels
	Element string // element name as written, "" for errors outside any element
	Attr    string // attribute name as written, "" when the error is not about an attribute
	Value   string // the offending value (of Attr, or of the element's text when Attr is "")
	Rule    string // what the dialect requires, in words
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Message() }

// Message is the error without its position.
func (e *Error) Message() string {
	var b strings.Builder
	switch {
	case e.Kind == ErrNotWellFormed || e.Kind == ErrRefused:
		b.WriteString(e.Kind.Error())
		b.WriteString(": ")
	case e.Attr != "":
		fmt.Fprintf(&b, "<%s> attribute %s=%q: ", e.Element, e.Attr, e.Value)
	case e.Value != "":
		fmt.Fprintf(&b, "<%s> text %q: ", e.Element, e.Value)
	case e.Element != "":
		fmt.Fprintf(&b, "<%s>: ", e.Element)
	}
	b.WriteString(e.Rule)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Kind }

// ErrorList is every error found in one document, in document order. Parse returns it as its
// error when there is at least one.
type ErrorList []*Error

func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	return fmt.Sprintf("%s (and %d more errors)", l[0].Error(), len(l)-1)
}

// Unwrap lets errors.Is and errors.As see every error of the list.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Warning is something a vendor would accept but that the porting developer should know:
// unknown attributes, non-canonical case, attributes ignored in a mode, relative Plivo URLs.
type Warning struct {
	Pos     Pos
	Element string
	Attr    string
	Msg     string
}

func (w Warning) String() string { return w.Pos.String() + ": " + w.Message() }

// Message is the warning without its position.
func (w Warning) Message() string {
	var b strings.Builder
	switch {
	case w.Attr != "":
		fmt.Fprintf(&b, "<%s> attribute %s: ", w.Element, w.Attr)
	case w.Element != "":
		fmt.Fprintf(&b, "<%s>: ", w.Element)
	}
	b.WriteString(w.Msg)
	return b.String()
}

// Diagnostics renders errors and warnings one per line, in position order, as
// "LINE:COL: error: ..." and "LINE:COL: warning: ...".
func Diagnostics(errs ErrorList, warns []Warning) string {
	type diag struct {
		pos  Pos
		line string
	}
	var ds []diag
	for _, e := range errs {
		ds = append(ds, diag{e.Pos, fmt.Sprintf("%s: error: %s", e.Pos, e.Message())})
	}
	for _, w := range warns {
		ds = append(ds, diag{w.Pos, fmt.Sprintf("%s: warning: %s", w.Pos, w.Message())})
	}
	sort.SliceStable(ds, func(i, j int) bool { return posLess(ds[i].pos, ds[j].pos) })
	var b strings.Builder
	for _, x := range ds {
		b.WriteString(x.line)
		b.WriteByte('\n')
	}
	return b.String()
}
