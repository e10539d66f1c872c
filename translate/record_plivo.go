package translate

import (
	"strings"
	"time"
)

// Plivo defaults of record.md §2.2 and §3.1.
const (
	plivoMaxLength          = 60 * time.Second // in every mode, background ones included (§2.1 rule 2)
	plivoTimeout            = 15 * time.Second
	plivoTranscribeTimeout  = 30 * time.Minute // Open: Plivo documents "under 5 minutes", growing with length
	ruleMaxLengthGreaterOne = "must be a whole number of seconds greater than 1"
)

// parsePlivoRecord reads a Plivo <Record> (record.md §2) into the neutral model (§3.1).
func parsePlivoRecord(p *parser, n *node, name string) Verb {
	p.checkEmpty(n, name)
	a := p.attrs(n)
	r := newRecord(p, n, name)

	session := a.Bool("recordSession", false)
	dial := a.Bool("startOnDialAnswer", false)
	switch {
	case session:
		r.Mode = ModeSession
		if dial { // record.md §2.1 rule 4 (Open): recordSession wins
			a.warn(a.find("startOnDialAnswer"), `has no effect when recordSession="true" (recordSession wins)`)
		}
	case dial:
		r.Mode = ModeDial
	default:
		r.Mode = ModeForeground
	}
	flag := backgroundAttr(r.Mode, "recordSession", "startOnDialAnswer")

	// Capture.
	foregroundOnly(a, r, flag, plivoTimeout, keyBit('#'), true) // "#": Open, current Plivo pages
	r.MaxDuration = plivoMaxDuration(a)
	if flag != "" && !a.present("maxLength") {
		// §2.1 rule 2 asks for a porting note: a vendor-faithful 60 s cap surprises people.
		a.warn(a.find(flag), "without maxLength this background recording stops after 60 s (Plivo's default); set maxLength to record longer")
	}
	r.Tracks = TracksIn
	if flag != "" {
		r.Tracks = TracksBoth
	}
	r.Channels = plivoChannels(a, flag != "")
	r.Format = AudioFormat(a.Enum("fileFormat", "mp3", "mp3", "wav"))
	r.Trim = TrimTailOnSilence // Open: what Asterisk does natively, so both engines agree

	// Requests.
	if a.present("action") {
		t := a.Target("action", "method", POST)
		disp := DispositionExecute
		if !a.Bool("redirect", true) {
			disp = DispositionNotify
		}
		r.Action = recordAction(t, disp)
	} else {
		a.Ignore("without action", "method", "redirect")
		r.Action = recordAction(nil, DispositionNone)
	}
	r.ActionWhenEmpty = EmptySend
	r.ActionAtStart = flag != ""
	r.FileCallback = recordTarget(a, "callbackUrl", "callbackMethod")
	r.Transcription = plivoTranscription(a)

	a.done()
	return r
}

// plivoMaxDuration reads maxLength, which must be greater than 1. Lenient mode keeps "1" as
// 1 s instead of the default, as record.md §2.2 says it accepts it.
func plivoMaxDuration(a *attrReader) time.Duration {
	if at := a.find("maxLength"); at != nil && a.p.opts.Lenient && strings.TrimSpace(at.value) == "1" {
		a.lookup("maxLength") // mark it read, warning about its spelling if needed
		a.warn(at, "invalid value %q (%s); lenient mode keeps 1 s", at.value, ruleMaxLengthGreaterOne)
		return time.Second
	}
	return a.Seconds("maxLength", plivoMaxLength, 2, noUpperBound, ruleMaxLengthGreaterOne)
}

// plivoChannels reads recordChannelType: stereo by default in background modes, mono in
// normal mode (Open). Normal mode captures only the caller, so stereo there has nothing for
// its second channel and is ignored with a warning.
func plivoChannels(a *attrReader, background bool) int {
	def := "mono"
	if background {
		def = "stereo"
	}
	if a.Enum("recordChannelType", def, "mono", "stereo") == "mono" {
		return 1
	}
	if !background {
		a.warn(a.find("recordChannelType"), `"stereo" has no effect in normal mode: only the caller is recorded, on one channel`)
		return 1
	}
	return 2
}

// plivoTranscription reads transcriptionUrl and its companions. Transcription runs only when
// the URL is given (Open: there is nowhere else to deliver it), so without it they are ignored.
func plivoTranscription(a *attrReader) Transcription {
	if !a.present("transcriptionUrl") {
		a.Ignore("without transcriptionUrl", "transcriptionType", "transcriptionMethod")
		return Transcription{}
	}
	cb := a.Target("transcriptionUrl", "transcriptionMethod", POST)
	typ := a.Enum("transcriptionType", "auto", "auto", "hybrid")
	if typ == "hybrid" { // accepted for old apps, but worth telling: new Plivo pages list only auto
		a.warn(a.find("transcriptionType"), `"hybrid" is a legacy value; it is treated as "auto"`)
	}
	if cb == nil { // invalid, dropped in lenient mode
		return Transcription{}
	}
	return Transcription{Enabled: true, Type: "auto", Callback: cb, Timeout: plivoTranscribeTimeout, Language: "en"}
}
