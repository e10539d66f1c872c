package translate

import (
	"math"
	"strings"
	"time"
)

// CarrierX defaults of record.md §1.2.
const (
	flexmlMaxLength         = 3600 * time.Second // foreground; session has no limit but the bridge's cap
	flexmlTimeout           = 5 * time.Second
	flexmlTranscribeTimeout = 300 * time.Second
	flexmlLowConfWord       = "_"
	flexmlLowConfThreshold  = 0.01
)

// parseFlexMLRecord reads a CarrierX <Record> (record.md §1) into the neutral model (§3.1).
func parseFlexMLRecord(p *parser, n *node, name string) Verb {
	p.checkEmpty(n, name)
	a := p.attrs(n)
	r := newRecord(p, n, name)

	r.Mode = ModeForeground
	if a.Bool("recordSession", false) {
		r.Mode = ModeSession
	}
	session := r.Mode == ModeSession
	flag := backgroundAttr(r.Mode, "recordSession", "")

	// Capture.
	foregroundOnly(a, r, flag, flexmlTimeout, AllKeys, false)
	if session {
		r.MaxDuration = a.Seconds("maxLength", 0, 1, noUpperBound, ruleSecondsGE1)
		a.Ignore(whenTrue(flag), "backgroundAudioUrl", "backgroundAudioLoop")
	} else {
		r.MaxDuration = a.Seconds("maxLength", flexmlMaxLength, 1, noUpperBound, ruleSecondsGE1)
		r.BackgroundAudio = flexmlBackgroundAudio(a)
	}
	r.Tracks = flexmlTracks(a, r.BackgroundAudio != nil)
	r.Format = AudioFormat(a.Enum("fileFormat", "wav", "wav", "mp3", "ul"))
	if r.Format == "ul" {
		r.Format = FormatULaw
	}
	r.Trim = TrimEdges
	if a.Enum("trim", "trim-silence", "trim-silence", "do-not-trim") == "do-not-trim" {
		r.Trim = TrimNone
	}

	// Requests. In session mode the document has moved on when the recording ends, so action
	// can only be a notification (record.md §1.1 rule 8, Open).
	disp := DispositionExecute
	if session {
		disp = DispositionNotify
	}
	r.Action = recordAction(recordTarget(a, "action", "method"), disp)
	r.ActionWhenEmpty = EmptySkip
	r.ErrorAction = recordTarget(a, "errorAction", "errorMethod")
	r.FileCallback = recordTarget(a, "callbackUrl", "") // CarrierX documents no method: POST (Open)
	if a.present("recordingStatusCallback") {
		t := recordTarget(a, "recordingStatusCallback", "recordingStatusCallbackMethod")
		events := statusEvents(a, "recordingStatusCallbackEvent")
		if t != nil { // nil: invalid, dropped in lenient mode
			r.StatusCallback = &StatusCallback{Target: *t, Events: events}
		}
	} else {
		a.Ignore("without recordingStatusCallback", "recordingStatusCallbackEvent", "recordingStatusCallbackMethod")
	}

	r.Transcription = flexmlTranscription(a)
	flexmlStorage(p, n, a, &r.Storage)

	a.done()
	return r
}

// flexmlBackgroundAudio reads backgroundAudioUrl and backgroundAudioLoop (foreground only).
func flexmlBackgroundAudio(a *attrReader) *BackgroundAudio {
	if !a.present("backgroundAudioUrl") {
		a.Ignore("without backgroundAudioUrl", "backgroundAudioLoop")
		return nil
	}
	u, _ := a.URL("backgroundAudioUrl", urlMedia)
	loops := a.Int("backgroundAudioLoop", 1, 0, math.MaxInt32, "must be a whole number, at least 0 (0 = repeat until the recording ends)")
	if u == nil { // invalid, dropped in lenient mode
		return nil
	}
	return &BackgroundAudio{URL: u, Loops: int(loops)}
}

// flexmlTracks maps direction (record.md §3.1). Background audio is never captured, so with
// backgroundAudioUrl only the caller's side is left, whatever direction says.
func flexmlTracks(a *attrReader, backgroundAudio bool) Tracks {
	dir := a.Enum("direction", "any", "any", "in", "out")
	if backgroundAudio {
		// Only "out" is worth a warning: "any" with background audio is defined to mean in.
		if dir == "out" {
			a.warn(a.find("direction"), `"out" has no effect with backgroundAudioUrl: only the caller is recorded (direction="in")`)
		}
		return TracksIn
	}
	switch dir {
	case "in":
		return TracksIn
	case "out":
		return TracksOut
	}
	return TracksBoth
}

