// Command gen writes docs/config.md, the reference of pbxbridge's configuration, from the
// config package itself: the keys and types by reflection over config.Config (yaml tags),
// the defaults from what config.Parse fills in, and the descriptions from the doc comments
// of config/*.go. Run it with `go generate ./config` after changing the configuration;
// TestReferenceUpToDate fails while docs/config.md differs from what it would write, or while
// a key has no description.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

func main() {
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(here), "..", "..")
	out := flag.String("out", filepath.Join(root, "docs", "config.md"), "file to write")
	flag.Parse()
	doc, missing, err := reference(filepath.Join(root, "config"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "config/gen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, []byte(doc), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "config/gen:", err)
		os.Exit(1)
	}
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "config/gen: keys without a description (add a doc comment in config/): %v\n", missing)
		os.Exit(1)
	}
}
