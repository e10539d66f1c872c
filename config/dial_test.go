package config

import (
	"errors"
	"strings"
	"testing"
)

func TestFreeSWITCHDialStrings(t *testing.T) {
	c, err := Parse([]byte("freeswitch:\n  - {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := c.FreeSWITCH[0].Dial
	if d.Number != "sofia/gateway/pstn/{number}" || d.SIP != "sofia/external/{uri}" || d.User != "user/{user}" {
		t.Errorf("defaults: %+v", d)
	}
	c, err = Parse([]byte("freeswitch:\n  - dial: {number: 'sofia/gateway/carrier1/{number}', sip: 'sofia/internal/{user}@{host}'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := c.FreeSWITCH[0].Dial; d.Number != "sofia/gateway/carrier1/{number}" || d.SIP != "sofia/internal/{user}@{host}" {
		t.Errorf("set: %+v", d)
	}
	for _, tc := range []struct{ yaml, field, rule string }{
		{"{number: 'sofia/gateway/pstn/'}", "freeswitch[0].dial.number", "{number}"},
		{"{number: 'sofia/gateway/pstn/{uri}'}", "freeswitch[0].dial.number", "{number}"},
		{"{sip: 'sofia/external/{uri}{port}'}", "freeswitch[0].dial.sip", "placeholders"},
		{"{user: 'user/{user},user/x'}", "freeswitch[0].dial.user", "','"},
		{"{number: '[leg_timeout=5]sofia/gateway/pstn/{number}'}", "freeswitch[0].dial.number", "brackets"},
		{"{number: '{number}'}", "freeswitch[0].dial.number", "endpoint"},
	} {
		_, err := Parse([]byte("freeswitch:\n  - dial: " + tc.yaml + "\n"))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Rule, tc.rule) {
			t.Errorf("%s: err %v, want field %s with %q", tc.yaml, err, tc.field, tc.rule)
		}
	}
}
