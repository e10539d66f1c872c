package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// This file renders the parameters of every request the bridge sends (callbacks.md §2 and §3)
// from dialect-neutral inputs. Everything a dialect says about payload shapes (field names,
// order, which fields are present, value spelling, JSON vs form, GET merging) lives here, so
// the HTTP client and the outbox only move bytes.

// CallStatus is the neutral state of a call, spelt per dialect by the renderers.
type CallStatus string

const (
	CallRinging    CallStatus = "ringing"     // not answered yet
	CallInProgress CallStatus = "in-progress" // answered and up
	CallCompleted  CallStatus = "completed"   // ended after being answered
	CallBusy       CallStatus = "busy"        // outbound: the far end was busy
	CallFailed     CallStatus = "failed"      // outbound: could not be placed
	CallNoAnswer   CallStatus = "no-answer"   // outbound: rang out
	CallTimeout    CallStatus = "timeout"     // outbound: no answer within the ring timeout
	CallCanceled   CallStatus = "canceled"    // the caller hung up before answer
)

// CallParams is what the bridge knows about a call when it sends a request.
type CallParams struct {
	CallID        string // CarrierX CallSid, Plivo CallUUID
	From          string // calling number as the bridge sees it; normalised when rendered
	To            string // called number as the bridge sees it; normalised when rendered
	OriginalFrom  string // calling number exactly as received; "" = From
	OriginalTo    string // called number exactly as received; "" = To
	CallerName    string // CNAM, "" if unknown
	ForwardedFrom string // number from the SIP Diversion header, "" if none; sent as received
	Direction     string // "inbound" or "outbound"
	Status        CallStatus
	// HangupCause is set once the call has ended (e.g. NORMAL_CLEARING). Plivo sends HangupCause,
	// Duration and BillDuration only when it is set ("after hangup").
	HangupCause     string
	Duration        time.Duration // call length, after hangup
	BillDuration    time.Duration // billed length, after hangup
	ALegUUID        string        // Plivo outbound only
	ALegRequestUUID string        // Plivo outbound only
	// DocumentURL is the final URL of the document that caused the request (CarrierX
	// RequestUrl). Userinfo and fragment are removed when rendered: credentials must not leak
	// to the application and fragments are retry configuration that is never sent.
	DocumentURL string
}

// RecordingParams is the outcome of one Record, as the callbacks report it.
type RecordingParams struct {
	ID     string          // RecordingSid / RecordingID (a UUID)
	URL    string          // where the file can be fetched (RecordingUrl / RecordUrl)
	Status RecordingStatus // completed, failed or absent
	// Duration is the length of the stored audio, from its sample count (record.md §4), never
	// from engine counters.
	Duration time.Duration
	Start    time.Time // capture start (Plivo RecordingStartMs); zero = unknown, sent as -1
	End      time.Time // capture end (Plivo RecordingEndMs); zero = unknown, sent as -1
	Digits   string    // finish key that ended the recording, "" if none
	// Pending marks Plivo's background-mode action request, sent when recording starts: the
	// four duration and time fields are -1 while ID and URL already hold their final values.
	Pending       bool
	Transcription TranscriptionParams
}

// TranscriptionStatus is the state of a transcript.
type TranscriptionStatus string

const (
	TranscriptionNone      TranscriptionStatus = ""          // not requested or not finished
	TranscriptionCompleted TranscriptionStatus = "completed" // Text holds the transcript
	TranscriptionFailed    TranscriptionStatus = "failed"    // no transcript; Failure says why
	TranscriptionTimeout   TranscriptionStatus = "timeout"   // the transcription timeout ran out
)

// TranscriptionFailure says why no transcript was made, for Plivo's error parameter.
type TranscriptionFailure string

const (
	TranscriptionBackendError TranscriptionFailure = ""          // backend error, none configured, or timeout
	TranscriptionTooShort     TranscriptionFailure = "too-short" // 500 ms or less (record.md §2.2)
	TranscriptionTooLong      TranscriptionFailure = "too-long"  // 4 hours or more
	TranscriptionTooLarge     TranscriptionFailure = "too-large" // file of 2 GB or more
)

// TranscriptionParams is the transcript of a recording.
type TranscriptionParams struct {
	ID      string // TranscriptionSid, "" if none
	Status  TranscriptionStatus
	Text    string // low-confidence words already replaced; sent only when Status is completed
	Failure TranscriptionFailure
}

