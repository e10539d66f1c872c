package translate

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Plivo XML verbs other than <Record>. Defaults are Plivo's (https://www.plivo.com/docs/voice/xml/
// and the plivo-python SDK's element classes); every other default is marked "Choice:".
const (
	plivoDialTimeLimit  = 14400 * time.Second // 4 hours
	plivoConfirmTimeout = 120 * time.Second
	// Choice: Plivo documents "no default" for the Dial timeout; its open-source framework and
	// its voice-agent pages use 30 s.
	plivoDialTimeout     = 30 * time.Second
	plivoCallerNameMax   = 50
	plivoDigitsTimeout   = 5 * time.Second // GetDigits timeout
	plivoDigitTimeout    = 2 * time.Second // GetDigits digitTimeout
	plivoNumDigits       = 99              // GetDigits numDigits
	plivoInputTimeout    = 15 * time.Second
	plivoInputNumDigits  = 32 // GetInput numDigits default and maximum
	plivoInputLanguage   = "en-US"
	plivoMinSilence      = 2000 * time.Millisecond
	plivoRetriesMax      = 100 // Choice: Plivo says only "integer >= 1"
	ruleAutoOrTwoToTen   = "must be auto or a whole number of seconds from 2 to 10"
	ruleSipHeaders       = "must be name=value pairs separated by commas, names and values made of letters and digits only"
	ruleDigitsMatch      = "must be key sequences (0-9, # and *) separated by commas"
	plivoSpeechModelDflt = "default"
)

// parsePlivoDial reads <Dial>: one or more <Number> and <User> nouns, rung at once.
func parsePlivoDial(p *parser, n *node, name string) Verb {
	a := p.attrs(n)
	d := &Dial{VerbBase: VerbBase{Pos: p.s.pos(n.off), Name: name}}
	d.Action = a.Target("action", "method", POST)
	d.ActionNotify = !a.Bool("redirect", true)
	if d.ActionNotify && d.Action == nil {
		p.warnf(n, "redirect", "has no effect without action")
	}
	d.HangupOnStar = a.Bool("hangupOnStar", false)
	d.TimeLimit = dialTimeLimit(p, n, a, plivoDialTimeLimit)
	d.Timeout = a.Seconds("timeout", plivoDialTimeout, 1, maxCallSeconds, ruleWholeSeconds)
	d.CallerID = strings.TrimSpace(a.String("callerId", ""))
	if at := a.lookup("callerName"); at != nil {
		if utf8.RuneCountInString(at.value) > plivoCallerNameMax {
			a.invalid(at, "must be at most 50 characters")
		} else {
			d.CallerName = at.value
		}
	}
	d.Confirm = plivoConfirm(p, n, a)
	if at := a.lookup("dialMusic"); at != nil {
		if strings.EqualFold(strings.TrimSpace(at.value), "real") {
			d.RealRingback = true
		} else if u, pol := a.resolve(at, at.value, urlCallback); u != nil {
			// Plivo fetches the dialMusic document with POST, like confirmSound.
			d.RingbackDocument = &Target{URL: u, Method: POST, Retry: pol}
		}
	}
	d.Callback = a.Target("callbackUrl", "callbackMethod", POST)
	d.DigitsMatch = digitPatterns(a, "digitsMatch")
	d.DigitsMatchBLeg = digitPatterns(a, "digitsMatchBLeg")
	if d.Callback == nil {
		for _, attr := range []string{"digitsMatch", "digitsMatchBLeg"} {
			if a.present(attr) {
				p.warnf(n, attr, "has no effect without callbackUrl: matches are reported there")
			}
		}
	}
	d.SIPHeaders = sipHeaders(a, "sipHeaders")
	a.done()

	if n.hasText() {
		p.errs = append(p.errs, &Error{Pos: p.s.pos(n.textOff), Kind: ErrNesting, Element: n.name, Value: abbreviate(strings.TrimSpace(n.text), 40),
			Rule: "takes no text in Plivo XML: put the number in <Number> or the SIP URI in <User>"})
	}
	if len(n.children) == 0 && !n.hasText() {
		p.errorf(n, ErrMissing, "must contain at least one <Number> or <User>")
		return nil
	}
	d.Targets = dialNouns(p, n, plivoNoun)
	if len(d.Targets) == 0 || n.hasText() {
		return nil
	}
	return d
}

