package ops

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/integration/docsnip"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
)

// TestFreeSWITCHDocumentedDialplan places a call the way docs/freeswitch.md configures
// FreeSWITCH, in the simulator: the documented event_socket.conf password on the inbound
// connection (pbxbridge's config takes it from ${FS_ESL_PASSWORD}, as documented), and the
// documented extension's variables and socket mode on the call. The call must reach the app
// the dialplan names, though its number belongs to another app, and /readyz must be 200
// (the inbound connection authenticated with that password).
func TestFreeSWITCHDocumentedDialplan(t *testing.T) {
	dp, err := docsnip.FreeSWITCHDialplan()
	if err != nil {
		t.Fatal(err)
	}
	es, err := docsnip.EventSocket()
	if err != nil {
		t.Fatal(err)
	}
	app := dp.Vars["pbxbridge_app"]
	if app == "" || app == "vm" {
		t.Fatalf("documented pbxbridge_app %q", app)
	}
	sim := eslsim.New(eslsim.Options{Password: es["password"]})
	t.Cleanup(sim.Close)
	inbound, err := sim.ListenInbound(net.JoinHostPort(es["listen-ip"], "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("FS_ESL_PASSWORD", es["password"])
	s := newSetupFull(t, "", "", "    inbound: "+inbound+"\n    password: ${FS_ESL_PASSWORD}",
		"  - name: "+app+"\n    dialect: flexml\n    url: APPURL/named")
	// the app's URL is the test application's: fill it in now that it is known
	s.rewrite(t, "APPURL", s.app.URL)
	s.app.Document("/named", `<Response><Hangup/></Response>`)
	s.app.Document("/doc", `<Response><Hangup/></Response>`)
	p := s.start(t)

	// The simulator dials like `socket <addr> async full` (docsnip checks that the documented
	// mode is that one); the address is the test's own port.
	ch, err := sim.Call(s.eslAddr, eslsim.Script{From: "15550100006", To: number, Vars: dp.Vars})
	if err != nil {
		t.Fatal(err)
	}
	r := s.waitPath(t, "/named", "", 10*time.Second)
	if got := r.Get("To"); got != number {
		t.Errorf("To %q", got)
	}
	select {
	case <-ch.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the call did not end")
	}
	for _, q := range s.app.Requests() {
		if q.Path == "/doc" {
			t.Error("the call went to the number's app, not the one the documented dialplan names")
		}
	}
	if code, body := s.readyz(t); code != 200 {
		t.Errorf("/readyz %d %s: the inbound connection with the documented password failed", code, body)
	}
	t.Logf("documented dialplan: set %v, socket %q; event_socket.conf password accepted; call routed to %q",
		dp.Vars, dp.Socket, app)
	p.Kill(t)
	if b := strings.Join(s.logLines(t, 0), "\n"); strings.Contains(b, es["password"]) {
		t.Error("the event socket password appears in the log")
	}
}
