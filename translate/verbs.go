package translate

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// This file holds the dialect-neutral verbs other than Record, and the parsing logic that both
// dialects share. verbs_flexml.go and verbs_plivo.go read each dialect's attribute names,
// defaults and rules into these types; the engine executes only these types and never looks at
// the dialect's spelling again. A field that only one dialect can set says so; the other dialect
// leaves it at the value that means "not used" (documented on the field).
//
// Vendor sources (read for this file; facts that the vendors leave open are marked "Choice:"):
//   - CarrierX FlexML: https://docs.carrierx.com/flexml/flexml-api/flexml-syntax/{dial,gather,
//     pause,play,reject,say} and .../call-flow/responses
//   - Plivo XML: https://www.plivo.com/docs/voice/xml/{dial,dial/user,getdigits,getinput,hangup,
//     redirect,wait}/, https://plivo.com/docs/voice/xml/{audio-output,input,routing}, and the
//     element classes of the plivo-python SDK (plivo/xml/*Element.py), which list the valid
//     nestings; Plivo's open-source framework (plivo/rest/freeswitch/elements.py) where the
//     hosted docs are silent.

// Limits that keep values within what a call can use. The vendors give lower bounds only; a
// value beyond these is a typo far more often than an intent.
const (
	maxCallSeconds   = 86400 // one day: Plivo disconnects any call after 24 hours
	maxLoops         = 10000 // Plivo's open-source framework plays at most this many loops
	maxDigitsAllowed = 1024  // far more than any keypad entry
	maxSilenceMillis = 3600 * 1000
	ruleWholeSeconds = "must be a whole number of seconds, at least 1"
	ruleMillis       = "must be a whole number of milliseconds, at least 1"
	anySeconds       = 1<<63 - 1 // no upper bound: SecondsSet caps it to the largest Duration
)

// Play plays an audio file to the caller (FlexML and Plivo <Play>).
type Play struct {
	VerbBase
	// URL is the audio file, resolved against the document URL. It is a media URL: its fragment
	// belongs to the address and is not a retry policy (callbacks.md §3.6).
	URL *url.URL
	// Loop is how many times the file plays; 0 repeats it until the call ends or the verb is cut
	// short (a key pressed in a Gather, hangup).
	Loop int

	// CarrierX only; Plivo leaves them zero.
	Background  bool          // the file plays on while the next verbs run
	Action      *Target       // requested when the file ends; the FlexML it returns replaces the rest
	ErrorAction *Target       // requested, and its FlexML run, when the file cannot be played
	Controls    *PlayControls // nil = the caller cannot move within the file
}

// PlayControls lets the caller skip through a file with keys (CarrierX forwardOnKey,
// rewindOnKey, controlSkip).
type PlayControls struct {
	ForwardKeys KeySet        // keys that skip forward by Skip
	RewindKeys  KeySet        // keys that skip back by Skip
	Skip        time.Duration // how far one key press moves
}

// Say speaks text with text-to-speech (FlexML <Say>, Plivo <Speak>).
type Say struct {
	VerbBase
	Text string
	// Voice is "man", "woman" (both dialects' generic voices, spelt in lower case whatever the
	// dialect wrote) or an Amazon Polly voice as written ("Polly.Joanna", "Polly.Joanna-Neural").
	Voice string
	// Language is a BCP 47 tag ("en-US"); "" lets the voice choose (CarrierX documents no
	// language attribute, so FlexML documents usually leave it empty).
	Language string
	Loop     int           // times the text is spoken; 0 = until the call ends
	Gap      time.Duration // CarrierX loopPause: silence between repetitions; Plivo: 0
}

// Pause waits (FlexML <Pause>, Plivo <Wait>), possibly ending early on what it hears.
type Pause struct {
	VerbBase
	Length time.Duration
	// Silence ends the pause once MinSilence of continuous silence is heard (answering-machine
	// detection: the greeting has ended).
	Silence    bool
	MinSilence time.Duration // only meaningful when Silence is set
	// Noise (CarrierX only) ends the pause once MinNoise of continuous sound is heard.
	Noise    bool
	MinNoise time.Duration // only meaningful when Noise is set
	// Beep (Plivo only) ends the pause at an answering machine's beep. Plivo uses it only when
	// Silence is off; the parser clears it otherwise.
	Beep bool
}