// plivoConfirm reads confirmKey, confirmSound (a document of Play/Speak/Wait, fetched with POST)
// and confirmTimeout. confirmTimeout is "entertained only if" confirmation is on.
func plivoConfirm(p *parser, n *node, a *attrReader) *DialConfirm {
	c := &DialConfirm{Timeout: plivoConfirmTimeout}
	c.Key = oneKey(a, "confirmKey", 0, false)
	soundGiven := a.present("confirmSound")
	c.Document = a.Target("confirmSound", "", POST)
	if c.Key == 0 {
		a.Ignore("without confirmKey", "confirmTimeout")
	} else {
		c.Timeout = a.Seconds("confirmTimeout", plivoConfirmTimeout, 1, maxCallSeconds, ruleWholeSeconds)
	}
	return checkConfirm(p, n, a, c, soundGiven)
}

// plivoNoun reads <Number> (sendDigits, sendOnPreanswer) and <User> (the same plus sipHeaders).
func plivoNoun(p *parser, n *node, name string) (DialTarget, bool) {
	what := "a telephone number"
	if name == "User" {
		what = "a SIP URI such as sip:alice@phone.plivo.com"
	}
	p.refuseChildren(n, name, what)
	a := p.attrs(n)
	digits := sendDigits(a, "sendDigits")
	var pre bool
	if a.present("sendDigits") {
		pre = a.Bool("sendOnPreanswer", false)
	} else {
		a.Ignore("without sendDigits", "sendOnPreanswer")
	}
	var headers []SIPHeader
	if name == "User" {
		headers = sipHeaders(a, "sipHeaders")
	}
	a.done()
	raw, ok := p.textValue(n, name, what)
	if !ok {
		return DialTarget{}, false
	}
	var t DialTarget
	if name == "User" {
		t, ok = sipTarget(p, n, raw, TargetUser)
	} else {
		t, ok = numberTarget(p, n, raw, false)
	}
	t.SendDigits, t.SendOnPreanswer, t.SIPHeaders = digits, pre, headers
	return t, ok
}

