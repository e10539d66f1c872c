package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/journal"
	"github.com/pbxbridge/pbxbridge/translate"
	"github.com/pbxbridge/pbxbridge/webhook"
)

// TestRecordingsShowCallbacks: under each recording, the requests this instance sent for its
// call, newest first, each with every attempt and its answer; those naming the recording are
// marked; the dead letters stay.
func TestRecordingsShowCallbacks(t *testing.T) {
	jr := journal.New(100)
	f := newJournalFixture(t, testToken, jr)
	ctx := context.Background()
	base := time.Now().Add(-time.Hour)
	for i, sid := range []string{"aaaa", "cccc"} {
		if err := f.st.CreateFile(ctx, adapter.File{SID: sid, ContainerSID: "default", Name: sid + ".wav", Format: "wav",
			Created: base.Add(time.Duration(i) * time.Minute), CallID: "call-" + sid, BlobKey: "default/" + sid}, 0); err != nil {
			t.Fatal(err)
		}
	}
	deadLetter(t, f.st, adapter.Entry{ID: "ev-dead", CallID: "call-aaaa", Seq: 9, App: "voicemail", Dialect: translate.Plivo,
		Kind: "callback", Method: translate.POST, URL: "http://app.example/late", Body: []byte("RecordingID=aaaa"),
		BodyType: "application/x-www-form-urlencoded"})
	at := base.Add(10 * time.Second)
	x := func(id, kind, u string, n, status int, errText string, p url.Values, call string) {
		at = at.Add(time.Second)
		jr.Exchange(webhook.Exchange{Kind: kind, EventID: id, CallID: call, Attempt: n, Method: "POST", URL: u,
			Params: p, Status: status, Err: errText, Took: 42 * time.Millisecond, Time: at})
	}
	rec := url.Values{"RecordingID": {"aaaa"}, "RecordUrl": {"http://b/f/aaaa.wav"}, "AuthToken": {"[redacted]"}}
	x("ev-answer", "answer", "http://app.example/answer", 1, 200, "", url.Values{"From": {"15550001"}}, "call-aaaa")
	x("ev-action", "action", "http://app.example/after", 1, 200, "", rec, "call-aaaa")
	x("ev-cb", "callback", "http://app.example/cb", 1, 500, "HTTP 500 Internal Server Error", rec, "call-aaaa")
	x("ev-cb", "callback", "http://app.example/cb", 2, 200, "", rec, "call-aaaa")
	x("ev-cb", "callback", "http://app.example/cb", 1, 200, "", rec, "call-aaaa") // replayed: attempts start over
	x("ev-status", "hangup", "http://app.example/status", 1, 0, "dial tcp: connection refused",
		url.Values{"Note": {`<script>alert(1)</script>`}}, "call-aaaa")
	x("ev-other", "callback", "http://app.example/other-call", 1, 200, "", nil, "call-zzzz")

	c := f.client(t)
	f.login(t, c, testToken)
	res, body := f.get(t, c, "/dashboard/recordings")
	if res.StatusCode != 200 {
		t.Fatalf("recordings: %d", res.StatusCode)
	}
	i := strings.Index(body, `id="rec-aaaa"`)
	j := strings.Index(body, `id="rec-cccc"`)
	if i < 0 || j < 0 || j > i {
		t.Fatalf("recordings out of order or missing (cccc at %d, aaaa at %d)", j, i)
	}
	aaaa, cccc := body[i:], body[j:i]
	for _, want := range []string{"Callbacks shown are those sent by this instance", "its last 100 requests and call steps"} {
		if !strings.Contains(body, want) {
			t.Errorf("recordings page lacks %q", want)
		}
	}
	// newest first: status, callback, action, answer; the other call's request is not here
	order := []string{"http://app.example/status", "http://app.example/cb", "http://app.example/after", "http://app.example/answer"}
	last := -1
	for _, u := range order {
		k := strings.Index(aaaa, "POST "+u)
		if k < 0 || k < last {
			t.Errorf("request %s at %d (previous at %d): want %v newest first", u, k, last, order)
		}
		last = k
	}
	for _, want := range []string{
		`Requests sent by this instance for call <a href="/dashboard/calls/call-aaaa">`,
		`<tr class="exchange this" data-kind="callback" data-status="200">`,
		`<tr class="exchange this" data-kind="action" data-status="200">`,
		`<tr class="exchange" data-kind="answer" data-status="200">`,
		`#1 <span class="bad">HTTP 500</span> <span class="err">HTTP 500 Internal Server Error</span>`,
		`#2 <span class="ok">HTTP 200</span>`, `<span class="sub">again:</span> #1 <span class="ok">HTTP 200</span>`,
		"42ms", "event <code>ev-cb</code>",
		`<span class="err">dial tcp: connection refused</span>`,
		"<dt>AuthToken</dt><dd>[redacted]</dd>", "<dt>RecordingID</dt><dd>aaaa</dd>",
		"&lt;script&gt;alert(1)&lt;/script&gt;",
		"http://app.example/late", // the dead letter is still listed
	} {
		if !strings.Contains(aaaa, want) {
			t.Errorf("recording aaaa lacks %q", want)
		}
	}
	if strings.Contains(body, "other-call") || strings.Contains(body, "<script>alert") {
		t.Error("another call's request, or an unescaped parameter, on the page")
	}
	if !strings.Contains(cccc, `class="sub no-exchanges"`) {
		t.Errorf("recording cccc without requests does not say so:\n%s", cccc)
	}

	// More than maxRequests: the newest are listed, the rest counted.
	for k := range maxRequests + 10 {
		x(fmt.Sprintf("ev-many-%d", k), "callback", "http://app.example/many", 1, 200, "", nil, "call-cccc")
	}
	_, body = f.get(t, c, "/dashboard/recordings")
	cccc = body[strings.Index(body, `id="rec-cccc"`):strings.Index(body, `id="rec-aaaa"`)]
	if n := strings.Count(cccc, `<tr class="exchange`); n != maxRequests || !strings.Contains(cccc, "10 older requests on") ||
		!strings.Contains(cccc, "ev-many-59") || strings.Contains(cccc, "ev-many-9<") {
		t.Errorf("call with %d requests: %d rows listed", maxRequests+10, n)
	}
}