// RejectReason is why a call is refused. Its SIP status is what the caller's carrier sees.
type RejectReason string

// CarrierX <Reject reason> values; Plivo <Hangup reason> uses RejectRejected and RejectBusy.
const (
	RejectRedirect             RejectReason = "redirect"
	RejectForbidden            RejectReason = "forbidden"
	RejectRejected             RejectReason = "rejected"
	RejectNotFound             RejectReason = "not-found"
	RejectBusyHere             RejectReason = "busy-here"
	RejectBadGateway           RejectReason = "bad-gateway"
	RejectUnavailable          RejectReason = "unavailable"
	RejectBusy                 RejectReason = "busy"
	RejectDecline              RejectReason = "decline"
	RejectDoesNotExist         RejectReason = "does-not-exist"
	RejectUnwanted             RejectReason = "unwanted"
	RejectIntermediaryRejected RejectReason = "intermediary-rejected"
)

// SIPStatus is the SIP final response for the reason (CarrierX's reject table; 607 and 608 are
// RFC 8197 and RFC 8688). Plivo's "busy" means the caller hears a busy signal, which is 486 on
// SIP; CarrierX's "busy" is 600 Busy Everywhere. The engine picks by dialect.
func (r RejectReason) SIPStatus(d Dialect) int {
	switch r {
	case RejectRedirect:
		return 302
	case RejectForbidden, RejectRejected:
		return 403
	case RejectNotFound:
		return 404
	case RejectBusyHere:
		return 486
	case RejectBadGateway:
		return 502
	case RejectUnavailable:
		return 503
	case RejectBusy:
		if d == Plivo {
			return 486
		}
		return 600
	case RejectDecline:
		return 603
	case RejectDoesNotExist:
		return 604
	case RejectUnwanted:
		return 607
	case RejectIntermediaryRejected:
		return 608
	}
	return 0
}

// flexmlRejectReasons is every CarrierX reason, in the vendor's order.
func flexmlRejectReasons() []string {
	return []string{"redirect", "forbidden", "rejected", "not-found", "busy-here", "bad-gateway",
		"unavailable", "busy", "decline", "does-not-exist", "unwanted", "intermediary-rejected"}
}

// Hangup ends the call (FlexML and Plivo <Hangup>).
type Hangup struct {
	VerbBase
	// Reason (Plivo only) is "", RejectRejected or RejectBusy. With "" Plivo rejects a call that
	// is not answered yet when Hangup is the first element, and clears normally otherwise; the
	// engine applies that rule, since only it knows whether the call was answered.
	Reason RejectReason
	// Schedule (Plivo only), when not 0, hangs up that long from now while the next verbs run.
	Schedule time.Duration
}

// Reject refuses a call without answering it (FlexML <Reject>).
type Reject struct {
	VerbBase
	Reason RejectReason
}

// Redirect fetches another document and runs it instead of the rest of this one.
type Redirect struct {
	VerbBase
	Target
}

// PreAnswer runs its verbs on early media, before the call is answered.
type PreAnswer struct {
	VerbBase
	Verbs []Verb
}

// DTMF sends keypad tones on the call (Plivo <DTMF>; also CarrierX <Play digits="...">).
type DTMF struct {
	VerbBase
	// Digits are 0-9, *, # and the pauses w (0.5 s) and W (1 s).
	Digits string
	// Async (Plivo, default true) moves on to the next verb as soon as the first tone is sent.
	Async bool
}

// TargetKind says what a Dial target names.
type TargetKind string

const (
	TargetNumber TargetKind = "number" // a telephone number, sent to the PSTN trunk
	TargetSIP    TargetKind = "sip"    // a SIP URI (FlexML <Sip>, or a sip: URI as a number)
	TargetUser   TargetKind = "user"   // a SIP endpoint registered with the bridge (Plivo <User>)
)

// DialTarget is one party a Dial rings. All targets ring at once; the first to answer wins.
type DialTarget struct {
	Kind TargetKind
	// Address is the number (digits with an optional leading +, visual separators removed) or
	// the SIP URI as written.
	Address string
	// SendDigits are tones sent to the called party once it answers (or, with SendOnPreanswer,
	// once it sends early media): 0-9, *, #, w and W.
	SendDigits      string
	SendOnPreanswer bool        // Plivo only
	SIPHeaders      []SIPHeader // Plivo <User> only, added to the Dial's own headers
}

