package translate

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// CarrierX FlexML verbs other than <Record>. Defaults are CarrierX's where its verb pages give
// one (https://docs.carrierx.com/flexml/flexml-api/flexml-syntax/...); every other default is
// marked "Choice:" with the reason.
const (
	// Choice: CarrierX's Dial page shows no defaults for timeout and timeLimit; these are the
	// values of the TwiML-style dialects FlexML follows (and of Plivo's timeLimit).
	flexmlDialTimeout   = 30 * time.Second
	flexmlDialTimeLimit = 14400 * time.Second
	// Choice: CarrierX documents no confirmation timeout; Plivo's confirmTimeout default.
	flexmlConfirmTimeout = 120 * time.Second
	// CarrierX's responses page shows timeout="5" as the usual wait; Choice: it is the default,
	// as in the dialects FlexML follows.
	flexmlGatherTimeout = 5 * time.Second
	flexmlControlSkip   = 60 * time.Second // CarrierX Play controlSkip default
	flexmlLoopMax       = 100              // CarrierX Say loop maximum; Choice: Play's too
	flexmlLoopPauseMax  = 300              // CarrierX Say loopPause maximum, seconds
	flexmlSayMaxChars   = 1024             // CarrierX Say text limit
	// Choice: CarrierX Pause gives minSilence and minNoise no default. 2 s of silence is Plivo's
	// minSilence default; 1 s of sound is long enough to ignore clicks and short enough to react
	// to someone speaking.
	flexmlMinSilence = 2000 * time.Millisecond
	flexmlMinNoise   = 1000 * time.Millisecond
)

// parseFlexMLDial reads <Dial>. The number may be the Dial's own text or one or more <Number>
// and <Sip> nouns, which ring at once; a number written as a sip: URI dials that URI
// (CarrierX: Dial "works with regular phone numbers, SIP URIs, or a mix of both").
func parseFlexMLDial(p *parser, n *node, name string) Verb {
	a := p.attrs(n)
	d := &Dial{VerbBase: VerbBase{Pos: p.s.pos(n.off), Name: name}}
	d.Action = a.Target("action", "method", POST)
	d.CallerID = strings.TrimSpace(a.String("callerId", ""))
	d.CallerName = strings.TrimSpace(a.String("callerName", ""))
	c := &DialConfirm{Timeout: flexmlConfirmTimeout}
	c.Key = oneKey(a, "confirmKey", 0, false)
	soundGiven := a.present("confirmSound")
	c.Audio, _ = a.URL("confirmSound", urlMedia) // CarrierX: an audio file, not a document
	d.Confirm = checkConfirm(p, n, a, c, soundGiven)
	d.HangupOnStar = a.Bool("hangupOnStar", false)
	d.Timeout = a.Seconds("timeout", flexmlDialTimeout, 1, maxCallSeconds, ruleWholeSeconds)
	d.TimeLimit = dialTimeLimit(p, n, a, flexmlDialTimeLimit)
	// CarrierX can record a Dial through attributes; pbxbridge does not (yet), and says so
	// rather than dropping the recording silently.
	a.Ignore("(pbxbridge does not record from <Dial>)", "record", "containerSid")
	a.done()

	text := strings.TrimSpace(n.text)
	if text != "" && len(n.children) > 0 {
		p.errs = append(p.errs, &Error{Pos: p.s.pos(textPos(n)), Kind: ErrNesting, Element: n.name,
			Rule: "holds either a number or SIP URI as its text, or <Number> and <Sip> nouns, not both"})
	}
	switch {
	case len(n.children) > 0:
		d.Targets = dialNouns(p, n, flexmlNoun)
	case text != "":
		if t, ok := numberTarget(p, n, text, true); ok {
			d.Targets = append(d.Targets, t)
		}
	default:
		p.errorf(n, ErrMissing, "needs a number or SIP URI as its text, or at least one <Number> or <Sip>")
	}
	if len(d.Targets) == 0 {
		return nil
	}
	return d
}

