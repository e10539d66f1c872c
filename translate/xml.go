package translate

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds a small, strict XML scanner that turns an application document into a tree of
// elements with byte offsets. It exists instead of encoding/xml for three reasons:
//   - positions: encoding/xml reports no attribute positions, and errors must name line and column
//     of the attribute that is wrong;
//   - refusal: DTDs and entity declarations are refused outright instead of being skipped;
//   - speed: a typical 1 KB document scans in about a tenth of encoding/xml's time (see
//     BenchmarkParse).
// It accepts a subset of what encoding/xml accepts (FuzzScanner checks that), which is all that
// FlexML and Plivo XML documents use: elements, attributes, text, CDATA, comments, processing
// instructions and the predefined and numeric character references.

// node is one element of the document.
type node struct {
	name     string
	off      int // offset of '<'
	attrs    []attr
	children []*node
	text     string // decoded character data directly inside the element, concatenated
	textOff  int    // offset of the first non-space character of text, or -1
}

type attr struct {
	name  string
	value string
	off   int // offset of the attribute name
	voff  int // offset of the first character of the value (after the quote)
}

// hasText reports whether the element holds non-whitespace character data.
func (n *node) hasText() bool { return n.textOff >= 0 }

// scanner is the state of one scan. It is not reused across documents.
type scanner struct {
	src      []byte
	str      string // src as a string, made once: names and plain values are substrings of it
	nodes    []node // arena: one node per '<', so it never grows and pointers stay valid
	attrs    []attr // arena: each element's attributes are a contiguous run of it
	i        int
	maxDepth int
	lines    []int // offsets at which each line starts
}

// syntaxError is an XML well-formedness failure at an offset.
type syntaxError struct {
	off     int
	msg     string
	refused bool // refused by policy (DTD, entities, depth), not malformed
}

func (e *syntaxError) Error() string { return e.msg }

