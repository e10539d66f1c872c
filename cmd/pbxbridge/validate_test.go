package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeDoc(t *testing.T, name, doc string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCmd(stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestValidate(t *testing.T) {
	valid := writeDoc(t, "ok.xml", `<Response>
  <Record action="/done" maxLength="30"/>
</Response>`)
	warn := writeDoc(t, "warn.xml", `<Response>
  <Record action="/done" colour="blue"/>
</Response>`)
	bad := writeDoc(t, "bad.xml", `<Response>
  <Record maxLength="0"/>
</Response>`)
	broken := writeDoc(t, "broken.xml", `<Response><Record></Response>`)

	tests := []struct {
		name     string
		args     []string
		stdin    string
		code     int
		out, err string // substrings expected on stdout / stderr ("" = must be empty)
	}{
		{name: "valid", args: []string{"validate", "--dialect", "flexml", valid}, code: 0},
		{name: "flags after files", args: []string{"validate", valid, "--dialect", "flexml"}, code: 0},
		{name: "warning only", args: []string{"validate", "--dialect", "flexml", warn}, code: 0,
			out: warn + ":2:26: warning: <Record> attribute colour: unknown attribute of <Record>, ignored"},
		{name: "invalid value", args: []string{"validate", "--dialect", "flexml", bad}, code: 1,
			out: bad + `:2:11: error: <Record> attribute maxLength="0": `},
		{name: "lenient turns it into a warning", args: []string{"validate", "--lenient", "--dialect", "flexml", bad}, code: 0,
			out: bad + ":2:11: warning: "},
		{name: "not well-formed", args: []string{"validate", "--dialect", "plivo", broken}, code: 1,
			out: broken + ":1:19: error: not well-formed XML: end tag </Response> does not match start tag <Record> at 1:11"},
		{name: "one bad file of two", args: []string{"validate", "--dialect", "flexml", valid, bad}, code: 1, out: bad + ":2:11: error:"},
		{name: "stdin", args: []string{"validate", "--dialect", "plivo", "-"}, stdin: `<Response><Foo/></Response>`, code: 1,
			out: "-:1:11: error: <Foo>: not a Plivo XML element"},
		{name: "missing file", args: []string{"validate", "--dialect", "flexml", "/nonexistent/x.xml"}, code: 1,
			out: "/nonexistent/x.xml: error: open /nonexistent/x.xml: no such file or directory"},
		{name: "no dialect", args: []string{"validate", valid}, code: 2, err: "--dialect is required"},
		{name: "unknown dialect", args: []string{"validate", "--dialect", "twiml", valid}, code: 2, err: `--dialect "twiml": want flexml or plivo`},
		{name: "no files", args: []string{"validate", "--dialect", "flexml"}, code: 2, err: "no FILE given"},
		{name: "unknown flag", args: []string{"validate", "--colour", valid}, code: 2, err: "flag provided but not defined: -colour"},
		{name: "bad base", args: []string{"validate", "--dialect", "flexml", "--base", "ftp://x/", valid}, code: 2, err: "want an absolute http or https URL"},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, err: `unknown command "frobnicate"`},
		{name: "no command", args: nil, code: 2, err: "usage: pbxbridge"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(tc.stdin, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			if tc.out == "" && out != "" || !strings.Contains(out, tc.out) {
				t.Errorf("stdout = %q, want it to contain %q", out, tc.out)
			}
			if tc.err == "" && errOut != "" || !strings.Contains(errOut, tc.err) {
				t.Errorf("stderr = %q, want it to contain %q", errOut, tc.err)
			}
		})
	}
}

func TestValidateJSON(t *testing.T) {
	doc := writeDoc(t, "vm.xml", `<Response>
  <Record action="after#rc=3" colour="blue"/>
</Response>`)
	code, out, errOut := runCmd("", "validate", "--dialect", "plivo", "--json", "--base", "https://app.example.net/plivo/answer", doc)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "warning: <Record> attribute colour") {
		t.Errorf("warnings should go to stderr with --json, got %q", errOut)
	}
	var prog struct {
		Dialect string
		Verbs   []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &prog); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if prog.Dialect != "plivo" || len(prog.Verbs) != 1 || prog.Verbs[0]["Verb"] != "Record" {
		t.Fatalf("unexpected program: %s", out)
	}
	action, _ := prog.Verbs[0]["Action"].(map[string]any)
	if action["URL"] != "https://app.example.net/plivo/after" {
		t.Errorf("action URL = %v, want it resolved against --base with the retry fragment removed", action["URL"])
	}
}