// flexmlNoun reads <Number> (a phone number or SIP URI, with sendDigits) and <Sip> (a SIP URI).
// Choice: CarrierX documents sendDigits on <Number> only; on <Sip> it is an unknown attribute.
func flexmlNoun(p *parser, n *node, name string) (DialTarget, bool) {
	what := "a telephone number"
	if name == "Sip" {
		what = "a SIP URI"
	}
	p.refuseChildren(n, name, what)
	a := p.attrs(n)
	var digits string
	if name == "Number" {
		digits = sendDigits(a, "sendDigits")
	}
	a.done()
	raw, ok := p.textValue(n, name, what)
	if !ok {
		return DialTarget{}, false
	}
	var t DialTarget
	if name == "Sip" {
		t, ok = sipTarget(p, n, raw, TargetSIP)
	} else {
		t, ok = numberTarget(p, n, raw, true)
	}
	t.SendDigits = digits
	return t, ok
}

// parseFlexMLGather reads <Gather>: keys only, prompts from the nested <Say>, <Play> and <Pause>.
func parseFlexMLGather(p *parser, n *node, name string) Verb {
	p.checkNoText(n, name)
	a := p.attrs(n)
	g := gatherBase(p, n, name)
	g.Action = a.Target("action", "method", POST)
	g.ActionOnEmpty = a.Bool("actionOnEmptyResult", false)
	if g.ActionOnEmpty && g.Action == nil {
		p.warnf(n, "actionOnEmptyResult", "has no effect without action")
	}
	// Choice: numDigits has no documented default; absent means no limit (input ends on a
	// finish key or the timeout), as in the dialects FlexML follows.
	g.NumDigits = int(a.Int("numDigits", 0, 1, maxDigitsAllowed, "must be a whole number of keys from 1 to 1024"))
	// Choice: finishOnKey is read as a set of keys like CarrierX <Record>'s (any of them ends
	// the input; "none" turns it off), default #.
	g.FinishKeys = a.Keys("finishOnKey", keySet("#"))
	// CarrierX has one timeout: the wait for input, which also applies between keys.
	g.Timeout = a.Seconds("timeout", flexmlGatherTimeout, 1, maxCallSeconds, ruleWholeSeconds)
	g.DigitTimeout = g.Timeout
	a.done()
	g.Prompts = p.verbs(n, ctxGather)
	return g
}

// parseFlexMLHangup reads <Hangup/>, which has no attributes.
func parseFlexMLHangup(p *parser, n *node, name string) Verb {
	p.checkEmpty(n, name)
	p.attrs(n).done()
	return &Hangup{VerbBase: VerbBase{Pos: p.s.pos(n.off), Name: name}}
}

// parseFlexMLPause reads <Pause>: length, and early ends on silence or on noise.
func parseFlexMLPause(p *parser, n *node, name string) Verb {
	p.checkEmpty(n, name)
	a := p.attrs(n)
	ps := &Pause{VerbBase: VerbBase{Pos: p.s.pos(n.off), Name: name}}
	ps.Length = a.Seconds("length", time.Second, 1, maxCallSeconds, ruleWholeSeconds)
	ps.Silence = a.Bool("silence", false)
	pauseSilence(p, n, a, ps, flexmlMinSilence, "unless silence is true")
	if ps.Noise = a.Bool("noise", false); ps.Noise {
		ps.MinNoise, _ = millisAttr(a, "minNoise", flexmlMinNoise, maxSilenceMillis)
	} else {
		a.Ignore("unless noise is true", "minNoise")
	}
	a.done()
	return ps
}

// parseFlexMLPlay reads <Play>: an audio URL as text, or digits="..." to send tones instead,
// which makes it a DTMF verb (CarrierX: "an alternate syntax for the Dtmf verb").
func parseFlexMLPlay(p *parser, n *node, name string) Verb {
	for _, c := range n.children {
		if strings.EqualFold(c.name, "File") {
			p.errorf(c, ErrNesting, "is not supported in <%s>: pbxbridge plays URLs, not CarrierX file SIDs; put the file's URL in <%s>", name, name)
		} else {
			p.errorf(c, ErrNesting, "may not appear in <%s>, which holds only text (the URL of an audio file)", name)
		}
	}
	a := p.attrs(n)
	if a.present("digits") {
		return flexmlPlayDigits(p, n, name, a)
	}
	a.Ignore("", "digits") // digits="" is the same as absent (record.md §0)
	pl := &Play{VerbBase: VerbBase{Pos: p.s.pos(n.off), Name: name}}
	pl.Loop = loopCount(a, "loop", flexmlLoopMax)
	pl.Background = a.Bool("background", false)
	pl.Action = a.Target("action", "method", POST)
	pl.ErrorAction = a.Target("errorAction", "errorMethod", POST)
	// Choice: one key each, as their names say (CarrierX shows no example).
	c := &PlayControls{ForwardKeys: oneKey(a, "forwardOnKey", 0, false), RewindKeys: oneKey(a, "rewindOnKey", 0, false)}
	if c.ForwardKeys|c.RewindKeys != 0 {
		c.Skip = a.Seconds("controlSkip", flexmlControlSkip, 1, maxCallSeconds, ruleWholeSeconds)
		pl.Controls = c
	} else {
		a.Ignore("without forwardOnKey or rewindOnKey", "controlSkip")
	}
	if pl.Background && pl.Action != nil {
		p.warnf(n, "action", "is requested when the file ends, while later verbs already run (background=\"true\")")
	}
	a.done()
	if !playText(p, n, name, pl) {
		return nil
	}
	return pl
}

