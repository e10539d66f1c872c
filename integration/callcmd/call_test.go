// Package callcmd tests `pbxbridge call` end to end: the real binary places real SIP calls
// (SIPp) through the project's Asterisk into the example applications of integration/apptest,
// good and broken, and the tests read its trace and exit status.
//
// They take Asterisk's Stasis application "pbxbridge" for the duration of each call: run them
// alone (under flock /tmp/pbx-asterisk.lock), not beside the integration package's tests.
package callcmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/audio"
	"github.com/pbxbridge/pbxbridge/integration/apptest"
	"github.com/pbxbridge/pbxbridge/integration/itest"
)

var bin string

func TestMain(m *testing.M) {
	itest.Main(m, &bin, "the pbxbridge call tests run with PBXBRIDGE_INTEGRATION=1, against the project's Asterisk (make asterisk)",
		"sipp", "espeak-ng")
}

// toneWAV writes a WAV of a 440 Hz tone: loud enough that no silence limit ends a recording.
func toneWAV(t *testing.T, d time.Duration) string {
	t.Helper()
	n := int(d.Seconds() * 8000)
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	b, err := audio.EncodeWAV(audio.PCM{Samples: s, Rate: 8000, Channels: 1})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "caller.wav")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// examples serves the example applications for one test.
func examples(t *testing.T) *apptest.App {
	t.Helper()
	app, err := apptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Close() })
	apptest.Examples(app)
	return app
}

// call runs `pbxbridge call` with args and returns its stdout, stderr and exit status.
func call(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	args = append([]string{"call", "--data-dir", t.TempDir(), "--duration", "20s", "--wait", "20s"}, args...)
	cmd := exec.Command(bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", bin, err)
	}
	t.Logf("pbxbridge %s: exit %d in %s", strings.Join(args, " "), code, time.Since(start).Round(time.Millisecond))
	return out.String(), errOut.String(), code
}

// report is the part of `pbxbridge call --json` the tests read.
type report struct {
	Result struct {
		Answered   bool `json:"answered"`
		FarEnd     bool `json:"application_hung_up"`
		Recordings []struct {
			ID      string  `json:"id"`
			URL     string  `json:"url"`
			Seconds float64 `json:"duration_s"`
			Digits  string  `json:"digits"`
			Path    string  `json:"path"`
		} `json:"recordings"`
	} `json:"result"`
	Callbacks    int `json:"callbacks"`
	Callbacks2xx int `json:"callbacks_2xx"`
	Events       []struct {
		Engine *struct {
			Kind    string   `json:"kind"`
			Request string   `json:"request"`
			URL     string   `json:"url"`
			Status  int      `json:"status"`
			Body    string   `json:"body"`
			Verbs   []string `json:"verbs"`
			Verb    string   `json:"verb"`
			Outcome string   `json:"outcome"`
			Err     string   `json:"error"`
		} `json:"engine"`
		HTTP *struct {
			Kind   string              `json:"kind"`
			URL    string              `json:"url"`
			Params map[string][]string `json:"params"`
			Status int                 `json:"status"`
			Err    string              `json:"error"`
		} `json:"http"`
	} `json:"events"`
	Problems []struct {
		Exit    int    `json:"exit"`
		Message string `json:"message"`
	} `json:"problems"`
	Exit int `json:"exit"`
}

func parseReport(t *testing.T, out, errOut string) report {
	t.Helper()
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s\nstderr:\n%s", err, out, errOut)
	}
	return r
}