// SIPHeader is one custom header sent on the outgoing INVITE. Plivo prefixes every name with
// "X-PH-"; the engine adds the prefix, Name holds the name as written.
type SIPHeader struct {
	Name  string
	Value string
}

// DialConfirm asks the called party to press a key before the call is bridged.
type DialConfirm struct {
	Key KeySet // exactly one key
	// Audio (CarrierX confirmSound) is played to the called party: a media URL.
	Audio *url.URL
	// Document (Plivo confirmSound) is a document of <Play>, <Speak> and <Wait> whose sound is
	// played to the called party.
	Document *Target
	// Timeout is how long the called party has to press the key, counted from answer.
	Timeout time.Duration
}

// Dial connects the caller to other parties (FlexML and Plivo <Dial>).
type Dial struct {
	VerbBase
	Targets []DialTarget
	// Action is requested when the dialled call ends. Unless ActionNotify is set, the document
	// it returns replaces the rest of this one.
	Action *Target
	// ActionNotify (Plivo redirect="false") sends Action through the outbox, ignores its answer
	// and goes on with the next verb.
	ActionNotify bool
	CallerID     string        // "" = the caller's own number
	CallerName   string        // "" = the caller's own name
	Timeout      time.Duration // how long the targets ring
	TimeLimit    time.Duration // longest bridged call
	HangupOnStar bool          // the caller may press * to leave the called party
	Confirm      *DialConfirm  // nil = bridge as soon as a target answers

	// Plivo only.
	RingbackDocument *Target     // dialMusic URL: a document of <Play>, <Speak>, <Wait> played while ringing
	RealRingback     bool        // dialMusic="real": relay the called party's own ringback
	Callback         *Target     // callbackUrl: notified of dial events and DigitsMatch hits
	DigitsMatch      []string    // key sequences from the caller reported to Callback
	DigitsMatchBLeg  []string    // key sequences from the called party reported to Callback
	SIPHeaders       []SIPHeader // sent to every target
}

// InputType is what a Gather listens for.
type InputType string

const (
	InputDTMF          InputType = "dtmf"
	InputSpeech        InputType = "speech"
	InputDTMFAndSpeech InputType = "dtmf speech" // the first input detected wins
)

// Gather collects keys (or speech) while its prompts play (FlexML <Gather>, Plivo <GetDigits>
// and <GetInput>).
type Gather struct {
	VerbBase
	Input   InputType
	Prompts []Verb // played in order; input may start while they play
	// Action receives the input. Unless ActionNotify is set, the document it returns replaces
	// the rest of this one. With no input, the next verb runs (unless ActionOnEmpty).
	Action        *Target
	ActionNotify  bool // Plivo redirect="false": notify and go on with the next verb
	ActionOnEmpty bool // CarrierX actionOnEmptyResult: request Action even with no input
	NumDigits     int  // input ends after this many keys; 0 = no limit
	FinishKeys    KeySet
	// Timeout is how long to wait for the first input once the prompts have played.
	Timeout time.Duration
	// DigitTimeout is how long to wait between keys; 0 = "auto" (Plivo GetInput: the bridge
	// chooses, and ends input sooner after a plausible entry).
	DigitTimeout time.Duration
	// Attempts is how many times the prompts play and input is awaited before giving up with no
	// input (Plivo GetDigits retries; 1 elsewhere).
	Attempts int
	// ValidDigits are the keys accepted; another key plays InvalidDigitsSound. Choice: the
	// FinishKeys always end the input, whatever ValidDigits says (Plivo's examples pair
	// validDigits of digits only with finishOnKey="#").
	ValidDigits        KeySet
	InvalidDigitsSound *url.URL // Plivo GetDigits: media played on a key outside ValidDigits
	PlayBeep           bool     // beep once the prompts have played
	Log                bool     // the input may be logged (Plivo log="false" for PINs)
	// Speech is how speech is recognised; nil unless Input includes speech.
	Speech *SpeechInput
}