// flexmlPlayDigits reads <Play digits="..."/>. CarrierX says the other attributes belong on
// their own <Play>, and no URL goes between the tags: both are reported.
func flexmlPlayDigits(p *parser, n *node, name string, a *attrReader) Verb {
	at := a.lookup("digits")
	digits := strings.TrimSpace(at.value)
	ok := true
	if rule := dtmfProblem(digits); rule != "" {
		a.invalid(at, rule)
		ok = false
	}
	a.Ignore("with digits (put it on its own <Play>)", "loop", "background", "action", "method",
		"errorAction", "errorMethod", "controlSkip", "forwardOnKey", "rewindOnKey")
	a.done()
	if text := strings.TrimSpace(n.text); text != "" {
		p.errs = append(p.errs, &Error{Pos: p.s.pos(textPos(n)), Kind: ErrNesting, Element: n.name, Value: text,
			Rule: "with digits it sends tones and takes no URL; put the URL in its own <Play>"})
	}
	if !ok {
		return nil
	}
	return &DTMF{VerbBase: VerbBase{Pos: p.s.pos(n.off), Name: name}, Digits: digits}
}

func parseFlexMLPreAnswer(p *parser, n *node, name string) Verb { return preAnswerVerb(p, n, name) }

func parseFlexMLRedirect(p *parser, n *node, name string) Verb { return redirectVerb(p, n, name) }

// parseFlexMLReject reads <Reject reason>; the reasons are CarrierX's (default rejected).
func parseFlexMLReject(p *parser, n *node, name string) Verb {
	p.checkEmpty(n, name)
	a := p.attrs(n)
	r := &Reject{VerbBase: VerbBase{Pos: p.s.pos(n.off), Name: name}}
	r.Reason = RejectReason(a.Enum("reason", string(RejectRejected), flexmlRejectReasons()...))
	a.done()
	return r
}

// parseFlexMLSay reads <Say>: voice man (default) or woman or a Polly voice, loop 0–100,
// loopPause, at most 1024 characters of text.
func parseFlexMLSay(p *parser, n *node, name string) Verb {
	a := p.attrs(n)
	s := &Say{VerbBase: VerbBase{Pos: p.s.pos(n.off), Name: name}}
	s.Voice = voice(a, "voice", "man", "man, woman")
	// Choice: CarrierX documents no language attribute, but TwiML-style documents carry one;
	// it is read (and checked) rather than warned about, and absent means the voice's own.
	s.Language = language(a, "language", "")
	s.Loop = loopCount(a, "loop", flexmlLoopMax)
	// CarrierX says loopPause is 1–300 with default 0; Choice: 0 is accepted as the default.
	s.Gap = a.Seconds("loopPause", 0, 0, flexmlLoopPauseMax, "must be a whole number of seconds from 0 to 300")
	if s.Gap > 0 && s.Loop == 1 {
		p.warnf(n, "loopPause", "has no effect when the text is said once (loop=\"1\")")
	}
	a.done()
	text, ok := sayText(p, n, name)
	if !ok {
		return nil
	}
	if c := utf8.RuneCountInString(text); c > flexmlSayMaxChars {
		p.textInvalid(n, abbreviate(text, 40), "must be at most 1024 characters (it has "+strconv.Itoa(c)+")")
		return nil
	}
	s.Text = text
	return s
}
