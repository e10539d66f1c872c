package ops

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/integration/apptest"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
)

// recordDoc records until '#' (or 60 s), then /act hangs up.
func recordDoc(appURL string) string {
	return `<Response><Record action="` + appURL + `/act" callbackUrl="` + appURL + `/cb" finishOnKey="#"` +
		` maxLength="60" timeout="30" trim="do-not-trim"/></Response>`
}

// stoppedLine finds the JSON "pbxbridge stopped" line and returns it decoded.
func stoppedLine(t *testing.T, s *setup) map[string]any {
	t.Helper()
	l := s.waitLog(t, time.Second, `"msg":"pbxbridge stopped"`)
	var m map[string]any
	if err := json.Unmarshal([]byte(l), &m); err != nil {
		t.Fatalf("stop line is not JSON: %v: %s", err, l)
	}
	return m
}

// waitDraining waits for /readyz to answer 503 naming the drain.
func waitDraining(t *testing.T, s *setup) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := s.readyz(t)
		if code == 503 && strings.Contains(body, "draining") {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz during the drain: %d %s; want 503 naming draining", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDrainFinishesCallInProgress: SIGTERM while a call records. The call goes on and ends on
// its own (the caller presses '#', the action hangs up); /readyz says 503 "draining"; a new
// call during the drain is refused (the listener is closed, so FreeSWITCH's dialplan goes on);
// the call's callbacks arrive; the process exits 0 and logs its timings.
func TestDrainFinishesCallInProgress(t *testing.T) {
	sim := eslsim.New(eslsim.Options{})
	t.Cleanup(sim.Close)
	s := newSetup(t, "", "")
	s.app.Document("/doc", recordDoc(s.app.URL))
	p := s.start(t, "--log-format", "json")

	ch, err := sim.Call(s.eslAddr, eslsim.Script{From: "15550100001", To: number,
		Audio: append(eslsim.Tone(time.Second, 3000), eslsim.Silence(30*time.Second)...),
		DTMF:  []eslsim.DTMF{{At: 4 * time.Second, Digit: '#'}}})
	if err != nil {
		t.Fatal(err)
	}
	sid := s.waitPath(t, "/doc", "", 10*time.Second).Get("CallSid")
	s.waitLog(t, 5*time.Second, `"msg":"recording"`)
	sent := time.Now()
	p.Signal(t, syscall.SIGTERM)

	body := waitDraining(t, s)
	t.Logf("/readyz while draining: %s", strings.TrimSpace(body))
	s.waitLog(t, 5*time.Second, "outbound listener closed")
	if _, err := sim.Call(s.eslAddr, eslsim.Script{From: "15550100002", To: number}); err == nil {
		t.Error("a new call during the drain reached pbxbridge")
	}
	select {
	case <-ch.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("the call in progress did not end")
	}
	if c := ch.HangupCause(); c != "NORMAL_CLEARING" {
		t.Errorf("the call in progress ended with %q, want NORMAL_CLEARING (its own Hangup)", c)
	}
	act := s.waitPath(t, "/act", sid, 5*time.Second)
	cb := s.waitPath(t, "/cb", sid, 10*time.Second)
	st := s.waitPath(t, "/status", sid, 10*time.Second)
	if act.Get("RecordingUrl") == "" || cb.Get("RecordingUrl") == "" {
		t.Errorf("no RecordingUrl: action %v, callbackUrl %v", act.Params, cb.Params)
	}
	if got := st.Get("CallStatus"); got != "completed" {
		t.Errorf("status callback CallStatus = %q, want completed", got)
	}
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	took := time.Since(sent)
	m := stoppedLine(t, s)
	t.Logf("SIGTERM to exit: %v; stop line: calls_took=%v flush_took=%v total=%v", took.Round(time.Millisecond),
		m["calls_took"], m["flush_took"], m["total"])
	if m["calls_stopped"] != float64(0) || m["callbacks_left"] != float64(0) {
		t.Errorf("stop line %v: want no call stopped and no callback left", m)
	}
	for _, r := range s.app.Requests() {
		if r.Path == "/doc" && r.Get("CallSid") != sid {
			t.Errorf("a second call was run during the drain: %s", r.Get("CallSid"))
		}
	}
}

// TestDrainTimeoutStopsCall: with drain_timeout 2s, a call recording for a minute is stopped
// 2 s after SIGTERM: its recording is stored (RecordingUrl and a duration in callbackUrl),
// its callbacks are delivered, then it is hung up, and the process exits 0.
func TestDrainTimeoutStopsCall(t *testing.T) {
	sim := eslsim.New(eslsim.Options{})
	t.Cleanup(sim.Close)
	s := newSetup(t, "", "log_format: json\nshutdown:\n  drain_timeout: 2s\n  flush_timeout: 10s")
	s.app.Document("/doc", recordDoc(s.app.URL))
	p := s.start(t)

	ch, err := sim.Call(s.eslAddr, eslsim.Script{From: "15550100003", To: number, Audio: eslsim.Tone(60*time.Second, 3000)})
	if err != nil {
		t.Fatal(err)
	}
	sid := s.waitPath(t, "/doc", "", 10*time.Second).Get("CallSid")
	s.waitLog(t, 5*time.Second, `"msg":"recording"`)
	time.Sleep(time.Second) // a second of audio
	sent := time.Now()
	p.Signal(t, syscall.SIGTERM)
	waitDraining(t, s)
	select {
	case <-ch.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the call was not hung up after drain_timeout")
	}
	ended := time.Since(sent)
	if ended < 2*time.Second {
		t.Errorf("the call ended %v after SIGTERM, before drain_timeout (2s)", ended)
	}
	cb := s.waitPath(t, "/cb", sid, 10*time.Second)
	d, err := strconv.ParseFloat(cb.Get("RecordingDuration"), 64)
	if err != nil || d < 2 || cb.Get("RecordingUrl") == "" {
		t.Errorf("callbackUrl: RecordingDuration %q, RecordingUrl %q: want the stopped recording (>= 2 s) stored",
			cb.Get("RecordingDuration"), cb.Get("RecordingUrl"))
	}
	st := s.waitPath(t, "/status", sid, 10*time.Second)
	if got := st.Get("CallStatus"); got != "completed" {
		t.Errorf("status callback CallStatus = %q, want completed", got)
	}
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	m := stoppedLine(t, s)
	t.Logf("call ended %v after SIGTERM (drain_timeout 2s); recording %.1f s; SIGTERM to exit %v; stop line: calls_took=%v flush_took=%v total=%v",
		ended.Round(time.Millisecond), d, time.Since(sent).Round(time.Millisecond), m["calls_took"], m["flush_took"], m["total"])
	if m["calls_stopped"] != float64(1) || m["callbacks_left"] != float64(0) {
		t.Errorf("stop line %v: want 1 call stopped and no callback left", m)
	}
	// The recording was stored before the call was hung up: the log says so in that order.
	var stored, hung int
	for i, l := range s.logLines(t, 0) {
		if stored == 0 && strings.Contains(l, `"recording ended"`) {
			stored = i + 1
		}
		if hung == 0 && strings.Contains(l, `"drain timeout: the call is hung up"`) {
			hung = i + 1
		}
	}
	if stored == 0 || hung == 0 || stored > hung {
		t.Errorf("log order: recording ended at line %d, hangup at line %d; want the recording first", stored, hung)
	}
}

// TestSecondSignalExitsAtOnce: a second SIGTERM during the drain exits at once with status 1.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	sim := eslsim.New(eslsim.Options{})
	t.Cleanup(sim.Close)
	s := newSetup(t, "", "log_format: json")
	s.app.Document("/doc", recordDoc(s.app.URL))
	p := s.start(t)
	if _, err := sim.Call(s.eslAddr, eslsim.Script{From: "15550100004", To: number, Audio: eslsim.Tone(60*time.Second, 3000)}); err != nil {
		t.Fatal(err)
	}
	s.waitPath(t, "/doc", "", 10*time.Second)
	p.Signal(t, syscall.SIGTERM)
	waitDraining(t, s)
	sent := time.Now()
	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, 5*time.Second); code != 1 {
		t.Errorf("exit status after a second signal: %d, want 1", code)
	}
	t.Logf("second signal to exit: %v", time.Since(sent).Round(time.Millisecond))
	s.waitLog(t, time.Second, "second signal: exiting at once")
}

