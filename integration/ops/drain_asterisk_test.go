package ops

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// The shared test Asterisk (integration/asterisk), as run.sh installs it.
const (
	ariURL      = "http://127.0.0.1:8088/ari"
	ariUser     = "pbxbridge"
	ariPassword = "pbxbridge-test"
)

// ariEvent is the part of an ARI event the test reads.
type ariEvent struct {
	Type    string `json:"type"`
	App     string `json:"dialplan_app"`
	Channel struct {
		ID       string `json:"id"`
		Dialplan struct {
			Context  string `json:"context"`
			Exten    string `json:"exten"`
			Priority int    `json:"priority"`
		} `json:"dialplan"`
	} `json:"channel"`
}

// observe connects an ARI application of the test's own that receives every event of every
// channel (subscribeAll), so that the test sees what a channel does after it leaves Stasis.
func observe(t *testing.T) <-chan ariEvent {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	q := url.Values{"app": {"ops-observer-" + hex.EncodeToString(b[:])}, "subscribeAll": {"true"},
		"api_key": {ariUser + ":" + ariPassword}}
	ws, err := websocket.Dial("ws://127.0.0.1:8088/ari/events?"+q.Encode(), "", "http://127.0.0.1/")
	if err != nil {
		t.Fatalf("ARI websocket (is the test Asterisk running? integration/asterisk/run.sh start): %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	out := make(chan ariEvent, 4096)
	go func() {
		defer close(out)
		for {
			var raw []byte
			if err := websocket.Message.Receive(ws, &raw); err != nil {
				return
			}
			var e ariEvent
			if json.Unmarshal(raw, &e) == nil {
				select {
				case out <- e:
				default: // the test reads only what it needs
				}
			}
		}
	}()
	return out
}

// originate creates Local/<far>@play-test/n whose ;1 half runs <exten>@<context>,1 of the
// dialplan, as a call from a trunk would, and returns that half's channel id.
func originate(t *testing.T, far, exten, dpContext string) string {
	t.Helper()
	q := url.Values{"endpoint": {"Local/" + far + "@play-test/n"}, "extension": {exten}, "context": {dpContext},
		"priority": {"1"}, "callerId": {`"ops" <15550100007>`}}
	req, _ := http.NewRequest(http.MethodPost, ariURL+"/channels?"+q.Encode(), nil)
	req.SetBasicAuth(ariUser, ariPassword)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("originate: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		t.Fatalf("originate %s@%s: HTTP %d: %s", exten, dpContext, res.StatusCode, b)
	}
	var ch struct{ ID string }
	if err := json.Unmarshal(b, &ch); err != nil || ch.ID == "" {
		t.Fatalf("originate: %s", b)
	}
	return ch.ID
}

// TestAsteriskDocumentedDialplanAndDrain runs pbxbridge on the real Asterisk (run it under
// `flock /tmp/pbx-asterisk.lock`) with calls placed through the dialplan contexts that
// docs/operators.md documents, as integration/asterisk/etc/extensions.conf holds them:
//
//   - 500@voicemail reaches the app named "voicemail";
//   - a call into from-trunk reaches the app that lists the dialled number, and is recording
//     when pbxbridge gets SIGTERM; it goes on, ends on its own (the far end hangs up a few
//     seconds later: the recording is stored), and its callbacks arrive;
//   - a call into from-trunk during the drain is sent back to the dialplan
//     (POST /channels/{id}/continue): it leaves Stasis and Asterisk runs the next priority
//     of from-trunk, the documented Hangup(); the application never sees it;
//   - pbxbridge exits 0.
func TestAsteriskDocumentedDialplanAndDrain(t *testing.T) {
	events := observe(t)
	const (
		numA = "15550403001"
		numB = "15550403002"
	)
	s := newSetupAsterisk(t, numA, numB)
	s.app.Document("/doc", recordDoc(s.app.URL))
	s.app.Document("/vm", `<Response><Hangup/></Response>`)
	p := s.start(t, "--log-format", "json")

	originate(t, "hang", "500", "voicemail")
	vm := s.waitPath(t, "/vm", "", 15*time.Second)
	t.Logf("500@voicemail reached app voicemail (CallSid %s)", vm.Get("CallSid"))

	originate(t, "hang", numA, "from-trunk") // the far end speaks ~3 s from 1 s, then hangs up
	a := s.waitPathTo(t, "/doc", numA, 15*time.Second)
	sid := a.Get("CallSid")
	s.waitLog(t, 5*time.Second, `"msg":"recording"`)
	sent := time.Now()
	p.Signal(t, syscall.SIGTERM)
	body := waitDraining(t, s)
	t.Logf("/readyz while draining: %s", strings.TrimSpace(body))
	s.waitLog(t, 5*time.Second, "ARI draining")

	b := originate(t, "long", numB, "from-trunk")
	s.waitLog(t, 10*time.Second, "new call sent back to the dialplan", b)
	// After the continue, Asterisk runs from-trunk's next priority for B: the Hangup().
	deadline := time.After(10 * time.Second)
	var seen []string
wait:
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("observer websocket closed")
			}
			if e.Channel.ID != b {
				continue
			}
			seen = append(seen, fmt.Sprintf("%s %s@%s:%d %s", e.Type, e.Channel.Dialplan.Exten, e.Channel.Dialplan.Context, e.Channel.Dialplan.Priority, e.App))
			if e.Type == "ChannelDialplan" && e.App == "Hangup" && e.Channel.Dialplan.Context == "from-trunk" &&
				e.Channel.Dialplan.Exten == numB && e.Channel.Dialplan.Priority == 2 {
				break wait
			}
		case <-deadline:
			t.Fatalf("the refused call did not go on to from-trunk's Hangup() (priority 2); its events: %v", seen)
		}
	}
	t.Logf("refused call %s: %v", b, seen)
	if strings.Contains(strings.Join(s.logLines(t, 0), "\n"), "could not send the call back") {
		t.Error("the continue failed and pbxbridge hung the call up itself")
	}

	cb := s.waitPath(t, "/cb", sid, 20*time.Second)
	st := s.waitPath(t, "/status", sid, 10*time.Second)
	if cb.Get("RecordingUrl") == "" || st.Get("CallStatus") != "completed" {
		t.Errorf("call in progress: callbackUrl %v, status %v", cb.Params, st.Params)
	}
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	m := stoppedLine(t, s)
	t.Logf("SIGTERM to exit %v; stop line: calls_took=%v flush_took=%v total=%v calls_stopped=%v callbacks_left=%v",
		time.Since(sent).Round(time.Millisecond), m["calls_took"], m["flush_took"], m["total"], m["calls_stopped"], m["callbacks_left"])
	if m["calls_stopped"] != float64(0) || m["callbacks_left"] != float64(0) {
		t.Errorf("stop line %v: want the call in progress to have ended on its own, and no callback left", m)
	}
	for _, r := range s.app.Requests() {
		if r.Get("To") == numB {
			t.Errorf("the application saw the call refused during the drain: %s %s", r.Method, r.Path)
		}
	}
}
