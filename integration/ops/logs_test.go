package ops

import (
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/integration/eslsim"
)

// TestJSONLogs runs a call through pbxbridge with log_format json and debug level, then stops
// it, and reads the whole log: every line is one JSON object with time, level and msg; every
// line of the engine or a PBX backend about a call (it names the channel) carries call_id,
// pbx and app, except the backend's "call arrived", logged before the engine has named the
// call (the engine's next line, "call started", ties the channel to its call_id); every line
// of the outbox worker about a callback carries call_id and app; and no secret of the
// configuration appears anywhere.
func TestJSONLogs(t *testing.T) {
	sim := eslsim.New(eslsim.Options{})
	t.Cleanup(sim.Close)
	s := newSetup(t, "", "log_format: json")
	s.app.Document("/doc", recordDoc(s.app.URL))
	p := s.start(t)
	ch, err := sim.Call(s.eslAddr, eslsim.Script{From: "15550100005", To: number,
		Audio: append(eslsim.Tone(time.Second, 3000), eslsim.Silence(10*time.Second)...),
		DTMF:  []eslsim.DTMF{{At: 1500 * time.Millisecond, Digit: '#'}}})
	if err != nil {
		t.Fatal(err)
	}
	sid := s.waitPath(t, "/doc", "", 10*time.Second).Get("CallSid")
	select {
	case <-ch.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("the call did not end")
	}
	s.waitPath(t, "/status", sid, 10*time.Second)
	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Errorf("exit status %d", code)
	}

	raw, err := os.ReadFile(s.log)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{secretSigning, secretAPI, secretLink, secretOutbox} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("a secret appears in the log: %q", secret)
		}
	}
	lines := s.logLines(t, 0)
	var callLines, workerLines int
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("line %d is not JSON: %v: %s", i+1, err, l)
			continue
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %d has no %s: %s", i+1, k, l)
			}
		}
		_, ch1 := m["channel"]
		_, ch2 := m["channel_id"]
		switch {
		case (ch1 || ch2) && m["msg"] != "call arrived":
			callLines++
			for _, k := range []string{"call_id", "pbx", "app"} {
				if v, _ := m[k].(string); v == "" {
					t.Errorf("line %d is about a call but has no %s: %s", i+1, k, l)
				}
			}
			if m["call_id"] != sid {
				t.Errorf("line %d: call_id %v, want %s", i+1, m["call_id"], sid)
			}
		case m["component"] == "outbox" && m["event_id"] != nil:
			workerLines++
			if m["call_id"] != sid || m["app"] != "vm" {
				t.Errorf("outbox line %d: call_id %v app %v, want %s vm: %s", i+1, m["call_id"], m["app"], sid, l)
			}
		}
	}
	t.Logf("%d lines, all JSON; %d about the call with call_id, pbx and app; %d outbox delivery lines with call_id and app",
		len(lines), callLines, workerLines)
	if callLines < 5 || workerLines < 2 {
		t.Errorf("too few call lines (%d) or delivery lines (%d) to say anything", callLines, workerLines)
	}
}