// plivoTranscriptionError is the exact text of Plivo's error parameter (callbacks.md §3.5).
func plivoTranscriptionError(t TranscriptionParams) string {
	if t.Status == TranscriptionCompleted {
		return ""
	}
	switch t.Failure {
	case TranscriptionTooLong:
		return "Recording duration too long for transcription"
	case TranscriptionTooLarge:
		return "Recording file size too large for transcription"
	case TranscriptionTooShort:
		return "Recording duration too short for transcription" // our wording (Open)
	}
	return "Transcription failed" // Open: backend errors, and the 30 min timeout
}

// Field is one request parameter.
type Field struct {
	Key   string
	Value string // as sent in a form or a query; integers in decimal
	Int   bool   // an integer, sent as a JSON number in CarrierX bodies
}

// Params is the parameter set of one request in one dialect's shape, in the order
// callbacks.md documents. It is immutable and may be shared between goroutines.
type Params struct {
	dialect Dialect
	fields  []Field
}

// Dialect is the dialect whose shape the parameters have.
func (p Params) Dialect() Dialect { return p.dialect }

// Fields returns a copy of the fields, in order.
func (p Params) Fields() []Field { return append([]Field(nil), p.fields...) }

// Get returns the value of the first field named key.
func (p Params) Get(key string) (string, bool) {
	for _, f := range p.fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// JSON is the CarrierX POST body: one object, keys in documented order, integer fields as
// numbers and every other value as a string (empty values as "", never left out).
func (p Params) JSON() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // URLs keep their '&' readable; the JSON is equally valid
	str := func(s string) {
		_ = enc.Encode(s) // encoding a string cannot fail
		b.Truncate(b.Len() - 1)
	}
	b.WriteByte('{')
	for i, f := range p.fields {
		if i > 0 {
			b.WriteByte(',')
		}
		str(f.Key)
		b.WriteByte(':')
		if f.Int {
			b.WriteString(f.Value)
		} else {
			str(f.Value)
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}

// Encode is the form encoding (application/x-www-form-urlencoded) in documented order;
// url.Values.Encode would sort the keys.
func (p Params) Encode() string {
	var b strings.Builder
	for i, f := range p.fields {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(f.Key))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(f.Value))
	}
	return b.String()
}

// Form returns the fields as url.Values, every value a string: the shape request signing
// (Plivo V3) works on.
func (p Params) Form() url.Values {
	v := make(url.Values, len(p.fields))
	for _, f := range p.fields {
		v.Add(f.Key, f.Value)
	}
	return v
}

// Body is the POST body and its Content-Type in the dialect's encoding (callbacks.md §1.3).
func (p Params) Body() (contentType string, body []byte) {
	if p.dialect == FlexML {
		return "application/json; charset=utf-8", p.JSON()
	}
	return "application/x-www-form-urlencoded", []byte(p.Encode())
}

// AppendQuery returns a copy of u with the fields appended to its query, for GET requests.
// The URL's own query is kept byte for byte. CarrierX appends every field. Plivo skips a field
// whose key the URL's query already has, so the URL's value wins, which is how Plivo's V3
// signature merges them (callbacks.md §3.8).
func (p Params) AppendQuery(u *url.URL) *url.URL {
	out := *u // url.Userinfo is immutable, so sharing it is safe
	var own url.Values
	if p.dialect == Plivo {
		// A malformed pair (e.g. with ';') is dropped by ParseQuery; the rest still counts.
		own, _ = url.ParseQuery(u.RawQuery)
	}
	var b strings.Builder
	b.WriteString(u.RawQuery)
	for _, f := range p.fields {
		if _, clash := own[f.Key]; clash {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(f.Key))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(f.Value))
	}
	out.RawQuery = b.String()
	return &out
}

// WholeSeconds is a length in whole seconds for callbacks (record.md §4, Open): the nearest
// second, halves rounded up, and at least 1 for any non-empty length so that a short recording
// is never reported as empty. Plivo's call Duration and BillDuration use the same rule, so one
// call never reports two roundings.
func WholeSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64((d + time.Second/2) / time.Second)
	return max(s, 1)
}

// millis is d in whole milliseconds, rounded to nearest (sample counts give sub-ms lengths).
func millis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond/2) / time.Millisecond)
}

// epochMillis is Plivo's Unix epoch in ms; an unknown time is -1, Plivo's own "no value".
func epochMillis(t time.Time) int64 {
	if t.IsZero() {
		return -1
	}
	return t.UnixMilli()
}