// SpeechInput is the speech recognition of a Gather (Plivo GetInput).
type SpeechInput struct {
	Model    string   // "default", "command_and_search" or "phone_call"
	Hints    []string // phrases likely to be said
	Language string   // BCP 47 tag of the expected speech
	// EndTimeout is the silence that ends speech input; 0 = "auto" (the bridge decides).
	EndTimeout      time.Duration
	InterimResults  *Target // notified with partial transcripts
	ProfanityFilter bool
}

// ---- shared parsing helpers ----

// textValue returns the trimmed text of an element whose text is its value (Play URL, Say text,
// Redirect URL, Number digits, SIP URI, DTMF digits). what names the value for messages. Missing
// text is an ErrMissing error and returns ok false, except when the element has children: the
// caller reported those, and "needs text" next to "no elements here" would say it twice.
//
// Text values stay errors in lenient mode: unlike an attribute they have no default to fall
// back on.
func (p *parser) textValue(n *node, canonical, what string) (string, bool) {
	t := strings.TrimSpace(n.text)
	if t == "" {
		if len(n.children) == 0 {
			p.errorf(n, ErrMissing, "needs %s as its text", what)
		}
		return "", false
	}
	return t, true
}

// refuseChildren reports every child element of an element that holds only text.
func (p *parser) refuseChildren(n *node, canonical, what string) {
	for _, c := range n.children {
		p.errorf(c, ErrNesting, "may not appear in <%s>, which holds only text (%s)", canonical, what)
	}
}

// textInvalid reports an element's text that breaks its rule, positioned at the text.
func (p *parser) textInvalid(n *node, value, rule string) {
	p.errs = append(p.errs, &Error{Pos: p.s.pos(textPos(n)), Kind: ErrInvalidValue, Element: n.name, Value: value, Rule: rule})
}

// warnText records a warning about an element's text, positioned at the text.
func (p *parser) warnText(n *node, format string, args ...any) {
	p.warns = append(p.warns, Warning{Pos: p.s.pos(textPos(n)), Element: n.name, Msg: fmt.Sprintf(format, args...)})
}

func textPos(n *node) int {
	if n.textOff >= 0 {
		return n.textOff
	}
	return n.off
}

// textURL resolves a URL held as an element's text (callbacks.md §1.2). Callback URLs (Redirect)
// lose their retry fragment into the policy; media URLs (Play) keep it.
func (p *parser) textURL(n *node, raw string, kind urlKind) (*url.URL, RetryPolicy, bool) {
	u, pol, problem, warns := p.resolveURL(raw, kind)
	for _, w := range warns {
		p.warnText(n, "%s", w)
	}
	if problem != "" {
		p.textInvalid(n, raw, problem)
		return nil, pol, false
	}
	return u, pol, true
}

// redirectVerb reads FlexML and Plivo <Redirect>, which are spelt the same: the URL as text and
// method (default POST). The URL is fetched as a document, so it may carry a retry fragment.
func redirectVerb(p *parser, n *node, name string) Verb {
	p.refuseChildren(n, name, "the URL of the next document")
	a := p.attrs(n)
	m := a.Method("method", POST)
	a.done()
	raw, ok := p.textValue(n, name, "the URL of the next document")
	if !ok {
		return nil
	}
	u, pol, ok := p.textURL(n, raw, urlCallback)
	if !ok {
		return nil
	}
	return &Redirect{VerbBase: VerbBase{Pos: p.s.pos(n.off), Name: name}, Target: Target{URL: u, Method: m, Retry: pol}}
}

// preAnswerVerb reads <PreAnswer>, the same in both dialects: no attributes, verbs inside.
func preAnswerVerb(p *parser, n *node, name string) Verb {
	p.checkNoText(n, name)
	p.attrs(n).done()
	pa := &PreAnswer{VerbBase: VerbBase{Pos: p.s.pos(n.off), Name: name}, Verbs: p.verbs(n, ctxPreAnswer)}
	if len(n.children) == 0 {
		p.warnf(n, "", "holds no verbs and does nothing")
	}
	return pa
}

// playText reads the audio URL of a <Play>.
func playText(p *parser, n *node, name string, pl *Play) bool {
	raw, ok := p.textValue(n, name, "the URL of an audio file")
	if !ok {
		return false
	}
	u, _, ok := p.textURL(n, raw, urlMedia)
	pl.URL = u
	return ok
}

