package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/pbxbridge/pbxbridge/translate"
)

const validateUsage = `usage: pbxbridge validate --dialect flexml|plivo [--base URL] [--lenient] [--json] FILE...

Checks each document as pbxbridge would read it at run time and prints every problem as
FILE:LINE:COL: error: ... or FILE:LINE:COL: warning: ...  A FILE of - reads standard input.

  --dialect  flexml (CarrierX FlexML) or plivo (Plivo XML); required
  --base     the URL the document is served from; relative URLs are resolved against it
             (without it they are shown as written)
  --lenient  treat invalid attribute values as warnings and use their defaults, like an
             application configured with lenient: true
  --json     print the normalised program of each valid file on standard output (the
             diagnostics then go to standard error)

Exit status: 0 when every file is valid, 1 when any file has an error, 2 on usage errors.
`

func runValidate(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dialectName := fs.String("dialect", "", "")
	base := fs.String("base", "", "")
	lenient := fs.Bool("lenient", false, "")
	asJSON := fs.Bool("json", false, "")
	files, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, validateUsage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "pbxbridge validate: %v\n\n%s", err, validateUsage)
		return 2
	}
	if *dialectName == "" {
		fmt.Fprintf(stderr, "pbxbridge validate: --dialect is required (flexml or plivo)\n\n%s", validateUsage)
		return 2
	}
	dialect, err := translate.ParseDialect(*dialectName)
	if err != nil {
		fmt.Fprintf(stderr, "pbxbridge validate: --dialect %q: want flexml or plivo\n", *dialectName)
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "pbxbridge validate: no FILE given\n\n%s", validateUsage)
		return 2
	}
	var baseURL *url.URL
	if *base != "" {
		baseURL, err = url.Parse(*base)
		if err != nil || (baseURL.Scheme != "http" && baseURL.Scheme != "https") || baseURL.Host == "" {
			fmt.Fprintf(stderr, "pbxbridge validate: --base %q: want an absolute http or https URL\n", *base)
			return 2
		}
	}
	diag := stdout
	if *asJSON {
		diag = stderr
	}
	status := 0
	for _, file := range files {
		doc, err := readDocument(file, stdin)
		if err != nil {
			fmt.Fprintf(diag, "%s: error: %v\n", file, err)
			status = 1
			continue
		}
		prog, warns, perr := translate.ParseOptions(dialect, doc, baseURL, translate.Options{Lenient: *lenient})
		var errs translate.ErrorList
		if perr != nil && !errors.As(perr, &errs) {
			fmt.Fprintf(diag, "%s: error: %v\n", file, perr)
			status = 1
			continue
		}
		for _, line := range strings.SplitAfter(translate.Diagnostics(errs, warns), "\n") {
			if line != "" {
				fmt.Fprintf(diag, "%s:%s", file, line)
			}
		}
		if len(errs) > 0 {
			status = 1
			continue
		}
		if *asJSON {
			j, err := prog.MarshalJSON()
			if err != nil {
				fmt.Fprintf(stderr, "%s: error: rendering the program: %v\n", file, err)
				status = 1
				continue
			}
			fmt.Fprintf(stdout, "%s\n", j)
		}
	}
	return status
}

func readDocument(file string, stdin io.Reader) ([]byte, error) {
	var r io.Reader = stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	// Read one byte past the limit: enough to know the document is too large without reading
	// an arbitrarily large file into memory.
	doc, err := io.ReadAll(io.LimitReader(r, translate.DefaultMaxBytes+1))
	if err == nil && len(doc) > translate.DefaultMaxBytes {
		return nil, fmt.Errorf("document refused: larger than the limit of %d bytes", translate.DefaultMaxBytes)
	}
	return doc, err
}

// parseInterspersed parses flags that may come before, between or after the file names, as
// people type them ("validate app.xml --dialect plivo").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
