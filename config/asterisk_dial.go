package config

import (
	"fmt"
	"strings"
)

// AsteriskDial turns the targets of a Dial into Asterisk dial strings (the endpoint of
// POST /channels). Each is a template: {number} is the dialled number (digits, with a leading
// + if it had one), {uri} the SIP URI as written (sip:alice@example.net), {user} and {host}
// its parts.
type AsteriskDial struct {
	// Number is for telephone numbers (FlexML and Plivo <Number>). Default
	// "PJSIP/{number}@trunk": the PJSIP endpoint "trunk" with the number as the user part.
	Number string `yaml:"number"`
	// SIP is for SIP URIs (FlexML <Sip>, or a sip: URI as a number). Default
	// "PJSIP/trunk/{uri}": the URI sent through the endpoint "trunk".
	SIP string `yaml:"sip"`
	// User is for Plivo <User> (a SIP URI). Default "PJSIP/trunk/{uri}".
	User string `yaml:"user"`
}

// Placeholders of the dial templates.
const (
	DialNumber = "{number}"
	DialURI    = "{uri}"
	DialUser   = "{user}"
	DialHost   = "{host}"
)

func (d *AsteriskDial) defaults() {
	if d.Number == "" {
		d.Number = "PJSIP/" + DialNumber + "@trunk"
	}
	if d.SIP == "" {
		d.SIP = "PJSIP/trunk/" + DialURI
	}
	if d.User == "" {
		d.User = "PJSIP/trunk/" + DialURI
	}
}

// validate checks each template: Tech/resource with the placeholder its target needs, and no
// '&' (Asterisk would ring a second channel) or whitespace.
func (d AsteriskDial) validate(field string) error {
	for _, t := range []struct {
		name, v string
		need    []string
	}{
		{"number", d.Number, []string{DialNumber}},
		{"sip", d.SIP, []string{DialURI, DialUser}},
		{"user", d.User, []string{DialURI, DialUser}},
	} {
		f := field + ".dial." + t.name
		tech, rest, ok := strings.Cut(t.v, "/")
		if !ok || tech == "" || rest == "" {
			return &FieldError{Field: f, Rule: fmt.Sprintf("must be an Asterisk dial string Tech/resource such as PJSIP/{number}@trunk, got %q", t.v)}
		}
		if strings.ContainsAny(t.v, "& \t\r\n,") {
			return &FieldError{Field: f, Rule: fmt.Sprintf("must not contain '&', ',' or whitespace (one channel per target), got %q", t.v)}
		}
		found := false
		for _, p := range t.need {
			found = found || strings.Contains(t.v, p)
		}
		if !found {
			return &FieldError{Field: f, Rule: fmt.Sprintf("must contain %s, got %q", strings.Join(t.need, " or "), t.v)}
		}
	}
	return nil
}

// Expand fills a template. uri is the target as written; for a number it is the number.
func Expand(template, uri string) string {
	user, host := "", ""
	if rest, ok := strings.CutPrefix(uri, "sip:"); ok {
		user, host, _ = strings.Cut(rest, "@")
		if host == "" {
			user, host = "", user
		}
	} else if rest, ok := strings.CutPrefix(uri, "sips:"); ok {
		user, host, _ = strings.Cut(rest, "@")
	}
	return strings.NewReplacer(DialNumber, uri, DialURI, uri, DialUser, user, DialHost, host).Replace(template)
}
