package dashboard

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/store/local"
	"github.com/pbxbridge/pbxbridge/translate"
)

const testToken = "s3cret-api-token-for-the-dashboard"

// fixture is a dashboard over a real embedded store, served by httptest.
type fixture struct {
	st    *local.Store
	srv   *httptest.Server
	woken int
}

func newFixture(t *testing.T, token string, checks ...Check) *fixture {
	t.Helper()
	return newJournalFixture(t, token, nil, checks...)
}

// newJournalFixture is newFixture with a journal (nil: none).
func newJournalFixture(t *testing.T, token string, jr Journal, checks ...Check) *fixture {
	t.Helper()
	st, err := local.Open(t.TempDir(), local.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st}
	db := New(Deps{Store: st, Outbox: st, Token: token, Checks: checks, CheckTimeout: 200 * time.Millisecond, Journal: jr,
		Wake:     func() { f.woken++ },
		FileLink: func(sid, ext string) string { return "/f/" + sid + "." + ext + "?exp=1&sig=x" }})
	f.srv = httptest.NewServer(db)
	t.Cleanup(f.srv.Close)
	return f
}

// client is a browser-like client: cookies kept, redirects not followed (the tests look at
// them).
func (f *fixture) client(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func (f *fixture) get(t *testing.T, c *http.Client, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, c, req)
}

func (f *fixture) post(t *testing.T, c *http.Client, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, c, req)
}

// login signs c in with the token and returns the session cookie's Set-Cookie line.
func (f *fixture) login(t *testing.T, c *http.Client, token string) *http.Response {
	t.Helper()
	res, _ := f.post(t, c, "/dashboard/login", url.Values{"token": {token}, "next": {"/dashboard/outbox"}})
	return res
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field in the page:\n%s", body)
	}
	return m[1]
}

func TestClosedWithoutToken(t *testing.T) {
	f := newFixture(t, "")
	c := f.client(t)
	for _, p := range []string{"/dashboard/calls", "/dashboard/login", "/dashboard/"} {
		res, body := f.get(t, c, p)
		if res.StatusCode != http.StatusNotFound || !strings.Contains(body, "api_token") {
			t.Errorf("GET %s without api_token: %d, want 404 naming api_token:\n%s", p, res.StatusCode, body)
		}
	}
	res, _ := f.post(t, c, "/dashboard/login", url.Values{"token": {""}})
	if res.StatusCode != http.StatusNotFound || len(res.Cookies()) > 0 {
		t.Errorf("login with an empty token on a closed dashboard: %d, cookies %v", res.StatusCode, res.Cookies())
	}
}

func TestUnauthenticatedGoesToLogin(t *testing.T) {
	f := newFixture(t, testToken)
	c := f.client(t)
	for _, p := range []string{"/dashboard/calls", "/dashboard/recordings?limit=3", "/dashboard/outbox", "/dashboard/health", "/dashboard"} {
		res, _ := f.get(t, c, p)
		loc := res.Header.Get("Location")
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/dashboard/login?next=") {
			t.Errorf("GET %s signed out: %d Location %q, want 303 to the login form", p, res.StatusCode, loc)
		}
		if u, _ := url.Parse(loc); u != nil && u.Query().Get("next") != p {
			t.Errorf("GET %s: next=%q", p, u.Query().Get("next"))
		}
	}
	res, body := f.get(t, c, "/dashboard/login")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `name="token"`) || strings.Contains(body, "Sign out") {
		t.Errorf("login form: %d\n%s", res.StatusCode, body)
	}
	// A POST without a session is refused, not redirected.
	res, _ = f.post(t, c, "/dashboard/outbox/replay", url.Values{"id": {"x"}})
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("replay signed out: %d, want 401", res.StatusCode)
	}
	// The stylesheet is served signed out, so that the login form is styled.
	if res, body := f.get(t, c, "/dashboard/static/style.css"); res.StatusCode != 200 || !strings.Contains(body, "body") {
		t.Errorf("stylesheet: %d", res.StatusCode)
	}
}

