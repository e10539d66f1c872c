package translate

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected sections of translate/testdata/*/*.txtar")

// defaultBase is the document URL of golden documents that set none.
const defaultBase = "https://app.example.net/app/doc.xml"

// TestGolden runs every testdata/{flexml,plivo}/*.txtar archive. An archive holds:
//
//	free text describing the case
//	-- input.xml --      the document
//	-- options --        optional: "base: URL" (or "base: none"), "lenient: true"
//	-- program.json --   the expected program (only when the document is valid)
//	-- diagnostics --    the expected errors and warnings, one per line, in position order
//
// go test ./translate -run Golden -update rewrites program.json and diagnostics.
func TestGolden(t *testing.T) {
	for _, d := range []Dialect{FlexML, Plivo} {
		files, err := filepath.Glob(filepath.Join("testdata", string(d), "*.txtar"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			t.Run(string(d)+"/"+strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
				runGolden(t, d, file)
			})
		}
	}
}

func runGolden(t *testing.T, d Dialect, file string) {
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ar := parseTxtar(raw)
	input, ok := ar.get("input.xml")
	if !ok {
		t.Fatalf("%s: no -- input.xml -- section", file)
	}
	base, opts := goldenOptions(t, ar)
	prog, warns, perr := ParseOptions(d, []byte(input), base, opts)
	var errs ErrorList
	if perr != nil && !errors.As(perr, &errs) {
		t.Fatalf("Parse returned %T, want ErrorList: %v", perr, perr)
	}
	gotDiag := Diagnostics(errs, warns)
	gotProg := ""
	if prog != nil {
		j, err := prog.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		gotProg = string(j) + "\n"
	}
	if *update {
		ar.set("program.json", gotProg)
		ar.set("diagnostics", gotDiag)
		if err := os.WriteFile(file, ar.format(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	wantProg, _ := ar.get("program.json")
	wantDiag, _ := ar.get("diagnostics")
	if gotProg != wantProg {
		t.Errorf("program differs (run with -update to rewrite, then review the diff)\n--- got\n%s--- want\n%s", gotProg, wantProg)
	}
	if gotDiag != wantDiag {
		t.Errorf("diagnostics differ\n--- got\n%s--- want\n%s", gotDiag, wantDiag)
	}
}

func goldenOptions(t *testing.T, ar *txtar) (*url.URL, Options) {
	base, _ := url.Parse(defaultBase)
	var opts Options
	o, _ := ar.get("options")
	for _, line := range strings.Split(o, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "base":
			if v == "none" {
				base = nil
				continue
			}
			u, err := url.Parse(v)
			if err != nil {
				t.Fatalf("options: base: %v", err)
			}
			base = u
		case "lenient":
			opts.Lenient = v == "true"
		case "maxbytes":
			fmt.Sscan(v, &opts.MaxBytes)
		case "maxdepth":
			fmt.Sscan(v, &opts.MaxDepth)
		default:
			t.Fatalf("options: unknown key %q", k)
		}
	}
	return base, opts
}

// txtar is a minimal reader and writer of the txtar format (golang.org/x/tools/txtar), kept
// here so that translate depends on the standard library only.
type txtar struct {
	comment string
	names   []string
	data    map[string]string
}

func parseTxtar(b []byte) *txtar {
	ar := &txtar{data: map[string]string{}}
	cur := ""
	var buf bytes.Buffer
	flush := func() {
		if cur == "" {
			ar.comment = buf.String()
		} else {
			ar.data[cur] = buf.String()
		}
		buf.Reset()
	}
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		s := strings.TrimRight(string(line), "\n")
		if strings.HasPrefix(s, "-- ") && strings.HasSuffix(s, " --") && len(s) > 6 {
			flush()
			cur = strings.TrimSpace(s[3 : len(s)-3])
			ar.names = append(ar.names, cur)
			continue
		}
		buf.Write(line)
	}
	flush()
	return ar
}

func (a *txtar) get(name string) (string, bool) { s, ok := a.data[name]; return s, ok }

func (a *txtar) set(name, val string) {
	if _, ok := a.data[name]; !ok {
		if val == "" {
			return
		}
		a.names = append(a.names, name)
	}
	a.data[name] = val
}

func (a *txtar) format() []byte {
	var b bytes.Buffer
	b.WriteString(a.comment)
	for _, n := range a.names {
		v := a.data[n]
		if v == "" && (n == "program.json" || n == "diagnostics") {
			continue
		}
		fmt.Fprintf(&b, "-- %s --\n", n)
		b.WriteString(v)
		if v != "" && !strings.HasSuffix(v, "\n") {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}