// normalizeNumber is the From/To form both dialects use (callbacks.md §2.1, §3.1, Open):
// digits without '+'. Visual separators are dropped too. Anything that is not a phone number
// once they are gone ("anonymous", a SIP user name) is returned as received, because stripping
// its letters would invent a different number.
func normalizeNumber(s string) string {
	digits := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == '+' && i == 0, c == ' ', c == '-', c == '.', c == '(', c == ')':
		default:
			return s
		}
	}
	if len(digits) == 0 {
		return s
	}
	return string(digits)
}

// requestURL is the document URL without userinfo and fragment. A URL that does not parse is
// dropped rather than risk sending credentials.
func requestURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// callStatus spells the neutral status in the dialect.
func callStatus(d Dialect, s CallStatus) string {
	if d == FlexML {
		// Documented CarrierX values are busy, cancel, completed, failed, noanswer; Open:
		// in-progress while the call is up (a ringing call being handled is up, for the app).
		switch s {
		case CallRinging:
			return string(CallInProgress)
		case CallNoAnswer, CallTimeout:
			return "noanswer"
		case CallCanceled:
			return "cancel"
		}
		return string(s)
	}
	// Plivo documents ringing, in-progress, completed, and busy, failed, timeout, no-answer
	// for outbound calls. It has no cancel status: the call has ended, HangupCause says how.
	if s == CallCanceled {
		return string(CallCompleted)
	}
	return string(s)
}

// builder accumulates fields.
type builder struct{ Params }

func newBuilder(d Dialect, n int) *builder {
	return &builder{Params{dialect: d, fields: make([]Field, 0, n)}}
}

func (b *builder) str(k, v string) { b.fields = append(b.fields, Field{Key: k, Value: v}) }

func (b *builder) int(k string, v int64) {
	b.fields = append(b.fields, Field{Key: k, Value: strconv.FormatInt(v, 10), Int: true})
}

func checkDialect(d Dialect) error {
	if d != FlexML && d != Plivo {
		return fmt.Errorf("render params: %w %q", ErrDialect, string(d))
	}
	return nil
}

// orDefault returns v, or def when v is empty.
func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// carrierxCall adds the §2.1 call-flow fields, in table order.
func (b *builder) carrierxCall(c CallParams) {
	b.str("AccountSid", "")
	b.str("ApiVersion", "2.0")
	b.str("CallerName", c.CallerName)
	b.str("CallSid", c.CallID)
	b.str("CallStatus", callStatus(FlexML, c.Status))
	b.str("Direction", c.Direction)
	b.str("ForwardedFrom", c.ForwardedFrom)
	b.str("From", normalizeNumber(c.From))
	b.str("OriginalFrom", orDefault(c.OriginalFrom, c.From))
	b.str("OriginalTo", orDefault(c.OriginalTo, c.To))
	b.str("RequestUrl", requestURL(c.DocumentURL))
	b.str("To", normalizeNumber(c.To))
}

// carrierxRecording adds the §2.3 fields, in table order.
func (b *builder) carrierxRecording(r RecordingParams, status RecordingStatus, ts TranscriptionStatus) {
	b.int("RecordingDuration", WholeSeconds(r.Duration))
	b.str("RecordingSid", r.ID)
	b.str("RecordingStatus", string(status))
	b.str("RecordingUrl", r.URL)
	b.str("TranscriptionSid", r.Transcription.ID)
	b.str("TranscriptionStatus", string(ts))
	b.str("TranscriptionText", r.Transcription.Text)
	b.str("TranscriptionUrl", "") // a vendor placeholder, always empty
	b.str("Digits", r.Digits)
}

