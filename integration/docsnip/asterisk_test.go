package docsnip

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// placeholder is what the test configuration writes where the documentation has a value the
// admin chooses: run.sh substitutes @ARI_PORT@, @ARI_USER@, @ARI_PASSWORD@ at install.
var placeholder = regexp.MustCompile(`^@[A-Z_]+@$`)

// chosen are the documented values an admin replaces (section names included): they match a
// placeholder of the test configuration.
var chosen = map[string]bool{"change-me": true, "pbxbridge": true, "8088": true}

// TestAsteriskSnippetsAreTheTestConfig: each Asterisk configuration snippet of
// docs/operators.md (http.conf, ari.conf, extensions.conf) is in the configuration the test
// Asterisk runs (integration/asterisk/etc, installed by run.sh): every section and every
// key = value of the snippet, in that section, with the same value, or a placeholder where
// the documentation has a value the admin chooses. So the ARI tests try the documented
// http.conf and ari.conf, and integration/ops TestAsteriskDocumentedDialplanAndDrain calls
// through the documented dialplan contexts.
func TestAsteriskSnippetsAreTheTestConfig(t *testing.T) {
	blocks, err := Blocks("docs/operators.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, b := range blocks {
		if b.Lang != "ini" {
			continue
		}
		file := regexp.MustCompile("^`([a-z_]+\\.conf)`").FindStringSubmatch(b.Intro)
		if file == nil {
			t.Errorf("docs/operators.md:%d: an ini block whose introduction does not start with its file name: %q", b.Line, b.Intro)
			continue
		}
		seen[file[1]] = true
		raw, err := os.ReadFile(filepath.Join(Root(), "integration", "asterisk", "etc", file[1]))
		if err != nil {
			t.Errorf("docs/operators.md:%d: %v", b.Line, err)
			continue
		}
		have := ParseConf(string(raw))
		for _, want := range ParseConf(b.Text) {
			if !contains(have, want) {
				t.Errorf("docs/operators.md:%d: %s: [%s] %s = %s is not in integration/asterisk/etc/%s",
					b.Line, file[1], want.Section, want.Key, want.Value, file[1])
			}
		}
	}
	for _, f := range []string{"http.conf", "ari.conf", "extensions.conf"} {
		if !seen[f] {
			t.Errorf("docs/operators.md has no %s snippet", f)
		}
	}
}

func contains(have []Entry, want Entry) bool {
	for _, h := range have {
		if match(want.Section, h.Section) && h.Key == want.Key && match(want.Value, h.Value) {
			return true
		}
	}
	return false
}

// match: equal, or the documented value is one the admin chooses and the test has a
// placeholder there (also inside a value: "bindaddr" stays literal, a port may not).
func match(doc, test string) bool {
	if doc == test {
		return true
	}
	if placeholder.MatchString(test) && chosen[doc] {
		return true
	}
	return false
}

// TestParseConf pins the reader on the shapes the snippets use.
func TestParseConf(t *testing.T) {
	got := ParseConf("[general]\nenabled = yes ; on\n\n[ctx]\nexten => _X.,1,Stasis(pbxbridge,${EXTEN})   ; x\n same => n,Hangup()\n")
	want := []Entry{{"general", "enabled", "yes"}, {"ctx", "exten", "_X.,1,Stasis(pbxbridge,${EXTEN})"}, {"ctx", "same", "n,Hangup()"}}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%d: %v, want %v", i, got[i], want[i])
		}
	}
	if strings.Contains(got[1].Value, ";") {
		t.Error("comment kept")
	}
}
