package config

import (
	"errors"
	"strings"
	"testing"
)

func TestAsteriskDialDefaultsAndExpand(t *testing.T) {
	c, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Asterisk[0].Dial
	for _, tc := range []struct{ tmpl, target, want string }{
		{d.Number, "+15550400001", "PJSIP/+15550400001@trunk"},
		{d.SIP, "sip:alice@127.0.0.1:5080", "PJSIP/trunk/sip:alice@127.0.0.1:5080"},
		{d.User, "sip:bob@example.net", "PJSIP/trunk/sip:bob@example.net"},
		{"PJSIP/{user}@{host}", "sip:bob@example.net", "PJSIP/bob@example.net"},
	} {
		if got := Expand(tc.tmpl, tc.target); got != tc.want {
			t.Errorf("Expand(%q, %q) = %q, want %q", tc.tmpl, tc.target, got, tc.want)
		}
	}
}

func TestAsteriskDialInvalid(t *testing.T) {
	for _, tc := range []struct{ yaml, field, rule string }{
		{"number: trunk", "asterisk[0].dial.number", "Tech/resource"},
		{"number: PJSIP/5550100@trunk", "asterisk[0].dial.number", "{number}"},
		{"sip: PJSIP/trunk/sip:x@y", "asterisk[0].dial.sip", "{uri} or {user}"},
		{"user: PJSIP/{uri}&PJSIP/other", "asterisk[0].dial.user", "'&'"},
	} {
		cfg := minimal + "asterisk:\n  - password: x\n    dial:\n      " + tc.yaml + "\n"
		_, err := Parse([]byte(cfg))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Rule, tc.rule) {
			t.Errorf("%s: got %v, want %s: ...%s...", tc.yaml, err, tc.field, tc.rule)
		}
	}
}
