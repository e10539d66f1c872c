package translate

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

// benchDocs are typical ~1 KB voicemail documents: Record among 8 verbs, with a nested prompt.
var benchDocs = []struct {
	dialect Dialect
	file    string
}{
	{FlexML, "testdata/bench/voicemail.flexml.xml"},
	{Plivo, "testdata/bench/voicemail.plivo.xml"},
}

// TestBenchDocs keeps the benchmark honest: its documents must parse without errors or
// warnings and hold all their verbs, Record included.
func TestBenchDocs(t *testing.T) {
	for _, bd := range benchDocs {
		doc, err := os.ReadFile(bd.file)
		if err != nil {
			t.Fatal(err)
		}
		base, _ := url.Parse("https://app.example.net/app/doc.xml")
		prog, warns, err := Parse(bd.dialect, doc, base)
		if err != nil || len(warns) > 0 {
			t.Fatalf("%s: err=%v warnings=%v", bd.file, err, warns)
		}
		if len(prog.Verbs) != 8 {
			t.Fatalf("%s: %d verbs, want 8", bd.file, len(prog.Verbs))
		}
		if _, ok := prog.Verbs[4].(*Record); !ok {
			t.Fatalf("%s: verb 5 is %T, want *Record", bd.file, prog.Verbs[4])
		}
	}
}

// BenchmarkParse measures Parse on the typical documents. Target: under 20 µs per document.
func BenchmarkParse(b *testing.B) {
	base, _ := url.Parse("https://app.example.net/app/doc.xml")
	for _, bd := range benchDocs {
		doc, err := os.ReadFile(bd.file)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%s/%dB", filepath.Base(bd.file), len(doc)), func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Parse(bd.dialect, doc, base); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkScan measures the XML scanner alone, for comparison with encoding/xml.
func BenchmarkScan(b *testing.B) {
	doc, err := os.ReadFile(benchDocs[0].file)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := newScanner(doc, DefaultMaxDepth).scan(); err != nil {
			b.Fatal(err)
		}
	}
}
