package integration

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/integration/apptest"
	"github.com/pbxbridge/pbxbridge/webhook"
)

// Secrets of the harness's apps: the flexml app signs with X-Pbxbridge-Signature, the plivo
// app with X-Plivo-Signature-V3 (its auth token).
const (
	itSecret     = "it-flexml-signing-secret"
	itPlivoToken = "it-plivo-auth-token"
)

// TestSignatures: every request of a recorded call — answer, action, callbackUrl, status —
// carries a signature the app's own verifier accepts, and a distinct event id.
func TestSignatures(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"flexml", "plivo"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c := newCall(t, dialect)
			c.doc = `<Response><Record action="` + c.url("after") + `" callbackUrl="` + c.url("recorded") + `" method="GET"/></Response>`
			env.app.Document(c.path("after"), hangupDoc)
			env.app.Status(c.path("recorded"), 200)
			c.local("s")
			c.wait(ctx, "after")
			c.wait(ctx, "recorded")
			st := c.waitStatus(ctx)
			var answer apptest.Request
			for _, r := range env.app.Requests() {
				if r.Path == "/answer/"+dialect && r.Get("From") == c.number {
					answer = r
				}
			}
			seen := map[string]bool{}
			for _, r := range append(c.requests(), answer, st) {
				id := r.Header.Get("X-Pbxbridge-Event-Id")
				if id == "" || seen[id] {
					t.Errorf("%s %s: event id %q missing or repeated", r.Method, r.Path, id)
				}
				seen[id] = true
				if r.Header.Get("X-Pbxbridge-Attempt") != "1" {
					t.Errorf("%s %s: attempt %q, want 1", r.Method, r.Path, r.Header.Get("X-Pbxbridge-Attempt"))
				}
				u, _ := url.Parse(env.app.URL + r.RequestURI)
				if dialect == "flexml" {
					if err := webhook.Verify([]string{itSecret}, r.Header.Get(webhook.HeaderSignature), r.Method, u, r.Body, time.Now()); err != nil {
						t.Errorf("%s %s: X-Pbxbridge-Signature: %v", r.Method, r.Path, err)
					}
					continue
				}
				var body url.Values
				if r.Method == "POST" {
					body, _ = url.ParseQuery(string(r.Body))
				}
				if err := webhook.VerifyPlivoV3(itPlivoToken, r.Method, u, body, r.Header.Get(webhook.HeaderPlivoNonce), r.Header.Get(webhook.HeaderPlivoSignature)); err != nil {
					t.Errorf("%s %s: X-Plivo-Signature-V3: %v", r.Method, r.Path, err)
				}
			}
			if len(seen) < 4 {
				t.Errorf("checked %d requests, want answer, action, callbackUrl and status", len(seen))
			}
		})
	}
}
