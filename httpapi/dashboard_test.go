package httpapi

import (
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The dashboard is mounted under /dashboard, behind the API token, and its players fetch
// recordings through signed /f links relative to this server.
func TestDashboardMount(t *testing.T) {
	f := newFixture(t)
	req, _ := http.NewRequest(http.MethodGet, f.http.URL+"/dashboard/calls", nil)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/dashboard/login") {
		t.Fatalf("signed out: %d %q, want 303 to the login form", res.StatusCode, res.Header.Get("Location"))
	}
	for _, p := range []string{"/dashboard", "/dashboard/"} {
		req, _ := http.NewRequest(http.MethodGet, f.http.URL+p, nil)
		req.Header.Set("Authorization", "Bearer tok")
		res, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/dashboard/calls" {
			t.Errorf("GET %s: %d %q, want 303 to the calls page", p, res.StatusCode, res.Header.Get("Location"))
		}
	}
	bearer := http.Header{"Authorization": {"Bearer tok"}}
	if res, body := f.get(t, "/dashboard/health?refresh=0", bearer); res.StatusCode != 200 || !strings.Contains(body, `data-check="ready"`) {
		t.Errorf("health: %d\n%s", res.StatusCode, body)
	}
	res, body := f.get(t, "/dashboard/recordings", bearer)
	if res.StatusCode != 200 {
		t.Fatalf("recordings: %d", res.StatusCode)
	}
	m := regexp.MustCompile(`<audio [^>]*src="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no player on the recordings page:\n%s", body)
	}
	src := html.UnescapeString(m[1])
	if !strings.HasPrefix(src, "/f/s1.wav?exp="+strconv.FormatInt(f.now.Unix()+3600, 10)+"&sig=") {
		t.Errorf("player source %q: want a relative /f link signed for an hour", src)
	}
	// The browser fetches it with its cookie only, no token: the signature admits it.
	res, data := f.get(t, src, nil)
	if res.StatusCode != 200 || data != string(f.data) {
		t.Errorf("GET %s: %d %q", src, res.StatusCode, data)
	}
}