// sayText reads the text of a <Say>/<Speak>. SSML markup is refused: the scanner keeps an
// element's text and its children apart, so markup could not be handed on in order, and
// dropping it would silently change what is said.
func sayText(p *parser, n *node, name string) (string, bool) {
	for _, c := range n.children {
		p.errorf(c, ErrNesting, "may not appear in <%s>: SSML markup is not supported, only plain text", name)
	}
	return p.textValue(n, name, "something to say")
}

// loopCount reads a loop attribute: 0 = until the call ends, up to hi.
func loopCount(a *attrReader, name string, hi int64) int {
	if !a.present(name) {
		return 1 // the rule text below is only built when there is a value to check
	}
	return int(a.Int(name, 1, 0, hi, fmt.Sprintf("must be a whole number from 0 (repeat until the call ends) to %d", hi)))
}

// voice reads a TTS voice: man or woman in any case, or an Amazon Polly voice written
// "Polly.Name" (optionally "-Neural"), kept as written. generic is how the dialect spells its
// two generic voices, for the message ("man, woman" or "WOMAN, MAN").
func voice(a *attrReader, name, def, generic string) string {
	at := a.lookup(name)
	if at == nil {
		return def
	}
	v := strings.TrimSpace(at.value)
	switch strings.ToLower(v) {
	case "man", "woman":
		return strings.ToLower(v)
	}
	if len(v) > len("Polly.") && strings.EqualFold(v[:len("Polly.")], "Polly.") && isWord(v[len("Polly."):]) {
		return "Polly." + v[len("Polly."):]
	}
	a.invalid(at, "must be "+generic+", or an Amazon Polly voice such as Polly.Joanna")
	return def
}

func isWord(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}

// language reads a BCP 47 language tag such as en-US. Choice: only the shape is checked
// (letters, then hyphen-separated letters or digits); which languages a voice or recogniser
// speaks is the engine's business.
func language(a *attrReader, name, def string) string {
	at := a.lookup(name)
	if at == nil {
		return def
	}
	v := strings.TrimSpace(at.value)
	if !isLangTag(v) {
		a.invalid(at, "must be a language tag such as en-US")
		return def
	}
	return v
}

func isLangTag(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts[0]) < 2 || len(parts[0]) > 3 {
		return false
	}
	for i, part := range parts {
		if part == "" || len(part) > 8 {
			return false
		}
		for _, r := range part {
			letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
			if !letter && (i == 0 || r < '0' || r > '9') {
				return false
			}
		}
	}
	return true
}

// millisAttr reads a whole number of milliseconds in [1, hi]. bad reports an invalid value
// (already reported as such), so that callers do not pile warnings on it.
func millisAttr(a *attrReader, name string, def time.Duration, hi int64) (d time.Duration, bad bool) {
	v, ok := a.IntSet(name, 0, 1, hi, ruleMillis)
	if !ok {
		return def, a.present(name)
	}
	return time.Duration(v) * time.Millisecond, false
}

// pauseSilence reads the silence detection of a Pause or Wait: minSilence (default def) when
// silence is on, else minSilence is ignored with a warning. It warns when minSilence is not
// shorter than length, including by default (Plivo's defaults, 1 s and 2000 ms, do that):
// Plivo notes that detection then cannot end the wait early.
func pauseSilence(p *parser, n *node, a *attrReader, ps *Pause, def time.Duration, unless string) {
	if !ps.Silence {
		a.Ignore(unless, "minSilence")
		return
	}
	var bad bool
	ps.MinSilence, bad = millisAttr(a, "minSilence", def, maxSilenceMillis)
	if !bad && ps.MinSilence >= ps.Length {
		p.warnf(n, "minSilence", "%s is not shorter than length (%s): silence can never end the wait early", ps.MinSilence, ps.Length)
	}
}

// lookupKeepEmpty is lookup for an attribute whose empty value means something (Plivo
// finishOnKey="" turns key termination off), so that "" does not read as absent.
func (a *attrReader) lookupKeepEmpty(name string) *attr {
	if at := a.lookup(name); at != nil {
		return at
	}
	for i := range a.n.attrs {
		at := &a.n.attrs[i]
		if a.used[i] && at.value == "" && strings.EqualFold(at.name, name) {
			return at
		}
	}
	return nil
}