// sipHeaders reads "head1=val1,head2=val2". Plivo allows only letters and digits in names and
// values (so they survive URL encoding) and prefixes every name with X-PH- on the wire.
func sipHeaders(a *attrReader, name string) []SIPHeader {
	at := a.lookup(name)
	if at == nil {
		return nil
	}
	var out []SIPHeader
	for _, part := range strings.Split(at.value, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !isAlnum(k) || !isAlnum(v) {
			a.invalid(at, ruleSipHeaders)
			return nil
		}
		out = append(out, SIPHeader{Name: k, Value: v})
	}
	return out
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// digitPatterns reads a comma-separated list of key sequences (digitsMatch).
func digitPatterns(a *attrReader, name string) []string {
	at := a.lookup(name)
	if at == nil {
		return nil
	}
	var out []string
	for _, part := range strings.Split(at.value, ",") {
		part = strings.TrimSpace(part)
		if part == "" || strings.IndexFunc(part, func(r rune) bool { return r > 0x7f || keyBit(byte(r)) == 0 }) >= 0 {
			a.invalid(at, ruleDigitsMatch)
			return nil
		}
		out = append(out, part)
	}
	return out
}

// parsePlivoDTMF reads <DTMF>: the tones as text, async (default true).
func parsePlivoDTMF(p *parser, n *node, name string) Verb {
	p.refuseChildren(n, name, "the digits to send")
	a := p.attrs(n)
	t := &DTMF{VerbBase: VerbBase{Pos: p.s.pos(n.off), Name: name}}
	t.Async = a.Bool("async", true)
	a.done()
	digits, ok := p.textValue(n, name, "the digits to send")
	if !ok {
		return nil
	}
	if rule := dtmfProblem(digits); rule != "" {
		p.textInvalid(n, digits, rule)
		return nil
	}
	t.Digits = digits
	return t
}

// plivoGatherCommon reads what GetDigits and GetInput spell the same way.
func plivoGatherCommon(a *attrReader, g *Gather) {
	g.Action = a.Target("action", "method", POST)
	g.ActionNotify = !a.Bool("redirect", true)
	g.Log = a.Bool("log", true)
}

// parsePlivoGetDigits reads <GetDigits>, with <Speak>, <Play> (and <Wait>) prompts.
func parsePlivoGetDigits(p *parser, n *node, name string) Verb {
	p.checkNoText(n, name)
	a := p.attrs(n)
	g := gatherBase(p, n, name)
	plivoGatherCommon(a, g)
	g.Timeout = a.Seconds("timeout", plivoDigitsTimeout, 1, maxCallSeconds, ruleWholeSeconds)
	g.DigitTimeout = a.Seconds("digitTimeout", plivoDigitTimeout, 1, maxCallSeconds, ruleWholeSeconds)
	// "One and only one of 0–9, *, #, <empty string>, none"; empty or none: no finish key.
	g.FinishKeys = oneKey(a, "finishOnKey", keySet("#"), true)
	g.NumDigits = int(a.Int("numDigits", plivoNumDigits, 1, maxDigitsAllowed, "must be a whole number of keys from 1 to 1024"))
	// Plivo's retries counts attempts in all ("integer >= 1", default 1: its framework loops
	// retries times).
	g.Attempts = int(a.Int("retries", 1, 1, plivoRetriesMax, "must be a whole number from 1 to 100"))
	g.PlayBeep = a.Bool("playBeep", false)
	g.ValidDigits = someKeys(a, "validDigits", AllKeys)
	g.InvalidDigitsSound, _ = a.URL("invalidDigitsSound", urlMedia)
	if g.ActionNotify && g.Action == nil {
		p.warnf(n, "redirect", "has no effect without action")
	}
	a.done()
	g.Prompts = p.verbs(n, ctxGather)
	return g
}

// parsePlivoGetInput reads <GetInput>: keys, speech, or both, with <Speak>, <Play> (and <Wait>)
// prompts. Attributes of the kind of input not asked for are ignored with a warning.
func parsePlivoGetInput(p *parser, n *node, name string) Verb {
	p.checkNoText(n, name)
	a := p.attrs(n)
	g := gatherBase(p, n, name)
	plivoGatherCommon(a, g)
	if g.Action == nil && !a.present("action") {
		p.errorf(n, ErrMissing, "needs an action URL: the input is sent there (Plivo marks action required)")
	}
	g.Input = inputType(p, n, a)
	g.Timeout = a.Seconds("executionTimeout", plivoInputTimeout, 5, 60, "must be a whole number of seconds from 5 to 60")
	if g.Input == InputSpeech {
		a.Ignore(`when inputType is "speech"`, "digitEndTimeout", "finishOnKey", "numDigits")
		g.FinishKeys = 0
	} else {
		g.DigitTimeout = autoSeconds(a, "digitEndTimeout")
		g.FinishKeys = oneKey(a, "finishOnKey", keySet("#"), true)
		g.NumDigits = int(a.Int("numDigits", plivoInputNumDigits, 1, plivoInputNumDigits, "must be a whole number of keys from 1 to 32"))
	}
	if g.Input == InputDTMF {
		a.Ignore(`when inputType is "dtmf"`, "speechEndTimeout", "speechModel", "hints", "language",
			"profanityFilter", "interimSpeechResultsCallback", "interimSpeechResultsCallbackMethod")
	} else {
		g.Speech = &SpeechInput{
			EndTimeout:      autoSeconds(a, "speechEndTimeout"),
			Model:           a.Enum("speechModel", plivoSpeechModelDflt, "default", "command_and_search", "phone_call"),
			Hints:           hints(a, "hints"),
			Language:        language(a, "language", plivoInputLanguage),
			ProfanityFilter: a.Bool("profanityFilter", false),
			InterimResults:  a.Target("interimSpeechResultsCallback", "interimSpeechResultsCallbackMethod", POST),
		}
	}
	a.done()
	g.Prompts = p.verbs(n, ctxGather)
	return g
}

// inputType reads GetInput's inputType: dtmf, speech, or both words in either order. Choice:
// Plivo documents no default; absent means dtmf (what GetInput replaces, GetDigits, does), with
// a warning, since listening for speech costs recognition.
func inputType(p *parser, n *node, a *attrReader) InputType {
	at := a.lookup("inputType")
	if at == nil {
		p.warnf(n, "", "inputType is not set; Plivo documents no default, pbxbridge listens for keys only (dtmf)")
		return InputDTMF
	}
	var dtmf, speech bool
	for _, f := range strings.Fields(strings.ToLower(at.value)) {
		switch f {
		case "dtmf":
			dtmf = true
		case "speech":
			speech = true
		default:
			a.invalid(at, `must be dtmf, speech, or "dtmf speech"`)
			return InputDTMF
		}
	}
	switch {
	case dtmf && speech:
		return InputDTMFAndSpeech
	case speech:
		return InputSpeech
	}
	return InputDTMF
}

// autoSeconds reads "auto" (0: the bridge decides) or 2–10 seconds (GetInput digitEndTimeout,
// speechEndTimeout; default auto).
func autoSeconds(a *attrReader, name string) time.Duration {
	at := a.lookup(name)
	if at == nil || strings.EqualFold(strings.TrimSpace(at.value), "auto") {
		return 0
	}
	v := 0
	s := strings.TrimSpace(at.value)
	for i := 0; i < len(s) && v <= 10; i++ {
		if s[i] < '0' || s[i] > '9' {
			v = -1
			break
		}
		v = v*10 + int(s[i]-'0')
	}
	if v < 2 || v > 10 {
		a.invalid(at, ruleAutoOrTwoToTen)
		return 0
	}
	return time.Duration(v) * time.Second
}

// hints reads GetInput hints: comma-separated phrases. Choice: Plivo states no limits that the
// bridge could check; empty phrases are dropped.
func hints(a *attrReader, name string) []string {
	at := a.lookup(name)
	if at == nil {
		return nil
	}
	var out []string
	for _, h := range strings.Split(at.value, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

// parsePlivoHangup reads <Hangup reason schedule>.
func parsePlivoHangup(p *parser, n *node, name string) Verb {
	p.checkEmpty(n, name)
	a := p.attrs(n)
	h := &Hangup{VerbBase: VerbBase{Pos: p.s.pos(n.off), Name: name}}
	h.Reason = RejectReason(a.Enum("reason", "", string(RejectRejected), string(RejectBusy)))
	h.Schedule = a.Seconds("schedule", 0, 1, maxCallSeconds, ruleWholeSeconds)
	a.done()
	return h
}

// parsePlivoPlay reads <Play loop>: the audio URL as text.
func parsePlivoPlay(p *parser, n *node, name string) Verb {
	p.refuseChildren(n, name, "the URL of an audio file")
	a := p.attrs(n)
	pl := &Play{VerbBase: VerbBase{Pos: p.s.pos(n.off), Name: name}}
	pl.Loop = loopCount(a, "loop", maxLoops)
	a.done()
	if !playText(p, n, name, pl) {
		return nil
	}
	return pl
}

func parsePlivoPreAnswer(p *parser, n *node, name string) Verb { return preAnswerVerb(p, n, name) }

func parsePlivoRedirect(p *parser, n *node, name string) Verb { return redirectVerb(p, n, name) }

// parsePlivoSpeak reads <Speak voice language loop>: WOMAN (default) or MAN or a Polly voice,
// en-US by default.
func parsePlivoSpeak(p *parser, n *node, name string) Verb {
	a := p.attrs(n)
	s := &Say{VerbBase: VerbBase{Pos: p.s.pos(n.off), Name: name}}
	s.Voice = voice(a, "voice", "woman", "WOMAN, MAN")
	s.Language = language(a, "language", "en-US")
	s.Loop = loopCount(a, "loop", maxLoops)
	a.done()
	text, ok := sayText(p, n, name)
	if !ok {
		return nil
	}
	s.Text = text
	return s
}

// parsePlivoWait reads <Wait length silence minSilence beep>. Plivo uses minSilence only with
// silence="true", and beep only without it.
func parsePlivoWait(p *parser, n *node, name string) Verb {
	p.checkEmpty(n, name)
	a := p.attrs(n)
	w := &Pause{VerbBase: VerbBase{Pos: p.s.pos(n.off), Name: name}}
	w.Length = a.Seconds("length", time.Second, 1, maxCallSeconds, ruleWholeSeconds)
	w.Silence = a.Bool("silence", false)
	pauseSilence(p, n, a, w, plivoMinSilence, `unless silence is "true"`)
	if w.Silence {
		a.Ignore(`when silence is "true"`, "beep")
	} else {
		w.Beep = a.Bool("beep", false)
	}
	a.done()
	return w
}