// TestDrainLeavesUndeliveredCallbacks: a status callback the application refuses (503, with
// retries) is still queued when flush_timeout (1s) ends: pbxbridge exits 0 all the same, logs
// how many callbacks it leaves, and the next start over the same data_dir delivers it.
func TestDrainLeavesUndeliveredCallbacks(t *testing.T) {
	sim := eslsim.New(eslsim.Options{})
	t.Cleanup(sim.Close)
	s := newSetup(t, "", "log_format: json\nshutdown:\n  flush_timeout: 1s")
	s.rewrite(t, "status_url: "+s.app.URL+"/status", `status_url: "`+s.app.URL+`/status#rc=5&rp=5xx"`)
	s.app.Document("/doc", `<Response><Hangup/></Response>`)
	var refuse atomic.Bool
	refuse.Store(true)
	s.app.Handle("/status", func(apptest.Request) (int, string) {
		if refuse.Load() {
			return http.StatusServiceUnavailable, ""
		}
		return http.StatusOK, ""
	})
	p := s.start(t)
	ch, err := sim.Call(s.eslAddr, eslsim.Script{From: "15550100008", To: number})
	if err != nil {
		t.Fatal(err)
	}
	<-ch.Done()
	sid := s.waitPath(t, "/status", "", 10*time.Second).Get("CallSid") // refused
	sent := time.Now()
	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	m := stoppedLine(t, s)
	t.Logf("SIGTERM to exit %v with a refused callback queued: flush_took=%v callbacks_left=%v",
		time.Since(sent).Round(time.Millisecond), m["flush_took"], m["callbacks_left"])
	if m["callbacks_left"] != float64(1) {
		t.Errorf("callbacks_left %v, want 1", m["callbacks_left"])
	}
	s.waitLog(t, time.Second, "callbacks left queued in the store for the next start")

	refuse.Store(false)
	from := time.Now()
	p2 := s.start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := s.app.Wait(ctx, func(r apptest.Request) bool {
		return r.Path == "/status" && r.Get("CallSid") == sid && r.At.After(from)
	}); err != nil {
		t.Fatalf("the callback left in the store was not delivered after the restart: %v", err)
	}
	t.Logf("delivered %v after the restart", time.Since(from).Round(time.Millisecond))
	p2.Signal(t, syscall.SIGTERM)
	if code := p2.Wait(t, 30*time.Second); code != 0 {
		t.Errorf("second run: exit status %d", code)
	}
}