func newScanner(src []byte, maxDepth int) *scanner {
	s := &scanner{src: src, maxDepth: maxDepth, lines: make([]int, 1, 32)}
	s.str = string(src)
	// One node per start tag: '<' minus end tags is an upper bound (comments and PIs count too).
	s.nodes = make([]node, 0, bytes.Count(src, []byte("<"))-bytes.Count(src, []byte("</")))
	s.attrs = make([]attr, 0, bytes.Count(src, []byte("=")))
	for i := 0; ; {
		j := bytes.IndexByte(src[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
		s.lines = append(s.lines, i)
	}
	return s
}

// pos converts a byte offset into a 1-based line and a 1-based column counted in characters.
func (s *scanner) pos(off int) Pos {
	if off < 0 {
		return Pos{}
	}
	if off > len(s.src) {
		off = len(s.src)
	}
	lo, hi := 0, len(s.lines)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if s.lines[mid] <= off {
			lo = mid
		} else {
			hi = mid
		}
	}
	return Pos{Line: lo + 1, Col: utf8.RuneCount(s.src[s.lines[lo]:off]) + 1}
}

func (s *scanner) fail(off int, format string, args ...any) *syntaxError {
	return &syntaxError{off: off, msg: fmt.Sprintf(format, args...)}
}

func (s *scanner) refuse(off int, format string, args ...any) *syntaxError {
	return &syntaxError{off: off, msg: fmt.Sprintf(format, args...), refused: true}
}

// scan reads the whole document and returns its root element.
func (s *scanner) scan() (*node, error) {
	src := s.src
	if !utf8.Valid(src) {
		off := 0
		for off < len(src) {
			r, n := utf8.DecodeRune(src[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return nil, s.fail(off, "document is not valid UTF-8")
	}
	if bytes.HasPrefix(src, []byte("\xef\xbb\xbf")) {
		s.i = 3
	}
	var root *node
	for {
		s.skipSpace()
		if s.i >= len(src) {
			break
		}
		if src[s.i] != '<' {
			if root == nil {
				return nil, s.fail(s.i, "document does not start with an element (is it XML?)")
			}
			return nil, s.fail(s.i, "text after the root element </%s>", root.name)
		}
		switch {
		case bytes.HasPrefix(src[s.i:], []byte("<?")):
			if err := s.procInst(root == nil && s.i <= 3); err != nil {
				return nil, err
			}
		case bytes.HasPrefix(src[s.i:], []byte("<!--")):
			if err := s.comment(); err != nil {
				return nil, err
			}
		case bytes.HasPrefix(src[s.i:], []byte("<!")):
			return nil, s.markupDecl()
		default:
			if root != nil {
				return nil, s.fail(s.i, "second root element after </%s>", root.name)
			}
			n, err := s.element(1)
			if err != nil {
				return nil, err
			}
			root = n
		}
	}
	if root == nil {
		return nil, s.fail(len(src), "document is empty: no root element")
	}
	return root, nil
}

func (s *scanner) skipSpace() {
	for s.i < len(s.src) && isSpace(s.src[s.i]) {
		s.i++
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isNameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':'
}

func isNameChar(c byte) bool {
	return isNameStart(c) || c >= '0' && c <= '9' || c == '-' || c == '.'
}

func (s *scanner) name() (string, error) {
	start := s.i
	if s.i >= len(s.src) || !isNameStart(s.src[s.i]) {
		if s.i >= len(s.src) {
			return "", s.fail(s.i, "unexpected end of document, expected a name")
		}
		return "", s.fail(s.i, "expected a name, found %s", quoteChar(s.src[s.i:]))
	}
	colons := 0
	for s.i < len(s.src) && isNameChar(s.src[s.i]) {
		if s.src[s.i] == ':' {
			colons++
		}
		s.i++
	}
	if colons > 1 {
		// Namespaces in XML: a name is a prefix and a local part, so at most one ':'.
		return "", s.fail(start, "name %q has more than one ':'", s.str[start:s.i])
	}
	return s.str[start:s.i], nil
}

func quoteChar(b []byte) string {
	r, _ := utf8.DecodeRune(b)
	return strconv.QuoteRune(r)
}

// procInst skips <?...?>. The XML declaration may only come first; its encoding must be UTF-8.
func (s *scanner) procInst(first bool) error {
	start := s.i
	end := bytes.Index(s.src[s.i+2:], []byte("?>"))
	if end < 0 {
		return s.fail(start, "unterminated processing instruction <?...")
	}
	body := s.src[s.i+2 : s.i+2+end]
	s.i += 2 + end + 2
	target := body
	if k := bytes.IndexFunc(body, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }); k >= 0 {
		target = body[:k]
	}
	if len(target) == 0 || !isNameStart(target[0]) || bytes.IndexFunc(target, func(r rune) bool { return r >= utf8.RuneSelf || !isNameChar(byte(r)) }) >= 0 {
		return s.fail(start, "processing instruction <?%s needs a name as its target", abbreviate(string(target), 20))
	}
	if strings.EqualFold(string(target), "xml") {
		if string(target) != "xml" || !first {
			return s.fail(start, "the XML declaration <?xml ...?> may only appear at the very start of the document")
		}
		if v := declAttr(body, "version"); v != "" && v != "1.0" {
			return s.fail(start, "XML version %q is not supported: want 1.0", v)
		}
		if enc := declAttr(body, "encoding"); enc != "" && !strings.EqualFold(enc, "utf-8") && !strings.EqualFold(enc, "utf8") && !strings.EqualFold(enc, "us-ascii") {
			return s.fail(start, "encoding %q is not supported: documents must be UTF-8", enc)
		}
	}
	return nil
}

// declAttr returns a pseudo-attribute (version, encoding) of an XML declaration.
func declAttr(body []byte, name string) string {
	k := bytes.Index(body, []byte(name))
	if k < 0 {
		return ""
	}
	rest := bytes.TrimLeft(body[k+len(name):], " \t\r\n")
	if len(rest) == 0 || rest[0] != '=' {
		return ""
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || (rest[0] != '"' && rest[0] != '\'') {
		return ""
	}
	q := rest[0]
	if e := bytes.IndexByte(rest[1:], q); e >= 0 {
		return string(rest[1 : 1+e])
	}
	return ""
}

func (s *scanner) comment() error {
	start := s.i
	end := bytes.Index(s.src[s.i+4:], []byte("--"))
	if end < 0 {
		return s.fail(start, "unterminated comment <!--")
	}
	s.i += 4 + end
	if !bytes.HasPrefix(s.src[s.i:], []byte("-->")) {
		return s.fail(s.i, "\"--\" is not allowed inside a comment")
	}
	s.i += 3
	return nil
}

// markupDecl refuses <!DOCTYPE ...>, <!ENTITY ...> and any other declaration.
func (s *scanner) markupDecl() error {
	rest := s.src[s.i:]
	switch {
	case bytes.HasPrefix(rest, []byte("<!DOCTYPE")):
		return s.refuse(s.i, "document type declarations (<!DOCTYPE ...>) are not allowed: pbxbridge refuses DTDs and entity definitions")
	case bytes.HasPrefix(rest, []byte("<!ENTITY")):
		return s.refuse(s.i, "entity declarations (<!ENTITY ...>) are not allowed")
	case bytes.HasPrefix(rest, []byte("<![CDATA[")):
		return s.fail(s.i, "CDATA section outside the root element")
	}
	return s.refuse(s.i, "markup declarations (<!...>) are not allowed")
}

// element scans one element starting at '<' and everything inside it.
func (s *scanner) element(depth int) (*node, error) {
	if depth > s.maxDepth {
		return nil, s.refuse(s.i, "elements are nested more than %d deep", s.maxDepth)
	}
	s.nodes = append(s.nodes, node{off: s.i, textOff: -1})
	n := &s.nodes[len(s.nodes)-1]
	firstAttr := len(s.attrs)
	s.i++ // '<'
	name, err := s.name()
	if err != nil {
		return nil, err
	}
	n.name = name
	// Attributes.
	for {
		hadSpace := s.i < len(s.src) && isSpace(s.src[s.i])
		s.skipSpace()
		if s.i >= len(s.src) {
			return nil, s.fail(n.off, "unterminated start tag <%s", name)
		}
		c := s.src[s.i]
		if c == '/' {
			if s.i+1 >= len(s.src) || s.src[s.i+1] != '>' {
				return nil, s.fail(s.i, "expected \"/>\" in start tag <%s", name)
			}
			s.i += 2
			return n, nil
		}
		if c == '>' {
			s.i++
			break
		}
		if !hadSpace {
			return nil, s.fail(s.i, "expected whitespace before attribute in start tag <%s", name)
		}
		a, err := s.attribute(name)
		if err != nil {
			return nil, err
		}
		for _, prev := range s.attrs[firstAttr:] {
			if prev.name == a.name {
				return nil, s.fail(a.off, "attribute %s appears twice in <%s>", a.name, name)
			}
		}
		s.attrs = append(s.attrs, a)
		n.attrs = s.attrs[firstAttr:len(s.attrs):len(s.attrs)]
	}
	// Content.
	// Text is kept as a substring of the document when it is one plain run (the usual case),
	// and decoded into a buffer otherwise. Whitespace-only runs before any text are layout.
	var text []byte
	plain, hasPlain := "", false
	for {
		if s.i >= len(s.src) {
			return nil, s.fail(n.off, "element <%s> is not closed", name)
		}
		if s.src[s.i] != '<' {
			start := s.i
			k := bytes.IndexByte(s.src[s.i:], '<')
			if k < 0 {
				k = len(s.src) - s.i
			}
			s.i += k
			if err := s.checkText(start, s.i); err != nil {
				return nil, err
			}
			if n.textOff < 0 && text == nil {
				ws := start
				for ws < s.i && isSpace(s.src[ws]) {
					ws++
				}
				if ws == s.i {
					continue // layout between elements
				}
				n.textOff = ws
				if !hasPlain && !bytes.ContainsAny(s.src[start:s.i], "&\r") {
					plain, hasPlain = s.str[start:s.i], true
					continue
				}
			}
			if hasPlain {
				text, hasPlain = append(text, plain...), false
			}
			var err error
			if text, err = s.decode(text, start, s.i); err != nil {
				return nil, err
			}
			continue
		}
		rest := s.src[s.i:]
		switch {
		case bytes.HasPrefix(rest, []byte("</")):
			closeOff := s.i
			s.i += 2
			cname, err := s.name()
			if err != nil {
				return nil, err
			}
			s.skipSpace()
			if s.i >= len(s.src) || s.src[s.i] != '>' {
				return nil, s.fail(closeOff, "unterminated end tag </%s", cname)
			}
			s.i++
			if cname != name {
				return nil, s.fail(closeOff, "end tag </%s> does not match start tag <%s> at %s", cname, name, s.pos(n.off))
			}
			if hasPlain {
				n.text = plain
			} else {
				n.text = string(text)
			}
			return n, nil
		case bytes.HasPrefix(rest, []byte("<!--")):
			if err := s.comment(); err != nil {
				return nil, err
			}
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			start := s.i + 9
			end := bytes.Index(s.src[start:], []byte("]]>"))
			if end < 0 {
				return nil, s.fail(s.i, "unterminated CDATA section")
			}
			if err := s.checkChars(start, start+end); err != nil {
				return nil, err
			}
			for k := start; k < start+end && n.textOff < 0; k++ {
				if !isSpace(s.src[k]) {
					n.textOff = k
				}
			}
			if hasPlain {
				text, hasPlain = append(text, plain...), false
			}
			text = append(text, s.src[start:start+end]...)
			s.i = start + end + 3
		case bytes.HasPrefix(rest, []byte("<?")):
			if err := s.procInst(false); err != nil {
				return nil, err
			}
		case bytes.HasPrefix(rest, []byte("<!")):
			return nil, s.markupDecl()
		default:
			child, err := s.element(depth + 1)
			if err != nil {
				return nil, err
			}
			n.children = append(n.children, child)
		}
	}
}

func (s *scanner) attribute(elem string) (attr, error) {
	a := attr{off: s.i}
	name, err := s.name()
	if err != nil {
		return a, err
	}
	a.name = name
	s.skipSpace()
	if s.i >= len(s.src) || s.src[s.i] != '=' {
		return a, s.fail(a.off, "attribute %s of <%s> has no value (expected %s=\"...\")", name, elem, name)
	}
	s.i++
	s.skipSpace()
	if s.i >= len(s.src) || (s.src[s.i] != '"' && s.src[s.i] != '\'') {
		return a, s.fail(s.i, "value of attribute %s of <%s> must be quoted", name, elem)
	}
	q := s.src[s.i]
	s.i++
	a.voff = s.i
	end := bytes.IndexByte(s.src[s.i:], q)
	if end < 0 {
		return a, s.fail(a.voff-1, "unterminated value of attribute %s of <%s>", name, elem)
	}
	raw := s.src[s.i : s.i+end]
	if k := bytes.IndexByte(raw, '<'); k >= 0 {
		return a, s.fail(s.i+k, "\"<\" is not allowed in the value of attribute %s", name)
	}
	if err := s.checkChars(s.i, s.i+end); err != nil {
		return a, err
	}
	if !bytes.ContainsAny(raw, "&\t\n\r") {
		a.value = s.str[s.i : s.i+end]
	} else {
		v, err := s.decode(nil, s.i, s.i+end)
		if err != nil {
			return a, err
		}
		// XML attribute-value normalisation: literal tabs and line ends become spaces.
		for k := range v {
			if v[k] == '\t' || v[k] == '\n' || v[k] == '\r' {
				v[k] = ' '
			}
		}
		a.value = string(v)
	}
	s.i += end + 1
	return a, nil
}

// checkText checks character data src[start:end] before it is used.
func (s *scanner) checkText(start, end int) error {
	if err := s.checkChars(start, end); err != nil {
		return err
	}
	if k := bytes.Index(s.src[start:end], []byte("]]>")); k >= 0 {
		return s.fail(start+k, "\"]]>\" is not allowed in text")
	}
	return nil
}

// checkChars refuses characters that XML 1.0 does not allow (C0 controls other than tab and
// line ends, and U+FFFE/U+FFFF).
func (s *scanner) checkChars(start, end int) error {
	for k := start; k < end; k++ {
		c := s.src[k]
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return s.fail(k, "character %U is not allowed in XML", rune(c))
		}
		if c == 0xEF && k+2 < end && s.src[k+1] == 0xBF && (s.src[k+2] == 0xBE || s.src[k+2] == 0xBF) {
			return s.fail(k, "character %U is not allowed in XML", rune(0xFFFE+int(s.src[k+2]-0xBE)))
		}
	}
	return nil
}

// decode appends src[start:end] to dst with character references resolved and CRLF folded.
func (s *scanner) decode(dst []byte, start, end int) ([]byte, error) {
	for k := start; k < end; {
		c := s.src[k]
		switch c {
		case '\r':
			dst = append(dst, '\n')
			k++
			if k < end && s.src[k] == '\n' {
				k++
			}
		case '&':
			semi := bytes.IndexByte(s.src[k:end], ';')
			if semi < 0 {
				return nil, s.fail(k, "\"&\" must start a character reference such as &amp;")
			}
			ref := string(s.src[k+1 : k+semi])
			r, ok := charRef(ref)
			if !ok {
				if ref != "" && ref[0] == '#' {
					return nil, s.fail(k, "invalid character reference &%s;", ref)
				}
				return nil, s.fail(k, "entity &%s; is not defined: only &lt; &gt; &amp; &apos; &quot; and numeric references are allowed", ref)
			}
			dst = utf8.AppendRune(dst, r)
			k += semi + 1
		default:
			dst = append(dst, c)
			k++
		}
	}
	return dst, nil
}

func charRef(ref string) (rune, bool) {
	switch ref {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "apos":
		return '\'', true
	case "quot":
		return '"', true
	}
	if len(ref) < 2 || ref[0] != '#' {
		return 0, false
	}
	var n uint64
	var err error
	if ref[1] == 'x' {
		if len(ref) < 3 {
			return 0, false
		}
		n, err = strconv.ParseUint(ref[2:], 16, 32)
	} else {
		n, err = strconv.ParseUint(ref[1:], 10, 32)
	}
	r := rune(n)
	if err != nil || !isXMLChar(r) {
		return 0, false
	}
	return r, true
}

func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