func TestLogin(t *testing.T) {
	f := newFixture(t, testToken)
	c := f.client(t)

	res := f.login(t, c, "wrong-"+testToken)
	if res.StatusCode != http.StatusUnauthorized || len(res.Cookies()) > 0 {
		t.Fatalf("wrong token: %d, cookies %v; want 401 and no cookie", res.StatusCode, res.Cookies())
	}
	if res, _ := f.get(t, c, "/dashboard/calls"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after a refused sign-in the calls page answered %d", res.StatusCode)
	}

	res = f.login(t, c, testToken)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/dashboard/outbox" {
		t.Fatalf("sign-in: %d Location %q, want 303 to next", res.StatusCode, res.Header.Get("Location"))
	}
	cs := res.Cookies()
	if len(cs) != 1 {
		t.Fatalf("cookies %v", cs)
	}
	ck := cs[0]
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/dashboard" || ck.MaxAge <= 0 {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/dashboard, a lifetime", ck)
	}
	if strings.Contains(ck.Value, testToken) {
		t.Errorf("the session cookie carries the token: %q", ck.Value)
	}
	for _, p := range []string{"/dashboard/calls", "/dashboard/recordings", "/dashboard/outbox", "/dashboard/health"} {
		res, body := f.get(t, c, p)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, "Sign out") {
			t.Errorf("GET %s signed in: %d", p, res.StatusCode)
		}
		if strings.Contains(body, testToken) {
			t.Errorf("GET %s shows the API token", p)
		}
		if h := res.Header.Get("Content-Security-Policy"); !strings.Contains(h, "default-src 'none'") {
			t.Errorf("GET %s: CSP %q", p, h)
		}
	}
	// signed in, the login form sends the browser on
	if res, _ := f.get(t, c, "/dashboard/login"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("login form signed in: %d, want 303", res.StatusCode)
	}

	// A tampered cookie (expiry moved on) and a cookie minted under another token are refused.
	parts := strings.Split(ck.Value, ".")
	tampered := "1." + parts[1] + "9." + parts[2] + "." + parts[3]
	other := New(Deps{Token: testToken + "-rotated", Store: f.st, FileLink: func(string, string) string { return "" }})
	rotated, _ := other.newSession()
	for name, v := range map[string]string{"tampered": tampered, "rotated token": rotated, "garbage": "x"} {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/dashboard/calls", nil)
		req.AddCookie(&http.Cookie{Name: cookieName, Value: v})
		res, _ := do(t, f.client(t), req)
		if res.StatusCode != http.StatusSeeOther {
			t.Errorf("%s cookie: %d, want 303 to the login form", name, res.StatusCode)
		}
	}

	// Bearer, as the API takes it.
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/dashboard/health", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if res, _ := do(t, f.client(t), req); res.StatusCode != http.StatusOK {
		t.Errorf("Bearer token: %d", res.StatusCode)
	}
	req.Header.Set("Authorization", "Bearer nope")
	if res, _ := do(t, f.client(t), req); res.StatusCode != http.StatusSeeOther {
		t.Errorf("wrong Bearer token: %d", res.StatusCode)
	}

	// sign out clears the cookie
	_, body := f.get(t, c, "/dashboard/calls")
	res, _ = f.post(t, c, "/dashboard/logout", url.Values{"csrf": {csrfOf(t, body)}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", res.StatusCode)
	}
	if res, _ := f.get(t, c, "/dashboard/calls"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after sign out: %d", res.StatusCode)
	}
}