// carrierxStored is the §2.5 payload: the vendor sample's field set in the sample's order,
// then (Open) the remaining §2.1 fields and Digits.
func carrierxStored(c CallParams, r RecordingParams) Params {
	b := newBuilder(FlexML, 21)
	b.str("AccountSid", "")
	b.str("ApiVersion", "2.0")
	b.str("CallSid", c.CallID)
	b.str("CallStatus", callStatus(FlexML, c.Status))
	b.str("Direction", c.Direction)
	b.str("From", normalizeNumber(c.From))
	b.str("OriginalFrom", orDefault(c.OriginalFrom, c.From))
	b.str("OriginalTo", orDefault(c.OriginalTo, c.To))
	b.int("RecordingDuration", WholeSeconds(r.Duration))
	b.str("RecordingSid", r.ID)
	b.str("RecordingStatus", string(r.Status))
	b.str("RecordingUrl", r.URL)
	b.str("To", normalizeNumber(c.To))
	b.str("TranscriptionSid", r.Transcription.ID)
	b.str("TranscriptionStatus", string(r.Transcription.Status))
	b.str("TranscriptionText", r.Transcription.Text)
	b.str("TranscriptionUrl", "")
	b.str("CallerName", c.CallerName)
	b.str("ForwardedFrom", c.ForwardedFrom)
	b.str("RequestUrl", requestURL(c.DocumentURL))
	b.str("Digits", r.Digits)
	return b.Params
}

// plivoCall adds the §3.1 call parameters, in table order, each only when it is present.
func (b *builder) plivoCall(c CallParams) {
	b.str("CallUUID", c.CallID)
	b.str("From", normalizeNumber(c.From))
	b.str("To", normalizeNumber(c.To))
	if c.ForwardedFrom != "" {
		b.str("ForwardedFrom", c.ForwardedFrom)
	}
	b.str("CallStatus", callStatus(Plivo, c.Status))
	b.str("Direction", c.Direction)
	if c.Direction == "outbound" {
		b.str("ALegUUID", c.ALegUUID)
		b.str("ALegRequestUUID", c.ALegRequestUUID)
	}
	if c.HangupCause != "" {
		b.str("HangupCause", c.HangupCause)
		b.int("Duration", WholeSeconds(c.Duration))
		b.int("BillDuration", WholeSeconds(c.BillDuration))
	}
}

// plivoRecording adds the §3.3/§3.4 recording params. Digits is an action-only param.
func (b *builder) plivoRecording(r RecordingParams, digits, pending bool) {
	b.str("RecordUrl", r.URL)
	if digits {
		b.str("Digits", r.Digits) // Open: always sent, "" when no key was pressed
	}
	if pending {
		for _, k := range [...]string{"RecordingDuration", "RecordingDurationMs", "RecordingStartMs", "RecordingEndMs"} {
			b.int(k, -1)
		}
	} else {
		// Seconds come from the ms value sent alongside, so that the two never disagree
		// (1499.6 ms is sent as 1500 ms and 2 s, not 1 s).
		ms := millis(r.Duration)
		b.int("RecordingDuration", WholeSeconds(time.Duration(ms)*time.Millisecond))
		b.int("RecordingDurationMs", ms)
		b.int("RecordingStartMs", epochMillis(r.Start))
		b.int("RecordingEndMs", epochMillis(r.End))
	}
	b.str("RecordingID", r.ID)
}

// DocumentParams is the document fetch (CarrierX §2.2, Plivo §3.2): the call fields only.
func DocumentParams(d Dialect, c CallParams) (Params, error) {
	if err := checkDialect(d); err != nil {
		return Params{}, err
	}
	b := newBuilder(d, 12)
	if d == FlexML {
		b.carrierxCall(c)
	} else {
		b.plivoCall(c)
	}
	return b.Params, nil
}

// ActionParams is the Record action request (CarrierX §2.3, Plivo §3.3), executed or notify.
//
// CarrierX sends it only for a stored, non-empty recording, so RecordingStatus is always
// completed, and TranscriptionStatus is always "" (the transcript is never ready yet, Open);
// r.Status and r.Transcription.Status are not read. Plivo sends -1 for the four duration and
// time fields when r.Pending (background modes, at start).
func ActionParams(d Dialect, c CallParams, r RecordingParams) (Params, error) {
	if err := checkDialect(d); err != nil {
		return Params{}, err
	}
	b := newBuilder(d, 21)
	if d == FlexML {
		b.carrierxCall(c)
		b.carrierxRecording(r, StatusCompleted, TranscriptionNone)
	} else {
		b.plivoCall(c)
		b.plivoRecording(r, true, r.Pending)
	}
	return b.Params, nil
}

// ErrorActionParams is CarrierX's errorAction request (§2.4, Open): the §2.1 and §2.3 fields
// with RecordingStatus failed, RecordingDuration 0 and every other recording and transcription
// field "" (Digits included: a failed recording reports no finish key).
func ErrorActionParams(c CallParams) Params {
	b := newBuilder(FlexML, 21)
	b.carrierxCall(c)
	b.carrierxRecording(RecordingParams{}, StatusFailed, TranscriptionNone)
	return b.Params
}

