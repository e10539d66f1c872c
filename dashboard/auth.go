package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Sessions. A browser signs in by posting the API token to the login form; the answer sets a
// cookie that says until when the session lasts, with a nonce and an HMAC of that time keyed by a key
// derived from the token. The token itself never travels again and is never stored in the
// browser; changing api_token (and restarting) ends every session. The cookie is HttpOnly
// and SameSite=Strict, and state-changing forms (Replay, sign out) carry a CSRF token, an
// HMAC of the session cookie, as a hidden field.
//
// Sessions are stateless: signing out clears the cookie in that browser; a copied cookie
// stays valid until it expires (sessionTTL) or the API token changes.
const (
	cookieName = "pbxbridge_dashboard"
	sessionTTL = 12 * time.Hour
	// maxForm bounds the body of the dashboard's forms.
	maxForm = 16 << 10
)

// sessionKey derives the MAC key of sessions and CSRF tokens from the API token, so that
// neither reveals the token and both change with it.
func sessionKey(token string) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("pbxbridge dashboard session key v1"))
	return m.Sum(nil)
}

func (db *Dashboard) mac(purpose, value string) string {
	m := hmac.New(sha256.New, db.key)
	m.Write([]byte(purpose + "\n" + value))
	return hex.EncodeToString(m.Sum(nil))
}

// newSession is a cookie value: "1.<expiry unix seconds>.<random nonce>.<hex HMAC>". The
// nonce gives each session its own CSRF token.
func (db *Dashboard) newSession() (string, time.Time) {
	exp := db.d.Now().Add(sessionTTL)
	var n [12]byte
	_, _ = rand.Read(n[:])
	v := strconv.FormatInt(exp.Unix(), 10) + "." + hex.EncodeToString(n[:])
	return "1." + v + "." + db.mac("session", v), exp
}

// sessionOK checks a cookie value's MAC and expiry.
func (db *Dashboard) sessionOK(v string) bool {
	parts := strings.Split(v, ".")
	if len(parts) != 4 || parts[0] != "1" {
		return false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !hmac.Equal([]byte(parts[3]), []byte(db.mac("session", parts[1]+"."+parts[2]))) {
		return false
	}
	return db.d.Now().Unix() < exp
}

// session returns the request's valid session cookie value, or "".
func (db *Dashboard) session(r *http.Request) string {
	c, err := r.Cookie(cookieName)
	if err != nil || !db.sessionOK(c.Value) {
		return ""
	}
	return c.Value
}

// bearerOK: the request carries the API token as the HTTP API takes it.
func (db *Dashboard) bearerOK(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	return strings.HasPrefix(h, "Bearer ") &&
		subtle.ConstantTimeCompare([]byte(strings.TrimPrefix(h, "Bearer ")), []byte(db.d.Token)) == 1
}

// csrfFor is the CSRF token of the request's session ("" without one).
func (db *Dashboard) csrfFor(r *http.Request) string {
	if db.key == nil {
		return ""
	}
	s := db.session(r)
	if s == "" {
		return ""
	}
	return db.mac("csrf", s)
}

// auth admits a request with a valid session cookie or the API token as a Bearer header. A
// browser without a session is sent to the login form (GET) or refused (POST); a POST with a
// session must carry the session's CSRF token. A Bearer request needs none: a browser cannot
// add that header to a cross-site request.
func (db *Dashboard) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if db.bearerOK(r) {
			next(w, r)
			return
		}
		s := db.session(r)
		if s == "" {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, Prefix+"/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			db.message(w, r, http.StatusUnauthorized, "Signed out", "Your session has ended: sign in again.")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			got := r.PostFormValue("csrf")
			if subtle.ConstantTimeCompare([]byte(got), []byte(db.mac("csrf", s))) != 1 {
				db.d.Log.Warn("dashboard: form refused: missing or wrong CSRF token", "path", r.URL.Path, "remote", r.RemoteAddr)
				db.message(w, r, http.StatusForbidden, "Refused",
					"The form did not carry this session's CSRF token: reload the page and try again.")
				return
			}
		}
		next(w, r)
	}
}

type loginData struct{ Next string }

func (db *Dashboard) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if db.session(r) != "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	db.render(w, r, http.StatusOK, "login", page{Title: "Sign in", Data: loginData{Next: next}})
}

// login checks the posted token and starts a session.
func (db *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	tok := r.PostFormValue("token")
	next := safeNext(r.PostFormValue("next"))
	if subtle.ConstantTimeCompare([]byte(tok), []byte(db.d.Token)) != 1 {
		db.d.Log.Warn("dashboard: sign-in refused: wrong token", "remote", r.RemoteAddr)
		db.render(w, r, http.StatusUnauthorized, "login", page{Title: "Sign in", Error: "Wrong token.",
			Data: loginData{Next: next}})
		return
	}
	v, exp := db.newSession()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: v, Path: Prefix, Expires: exp,
		MaxAge: int(sessionTTL / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r)})
	db.d.Log.Info("dashboard: signed in", "remote", r.RemoteAddr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (db *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r)})
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}

// secure: the browser reached us over TLS, directly or through a proxy that says so.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// safeNext keeps a post-login redirect on the dashboard: a path under Prefix, never another
// host ("//evil", "/\evil", "https://...").
func safeNext(n string) string {
	def := Prefix + "/calls"
	u, err := url.Parse(n)
	if n == "" || err != nil || u.Scheme != "" || u.Host != "" || u.User != nil ||
		!(u.Path == Prefix || strings.HasPrefix(u.Path, Prefix+"/")) || strings.ContainsAny(n, "\\\r\n") ||
		strings.HasPrefix(n, "//") {
		return def
	}
	if u.Path == Prefix+"/login" {
		return def
	}
	return n
}
