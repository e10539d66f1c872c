package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

const minimal = `
apps:
  - name: vm
    dialect: flexml
    url: http://127.0.0.1:9000/vm
    numbers: ["15550109999"]
  - name: ivr
    dialect: plivo
    url: http://127.0.0.1:9000/ivr
    method: get
`

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.PublicURL != "http://127.0.0.1:8080" {
		t.Errorf("listen/public_url defaults: %q %q", c.Listen, c.PublicURL)
	}
	a := c.Asterisk[0]
	if a.URL != "http://127.0.0.1:8088/ari" || a.WebsocketURL != "ws://127.0.0.1:8088/ari/events" || a.Application != "pbxbridge" {
		t.Errorf("asterisk defaults: %+v", a)
	}
	if c.DefaultApp != "vm" || c.Apps[1].Method != "GET" || c.Apps[0].Method != "POST" || c.Apps[0].Container != "default" {
		t.Errorf("app defaults: %+v", c.Apps)
	}
	if c.Containers[0].QuotaBytes != 1<<30 || c.Recording.SessionCap.D() != 4*time.Hour || c.Outbox.Workers != 8 {
		t.Errorf("other defaults: %+v %+v %+v", c.Containers, c.Recording, c.Outbox)
	}
}

func TestRoute(t *testing.T) {
	c, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ named, dialled, want string }{
		{"ivr", "15550109999", "ivr"}, // the PBX's name wins
		{"", "15550109999", "vm"},
		{"", "999", "vm"}, // default app
		{"nosuch", "", "vm"},
	} {
		a, ok := c.Route(tc.named, tc.dialled)
		if !ok || a.Name != tc.want {
			t.Errorf("Route(%q, %q) = %v, want %s", tc.named, tc.dialled, a, tc.want)
		}
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Setenv("ARI_PASSWORD", "s3cret-from-env")
	c, err := Parse([]byte("asterisk:\n  - password: ${ARI_PASSWORD}\n" + minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Asterisk[0].Password.Reveal() != "s3cret-from-env" {
		t.Fatalf("password not expanded")
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	c, err := Parse([]byte("api_token: tok-123\nasterisk:\n  - password: pw-456\n" + minimal))
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", c)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "token", c.APIToken, "ast", c.Asterisk[0])
	for _, s := range []string{fmt.Sprintf("%v %+v %#v", c, c, c), logged.String()} {
		if strings.Contains(s, "tok-123") || strings.Contains(s, "pw-456") {
			t.Fatalf("secret printed: %s", s)
		}
	}
}

func TestStore(t *testing.T) {
	c, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.Redis() || c.Store.Prefix != "pbxbridge:" {
		t.Errorf("store defaults: embedded with prefix pbxbridge:, got %+v", c.Store)
	}
	for _, y := range []string{
		"store: {url: 'redis://:pw@127.0.0.1:6379/2'}",
		"store: {sentinel: {master: mymaster, addresses: ['10.0.0.1:26379', '10.0.0.2:26379']}}",
		"store: {cluster: ['10.0.0.1:7000', '10.0.0.2:7000'], prefix: 'pbx-a:'}",
	} {
		c, err := Parse([]byte(y + minimal))
		if err != nil {
			t.Errorf("%s: %v", y, err)
			continue
		}
		if !c.Store.Redis() {
			t.Errorf("%s: Redis() = false", y)
		}
	}
	c, err = Parse([]byte("store: {url: 'redis://:pw-789@127.0.0.1:6379'}" + minimal))
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%v %+v", c, c.Store); strings.Contains(s, "pw-789") {
		t.Fatalf("store url printed: %s", s)
	}
}

func TestInvalid(t *testing.T) {
	for _, tc := range []struct{ yaml, field string }{
		{"listen: [", ""},
		{"colour: blue", ""}, // unknown keys are refused
		{"public_url: ftp://x", "public_url"},
		{"link_ttl: 1s", "link_ttl"},
		{"link_ttl: soon", ""},
		{"log_level: loud", "log_level"},
		{"asterisk:\n  - password: ''", "asterisk[0].password"},
		{"asterisk:\n  - password: x\n    websocket_url: http://x/", "asterisk[0].websocket_url"},
		{"asterisk:\n  - {password: x}\n  - {password: y}", "asterisk[1].name"},
		{"apps:\n  - {name: a, dialect: twiml, url: 'http://x/'}", "apps[0].dialect"},
		{"apps:\n  - {name: a, dialect: plivo, url: '/rel'}", "apps[0].url"},
		{"apps:\n  - {name: a, dialect: plivo, url: 'http://x/', method: PUT}", "apps[0].method"},
		{"apps:\n  - {name: a, dialect: plivo, url: 'http://x/', container: nope}", "apps[0].container"},
		{"apps:\n  - {name: a, dialect: plivo, url: 'http://x/', numbers: ['1']}\n  - {name: b, dialect: plivo, url: 'http://x/', numbers: ['1']}", "apps[1].numbers[0]"},
		{"apps:\n  - {name: a, dialect: plivo, url: 'http://x/'}\n  - {name: a, dialect: plivo, url: 'http://x/'}", "apps[1].name"},
		{"default_app: ghost", "default_app"},
		{"containers:\n  - {sid: '../x'}", "containers[0].sid"},
		{"recording: {trim_threshold: 2}", "recording.trim_threshold"},
		{"outbox: {lease: 10s}", "outbox.lease"},
		{"store: {url: 'http://x:6379'}", "store.url"},
		{"store: {url: 'redis://x:6379', cluster: ['a:1']}", "store"},
		{"store: {sentinel: {addresses: ['a:26379']}}", "store.sentinel.master"},
		{"store: {sentinel: {master: m}}", "store.sentinel.addresses"},
		{"store: {sentinel: {master: m, addresses: ['nohost']}}", "store.sentinel.addresses[0]"},
		{"store: {cluster: ['a:1', 'b']}", "store.cluster[1]"},
		{"store: {url: 'redis://x:6379', prefix: 'a{b}:'}", "store.prefix"},
	} {
		_, err := Parse([]byte(tc.yaml))
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: err = %v, want ErrInvalid", tc.yaml, err)
			continue
		}
		var fe *FieldError
		if tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field) {
			t.Errorf("%q: err = %v, want a FieldError for %s", tc.yaml, err, tc.field)
		}
	}
}
