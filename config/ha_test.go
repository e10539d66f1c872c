package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestHADefaultsAndRanges(t *testing.T) {
	c, err := Parse([]byte("apps: [{name: a, dialect: flexml, url: 'http://127.0.0.1:1/a'}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.HA.LeaseTTL.D() != 10*time.Second || c.HA.LeaseRenew.D() != 2500*time.Millisecond {
		t.Errorf("defaults: ttl %v renew %v", c.HA.LeaseTTL.D(), c.HA.LeaseRenew.D())
	}
	for _, tc := range []struct{ yaml, field string }{
		{"ha: {lease_ttl: 500ms}", "ha.lease_ttl"},
		{"ha: {lease_ttl: 10m}", "ha.lease_ttl"},
		{"ha: {lease_ttl: 3s, lease_renew: 2s}", "ha.lease_renew"},
		{"ha: {lease_ttl: 3s, lease_renew: 50ms}", "ha.lease_renew"},
	} {
		_, err := Parse([]byte("apps: [{name: a, dialect: flexml, url: 'http://127.0.0.1:1/a'}]\n" + tc.yaml + "\n"))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want a FieldError on %s", tc.yaml, err, tc.field)
		} else if !strings.Contains(err.Error(), "must be") {
			t.Errorf("%s: %v does not state the rule", tc.yaml, err)
		}
	}
}
