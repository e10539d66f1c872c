package config

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestFreeSWITCH(t *testing.T) {
	c, err := Parse([]byte("data_dir: /var/lib/pbxbridge\nfreeswitch:\n  - inbound: 127.0.0.1:8021\n    password: s3cret\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Asterisk) != 0 {
		t.Errorf("a FreeSWITCH-only config got a default Asterisk: %+v", c.Asterisk)
	}
	f := c.FreeSWITCH[0]
	if f.Name != "freeswitch" || f.Listen != "127.0.0.1:8084" || f.RecordDir != filepath.Join("/var/lib/pbxbridge", "freeswitch") ||
		f.CommandTimeout.D() != 5*time.Second || f.ConnectTimeout.D() != 10*time.Second {
		t.Errorf("defaults: %+v", f)
	}
	if s := f.Password.String(); s == "s3cret" {
		t.Error("password prints")
	}
	for _, tc := range []struct{ yaml, field string }{
		{"freeswitch:\n  - listen: nope", "freeswitch[0].listen"},
		{"freeswitch:\n  - inbound: 127.0.0.1:8021", "freeswitch[0].password"},
		{"freeswitch:\n  - inbound: x\n    password: p", "freeswitch[0].inbound"},
		{"freeswitch:\n  - {name: a}\n  - {name: a, listen: '127.0.0.1:9'}", "freeswitch[1].name"},
		{"asterisk:\n  - {name: pbx, password: x}\nfreeswitch:\n  - {name: pbx}", "freeswitch[0].name"},
	} {
		_, err := Parse([]byte(tc.yaml))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%q: err %v, want field %s", tc.yaml, err, tc.field)
		}
	}
}
