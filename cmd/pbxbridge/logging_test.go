package main

import (
	"bytes"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pbxbridge/pbxbridge/config"
)

func TestLoggerRedactsSecrets(t *testing.T) {
	for _, format := range []string{config.LogJSON, config.LogText} {
		var buf bytes.Buffer
		log := newLogger(&buf, "debug", format)
		log.Info("x", "password", "hunter2-plain", "ari_password", config.Secret("hunter3-secret"),
			"upload_token", "tok-abc-123", "Authorization", "Bearer zzz-999", "call_id", "c1", "empty_token", "")
		out := buf.String()
		for _, s := range []string{"hunter2-plain", "hunter3-secret", "tok-abc-123", "zzz-999"} {
			if strings.Contains(out, s) {
				t.Errorf("%s: secret %q logged: %s", format, s, out)
			}
		}
		if !strings.Contains(out, "c1") || !strings.Contains(out, "[redacted]") {
			t.Errorf("%s: %s", format, out)
		}
		if format == config.LogJSON {
			var m map[string]any
			if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
				t.Fatalf("not JSON: %v: %s", err, out)
			}
			if m["call_id"] != "c1" || m["empty_token"] != "" {
				t.Errorf("%v", m)
			}
		}
	}
}

// TestSDNotify: the datagram systemd's Type=notify waits for reaches $NOTIFY_SOCKET.
func TestSDNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	if err := sdNotify("READY=1\nSTATUS=serving"); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 256)
	n, err := ln.Read(b)
	if err != nil || string(b[:n]) != "READY=1\nSTATUS=serving" {
		t.Fatalf("got %q, %v", b[:n], err)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := sdNotify("READY=1"); err != nil {
		t.Errorf("without NOTIFY_SOCKET: %v", err)
	}
}
