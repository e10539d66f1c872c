package docsnip

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFreeSWITCHSnippets: the documented dialplan hands the call over the way the simulator
// and the esl backend speak (socket in "async full" mode; the variable esl reads), and the
// documented event_socket.conf has what the inbound connection needs. integration/ops
// TestFreeSWITCHDocumentedDialplan then places a call through these very values.
func TestFreeSWITCHSnippets(t *testing.T) {
	d, err := FreeSWITCHDialplan()
	if err != nil {
		t.Fatal(err)
	}
	if d.SocketMode() != "async full" {
		t.Errorf("docs/freeswitch.md:%d: socket %q: pbxbridge needs async full", d.Line, d.Socket)
	}
	src, err := os.ReadFile(filepath.Join(Root(), "esl", "pbx.go"))
	if err != nil {
		t.Fatal(err)
	}
	for k := range d.Vars {
		if !strings.Contains(string(src), `"variable_`+k+`"`) {
			t.Errorf("docs/freeswitch.md:%d: the dialplan sets %s, which esl does not read", d.Line, k)
		}
	}
	if len(d.Vars) == 0 {
		t.Errorf("docs/freeswitch.md:%d: the dialplan names no application", d.Line)
	}
	es, err := EventSocket()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"listen-ip", "listen-port", "password"} {
		if es[k] == "" {
			t.Errorf("event_socket.conf snippet: no %s", k)
		}
	}
	if es["password"] == "ClueCon" {
		t.Error("event_socket.conf snippet: the documented password is FreeSWITCH's well-known default")
	}
}