// oneKey reads a single DTMF key. With allowNone, "" and "none" (any case) mean no key.
func oneKey(a *attrReader, name string, def KeySet, allowNone bool) KeySet {
	var at *attr
	if allowNone {
		at = a.lookupKeepEmpty(name)
	} else {
		at = a.lookup(name)
	}
	if at == nil {
		return def
	}
	v := strings.TrimSpace(at.value)
	if allowNone && (v == "" || strings.EqualFold(v, "none")) {
		return 0
	}
	if len(v) == 1 && keyBit(v[0]) != 0 {
		return keyBit(v[0])
	}
	rule := "must be exactly one key: 0-9, # or *"
	if allowNone {
		rule += ", or none"
	}
	a.invalid(at, rule)
	return def
}

// someKeys reads a non-empty set of keys (Plivo validDigits): "none" would refuse every key.
func someKeys(a *attrReader, name string, def KeySet) KeySet {
	at := a.lookup(name)
	if at == nil {
		return def
	}
	v := strings.TrimSpace(at.value)
	var set KeySet
	for i := 0; i < len(v); i++ {
		b := keyBit(v[i])
		if b == 0 {
			set = 0
			break
		}
		set |= b
	}
	if set == 0 {
		a.invalid(at, "must be one or more keys from 0-9, # and *")
		return def
	}
	return set
}

// keySet spells a key set for defaults: keySet("#").
func keySet(keys string) KeySet {
	var k KeySet
	for i := 0; i < len(keys); i++ {
		k |= keyBit(keys[i])
	}
	return k
}

// dtmfProblem checks a string of tones to send: 0-9, *, #, and the pauses w (0.5 s) and W
// (1 s). Plivo documents w for sendDigits and both for <DTMF>; Choice: both everywhere.
func dtmfProblem(s string) string {
	for i := 0; i < len(s); i++ {
		if keyBit(s[i]) == 0 && s[i] != 'w' && s[i] != 'W' {
			return "must hold only the keys 0-9, # and *, and the pauses w (0.5 s) and W (1 s)"
		}
	}
	return ""
}

// sendDigits reads a sendDigits attribute of a Dial target.
func sendDigits(a *attrReader, name string) string {
	at := a.lookup(name)
	if at == nil {
		return ""
	}
	v := strings.TrimSpace(at.value)
	if rule := dtmfProblem(v); rule != "" {
		a.invalid(at, rule)
		return ""
	}
	return v
}

// dialNumber normalises a telephone number: visual separators (space, -, ., parentheses) go,
// and what is left must be 1 to 20 digits with an optional leading +. Choice: the vendors say
// only "a valid phone number"; 20 leaves room for international prefixes and extensions.
func dialNumber(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == '+' && b.Len() == 0 && i == strings.IndexByte(s, '+'):
			b.WriteByte(c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", false
		}
	}
	out := b.String()
	digits := len(strings.TrimPrefix(out, "+"))
	return out, digits >= 1 && digits <= 20
}

// isSIPURI reports whether s looks like a SIP URI: sip: or sips:, then something without spaces.
func isSIPURI(s string) bool {
	l := strings.ToLower(s)
	rest, ok := strings.CutPrefix(l, "sip:")
	if !ok {
		rest, ok = strings.CutPrefix(l, "sips:")
	}
	return ok && rest != "" && !strings.ContainsAny(rest, " \t\r\n<>\"")
}

// hasSIPScheme reports whether s starts like a SIP URI, so a number field holding one is read as
// a SIP target (CarrierX lets <Number> and <Dial> text hold either).
func hasSIPScheme(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "sip:") || strings.HasPrefix(l, "sips:")
}

const ruleNumber = "must be a telephone number: digits with an optional leading +, at most 20 digits"
const ruleSIPURI = "must be a SIP URI such as sip:alice@example.com"

