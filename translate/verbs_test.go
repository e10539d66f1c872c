package translate

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// parseVerbs parses a document whose <Response> holds body, at the golden base URL, and fails
// the test on any error.
func parseVerbs(t *testing.T, d Dialect, body string, opts Options) ([]Verb, []Warning) {
	t.Helper()
	base, _ := url.Parse(defaultBase)
	prog, warns, err := ParseOptions(d, []byte("<Response>\n"+body+"\n</Response>"), base, opts)
	if err != nil {
		t.Fatalf("Parse(%s):\n%s", body, err)
	}
	return prog.Verbs, warns
}

// parseErrors parses a document that must fail and returns its errors.
func parseErrors(t *testing.T, d Dialect, body string) ErrorList {
	t.Helper()
	_, _, err := Parse(d, []byte("<Response>\n"+body+"\n</Response>"), nil)
	var errs ErrorList
	if !errors.As(err, &errs) {
		t.Fatalf("Parse(%s) = %v, want an ErrorList", body, err)
	}
	return errs
}

func verbURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestVerbDefaults(t *testing.T) {
	at := Pos{Line: 2, Col: 1}
	base := func(name string) VerbBase { return VerbBase{Pos: at, Name: name} }
	tests := []struct {
		name    string
		dialect Dialect
		body    string
		want    Verb
	}{
		{"flexml Dial", FlexML, `<Dial>+15550100001</Dial>`, &Dial{VerbBase: base("Dial"),
			Targets: []DialTarget{{Kind: TargetNumber, Address: "+15550100001"}},
			Timeout: 30 * time.Second, TimeLimit: 4 * time.Hour}},
		{"flexml Gather", FlexML, `<Gather/>`, &Gather{VerbBase: base("Gather"), Input: InputDTMF,
			FinishKeys: keySet("#"), Timeout: 5 * time.Second, DigitTimeout: 5 * time.Second,
			Attempts: 1, ValidDigits: AllKeys, Log: true, Prompts: []Verb{}}},
		{"flexml Hangup", FlexML, `<Hangup/>`, &Hangup{VerbBase: base("Hangup")}},
		{"flexml Pause", FlexML, `<Pause/>`, &Pause{VerbBase: base("Pause"), Length: time.Second}},
		{"flexml Play", FlexML, `<Play>a.wav</Play>`, &Play{VerbBase: base("Play"),
			URL: verbURL(t, "https://app.example.net/app/a.wav"), Loop: 1}},
		{"flexml Reject", FlexML, `<Reject/>`, &Reject{VerbBase: base("Reject"), Reason: RejectRejected}},
		{"flexml Say", FlexML, `<Say>hi</Say>`, &Say{VerbBase: base("Say"), Text: "hi", Voice: "man", Loop: 1}},
		{"flexml Redirect", FlexML, `<Redirect>/next</Redirect>`, &Redirect{VerbBase: base("Redirect"),
			Target: Target{URL: verbURL(t, "https://app.example.net/next"), Method: POST, Retry: DefaultRetryPolicy()}}},
		{"plivo Dial", Plivo, `<Dial><Number>15550100001</Number></Dial>`, &Dial{VerbBase: base("Dial"),
			Targets: []DialTarget{{Kind: TargetNumber, Address: "15550100001"}},
			Timeout: 30 * time.Second, TimeLimit: 4 * time.Hour}},
		{"plivo GetDigits", Plivo, `<GetDigits/>`, &Gather{VerbBase: base("GetDigits"), Input: InputDTMF,
			NumDigits: 99, FinishKeys: keySet("#"), Timeout: 5 * time.Second, DigitTimeout: 2 * time.Second,
			Attempts: 1, ValidDigits: AllKeys, Log: true, Prompts: []Verb{}}},
		{"plivo GetInput", Plivo, `<GetInput action="https://a.example/x" inputType="speech"/>`, &Gather{
			VerbBase: base("GetInput"), Input: InputSpeech,
			Action:  &Target{URL: verbURL(t, "https://a.example/x"), Method: POST, Retry: DefaultRetryPolicy()},
			Timeout: 15 * time.Second, Attempts: 1, ValidDigits: AllKeys, Log: true, Prompts: []Verb{},
			Speech: &SpeechInput{Model: "default", Language: "en-US"}}},
		{"plivo Hangup", Plivo, `<Hangup/>`, &Hangup{VerbBase: base("Hangup")}},
		{"plivo DTMF", Plivo, `<DTMF>12#</DTMF>`, &DTMF{VerbBase: base("DTMF"), Digits: "12#", Async: true}},
		{"plivo Play", Plivo, `<Play>https://m.example/a.mp3</Play>`, &Play{VerbBase: base("Play"),
			URL: verbURL(t, "https://m.example/a.mp3"), Loop: 1}},
		{"plivo Speak", Plivo, `<Speak>hi</Speak>`, &Say{VerbBase: base("Speak"), Text: "hi", Voice: "woman", Language: "en-US", Loop: 1}},
		{"plivo Wait", Plivo, `<Wait/>`, &Pause{VerbBase: base("Wait"), Length: time.Second}},
		{"plivo Redirect", Plivo, `<Redirect>https://a.example/n</Redirect>`, &Redirect{VerbBase: base("Redirect"),
			Target: Target{URL: verbURL(t, "https://a.example/n"), Method: POST, Retry: DefaultRetryPolicy()}}},
		{"plivo PreAnswer", Plivo, `<PreAnswer><Wait/></PreAnswer>`, &PreAnswer{VerbBase: base("PreAnswer"),
			Verbs: []Verb{&Pause{VerbBase: VerbBase{Pos: Pos{Line: 2, Col: 12}, Name: "Wait"}, Length: time.Second}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verbs, _ := parseVerbs(t, tt.dialect, tt.body, Options{})
			if len(verbs) != 1 {
				t.Fatalf("got %d verbs, want 1", len(verbs))
			}
			if !reflect.DeepEqual(verbs[0], tt.want) {
				t.Errorf("got  %#v\nwant %#v", verbs[0], tt.want)
			}
		})
	}
}

// TestNestingRules checks the verb tables against the vendors' nesting rules, element by
// element, so that a table edit that loosens or tightens a rule is caught here by name.
func TestNestingRules(t *testing.T) {
	tests := []struct {
		dialect Dialect
		parent  string // "" = directly in <Response>
		allowed []string
		refused []string
	}{
		{FlexML, "Gather", []string{"Say", "Play", "Pause"}, []string{"Dial", "Gather", "Hangup", "PreAnswer", "Record", "Redirect", "Reject"}},
		{FlexML, "PreAnswer", []string{"Say", "Play", "Pause"}, []string{"Dial", "Gather", "Hangup", "PreAnswer", "Record", "Redirect", "Reject"}},
		{FlexML, "", []string{"Dial", "Gather", "Hangup", "Pause", "Play", "PreAnswer", "Record", "Redirect", "Reject", "Say"}, []string{"Number", "Sip"}},
		{Plivo, "GetDigits", []string{"Speak", "Play", "Wait"}, []string{"DTMF", "Dial", "GetDigits", "GetInput", "Hangup", "PreAnswer", "Record", "Redirect"}},
		{Plivo, "GetInput", []string{"Speak", "Play", "Wait"}, []string{"DTMF", "Dial", "GetDigits", "GetInput", "Hangup", "PreAnswer", "Record", "Redirect"}},
		{Plivo, "PreAnswer", []string{"Speak", "Play", "Wait"}, []string{"DTMF", "Dial", "GetDigits", "GetInput", "Hangup", "PreAnswer", "Record", "Redirect"}},
		{Plivo, "", []string{"DTMF", "Dial", "GetDigits", "GetInput", "Hangup", "Play", "PreAnswer", "Record", "Redirect", "Speak", "Wait"}, []string{"Number", "User"}},
	}
	// child is a valid instance of each element, so only nesting can fail.
	child := map[string]string{
		"Say": "<Say>x</Say>", "Speak": "<Speak>x</Speak>", "Play": "<Play>https://m.example/a.wav</Play>",
		"Pause": "<Pause/>", "Wait": "<Wait/>", "Dial": "<Dial><Number>+15550100001</Number></Dial>",
		"Gather": "<Gather/>", "GetDigits": "<GetDigits/>", "GetInput": `<GetInput action="https://a.example/" inputType="dtmf"/>`,
		"Hangup": "<Hangup/>", "PreAnswer": "<PreAnswer><Wait/></PreAnswer>", "Record": "<Record/>",
		"Redirect": "<Redirect>https://a.example/</Redirect>", "Reject": "<Reject/>", "DTMF": "<DTMF>1</DTMF>",
		"Number": "<Number>+15550100001</Number>", "Sip": "<Sip>sip:a@example.com</Sip>", "User": "<User>sip:a@example.com</User>",
	}
	wrap := func(d Dialect, parent, inner string) string {
		if d == FlexML { // FlexML's PreAnswer takes Pause, not Wait
			inner = strings.ReplaceAll(inner, "<PreAnswer><Wait/></PreAnswer>", "<PreAnswer><Pause/></PreAnswer>")
		}
		switch parent {
		case "":
			return inner
		case "GetInput":
			return `<GetInput action="https://a.example/" inputType="dtmf">` + inner + `</GetInput>`
		}
		return "<" + parent + ">" + inner + "</" + parent + ">"
	}
	for _, tt := range tests {
		for _, name := range tt.allowed {
			t.Run(string(tt.dialect)+"/"+tt.parent+"/"+name+"/allowed", func(t *testing.T) {
				parseVerbs(t, tt.dialect, wrap(tt.dialect, tt.parent, child[name]), Options{})
			})
		}
		for _, name := range tt.refused {
			t.Run(string(tt.dialect)+"/"+tt.parent+"/"+name+"/refused", func(t *testing.T) {
				errs := parseErrors(t, tt.dialect, wrap(tt.dialect, tt.parent, child[name]))
				if !errors.Is(errs, ErrNesting) {
					t.Fatalf("got %v, want ErrNesting", errs)
				}
				if errs[0].Element != name {
					t.Errorf("error is about <%s>, want <%s>", errs[0].Element, name)
				}
			})
		}
	}
}

func TestDialNouns(t *testing.T) {
	tests := []struct {
		dialect Dialect
		body    string
		kind    error
		elem    string
	}{
		{FlexML, `<Dial><Client>bob</Client></Dial>`, ErrUnknownElement, "Client"},
		{FlexML, `<Dial><User>sip:a@example.com</User></Dial>`, ErrUnknownElement, "User"},
		{FlexML, `<Dial><Say>x</Say></Dial>`, ErrNesting, "Say"},
		{FlexML, `<Dial/>`, ErrMissing, "Dial"},
		{FlexML, `<Dial>+15550100001<Number>+15550100002</Number></Dial>`, ErrNesting, "Dial"},
		{Plivo, `<Dial><Sip>sip:a@example.com</Sip></Dial>`, ErrUnknownElement, "Sip"},
		{Plivo, `<Dial><Speak>x</Speak></Dial>`, ErrNesting, "Speak"},
		{Plivo, `<Dial/>`, ErrMissing, "Dial"},
		{Plivo, `<Dial>+15550100001</Dial>`, ErrNesting, "Dial"},
		{Plivo, `<Dial><Number>sip:a@example.com</Number></Dial>`, ErrInvalidValue, "Number"},
		{Plivo, `<Dial><User>+15550100001</User></Dial>`, ErrInvalidValue, "User"},
	}
	for _, tt := range tests {
		t.Run(string(tt.dialect)+"/"+tt.body, func(t *testing.T) {
			errs := parseErrors(t, tt.dialect, tt.body)
			if len(errs) != 1 || !errors.Is(errs[0], tt.kind) || errs[0].Element != tt.elem {
				t.Fatalf("got %v, want one %v about <%s>", errs, tt.kind, tt.elem)
			}
		})
	}

	verbs, _ := parseVerbs(t, FlexML, `<Dial><Number sendDigits="w1#">+1 (555) 010-0001</Number><Number>sip:b@example.com</Number><Sip>sips:c@example.com</Sip></Dial>`, Options{})
	want := []DialTarget{
		{Kind: TargetNumber, Address: "+15550100001", SendDigits: "w1#"},
		{Kind: TargetSIP, Address: "sip:b@example.com"},
		{Kind: TargetSIP, Address: "sips:c@example.com"},
	}
	if got := verbs[0].(*Dial).Targets; !reflect.DeepEqual(got, want) {
		t.Errorf("FlexML targets = %+v, want %+v", got, want)
	}
	verbs, _ = parseVerbs(t, Plivo, `<Dial sipHeaders="a=1,B2=x"><User sendDigits="9" sendOnPreanswer="true" sipHeaders="k=v">sip:u@phone.plivo.com</User></Dial>`, Options{})
	d := verbs[0].(*Dial)
	if want := []SIPHeader{{"a", "1"}, {"B2", "x"}}; !reflect.DeepEqual(d.SIPHeaders, want) {
		t.Errorf("Dial SIPHeaders = %+v, want %+v", d.SIPHeaders, want)
	}
	wantUser := DialTarget{Kind: TargetUser, Address: "sip:u@phone.plivo.com", SendDigits: "9", SendOnPreanswer: true, SIPHeaders: []SIPHeader{{"k", "v"}}}
	if !reflect.DeepEqual(d.Targets[0], wantUser) {
		t.Errorf("User = %+v, want %+v", d.Targets[0], wantUser)
	}
}

// TestTextValueErrors checks that a bad element text is an *Error with Attr "" and Value set to
// the text, so that it renders as `<Play> text "...": rule`.
func TestTextValueErrors(t *testing.T) {
	tests := []struct {
		dialect Dialect
		body    string
		elem    string
		value   string
		kind    error
	}{
		{FlexML, `<Play> ftp://m.example/a.wav </Play>`, "Play", "ftp://m.example/a.wav", ErrInvalidValue},
		{FlexML, `<Redirect>mailto:x@example.com</Redirect>`, "Redirect", "mailto:x@example.com", ErrInvalidValue},
		{FlexML, `<Dial>12ab</Dial>`, "Dial", "12ab", ErrInvalidValue},
		{FlexML, `<Dial><Sip>bob@example.com</Sip></Dial>`, "Sip", "bob@example.com", ErrInvalidValue},
		{Plivo, `<DTMF>12x</DTMF>`, "DTMF", "12x", ErrInvalidValue},
		{Plivo, `<Play>  </Play>`, "Play", "", ErrMissing},
		{Plivo, `<Speak/>`, "Speak", "", ErrMissing},
		{Plivo, `<Dial><User/></Dial>`, "User", "", ErrMissing},
	}
	for _, tt := range tests {
		t.Run(string(tt.dialect)+"/"+tt.body, func(t *testing.T) {
			errs := parseErrors(t, tt.dialect, tt.body)
			var e *Error
			if len(errs) != 1 || !errors.As(errs[0], &e) || !errors.Is(e, tt.kind) {
				t.Fatalf("got %v, want one %v", errs, tt.kind)
			}
			if e.Element != tt.elem || e.Attr != "" || e.Value != tt.value {
				t.Errorf("got Element %q Attr %q Value %q, want %q, \"\", %q", e.Element, e.Attr, e.Value, tt.elem, tt.value)
			}
		})
	}
	// Lenient mode has no default for a text, so a bad one stays an error.
	_, _, err := ParseOptions(Plivo, []byte(`<Response><Play>ftp://m.example/a</Play></Response>`), nil, Options{Lenient: true})
	if !errors.Is(err, ErrInvalidValue) {
		t.Errorf("lenient bad Play URL: got %v, want ErrInvalidValue", err)
	}
}

// TestURLKinds checks callbacks.md §3.6: a document URL (Redirect, action) loses its fragment
// to the retry policy; an audio URL (Play, invalidDigitsSound, CarrierX confirmSound) keeps it.
func TestURLKinds(t *testing.T) {
	verbs, _ := parseVerbs(t, Plivo, `<Redirect>https://a.example/n#rc=4</Redirect>
<Play>https://m.example/a.mp3#rc=4</Play>
<GetDigits action="https://a.example/d#ct=500" invalidDigitsSound="https://m.example/bad.wav#x"/>`, Options{})
	r := verbs[0].(*Redirect)
	if r.URL.String() != "https://a.example/n" || r.Retry.Retries != 4 || !r.Retry.FromFragment {
		t.Errorf("Redirect = %s %+v, want the fragment moved into the retry policy", r.URL, r.Retry)
	}
	if p := verbs[1].(*Play); p.URL.String() != "https://m.example/a.mp3#rc=4" {
		t.Errorf("Play URL = %s, want the fragment kept", p.URL)
	}
	g := verbs[2].(*Gather)
	if g.Action.URL.String() != "https://a.example/d" || g.Action.Retry.ConnectTimeout != 500*time.Millisecond {
		t.Errorf("GetDigits action = %s %+v", g.Action.URL, g.Action.Retry)
	}
	if g.InvalidDigitsSound.String() != "https://m.example/bad.wav#x" {
		t.Errorf("invalidDigitsSound = %s, want the fragment kept", g.InvalidDigitsSound)
	}
	verbs, _ = parseVerbs(t, FlexML, `<Dial confirmKey="1" confirmSound="https://m.example/c.wav#t=1">+15550100001</Dial>`, Options{})
	if c := verbs[0].(*Dial).Confirm; c == nil || c.Audio.String() != "https://m.example/c.wav#t=1" || c.Document != nil {
		t.Errorf("FlexML confirm = %+v, want an audio URL with its fragment", c)
	}
	verbs, _ = parseVerbs(t, Plivo, `<Dial confirmKey="1" confirmSound="https://a.example/c.xml#rc=0"><Number>1</Number></Dial>`, Options{})
	if c := verbs[0].(*Dial).Confirm; c == nil || c.Document == nil || c.Document.Retry.Retries != 0 || c.Audio != nil {
		t.Errorf("Plivo confirm = %+v, want a document target with a retry policy", c)
	}
}

func TestKeyRules(t *testing.T) {
	tests := []struct {
		dialect Dialect
		body    string
		want    KeySet
	}{
		// record.md §0: an empty attribute is absent, so FlexML finishOnKey="" is the default.
		{FlexML, `<Gather finishOnKey=""/>`, keySet("#")},
		{FlexML, `<Gather finishOnKey="none"/>`, 0},
		{FlexML, `<Gather finishOnKey="12#"/>`, keySet("12#")},
		// Plivo documents "" and none as "no finish key", and one key only otherwise.
		{Plivo, `<GetDigits finishOnKey=""/>`, 0},
		{Plivo, `<GetDigits finishOnKey="NONE"/>`, 0},
		{Plivo, `<GetDigits finishOnKey="*"/>`, keySet("*")},
		{Plivo, `<GetInput action="https://a.example/" inputType="dtmf" finishOnKey=""/>`, 0},
	}
	for _, tt := range tests {
		t.Run(string(tt.dialect)+"/"+tt.body, func(t *testing.T) {
			verbs, _ := parseVerbs(t, tt.dialect, tt.body, Options{})
			if got := verbs[0].(*Gather).FinishKeys; got != tt.want {
				t.Errorf("FinishKeys = %q, want %q", got, tt.want)
			}
		})
	}
	if errs := parseErrors(t, Plivo, `<GetDigits finishOnKey="#*"/>`); !errors.Is(errs, ErrInvalidValue) || errs[0].Attr != "finishOnKey" {
		t.Errorf("Plivo finishOnKey with two keys: got %v, want an invalid value", errs)
	}
}

func TestFlexMLPlayDigitsIsDTMF(t *testing.T) {
	verbs, warns := parseVerbs(t, FlexML, `<Play digits="1w2" loop="3"/>`, Options{})
	d, ok := verbs[0].(*DTMF)
	if !ok || d.Digits != "1w2" || d.Async || d.Element() != "Play" {
		t.Fatalf("got %#v, want a blocking DTMF named Play", verbs[0])
	}
	if len(warns) != 1 || warns[0].Attr != "loop" {
		t.Errorf("warnings = %v, want one about loop", warns)
	}
}

func TestLenientUsesDefaults(t *testing.T) {
	verbs, warns := parseVerbs(t, Plivo, `<Wait length="0" silence="maybe"/>`, Options{Lenient: true})
	w := verbs[0].(*Pause)
	if w.Length != time.Second || w.Silence {
		t.Errorf("got %+v, want the defaults", w)
	}
	if len(warns) != 2 {
		t.Errorf("warnings = %v, want 2", warns)
	}
}

func TestPlivoWaitRules(t *testing.T) {
	verbs, warns := parseVerbs(t, Plivo, `<Wait length="5" silence="true" beep="true"/>`, Options{})
	if w := verbs[0].(*Pause); w.Beep || w.MinSilence != 2*time.Second {
		t.Errorf("got %+v, want beep ignored with silence and minSilence 2000 ms", w)
	}
	if len(warns) != 1 || warns[0].Attr != "beep" {
		t.Errorf("warnings = %v, want one about beep", warns)
	}
}

func TestRejectSIPStatus(t *testing.T) {
	tests := []struct {
		r    RejectReason
		d    Dialect
		want int
	}{
		{RejectRejected, FlexML, 403}, {RejectForbidden, FlexML, 403}, {RejectBusy, FlexML, 600},
		{RejectBusy, Plivo, 486}, {RejectBusyHere, FlexML, 486}, {RejectNotFound, FlexML, 404},
		{RejectRedirect, FlexML, 302}, {RejectBadGateway, FlexML, 502}, {RejectUnavailable, FlexML, 503},
		{RejectDecline, FlexML, 603}, {RejectDoesNotExist, FlexML, 604}, {RejectUnwanted, FlexML, 607},
		{RejectIntermediaryRejected, FlexML, 608}, {"", FlexML, 0},
	}
	for _, tt := range tests {
		if got := tt.r.SIPStatus(tt.d); got != tt.want {
			t.Errorf("%q.SIPStatus(%s) = %d, want %d", tt.r, tt.d, got, tt.want)
		}
	}
	for _, r := range flexmlRejectReasons() {
		if RejectReason(r).SIPStatus(FlexML) == 0 {
			t.Errorf("reason %q has no SIP status", r)
		}
	}
}

func TestDialNumber(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"+1 (555) 010-0001", "+15550100001", true},
		{"15550100001", "15550100001", true},
		{"555.0100", "5550100", true},
		{"911", "911", true},
		{"+", "", false},
		{"1+2", "", false},
		{"++1", "", false},
		{"555-CALL", "", false},
		{"123456789012345678901", "", false}, // 21 digits
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := dialNumber(tt.in)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("dialNumber(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestTextShapes(t *testing.T) {
	for s, want := range map[string]bool{
		"sip:alice@example.com": true, "SIPS:bob@example.com;transport=tls": true, "sip:1000": true,
		"sip:": false, "alice@example.com": false, "sip:a b@example.com": false, "tel:+1555": false,
	} {
		if got := isSIPURI(s); got != want {
			t.Errorf("isSIPURI(%q) = %v, want %v", s, got, want)
		}
	}
	for s, want := range map[string]bool{
		"en": true, "en-US": true, "cmn-Hans-CN": true, "es-419": true,
		"english": false, "en_US": false, "123": false, "e": false, "en-": false, "-US": false,
	} {
		if got := isLangTag(s); got != want {
			t.Errorf("isLangTag(%q) = %v, want %v", s, got, want)
		}
	}
	for s, want := range map[string]string{"1234567890*#": "", "1w2W3": "", "12 3": "x", "A": "x", "": ""} {
		if got := dtmfProblem(s); (got == "") != (want == "") {
			t.Errorf("dtmfProblem(%q) = %q", s, got)
		}
	}
}
