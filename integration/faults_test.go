package integration

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/integration/apptest"
)

// faultApps are apps whose answer URL misbehaves by configuration ({app} is the app server).
// Their calls are Local calls that name them in the Stasis arguments.
const faultApps = `  - name: fx-unreachable
    dialect: flexml
    url: http://127.0.0.1:9/answer#ct=300&tt=1000&rc=1
    status_url: {app}/status/fx-unreachable
  - name: fx-slow
    dialect: flexml
    url: {app}/answer/flexml#rt=400&tt=1500&rc=1
    status_url: {app}/status/fx-slow
  - name: pl-fallback
    dialect: plivo
    url: http://127.0.0.1:9/answer#ct=300&tt=1000&rc=0
    fallback_url: {app}/answer/plivo
    status_url: {app}/status/pl-fallback
`

var faultAppNames = []string{"fx-unreachable", "fx-slow", "pl-fallback"}

// faultCall is a call to an app of faultApps (named in the Stasis arguments on Asterisk, in
// pbxbridge_app on FreeSWITCH), or to a dialect's app with a misbehaving answer handler. The
// fault tests run on both PBXs.
func faultCall(t *testing.T, dialect, app string) *call {
	c := newCall(t, dialect)
	c.app = app
	return c
}

// waitStatusOf waits for the status callback of a call to app.
func waitStatusOf(t *testing.T, ctx context.Context, c *call, app string) apptest.Request {
	t.Helper()
	r, err := env.app.Wait(ctx, func(r apptest.Request) bool {
		return r.Path == "/status/"+app && r.Get("From") == c.number
	})
	if err != nil {
		t.Fatalf("status callback: %v", err)
	}
	return r
}

// logLine waits for a line of pbxbridge's log that has the call id and matches re.
func logLine(t *testing.T, ctx context.Context, callID string, re string) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	for {
		b, _ := os.ReadFile(env.logPath)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "call_id="+callID) && rx.MatchString(line) {
				return line
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no log line with call_id=%s matching %q", callID, re)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// callID is the call's id as its status callback reports it.
func callID(r apptest.Request) string {
	if id := r.Get("CallSid"); id != "" {
		return id
	}
	return r.Get("CallUUID")
}

// TestFaultAnswerUnreachable: the answer URL refuses connections. The call is hung up
// cleanly, the failure is logged with the call id, and the status callback is delivered.
func TestFaultAnswerUnreachable(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := faultCall(t, "flexml", "fx-unreachable").on(p)
		c.dial(ctx, "s")
		st := waitStatusOf(t, ctx, c, "fx-unreachable")
		if st.Get("CallStatus") != "completed" {
			t.Errorf("CallStatus = %q, want completed", st.Get("CallStatus"))
		}
		logLine(t, ctx, callID(st), `level=ERROR.*answer document http://127.0.0.1:9/answer`)
	})
}

// TestFaultAnswerSlow: the answer URL answers after its read timeout (rt=400 ms, one retry,
// tt=1.5 s). Both attempts time out; the call is hung up and the status callback delivered.
func TestFaultAnswerSlow(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := faultCall(t, "flexml", "fx-slow").on(p)
		c.answer = func(apptest.Request) (int, string) {
			time.Sleep(2 * time.Second)
			return http.StatusOK, `<Response><Hangup/></Response>`
		}
		start := time.Now()
		c.dial(ctx, "s")
		st := waitStatusOf(t, ctx, c, "fx-slow")
		if d := time.Since(start); d > 6*time.Second {
			t.Errorf("the call took %s to end; the total timeout is 1.5 s", d)
		}
		logLine(t, ctx, callID(st), `level=ERROR.*read timeout`)
		n := 0
		for _, r := range env.app.Requests() {
			if r.Path == "/answer/flexml" && r.Get("From") == c.number {
				n++
			}
		}
		if n != 2 {
			t.Errorf("answer URL requested %d times, want 2 (rc=1 retries a read timeout)", n)
		}
	})
}

// TestFaultAnswerFallback: a Plivo app whose answer URL is down gets its fallback_url once,
// with the same parameters, and the call runs the fallback's document.
func TestFaultAnswerFallback(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := faultCall(t, "plivo", "pl-fallback").on(p)
		c.doc = `<Response><Redirect>` + c.url("ran") + `</Redirect></Response>`
		env.app.Document(c.path("ran"), `<Response><Hangup/></Response>`)
		c.dial(ctx, "s")
		c.wait(ctx, "ran")
		waitStatusOf(t, ctx, c, "pl-fallback")
	})
}

