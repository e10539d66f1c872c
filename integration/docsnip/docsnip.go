// Package docsnip reads the configuration snippets of the operator documentation (fenced
// blocks in docs/*.md), so that tests can hold them against what the test Asterisk runs
// (integration/asterisk/etc) and feed them to the FreeSWITCH simulator: what an admin is told
// to configure is what the tests try.
package docsnip

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Root is the repository's root directory.
func Root() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..")
}

// Block is one fenced block of a Markdown file.
type Block struct {
	Lang string // the fence's info string: ini, xml, yaml ...
	// Intro is the first line of the paragraph before the fence: it names the file the
	// snippet belongs in ("`http.conf` — ...").
	Intro string
	Text  string
	Line  int // of the opening fence
}

// Blocks returns the fenced blocks of a Markdown file under the repository root, e.g.
// "docs/operators.md".
func Blocks(rel string) ([]Block, error) {
	f, err := os.Open(filepath.Join(Root(), rel))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Block
	var cur *Block
	var fence, intro string
	blank := true
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		t := strings.TrimSpace(line)
		if cur != nil {
			if t == fence {
				out = append(out, *cur)
				cur = nil
				continue
			}
			cur.Text += line + "\n"
			continue
		}
		if strings.HasPrefix(t, "```") {
			fence = "```"
			cur = &Block{Lang: strings.TrimSpace(strings.TrimPrefix(t, "```")), Intro: intro, Line: n}
			continue
		}
		if t != "" && blank {
			intro = t
		}
		blank = t == ""
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: fence not closed", rel, cur.Line)
	}
	return out, sc.Err()
}

// Entry is one key = value (or key => value) line of an Asterisk .conf file.
type Entry struct {
	Section, Key, Value string
}

// ParseConf reads Asterisk configuration text: [section] headers and key = value or
// key => value lines; comments (;) and blank lines are dropped, values are trimmed.
func ParseConf(text string) []Entry {
	var out []Entry
	section := ""
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, ";"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.Contains(line, "]") {
			section = line[1:strings.Index(line, "]")]
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(strings.TrimPrefix(v, ">"))
		out = append(out, Entry{Section: section, Key: k, Value: v})
	}
	return out
}
