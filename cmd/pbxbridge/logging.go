package main

import (
	"io"
	"log/slog"
	"strings"

	"github.com/pbxbridge/pbxbridge/config"
)

// newLogger is the process's logger: text (key=value) or JSON lines on w, at level. Lines
// about a call carry call_id, pbx and app (the engine and the PBX backends add them).
//
// Secrets are kept out twice: config.Secret prints as [redacted] in both formats (its
// MarshalText), and any attribute whose key names a secret (password, secret, token,
// authorization, api_key) is replaced whatever its type, so that a plain string handed to a
// logger by mistake does not leak.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l, ReplaceAttr: redactAttr}
	if format == config.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// secretKeys are the parts of attribute keys whose values are never logged.
var secretKeys = []string{"password", "passwd", "secret", "token", "authorization", "api_key", "apikey"}

func redactAttr(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindGroup {
		return a
	}
	k := strings.ToLower(a.Key)
	for _, s := range secretKeys {
		if strings.Contains(k, s) {
			if a.Value.Kind() == slog.KindString && a.Value.String() == "" {
				return a
			}
			return slog.String(a.Key, "[redacted]")
		}
	}
	return a
}
