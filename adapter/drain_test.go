package adapter_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// TestCallLogLabels: lines a backend logs for a call carry the engine's labels from the
// moment it sets them, also through loggers derived before (a recording's With).
func TestCallLogLabels(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewTextHandler(&buf, nil)).With("pbx", "fs1")
	log, label := adapter.NewCallLog(base.With("channel_id", "ch-1"))
	rec := log.With("recording", "r1")
	log.Info("call arrived")
	label(slog.String("call_id", "c-1"), slog.String("app", "vm"))
	rec.Info("recording ended")
	log.Info("hangup")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%q", lines)
	}
	if strings.Contains(lines[0], "call_id") {
		t.Errorf("labelled before LabelLog: %s", lines[0])
	}
	for _, l := range lines[1:] {
		for _, want := range []string{"pbx=fs1", "channel_id=ch-1", "call_id=c-1", "app=vm"} {
			if !strings.Contains(l, want) {
				t.Errorf("%s lacks %s", l, want)
			}
		}
	}
	if !strings.Contains(lines[1], "recording=r1") {
		t.Error(lines[1])
	}
}