func TestSessionExpires(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	db := New(Deps{Token: testToken, Now: func() time.Time { return now }, FileLink: func(string, string) string { return "" }})
	v, exp := db.newSession()
	if !db.sessionOK(v) || exp.Sub(now) != sessionTTL {
		t.Fatalf("fresh session %q refused (expires %v)", v, exp)
	}
	now = now.Add(sessionTTL)
	if db.sessionOK(v) {
		t.Error("a session is accepted at its expiry")
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                                "/dashboard/calls",
		"/dashboard/outbox":               "/dashboard/outbox",
		"/dashboard/recordings?limit=3":   "/dashboard/recordings?limit=3",
		"/dashboard":                      "/dashboard",
		"//evil.example/dashboard/":       "/dashboard/calls",
		"https://evil.example/dashboard/": "/dashboard/calls",
		"/\\evil.example":                 "/dashboard/calls",
		"/metrics":                        "/dashboard/calls",
		"/dashboardx":                     "/dashboard/calls",
		"/dashboard/login":                "/dashboard/calls",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCallsPage(t *testing.T) {
	f := newFixture(t, testToken)
	ctx := context.Background()
	started := time.Now().Add(-95 * time.Second)
	if _, err := f.st.PutCall(ctx, adapter.CallState{ID: "call-1", PBX: "freeswitch", ChannelID: "chan-1", App: "voicemail",
		Dialect: translate.Plivo, From: "+15550001", To: "+15550002", CallerName: `<script>alert("x")</script>`,
		Direction: "inbound", Verb: 1, VerbName: "Record", Status: "in-progress", Started: started,
		DocumentURL: "http://app.example/answer", Live: []adapter.LiveRecording{{Name: "r1"}}}); err != nil {
		t.Fatal(err)
	}
	c := f.client(t)
	f.login(t, c, testToken)
	res, body := f.get(t, c, "/dashboard/calls")
	if res.StatusCode != 200 {
		t.Fatalf("calls: %d", res.StatusCode)
	}
	for _, want := range []string{`<strong id="call-count">1</strong>`, "call-1", "freeswitch", "&#43;15550001 → &#43;15550002", "voicemail",
		`<span class="pill">Record</span>`, "http://app.example/answer", "recording (1)", "1m35s",
		`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`, `http-equiv="refresh" content="5"`} {
		if !strings.Contains(body, want) {
			t.Errorf("calls page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("calls page does not escape the caller name")
	}
	if _, body := f.get(t, c, "/dashboard/calls?refresh=0"); strings.Contains(body, `http-equiv="refresh"`) {
		t.Error("refresh=0 still reloads")
	}
}

// deadLetter puts an entry in the outbox and kills it through the real outbox calls.
func deadLetter(t *testing.T, st *local.Store, e adapter.Entry) {
	t.Helper()
	ctx := context.Background()
	if err := st.Enqueue(ctx, e); err != nil {
		t.Fatal(err)
	}
	got, err := st.Claim(ctx, "test", time.Now(), time.Minute, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("claim: %v %v", got, err)
	}
	if err := st.Dead(ctx, e.ID, "test", "HTTP 500 Internal Server Error"); err != nil {
		t.Fatal(err)
	}
}

func TestRecordingsPage(t *testing.T) {
	f := newFixture(t, testToken)
	ctx := context.Background()
	k := int64(42)
	base := time.Now().Add(-time.Hour)
	for i, sid := range []string{"bbbb", "aaaa", "cccc"} {
		if err := f.st.CreateFile(ctx, adapter.File{SID: sid, ContainerSID: "default", Name: sid + ".mp3", Format: "mp3",
			MIMEType: "audio/mpeg", Bytes: 4096, Duration: 3500 * time.Millisecond, Created: base.Add(time.Duration(i) * time.Minute),
			Modified: base, CallID: "call-" + sid, BlobKey: "default/" + sid, IntegerKey1: &k}, 0); err != nil {
			t.Fatal(err)
		}
	}
	deadLetter(t, f.st, adapter.Entry{ID: "ev-1", CallID: "call-aaaa", Seq: 1, App: "voicemail", Dialect: translate.Plivo,
		Kind: "callback", Method: translate.POST, URL: "http://app.example/cb", Body: []byte("RecordingID=aaaa&RecordUrl=x"),
		BodyType: "application/x-www-form-urlencoded"})
	c := f.client(t)
	f.login(t, c, testToken)
	res, body := f.get(t, c, "/dashboard/recordings?limit=2")
	if res.StatusCode != 200 {
		t.Fatalf("recordings: %d", res.StatusCode)
	}
	// the two newest (cccc, then aaaa), not bbbb
	ic, ia := strings.Index(body, `id="rec-cccc"`), strings.Index(body, `id="rec-aaaa"`)
	if ic < 0 || ia < 0 || ic > ia || strings.Contains(body, `id="rec-bbbb"`) {
		t.Errorf("want cccc then aaaa and not bbbb (cccc at %d, aaaa at %d)", ic, ia)
	}
	for _, want := range []string{`<audio controls preload="metadata" src="/f/aaaa.mp3?exp=1&amp;sig=x">`, "3.5s", "4.0 KiB",
		"integer_key_1=42", "audio/mpeg", "HTTP 500 Internal Server Error", "http://app.example/cb", "of 3 recordings"} {
		if !strings.Contains(body, want) {
			t.Errorf("recordings page lacks %q", want)
		}
	}
	if res, body := f.get(t, c, "/dashboard/recordings?limit=9999"); res.StatusCode != 400 || !strings.Contains(body, "limit: must be") {
		t.Errorf("limit=9999: %d", res.StatusCode)
	}
}

func TestOutboxReplay(t *testing.T) {
	f := newFixture(t, testToken)
	ctx := context.Background()
	deadLetter(t, f.st, adapter.Entry{ID: "ev-dead", CallID: "call-1", Seq: 1, App: "voicemail", Dialect: translate.FlexML,
		Kind: "action", Method: translate.POST, URL: "http://app.example/after?x=<b>", Body: []byte("a=b")})
	if err := f.st.Enqueue(ctx, adapter.Entry{ID: "ev-queued", CallID: "call-2", Seq: 1, App: "voicemail", Kind: "status",
		Method: translate.POST, URL: "http://app.example/status", Created: time.Now().Add(-90 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	c := f.client(t)
	f.login(t, c, testToken)
	_, body := f.get(t, c, "/dashboard/outbox")
	for _, want := range []string{`<div class="big" id="pending">1</div>`, `<div class="big" id="dead-count">1</div>`,
		`id="dl-ev-dead"`, "http://app.example/after?x=&lt;b&gt;", "HTTP 500 Internal Server Error", "1m3"} {
		if !strings.Contains(body, want) {
			t.Errorf("outbox page lacks %q", want)
		}
	}
	csrf := csrfOf(t, body)

	// no CSRF token, a wrong one, one from another session: refused, the letter stays dead
	other := f.client(t)
	f.login(t, other, testToken)
	_, otherBody := f.get(t, other, "/dashboard/outbox")
	for name, tok := range map[string]string{"none": "", "wrong": strings.Repeat("0", 64), "another session's": csrfOf(t, otherBody)} {
		if tok == csrf {
			t.Fatalf("two sessions share a CSRF token")
		}
		res, _ := f.post(t, c, "/dashboard/outbox/replay", url.Values{"id": {"ev-dead"}, "csrf": {tok}})
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("replay with %s CSRF token: %d, want 403", name, res.StatusCode)
		}
	}
	if dead, _ := f.st.ListDead(ctx, 0); len(dead) != 1 {
		t.Fatalf("a refused replay moved the dead letter: %v", dead)
	}

	res, _ := f.post(t, c, "/dashboard/outbox/replay", url.Values{"id": {"ev-dead"}, "csrf": {csrf}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/dashboard/outbox?replayed=ev-dead" {
		t.Fatalf("replay: %d Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	if dead, _ := f.st.ListDead(ctx, 0); len(dead) != 0 {
		t.Errorf("dead letters after replay: %v", dead)
	}
	if n, _ := f.st.Pending(ctx); n != 2 || f.woken != 1 {
		t.Errorf("after replay: %d queued, worker woken %d times; want 2, 1", n, f.woken)
	}
	_, body = f.get(t, c, "/dashboard/outbox?replayed=ev-dead")
	if !strings.Contains(body, "Replayed ev-dead") || !strings.Contains(body, "No dead letters") {
		t.Errorf("outbox page after replay:\n%s", body)
	}
	// replaying it again: 404, it is no longer dead
	res, body = f.post(t, c, "/dashboard/outbox/replay", url.Values{"id": {"ev-dead"}, "csrf": {csrf}})
	if res.StatusCode != http.StatusNotFound || !strings.Contains(body, "No dead letter") {
		t.Errorf("second replay: %d", res.StatusCode)
	}

	// Bearer clients need no CSRF token.
	f = newFixture(t, testToken)
	deadLetter(t, f.st, adapter.Entry{ID: "ev-dead-2", CallID: "call-3", Seq: 1, App: "voicemail", Kind: "status",
		Method: translate.POST, URL: "http://app.example/status"})
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/dashboard/outbox/replay", strings.NewReader("id=ev-dead-2"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+testToken)
	if res, _ := do(t, f.client(t), req); res.StatusCode != http.StatusSeeOther {
		t.Errorf("replay with Bearer: %d", res.StatusCode)
	}
}

func TestHealthPage(t *testing.T) {
	f := newFixture(t, testToken,
		Check{Name: "store", Check: func(context.Context) error { return nil }},
		Check{Name: "pbx freeswitch", Check: func(context.Context) error { return errors.New("esl: not connected <yet>") }},
		Check{Name: "pbx slow", Check: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }})
	c := f.client(t)
	f.login(t, c, testToken)
	res, body := f.get(t, c, "/dashboard/health")
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("health with a failing check: %d, want 503", res.StatusCode)
	}
	for _, want := range []string{`data-check="store"`, `data-check="pbx freeswitch"`, "esl: not connected &lt;yet&gt;",
		"timed out", "Not ready"} {
		if !strings.Contains(body, want) {
			t.Errorf("health page lacks %q", want)
		}
	}
}