// flexmlTranscription reads transcribe and its companions; they are ignored (with a warning)
// when transcribe is not true, since there is then no transcript to tune or report.
func flexmlTranscription(a *attrReader) Transcription {
	companions := []string{"transcribeCallback", "transcribeLowConfidenceWordReplacement",
		"transcribeLowConfidenceWordThreshold", "transcribeTimeout"}
	if !a.Bool("transcribe", false) {
		a.Ignore(`unless transcribe="true"`, companions...)
		return Transcription{}
	}
	return Transcription{
		Enabled:          true,
		Callback:         recordTarget(a, "transcribeCallback", ""), // no method attribute: POST (Open)
		LowConfWord:      a.String("transcribeLowConfidenceWordReplacement", flexmlLowConfWord),
		LowConfThreshold: a.Float("transcribeLowConfidenceWordThreshold", flexmlLowConfThreshold, 0, 1, "must be a number from 0 to 1"),
		Timeout:          a.Seconds("transcribeTimeout", flexmlTranscribeTimeout, 1, noUpperBound, ruleSecondsGE1),
		Language:         "en",
	}
}

// flexmlStorage reads where the file goes: external storage (§1.3), else a managed container
// or file, with lifecycle and metadata.
func flexmlStorage(p *parser, n *node, a *attrReader, st *Storage) {
	managedOnly := []string{"containerSid", "fileSid", "fileMode", "lifecycleAction", "lifecycleTtl"}
	if externalStorage(p, n, a, st) {
		a.Ignore("with external storage (the object is always new, named <RecordingSid>.<ext>)", managedOnly...)
	} else {
		if a.present("fileSid") {
			st.FileID = a.String("fileSid", "") // opaque: kept as written, a wrong SID fails at run time
			st.WriteMode = WriteMode(a.Enum("fileMode", "append", "append", "overwrite"))
			a.Ignore("when fileSid is set", "containerSid")
		} else {
			st.ContainerID = a.String("containerSid", "")
			a.Ignore("without fileSid", "fileMode")
		}
		st.Lifecycle = flexmlLifecycle(a)
	}
	// §1.3 drops only container, file, mode and lifecycle with external storage: metadata stays.
	const ruleInt64 = "must be a whole number from -9223372036854775808 to 9223372036854775807"
	if v, ok := a.IntSet("integerKey1", 0, math.MinInt64, math.MaxInt64, ruleInt64); ok {
		st.Metadata.IntegerKey1 = &v
	}
	if v, ok := a.IntSet("integerKey2", 0, math.MinInt64, math.MaxInt64, ruleInt64); ok {
		st.Metadata.IntegerKey2 = &v
	}
	if at := a.lookup("stringKey1"); at != nil {
		st.Metadata.StringKey1 = &at.value
	}
	if at := a.lookup("stringKey2"); at != nil {
		st.Metadata.StringKey2 = &at.value
	}
}

// flexmlLifecycle reads lifecycleTtl and lifecycleAction. Without a TTL the action never runs
// (record.md §1.2), so lifecycleAction alone is ignored with a warning.
func flexmlLifecycle(a *attrReader) *Lifecycle {
	if !a.present("lifecycleTtl") {
		a.Ignore("without lifecycleTtl", "lifecycleAction")
		return nil
	}
	ttl := a.Seconds("lifecycleTtl", 0, 1, noUpperBound, ruleSecondsGE1)
	act := LifecycleDelete
	if at := a.lookup("lifecycleAction"); at != nil {
		switch v := strings.TrimSpace(at.value); {
		case strings.EqualFold(v, string(LifecycleDelete)):
		case strings.EqualFold(v, string(LifecycleNoAction)):
			act = LifecycleNoAction
		default:
			// record.md §1.2 (Open): never delete data by surprise, and do not fail the document.
			act = LifecycleNoAction
			a.warn(at, "unknown value %q (allowed: delete, no_action); treated as no_action, so the file is not deleted", at.value)
		}
	}
	if ttl == 0 { // invalid, dropped in lenient mode
		return nil
	}
	return &Lifecycle{Action: act, TTL: ttl}
}
