package config

import (
	"errors"
	"path/filepath"
	"strings"
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

func TestFreeSWITCHRecordTransfer(t *testing.T) {
	c, err := Parse([]byte("freeswitch:\n  - {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	f := c.FreeSWITCH[0]
	if f.RecordTransfer != RecordShared || f.UploadTimeout.D() != 30*time.Second || f.UploadMaxBytes != 512<<20 {
		t.Errorf("defaults: transfer %q timeout %v max %d", f.RecordTransfer, f.UploadTimeout, f.UploadMaxBytes)
	}
	c, err = Parse([]byte("freeswitch:\n  - record_transfer: http\n    upload_url: http://10.0.0.5:8080/\n    upload_token: 0123456789abcdef-long\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f := c.FreeSWITCH[0]; f.UploadURL != "http://10.0.0.5:8080" || f.UploadToken.String() == "0123456789abcdef-long" {
		t.Errorf("http mode: url %q, token prints %q", f.UploadURL, f.UploadToken.String())
	}
	const ok = "    upload_url: http://10.0.0.5:8080\n    upload_token: 0123456789abcdef\n"
	for _, tc := range []struct{ yaml, field string }{
		{"freeswitch:\n  - record_transfer: ftp\n", "freeswitch[0].record_transfer"},
		{"freeswitch:\n  - record_transfer: http\n    upload_token: 0123456789abcdef\n", "freeswitch[0].upload_url"},
		{"freeswitch:\n  - record_transfer: http\n    upload_url: 10.0.0.5:8080\n    upload_token: 0123456789abcdef\n", "freeswitch[0].upload_url"},
		{"freeswitch:\n  - record_transfer: http\n    upload_url: http://u:p@h/\n    upload_token: 0123456789abcdef\n", "freeswitch[0].upload_url"},
		{"freeswitch:\n  - record_transfer: http\n    upload_url: http://h/?a=b\n    upload_token: 0123456789abcdef\n", "freeswitch[0].upload_url"},
		{"freeswitch:\n  - record_transfer: http\n    upload_url: http://10.0.0.5:8080\n    upload_token: short\n", "freeswitch[0].upload_token"},
		{"freeswitch:\n  - record_transfer: http\n" + ok + "    upload_timeout: 500ms\n", "freeswitch[0].upload_timeout"},
		{"freeswitch:\n  - record_transfer: http\n" + ok + "    name: fs/1\n", "freeswitch[0].name"},
		{"freeswitch:\n  - record_transfer: http\n" + ok + "    upload_max_bytes: 1000\n", "freeswitch[0].upload_max_bytes"},
	} {
		_, err := Parse([]byte(tc.yaml))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%q: err %v, want field %s", tc.yaml, err, tc.field)
			continue
		}
		if strings.Contains(err.Error(), "0123456789abcdef") {
			t.Errorf("%q: the error shows the token: %v", tc.yaml, err)
		}
	}
}

func TestUploadPath(t *testing.T) {
	f := FreeSWITCH{Name: "fs1", UploadToken: "0123456789abcdef"}
	p := f.UploadPath("r1.wav")
	if !strings.HasPrefix(p, "/v1/freeswitch/fs1/recordings/") || !strings.HasSuffix(p, "/r1.wav") || strings.Contains(p, "0123456789abcdef") {
		t.Errorf("UploadPath = %q", p)
	}
	if UploadSignature("0123456789abcdef", "fs1", "r1.wav") == UploadSignature("0123456789abcdef", "fs1", "r2.wav") ||
		UploadSignature("0123456789abcdef", "fs1", "r1.wav") == UploadSignature("0123456789abcdefX", "fs1", "r1.wav") {
		t.Error("the signature does not depend on the file and the token")
	}
}