// TestCallPage: a call's whole trace, oldest first: engine steps and requests with answers.
func TestCallPage(t *testing.T) {
	jr := journal.New(100)
	f := newJournalFixture(t, testToken, jr)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Minute)
	if _, err := f.st.PutCall(ctx, adapter.CallState{ID: "call-1", PBX: "freeswitch", App: "voicemail", Dialect: translate.Plivo,
		From: "+15550001", To: "+15550100", VerbName: "Record", Verb: 0, Started: t0}); err != nil {
		t.Fatal(err)
	}
	ev := func(d time.Duration, e adapter.TraceEvent) {
		e.CallID, e.Time, e.App, e.Dialect = "call-1", t0.Add(d), "voicemail", translate.Plivo
		jr.Trace(e)
	}
	ev(0, adapter.TraceEvent{Kind: adapter.TraceCallStarted, From: "+15550001", To: "+15550100"})
	jr.Exchange(webhook.Exchange{Kind: "answer", EventID: "ev-a", CallID: "call-1", Attempt: 1, Method: "POST",
		URL: "http://app.example/answer", Document: true, Status: 200, Time: t0.Add(500 * time.Microsecond)})
	ev(time.Millisecond, adapter.TraceEvent{Kind: adapter.TraceDocument, Request: "answer", URL: "http://app.example/answer",
		Status: 200, Bytes: 80, Body: `<Response><Record awsSecretKey="[redacted]"/></Response>`, Verbs: []string{"Record"},
		Warnings: []string{"1:11: Record: unknown attribute colour"}})
	ev(2*time.Millisecond, adapter.TraceEvent{Kind: adapter.TraceVerbStarted, Verb: "Record", Pos: "1:11", Index: 0})
	ev(3*time.Second, adapter.TraceEvent{Kind: adapter.TraceRecording, Outcome: adapter.RecordingStored, RecordingID: "rec-9",
		Duration: 3 * time.Second, Digits: "#"})
	ev(3*time.Second, adapter.TraceEvent{Kind: adapter.TraceVerbDone, Verb: "Record", Pos: "1:11", Index: 0, Outcome: adapter.VerbOK})
	jr.Exchange(webhook.Exchange{Kind: "callback", EventID: "ev-cb", CallID: "call-1", Attempt: 1, Method: "POST",
		URL: "http://app.example/cb", Params: url.Values{"RecordingID": {"rec-9"}}, Status: 500, Err: "HTTP 500", Time: t0.Add(4 * time.Second)})
	jr.Exchange(webhook.Exchange{Kind: "callback", EventID: "ev-cb", CallID: "call-1", Attempt: 2, Method: "POST",
		URL: "http://app.example/cb", Params: url.Values{"RecordingID": {"rec-9"}}, Status: 200, Time: t0.Add(5 * time.Second)})
	ev(6*time.Second, adapter.TraceEvent{Kind: adapter.TraceCallEnded, Duration: 6 * time.Second, Err: "hangup"})

	c := f.client(t)
	f.login(t, c, testToken)
	res, body := f.get(t, c, "/dashboard/calls/call-1")
	if res.StatusCode != 200 {
		t.Fatalf("call page: %d\n%s", res.StatusCode, body)
	}
	order := []string{"call started", "&#43;15550001 → &#43;15550100 · voicemail (plivo)",
		`data-kind="answer"`, "<span class=\"pill\">document (answer)", "http://app.example/answer → HTTP 200, 80 bytes · verbs: Record",
		"warning: 1:11: Record: unknown attribute colour", `awsSecretKey=&#34;[redacted]&#34;`,
		"Record #0 at 1:11 started", "stored · rec-9 · 3s · digits #", "Record #0 at 1:11: ok",
		`data-kind="callback" data-status="200"`, `#1 <span class="bad">HTTP 500</span>`, `#2 <span class="ok">HTTP 200</span>`,
		"call ended", "after 6s", "hangup"}
	trace := body[max(0, strings.Index(body, `id="trace"`)):]
	last := -1
	for _, want := range order {
		k := strings.Index(trace, want)
		if k < 0 || k < last {
			t.Errorf("call page: %q at %d (previous at %d), want the steps in order", want, k, last)
		}
		if k >= 0 {
			last = k
		}
	}
	if strings.Count(body, `data-kind="callback"`) != 1 {
		t.Error("a request's two attempts are on two lines")
	}
	if !strings.Contains(body, `Live on <strong>freeswitch</strong>`) || !strings.Contains(body, "with several instances each shows what it did itself") {
		t.Error("call page lacks the live state or the per-instance note")
	}
	if res, body := f.get(t, c, "/dashboard/calls/nope"); res.StatusCode != http.StatusNotFound || !strings.Contains(body, "this instance keeps no step") {
		t.Errorf("unknown call: %d\n%s", res.StatusCode, body)
	}
	// The calls page links each call to its page.
	if _, body := f.get(t, c, "/dashboard/calls?refresh=0"); !strings.Contains(body, `<a href="/dashboard/calls/call-1">`) {
		t.Error("calls page does not link the call to its page")
	}

	// Without a journal: the live state only, and the recordings page as before.
	g := newFixture(t, testToken)
	if _, err := g.st.PutCall(ctx, adapter.CallState{ID: "call-2", PBX: "asterisk", Started: t0}); err != nil {
		t.Fatal(err)
	}
	gc := g.client(t)
	g.login(t, gc, testToken)
	if res, body := g.get(t, gc, "/dashboard/calls/call-2"); res.StatusCode != 200 || !strings.Contains(body, "keeps no journal") {
		t.Errorf("call page without a journal: %d\n%s", res.StatusCode, body)
	}
	if res, _ := g.get(t, gc, "/dashboard/calls/call-1"); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown call without a journal: %d", res.StatusCode)
	}
}
