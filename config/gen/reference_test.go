package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReferenceUpToDate: docs/config.md is what config/gen writes from the code as it is,
// and every key has a description.
func TestReferenceUpToDate(t *testing.T) {
	doc, missing, err := reference(filepath.Join("..", "..", "config"))
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("keys without a description (add a doc comment to the field or its type in config/): %v", missing)
	}
	have, err := os.ReadFile(filepath.Join("..", "..", "docs", "config.md"))
	if err != nil {
		t.Fatalf("%v: run go generate ./config", err)
	}
	if string(have) != doc {
		hl, dl := strings.Split(string(have), "\n"), strings.Split(doc, "\n")
		for i := range max(len(hl), len(dl)) {
			var h, d string
			if i < len(hl) {
				h = hl[i]
			}
			if i < len(dl) {
				d = dl[i]
			}
			if h != d {
				t.Fatalf("docs/config.md is out of date (run go generate ./config); first difference at line %d:\nhave: %s\nwant: %s", i+1, h, d)
			}
		}
	}
	for _, key := range []string{"`shutdown.drain_timeout` | duration | `30s`", "`log_format` | string | `text`",
		"`asterisk[].application` | string | `pbxbridge`", "`freeswitch[].listen` | string | `127.0.0.1:8084`"} {
		if !strings.Contains(doc, key) {
			t.Errorf("the reference lacks %q", key)
		}
	}
}