// numberTarget reads the text of a number noun (or a CarrierX Dial) as a number, or as a SIP
// URI when sipToo and it starts with sip:/sips:.
func numberTarget(p *parser, n *node, raw string, sipToo bool) (DialTarget, bool) {
	t := DialTarget{Kind: TargetNumber}
	if sipToo && hasSIPScheme(raw) {
		if !isSIPURI(raw) {
			p.textInvalid(n, raw, ruleSIPURI)
			return t, false
		}
		t.Kind, t.Address = TargetSIP, raw
		return t, true
	}
	num, ok := dialNumber(raw)
	if !ok {
		rule := ruleNumber
		if sipToo {
			rule += ", or a SIP URI such as sip:alice@example.com"
		}
		p.textInvalid(n, raw, rule)
		return t, false
	}
	t.Address = num
	return t, true
}

// sipTarget reads the text of a SIP noun (FlexML <Sip>, Plivo <User>).
func sipTarget(p *parser, n *node, raw string, kind TargetKind) (DialTarget, bool) {
	t := DialTarget{Kind: kind, Address: raw}
	if !isSIPURI(raw) {
		p.textInvalid(n, raw, ruleSIPURI)
		return t, false
	}
	return t, true
}

// nounFunc parses one Dial noun; canonical is its spelling in the dialect.
type nounFunc func(p *parser, n *node, canonical string) (DialTarget, bool)

// dialNouns parses the children of a <Dial> as nouns. The nouns are the verb-table entries
// allowed in ctxDial; an element that is not one is an unknown element (not a dialect element
// at all) or a nesting error (a verb), with the list of nouns in the message.
func dialNouns(p *parser, n *node, parse nounFunc) []DialTarget {
	var out []DialTarget
	allowed := p.table.allowedIn(ctxDial)
	for _, c := range n.children {
		e, ok := p.table[strings.ToLower(c.name)]
		if !ok {
			p.errorf(c, ErrUnknownElement, "not a %s element; allowed in <%s>: %s", p.dialectName(), n.name, allowed)
			continue
		}
		if e.in&ctxDial == 0 {
			p.errorf(c, ErrNesting, "may not appear in <%s>, which holds only nouns (allowed in <%s>: %s)", n.name, n.name, allowed)
			continue
		}
		if c.name != e.name {
			p.warnf(c, "", "element name is written %q; the canonical spelling is <%s>", c.name, e.name)
		}
		if t, ok := parse(p, c, e.name); ok {
			out = append(out, t)
		}
	}
	return out
}

// dialTimeLimit reads timeLimit. Plivo disconnects every call after 24 hours whatever timeLimit
// says; Choice: the bridge does the same for both dialects and says so.
func dialTimeLimit(p *parser, n *node, a *attrReader, def time.Duration) time.Duration {
	d, ok := a.SecondsSet("timeLimit", def, 1, anySeconds, ruleWholeSeconds)
	if ok && d > maxCallSeconds*time.Second {
		p.warnf(n, "timeLimit", "calls end after 24 hours; timeLimit is cut to 86400")
		d = maxCallSeconds * time.Second
	}
	return d
}

// checkConfirm warns about confirmation attributes that cannot work on their own. A confirmKey
// that was given but invalid has its error already; no warning is added to it.
func checkConfirm(p *parser, n *node, a *attrReader, c *DialConfirm, soundGiven bool) *DialConfirm {
	if c.Key == 0 {
		if soundGiven && !a.present("confirmKey") {
			p.warnf(n, "confirmSound", "has no effect without confirmKey: the call is bridged as soon as it is answered")
		}
		return nil
	}
	if !soundGiven {
		p.warnf(n, "confirmKey", "without confirmSound the called party is not told which key to press")
	}
	return c
}

// gatherBase starts a Gather with the values every dialect shares.
func gatherBase(p *parser, n *node, name string) *Gather {
	return &Gather{VerbBase: VerbBase{Pos: p.s.pos(n.off), Name: name}, Input: InputDTMF,
		Attempts: 1, ValidDigits: AllKeys, Log: true}
}

// nounOutsideDial is the verb-table parse function of the Dial nouns. p.verbs checks the context
// before it parses, and nouns are allowed only in ctxDial, which p.verbs is never given (the
// Dial parsers read their nouns through dialNouns), so this is never reached; should that ever
// change, the noun is reported instead of being silently dropped.
func nounOutsideDial(p *parser, n *node, name string) Verb {
	p.errorf(n, ErrNesting, "may appear only in <Dial>")
	return nil
}
