package translate

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedGolden adds every golden document of the dialect to the corpus.
func seedGolden(f *testing.F, dirs ...string) {
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.txtar"))
		for _, file := range files {
			raw, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			if in, ok := parseTxtar(raw).get("input.xml"); ok {
				f.Add([]byte(in))
			}
		}
	}
}

func FuzzParseFlexML(f *testing.F) {
	seedGolden(f, "flexml")
	f.Fuzz(func(t *testing.T, doc []byte) { checkParse(t, FlexML, doc) })
}

func FuzzParsePlivo(f *testing.F) {
	seedGolden(f, "plivo")
	f.Fuzz(func(t *testing.T, doc []byte) { checkParse(t, Plivo, doc) })
}

// checkParse holds the invariants of Parse on any input: it returns, with either a program or
// an ErrorList of positioned errors of a known kind; warnings have positions inside the
// document; a valid program renders as JSON; lenient mode never reports more errors.
func checkParse(t *testing.T, d Dialect, doc []byte) {
	base, _ := url.Parse("https://app.example.net/app/doc.xml")
	prog, warns, err := Parse(d, doc, base)
	lines := bytes.Count(doc, []byte("\n")) + 1
	if err != nil {
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("error is %T %v, want a non-empty ErrorList", err, err)
		}
		if prog != nil {
			t.Fatalf("program returned with errors")
		}
		for _, e := range list {
			if e.Pos.Line < 1 || e.Pos.Line > lines || e.Pos.Col < 1 {
				t.Fatalf("error position %v outside the document (%d lines): %v", e.Pos, lines, e)
			}
			known := false
			for _, k := range []error{ErrNotWellFormed, ErrRefused, ErrUnknownElement, ErrNesting, ErrInvalidValue, ErrMissing} {
				known = known || errors.Is(e, k)
			}
			if !known || e.Rule == "" {
				t.Fatalf("error without a known kind or rule: %#v", e)
			}
		}
	} else {
		if prog == nil {
			t.Fatal("no program and no error")
		}
		if _, err := prog.MarshalJSON(); err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
	}
	for _, w := range warns {
		if w.Pos.Line < 1 || w.Pos.Line > lines || w.Pos.Col < 1 || w.Msg == "" {
			t.Fatalf("bad warning %v", w)
		}
	}
	_, _, lerr := ParseOptions(d, doc, base, Options{Lenient: true})
	var strict, lenient ErrorList
	errors.As(err, &strict)
	errors.As(lerr, &lenient)
	if len(lenient) > len(strict) {
		t.Fatalf("lenient mode reports more errors (%d) than strict (%d)", len(lenient), len(strict))
	}
}

// FuzzScanner checks the XML scanner against encoding/xml: whatever the scanner accepts must
// be well-formed for encoding/xml too, with the same elements and attributes. (The scanner is
// stricter: it refuses DTDs, duplicate attributes, non-ASCII names and a few other things.)
func FuzzScanner(f *testing.F) {
	seedGolden(f, "flexml", "plivo")
	for _, s := range []string{
		`<Response/>`,
		`<?xml version="1.0" encoding="UTF-8"?><Response><Say>a &amp; b &#x41;</Say><!-- c --></Response>`,
		"<a b='1' c=\"2\">\r\n<![CDATA[<x>]]></a>",
		`<a><b></a></b>`,
		`<a x="1" x="2"/>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		s := newScanner(doc, DefaultMaxDepth)
		root, err := s.scan()
		if err != nil {
			var se *syntaxError
			if !errors.As(err, &se) || se.off < 0 || se.off > len(doc) {
				t.Fatalf("bad error %#v", err)
			}
			return
		}
		want := flatten(root, nil)
		got, oerr := oracle(doc)
		if oerr != nil {
			t.Fatalf("scanner accepted a document encoding/xml refuses: %v\n%q", oerr, doc)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("structure differs\nscanner:\n%s\nencoding/xml:\n%s", strings.Join(want, "\n"), strings.Join(got, "\n"))
		}
	})
}

// flatten lists elements and attributes in document order, as "<name" and "@name=value".
func flatten(n *node, out []string) []string {
	out = append(out, "<"+n.name)
	for _, a := range n.attrs {
		out = append(out, "@"+a.name+"="+normSpace(a.value))
	}
	for _, c := range n.children {
		out = flatten(c, out)
	}
	return out
}

func normSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// oracle tokenizes doc with encoding/xml in strict mode, checking tag balance and a single root.
func oracle(doc []byte) ([]string, error) {
	doc = bytes.TrimPrefix(doc, []byte("\xef\xbb\xbf"))
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	d.CharsetReader = func(label string, r io.Reader) (io.Reader, error) { return r, nil }
	var out, stack []string
	roots := 0
	name := func(n xml.Name) string {
		if n.Space != "" {
			return n.Space + ":" + n.Local
		}
		return n.Local
	}
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				roots++
			}
			stack = append(stack, name(tk.Name))
			out = append(out, "<"+name(tk.Name))
			for _, a := range tk.Attr {
				out = append(out, "@"+name(a.Name)+"="+normSpace(a.Value))
			}
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1] != name(tk.Name) {
				return nil, errors.New("unbalanced end tag " + name(tk.Name))
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 || roots != 1 {
		return nil, errors.New("not exactly one balanced root element")
	}
	return out, nil
}