// TestFlexMLVoicemail: the good FlexML application. 5 s of tone then '#': exit 0, and the
// trace holds the document and its verbs, each verb's outcome, the callbackUrl request with
// its payload and answer, and a recording as long as the audio before '#'.
func TestFlexMLVoicemail(t *testing.T) {
	app := examples(t)
	out, errOut, code := call(t, "--url", app.URL+apptest.FlexMLVoicemail, "--status-url", app.URL+apptest.ExampleStatus,
		"--wav", toneWAV(t, 6*time.Second), "--dtmf", "5s:#", "--json")
	r := parseReport(t, out, errOut)
	if code != 0 || r.Exit != 0 || len(r.Problems) != 0 {
		t.Fatalf("exit %d (report %d), problems %+v\nstderr:\n%s", code, r.Exit, r.Problems, errOut)
	}
	if !r.Result.Answered || len(r.Result.Recordings) != 1 {
		t.Fatalf("result %+v", r.Result)
	}
	rec := r.Result.Recordings[0]
	// The recording starts with the call (no prompt, no beep) and ends at '#', 5 s in.
	if rec.Seconds < 4.2 || rec.Seconds > 5.6 || rec.Digits != "#" || !strings.Contains(rec.URL, "/f/"+rec.ID) {
		t.Errorf("recording %+v: want about 5 s, ended by '#', at /f/<sid>", rec)
	}
	if _, err := os.Stat(rec.Path); err != nil {
		t.Errorf("recording file: %v", err)
	}
	var doc, verbs, callback, action bool
	for _, e := range r.Events {
		switch {
		case e.Engine != nil && e.Engine.Kind == "document" && e.Engine.Request == "answer":
			doc = e.Engine.Status == 200 && strings.Join(e.Engine.Verbs, ",") == "Record,Hangup" &&
				strings.Contains(e.Engine.Body, "<Record") && strings.HasSuffix(e.Engine.URL, apptest.FlexMLVoicemail)
		case e.Engine != nil && e.Engine.Kind == "verb-done" && e.Engine.Verb == "Record":
			verbs = e.Engine.Outcome == "ok"
		case e.HTTP != nil && e.HTTP.Kind == "callback":
			p := e.HTTP.Params
			callback = e.HTTP.Status == 200 && strings.HasSuffix(e.HTTP.URL, "/flexml/recorded") &&
				first(p["RecordingSid"]) == rec.ID && first(p["RecordingUrl"]) == rec.URL && first(p["RecordingDuration"]) != ""
		case e.HTTP != nil && e.HTTP.Kind == "action":
			action = e.HTTP.Status == 200 && first(e.HTTP.Params["Digits"]) == "#"
		}
	}
	if !doc || !verbs || !callback || !action {
		t.Errorf("trace: answer document %v, Record ok %v, callbackUrl with payload and 200 %v, action %v\n%s", doc, verbs, callback, action, out)
	}
	if got := app.Requests(); !hasPath(got, "/flexml/recorded") || !hasPath(got, apptest.ExampleStatus) {
		t.Errorf("the application did not receive the callbacks: %v", paths(got))
	}
}

// TestPlivoVoicemail: the good Plivo application, read as a person would (text output).
func TestPlivoVoicemail(t *testing.T) {
	app := examples(t)
	out, errOut, code := call(t, "--url", app.URL+apptest.PlivoVoicemail, "--dialect", "plivo",
		"--wav", toneWAV(t, 5*time.Second), "--dtmf", "4s:#")
	if code != 0 {
		t.Fatalf("exit %d\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"document (answer) " + app.URL + apptest.PlivoVoicemail + ": HTTP 200",
		"verbs: Record, Hangup",
		"verb 1 Record: ok",
		"callback POST " + app.URL + "/plivo/recorded (attempt 1)",
		"RecordUrl=http://127.0.0.1:",
		"-> HTTP 200 in ",
		"recording stored: ",
		"result: OK (exit 0)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the trace lacks %q:\n%s", want, out)
		}
	}
}

// TestBrokenDocument: an answer document that is not XML ends the call; exit 4, and the
// trace names the document and what is wrong with it.
func TestBrokenDocument(t *testing.T) {
	app := examples(t)
	out, errOut, code := call(t, "--url", app.URL+apptest.BrokenDocument, "--say", "hello", "--json")
	r := parseReport(t, out, errOut)
	if code != 4 || r.Exit != 4 || len(r.Problems) == 0 {
		t.Fatalf("exit %d, want 4 (invalid document); problems %+v\nstderr:\n%s", code, r.Problems, errOut)
	}
	if m := r.Problems[0].Message; !strings.Contains(m, "answer document") || !strings.Contains(m, apptest.BrokenDocument) || !strings.Contains(m, "invalid") {
		t.Errorf("problem %q does not name the document and the fault", m)
	}
}

// TestBrokenCallback: the voicemail whose callbackUrl answers 500; the call itself goes
// well, the exit status is 6 and the trace names the callback and its answer.
func TestBrokenCallback(t *testing.T) {
	app := examples(t)
	out, errOut, code := call(t, "--url", app.URL+apptest.BrokenCallback, "--wav", toneWAV(t, 3*time.Second), "--dtmf", "2s:#")
	if code != 6 {
		t.Fatalf("exit %d, want 6 (callback failed)\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"result: FAILED (exit 6): the callbackUrl request to " + app.URL + "/broken/recorded was answered HTTP 500",
		"-> HTTP 500 in ",
		"recording stored: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the trace lacks %q:\n%s", want, out)
		}
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func hasPath(reqs []apptest.Request, p string) bool {
	for _, r := range reqs {
		if r.Path == p {
			return true
		}
	}
	return false
}

func paths(reqs []apptest.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}
