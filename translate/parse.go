package translate

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Limits of what Parse accepts.
const (
	DefaultMaxBytes = 100 * 1024 // Plivo's documented limit, applied to both dialects
	DefaultMaxDepth = 32         // real documents nest 3 or 4 deep
)

// Options tune Parse. The zero value is the strict default.
type Options struct {
	// Lenient turns invalid attribute values into warnings and uses the attribute's default,
	// for applications that relied on a vendor being forgiving (record.md §0).
	Lenient bool
	// MaxBytes is the largest document accepted (default DefaultMaxBytes).
	MaxBytes int
	// MaxDepth is the deepest element nesting accepted (default DefaultMaxDepth).
	MaxDepth int
}

// Parse reads a document of the dialect. baseURL is the final URL of the document (after
// redirects), against which relative URLs are resolved; it may be nil when unknown, and then
// relative URLs are kept relative.
//
// Warnings are returned even when the error is not nil. The error, when not nil, is an
// ErrorList of every problem found, each an *Error with a position.
func Parse(dialect Dialect, document []byte, baseURL *url.URL) (*Program, []Warning, error) {
	return ParseOptions(dialect, document, baseURL, Options{})
}

// ParseOptions is Parse with options.
func ParseOptions(dialect Dialect, document []byte, baseURL *url.URL, opts Options) (*Program, []Warning, error) {
	var table verbTable
	switch dialect {
	case FlexML:
		table = flexmlVerbs
	case Plivo:
		table = plivoVerbs
	default:
		return nil, nil, ErrorList{{Kind: ErrDialect, Rule: fmt.Sprintf("unknown dialect %q: want flexml or plivo", dialect)}}
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	if len(document) > opts.MaxBytes {
		return nil, nil, ErrorList{{Pos: Pos{Line: 1, Col: 1}, Kind: ErrRefused,
			Rule: fmt.Sprintf("document is %d bytes, larger than the limit of %d bytes", len(document), opts.MaxBytes)}}
	}
	if baseURL != nil {
		b := *baseURL
		b.Fragment, b.RawFragment = "", ""
		baseURL = &b
	}
	p := &parser{s: newScanner(document, opts.MaxDepth), dialect: dialect, base: baseURL, opts: opts, table: table}
	root, err := p.s.scan()
	if err != nil {
		se := err.(*syntaxError)
		kind := ErrNotWellFormed
		if se.refused {
			kind = ErrRefused
		}
		return nil, nil, ErrorList{{Pos: p.s.pos(se.off), Kind: kind, Rule: se.msg}}
	}
	prog := &Program{Dialect: dialect, DocumentURL: baseURL}
	if !strings.EqualFold(root.name, "Response") {
		p.errorf(root, ErrUnknownElement, "the root element must be <Response>")
	} else {
		if root.name != "Response" {
			p.warnf(root, "", "element name is written %q; the canonical spelling is <Response>", root.name)
		}
		p.checkNoText(root, "Response")
		p.ignoreAttrs(root)
		prog.Verbs = p.verbs(root, ctxResponse)
	}
	sort.SliceStable(p.errs, func(i, j int) bool { return posLess(p.errs[i].Pos, p.errs[j].Pos) })
	sort.SliceStable(p.warns, func(i, j int) bool { return posLess(p.warns[i].Pos, p.warns[j].Pos) })
	if len(p.errs) > 0 {
		return nil, p.warns, p.errs
	}
	return prog, p.warns, nil
}

func posLess(a, b Pos) bool { return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col }

// parser holds the state of one Parse call.
type parser struct {
	s       *scanner
	dialect Dialect
	base    *url.URL
	opts    Options
	table   verbTable
	errs    ErrorList
	warns   []Warning
}

// context names where a list of verbs sits; each verb entry lists the contexts it may appear in.
type context uint8

const (
	ctxResponse  context = 1 << iota // directly in <Response>
	ctxGather                        // in FlexML <Gather>, Plivo <GetDigits>/<GetInput>
	ctxPreAnswer                     // in <PreAnswer>
	ctxDial                          // in <Dial> (nouns: Number, Sip, User)
)

// verbFunc parses one element into a verb. It reports problems through p and returns nil when
// the element is unusable.
type verbFunc func(p *parser, n *node, name string) Verb

type verbEntry struct {
	name  string  // canonical spelling
	in    context // where it may appear
	parse verbFunc
}

// verbTable maps lower-case element names to their entries.
type verbTable map[string]verbEntry

// find looks an element name up case-insensitively without allocating: the map index with
// string(bytes) does not copy.
func (t verbTable) find(name string) (verbEntry, bool) {
	var buf [32]byte
	if len(name) > len(buf) {
		e, ok := t[strings.ToLower(name)]
		return e, ok
	}
	b := buf[:len(name)]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	e, ok := t[string(b)]
	return e, ok
}

func (t verbTable) allowedIn(ctx context) string {
	var names []string
	for _, e := range t {
		if e.in&ctx != 0 {
			names = append(names, "<"+e.name+">")
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// verbs parses the child elements of parent as verbs allowed in ctx.
func (p *parser) verbs(parent *node, ctx context) []Verb {
	out := make([]Verb, 0, len(parent.children))
	for _, c := range parent.children {
		e, ok := p.table.find(c.name)
		if !ok {
			p.errorf(c, ErrUnknownElement, "not a %s element; allowed in <%s>: %s", p.dialectName(), parent.name, p.table.allowedIn(ctx))
			continue
		}
		if c.name != e.name {
			p.warnf(c, "", "element name is written %q; the canonical spelling is <%s>", c.name, e.name)
		}
		if e.in&ctx == 0 {
			p.nestingError(c, e, parent, ctx)
			continue
		}
		if v := e.parse(p, c, e.name); v != nil {
			out = append(out, v)
		}
	}
	return out
}

func (p *parser) nestingError(c *node, e verbEntry, parent *node, ctx context) {
	var where []string
	if e.in&ctxResponse != 0 {
		where = append(where, "directly in <Response>")
	}
	for _, pc := range []struct {
		c context
		n string
	}{{ctxGather, p.gatherNames()}, {ctxPreAnswer, "<PreAnswer>"}, {ctxDial, "<Dial>"}} {
		if e.in&pc.c != 0 {
			where = append(where, "in "+pc.n)
		}
	}
	p.errorf(c, ErrNesting, "may not appear in <%s>; it may appear only %s (allowed in <%s>: %s)",
		parent.name, strings.Join(where, " or "), parent.name, p.table.allowedIn(ctx))
}

func (p *parser) gatherNames() string {
	if p.dialect == Plivo {
		return "<GetDigits> or <GetInput>"
	}
	return "<Gather>"
}

func (p *parser) dialectName() string {
	if p.dialect == Plivo {
		return "Plivo XML"
	}
	return "FlexML"
}

// errorf records an error about an element (not about one of its attributes).
func (p *parser) errorf(n *node, kind error, format string, args ...any) {
	p.errs = append(p.errs, &Error{Pos: p.s.pos(n.off), Kind: kind, Element: n.name, Rule: fmt.Sprintf(format, args...)})
}

// warnf records a warning about an element, or about one of its attributes when attr is set.
func (p *parser) warnf(n *node, attr string, format string, args ...any) {
	off := n.off
	for _, a := range n.attrs {
		if a.name == attr {
			off = a.off
		}
	}
	p.warns = append(p.warns, Warning{Pos: p.s.pos(off), Element: n.name, Attr: attr, Msg: fmt.Sprintf(format, args...)})
}

// checkNoText refuses non-whitespace text in an element that holds only elements.
func (p *parser) checkNoText(n *node, canonical string) {
	if n.hasText() {
		p.errs = append(p.errs, &Error{Pos: p.s.pos(n.textOff), Kind: ErrNesting, Element: n.name,
			Rule: fmt.Sprintf("may not contain text (found %q)", abbreviate(strings.TrimSpace(n.text), 40))})
	}
}

// checkEmpty refuses any child element or text in an element that has no content.
func (p *parser) checkEmpty(n *node, canonical string) {
	p.checkNoText(n, canonical)
	for _, c := range n.children {
		p.errorf(c, ErrNesting, "may not appear in <%s>, which takes no elements", canonical)
	}
}

// ignoreAttrs warns about every attribute of an element that takes none.
func (p *parser) ignoreAttrs(n *node) {
	a := p.attrs(n)
	a.done()
}

func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
