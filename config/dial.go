package config

import "strings"

// DialStrings turn Dial targets into FreeSWITCH dial strings for the bridge application. Each
// is a template: the placeholders are replaced by parts of the target, and the result is one
// leg of the bridge's dial string, so a template holds no ',', '|', brackets, quotes or
// spaces (those separate or configure legs).
type DialStrings struct {
	// Number dials a telephone number; {number} is the number as the document gave it
	// (digits with an optional leading +). Default "sofia/gateway/pstn/{number}".
	Number string `yaml:"number"`
	// SIP dials a SIP URI (FlexML <Sip>, a sip: number); {uri} is the URI as written
	// (sip:alice@example.com), {user} and {host} its parts. Default "sofia/external/{uri}".
	SIP string `yaml:"sip"`
	// User dials a Plivo <User> endpoint, with the placeholders of SIP. Default "user/{user}"
	// (the user in FreeSWITCH's default domain).
	User string `yaml:"user"`
}

func (d *DialStrings) setDefaults() {
	for _, f := range []struct {
		p *string
		v string
	}{
		{&d.Number, "sofia/gateway/pstn/{number}"}, {&d.SIP, "sofia/external/{uri}"}, {&d.User, "user/{user}"},
	} {
		if *f.p == "" {
			*f.p = f.v
		}
	}
}

// check returns the first bad template as the field's last name and the rule it breaks.
func (d DialStrings) check() (field, rule string) {
	for _, t := range []struct {
		name, tmpl string
		allowed    []string
		need       []string
	}{
		{"number", d.Number, []string{"{number}"}, []string{"{number}"}},
		{"sip", d.SIP, []string{"{uri}", "{user}", "{host}"}, []string{"{uri}", "{user}"}},
		{"user", d.User, []string{"{uri}", "{user}", "{host}"}, []string{"{uri}", "{user}"}},
	} {
		if r := checkDialTemplate(t.tmpl, t.allowed, t.need); r != "" {
			return t.name, r
		}
	}
	return "", ""
}

func checkDialTemplate(tmpl string, allowed, need []string) string {
	rest := tmpl
	for _, p := range allowed {
		rest = strings.ReplaceAll(rest, p, "")
	}
	has := false
	for _, p := range need {
		has = has || strings.Contains(tmpl, p)
	}
	switch {
	case !has:
		return "must contain " + strings.Join(need, " or ") + ", got \"" + tmpl + "\""
	case strings.ContainsAny(rest, "{}"):
		return "knows only the placeholders " + strings.Join(allowed, " ") + ", got \"" + tmpl + "\""
	case strings.ContainsAny(rest, ",|[]<>'\" \t\n"):
		return "must be one FreeSWITCH endpoint without ',', '|', brackets, quotes or spaces (they would split the bridge's dial string), got \"" + tmpl + "\""
	case !strings.Contains(strings.SplitN(tmpl, "{", 2)[0], "/"):
		return "must start with an endpoint such as sofia/gateway/<name>/ or user/, got \"" + tmpl + "\""
	}
	return ""
}

// OrDefaults returns d with the defaults in its empty fields (for a FreeSWITCH entry built
// without Parse).
func (d DialStrings) OrDefaults() DialStrings {
	d.setDefaults()
	return d
}