// FileCallbackParams is the callbackUrl notification (CarrierX §2.5, Plivo §3.4), sent once
// the file is stored. CarrierX: RecordingStatus is completed (only stored recordings get it)
// and the transcription fields are sent as they stand (the callback is held back for the
// transcript, Open). Plivo: real values in every mode (r.Pending is not read) and no Digits.
func FileCallbackParams(d Dialect, c CallParams, r RecordingParams) (Params, error) {
	if err := checkDialect(d); err != nil {
		return Params{}, err
	}
	if d == FlexML {
		r.Status = StatusCompleted
		return carrierxStored(c, r), nil
	}
	b := newBuilder(Plivo, 17)
	b.plivoCall(c)
	b.plivoRecording(r, false, false)
	return b.Params, nil
}

// StatusCallbackParams is CarrierX's recordingStatusCallback (§2.6, Open): the §2.5 fields with
// RecordingStatus = r.Status. For failed and absent, RecordingSid, RecordingUrl and the
// transcription fields are "" and RecordingDuration is 0. Digits is sent as given (a key can
// end an empty recording). The callback does not wait for transcription, so for completed
// the transcription fields are whatever r holds.
func StatusCallbackParams(c CallParams, r RecordingParams) Params {
	if r.Status == StatusFailed || r.Status == StatusAbsent {
		r = RecordingParams{Status: r.Status, Digits: r.Digits}
	}
	return carrierxStored(c, r)
}

// TranscriptionCallbackParams is the transcript notification: CarrierX transcribeCallback
// (§2.7) or Plivo transcriptionUrl (§3.5).
//
// CarrierX sends the §2.5 fields with TranscriptionStatus from r.Transcription and
// TranscriptionText only when it is completed. Plivo sends only its own seven params: of c,
// only CallID is read.
func TranscriptionCallbackParams(d Dialect, c CallParams, r RecordingParams) (Params, error) {
	if err := checkDialect(d); err != nil {
		return Params{}, err
	}
	t := r.Transcription
	if t.Status != TranscriptionCompleted {
		t.Text = ""
	}
	if d == FlexML {
		r.Status = StatusCompleted // transcription runs only for completed recordings
		r.Transcription = t
		return carrierxStored(c, r), nil
	}
	b := newBuilder(Plivo, 7)
	b.str("transcription_charge", "0") // Open: the bridge does no billing
	b.str("transcription", t.Text)
	b.int("duration", WholeSeconds(r.Duration))
	b.str("call_uuid", c.CallID)
	b.str("transcription_rate", "0") // Open
	b.str("recording_id", r.ID)
	b.str("error", plivoTranscriptionError(t))
	return b.Params, nil
}

// InputParams is what a Gather collected, as its action request reports it.
type InputParams struct {
	// Digits are the keys pressed, finish key excluded; "" when the action is requested with no
	// input (CarrierX actionOnEmptyResult).
	Digits string
	// InputType is set for Plivo <GetInput> only, which reports the kind of input it got
	// (InputDTMF); "" for FlexML <Gather> and Plivo <GetDigits>, which send no such field.
	InputType InputType
}

// GatherActionParams is the action request of a Gather (FlexML <Gather>, Plivo <GetDigits>
// and <GetInput> with keys): the call fields, then the input.
//
// CarrierX: the §2.1 call-flow fields and Digits, which is all a FlexML application reads
// from a Gather (the vendor's Gather page names only Digits). Plivo GetDigits: the §3.1 call
// parameters and Digits (Plivo's framework sends {'Digits': digits} on top of the call
// parameters). Plivo GetInput: InputType (dtmf) before Digits, as its "parameters sent to the
// action URL" table lists them; Open: the speech fields (Speech, SpeechConfidenceScore, ...)
// are not sent for key input.
func GatherActionParams(d Dialect, c CallParams, in InputParams) (Params, error) {
	if err := checkDialect(d); err != nil {
		return Params{}, err
	}
	b := newBuilder(d, 14)
	if d == FlexML {
		b.carrierxCall(c)
		b.str("Digits", in.Digits)
		return b.Params, nil
	}
	b.plivoCall(c)
	if in.InputType != "" {
		b.str("InputType", string(in.InputType))
	}
	b.str("Digits", in.Digits)
	return b.Params, nil
}