// TestFaultAnswerBad: each broken answer (HTTP errors, a body that is not XML, a document with
// errors) ends the call cleanly with an error logged under the call id, and the status
// callback is still delivered.
func TestFaultAnswerBad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, dialect string
		status        int
		body, logRe   string
	}{
		{"http-404", "flexml", 404, "not here", `level=ERROR.*HTTP 404`},
		{"http-500", "plivo", 500, "oops", `level=ERROR.*HTTP 500`},
		{"not-xml", "flexml", 200, `{"json": true}`, `level=ERROR.*not well-formed XML`},
		{"invalid-document", "plivo", 200, `<Response><Record maxLength="1"/></Response>`, `level=ERROR.*maxLength`},
		{"unknown-verb", "flexml", 200, `<Response><Conference/></Response>`, `level=ERROR.*Conference`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			onPBXs(t, func(t *testing.T, p pbx) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				c := newCall(t, tc.dialect).on(p)
				c.answer = func(apptest.Request) (int, string) { return tc.status, tc.body }
				c.dial(ctx, "s")
				st := c.waitStatus(ctx)
				logLine(t, ctx, callID(st), tc.logRe)
			})
		})
	}
}

// TestFaultActionFails: the Record's action answers 500. The recording is kept and its
// callbackUrl delivered; the call is hung up; the status callback is delivered.
func TestFaultActionFails(t *testing.T) {
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		c := newCall(t, "flexml").on(p)
		c.doc = `<Response><Record action="` + c.path("after") + `" callbackUrl="` + c.path("recorded") + `"/><Say>not reached</Say></Response>`
		env.app.Status(c.path("after"), http.StatusInternalServerError)
		env.app.Status(c.path("recorded"), http.StatusOK)
		c.dial(ctx, "s")
		cb := c.wait(ctx, "recorded")
		if cb.Get("RecordingStatus") != "completed" || cb.Get("RecordingUrl") == "" {
			t.Errorf("callbackUrl: status %q url %q", cb.Get("RecordingStatus"), cb.Get("RecordingUrl"))
		}
		fetch(t, cb.Get("RecordingUrl"))
		st := c.waitStatus(ctx)
		logLine(t, ctx, callID(st), `level=ERROR.*action document`)
	})
}

// TestAsteriskRestart restarts Asterisk while a call records. pbxbridge must reconnect, end the
// call (its status callback delivered), keep what was recorded before the restart when
// Asterisk still has it, and take new calls afterwards. It disturbs every other call on
// Asterisk, so it runs only on its own: make test runs it after the rest with
// PBXBRIDGE_RESTART_TEST=1.
func TestAsteriskRestart(t *testing.T) {
	if os.Getenv("PBXBRIDGE_RESTART_TEST") != "1" {
		t.Skip("restarts Asterisk: run alone with PBXBRIDGE_RESTART_TEST=1 go test -run TestAsteriskRestart ./integration")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := newCall(t, "flexml")
	c.doc = `<Response><Record maxLength="60" finishOnKey="none" timeout="30" callbackUrl="` + c.path("recorded") + `" recordingStatusCallback="` + c.path("status") + `" recordingStatusCallbackEvent="completed,failed,absent" trim="do-not-trim"/></Response>`
	env.app.Status(c.path("recorded"), http.StatusOK)
	env.app.Status(c.path("status"), http.StatusOK)
	c.local("long")
	if _, err := env.app.Wait(ctx, func(r apptest.Request) bool { return r.Path == "/answer/flexml" && r.Get("From") == c.number }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second) // let it record
	out, err := exec.CommandContext(ctx, filepath.Join(asteriskDir, "run.sh"), "restart").CombinedOutput()
	if err != nil {
		t.Fatalf("run.sh restart: %v\n%s", err, out)
	}
	st := c.waitStatus(ctx)
	if st.Get("CallStatus") != "completed" {
		t.Errorf("CallStatus = %q, want completed", st.Get("CallStatus"))
	}
	rs := c.wait(ctx, "status")
	t.Logf("recording status after the restart: %s, %s s", rs.Get("RecordingStatus"), rs.Get("RecordingDuration"))
	if rs.Get("RecordingStatus") == "completed" {
		cb := c.wait(ctx, "recorded")
		if num(t, "RecordingDuration", cb.Get("RecordingDuration")) < 2 {
			t.Errorf("kept only %s s of the recording", cb.Get("RecordingDuration"))
		}
	}
	if err := apptest.WaitOK(ctx, env.base+"/readyz"); err != nil {
		t.Fatalf("pbxbridge not ready after the restart: %v", err)
	}
	// A new call works.
	n := newCall(t, "flexml")
	n.doc = `<Response><Record action="` + n.path("after") + `"/></Response>`
	env.app.Document(n.path("after"), hangupDoc)
	n.local("s")
	act := n.wait(ctx, "after")
	within(t, "RecordingDuration after the restart", num(t, "RecordingDuration", act.Get("RecordingDuration")), 3, 1)
}
