package adapter

import (
	"net/url"
	"regexp"
	"time"

	"github.com/pbxbridge/pbxbridge/translate"
)

// Tracer is told, step by step, what the engine does with each call: the documents it fetched
// and what it understood of them, each verb with its outcome, and each recording it stored.
// `pbxbridge call` prints it for an application's developer; the HTTP exchanges themselves
// (payloads and answers) come from the webhook client's trace. Trace is called from call
// goroutines and background recordings, concurrently; it must be quick and must not block.
// Deps.Trace nil traces nothing.
//
// Events never carry secrets in clear: URLs lose their userinfo and query, and document
// excerpts have their credentials replaced (RedactDocument).
type Tracer interface {
	Trace(ev TraceEvent)
}

// TraceKind says what a TraceEvent reports.
type TraceKind string

// The kinds of TraceEvent.
const (
	TraceCallStarted TraceKind = "call-started" // From, To
	TraceDocument    TraceKind = "document"     // Request, URL, Status, Bytes, Body, Verbs, Warnings, Err
	TraceVerbStarted TraceKind = "verb-started" // Verb, Pos, Index
	TraceVerbDone    TraceKind = "verb-done"    // Verb, Pos, Index, Outcome, Err
	TraceRecording   TraceKind = "recording"    // Outcome, RecordingID, RecordingURL, Duration, Digits, Err
	TraceCallEnded   TraceKind = "call-ended"   // Duration, Err (why the flow stopped, when it failed)
)

// TraceEvent is one step of a call. Only the fields its Kind lists are set.
type TraceEvent struct {
	Kind    TraceKind         `json:"kind"`
	Time    time.Time         `json:"time"`
	CallID  string            `json:"call_id"`
	App     string            `json:"app"`
	Dialect translate.Dialect `json:"dialect"`

	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`

	// Request is what asked for the document: answer, redirect, action, errorAction or
	// fallback.
	Request  string   `json:"request,omitempty"`
	URL      string   `json:"url,omitempty"`
	Status   int      `json:"status,omitempty"` // the HTTP status of the answer, 0 when none came
	Bytes    int      `json:"bytes,omitempty"`
	Body     string   `json:"body,omitempty"` // the first DocumentExcerpt bytes, redacted
	Verbs    []string `json:"verbs,omitempty"`
	Warnings []string `json:"warnings,omitempty"`

	Verb  string `json:"verb,omitempty"`
	Pos   string `json:"pos,omitempty"` // line:column in its document
	Index int    `json:"index,omitempty"`

	// Outcome of a verb (VerbOK, VerbError, VerbHangup) or a recording (RecordingStored,
	// RecordingEmpty, RecordingFailed).
	Outcome      string        `json:"outcome,omitempty"`
	RecordingID  string        `json:"recording_id,omitempty"`
	RecordingURL string        `json:"recording_url,omitempty"`
	Duration     time.Duration `json:"duration,omitempty"`
	Digits       string        `json:"digits,omitempty"`
	Err          string        `json:"error,omitempty"`
}

// DocumentExcerpt is how much of a document a TraceDocument event carries.
const DocumentExcerpt = 2048

// secretAttr matches XML attributes whose values are credentials: the external storage
// keys, secrets and tokens of Record (awsAccessKey, awsSecretKey, gcpClientSecret,
// gcpRefreshToken, azureAccountKey, azureSasToken, ...) and anything named like a password.
// finishOnKey is not a key of that kind.
var secretAttr = regexp.MustCompile(`(?i)(\b[a-z0-9_:-]*(?:secret|token|password|passwd|credential|sas|accesskey|accountkey|apikey|privatekey|signature)[a-z0-9_-]*\s*=\s*)("[^"]*"|'[^']*')`)

// userinfo matches the credentials of URLs written in a document (scheme://user:pass@host).
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s"'<>@]+@`)

// RedactDocument returns a document with the values of credential attributes and the userinfo
// of URLs replaced by [redacted], for traces and logs.
func RedactDocument(doc string) string {
	doc = secretAttr.ReplaceAllString(doc, `$1"[redacted]"`)
	return userinfo.ReplaceAllString(doc, `${1}[redacted]@`)
}

// trace sends ev, stamped with the call, to the engine's Tracer.
func (s *session) trace(ev TraceEvent) {
	if s.e.Trace == nil {
		return
	}
	ev.Time, ev.CallID, ev.App, ev.Dialect = s.e.Now(), s.id, s.app.Name, s.app.Dialect
	s.e.Trace.Trace(ev)
}

// excerpt is the start of a document body for a trace, redacted.
func excerpt(body []byte) string {
	if len(body) > DocumentExcerpt {
		body = body[:DocumentExcerpt]
	}
	return RedactDocument(string(body))
}

// traceRecording reports a Record's stored (or failed) recording.
func (s *session) traceRecording(st stored, err error) {
	if s.e.Trace == nil {
		return
	}
	ev := TraceEvent{Kind: TraceRecording, Outcome: storedOutcome(st)}
	if err != nil {
		ev.Outcome, ev.Err = RecordingFailed, err.Error()
	}
	ev.RecordingID, ev.RecordingURL, ev.Duration, ev.Digits = st.params.ID, st.params.URL, st.params.Duration, st.params.Digits
	s.trace(ev)
}

// traceVerb reports the end of verb i.
func (s *session) traceVerb(v translate.Verb, i int, err error) {
	ev := TraceEvent{Kind: TraceVerbDone, Verb: v.Element(), Pos: v.Position().String(), Index: i, Outcome: verbOutcome(err)}
	if err != nil {
		ev.Err = err.Error()
	}
	s.trace(ev)
}

// traceDocument reports a fetched document and what was made of it (err: why it is invalid).
func (s *session) traceDocument(kind string, u *url.URL, resp *Response, prog *translate.Program, warns []translate.Warning, err error) {
	if s.e.Trace == nil {
		return
	}
	ev := TraceEvent{Kind: TraceDocument, Request: kind, URL: redacted(u), Status: resp.Status,
		Bytes: len(resp.Body), Body: excerpt(resp.Body)}
	if prog != nil {
		for _, v := range prog.Verbs {
			ev.Verbs = append(ev.Verbs, v.Element())
		}
	}
	for _, w := range warns {
		ev.Warnings = append(ev.Warnings, RedactDocument(w.String()))
	}
	if err != nil {
		ev.Err = RedactDocument(err.Error())
	}
	s.trace(ev)
}
