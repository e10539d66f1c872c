package ari

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/audio"
)

// TestReconciler drives the Reconciler side against a fake ARI REST interface (the project's
// Asterisk is not free for unit tests): channel lookups, hangup with a Q.850 code, stored
// recordings by engine name (plain, snoop, stereo legs), and their deletion.
func TestReconciler(t *testing.T) {
	var mu sync.Mutex
	stored := map[string][]byte{
		"plain":      testWAV(t, 100, 200, 300),
		"snoop-s":    testWAV(t, 1, 2),
		"stereo-in":  testWAV(t, 10, 20),
		"stereo-out": testWAV(t, 30, 40),
		"half-in":    testWAV(t, 1),
	}
	var deleted, hungup []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		path := strings.TrimPrefix(r.URL.Path, "/ari")
		switch {
		case r.Method == http.MethodGet && path == "/channels/up":
			_, _ = w.Write([]byte(`{"id":"up","state":"Up"}`))
		case r.Method == http.MethodDelete && path == "/channels/up":
			hungup = append(hungup, "up "+r.URL.Query().Get("reason_code"))
			w.WriteHeader(http.StatusNoContent)
		case strings.HasPrefix(path, "/channels/"):
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"Channel not found"}`))
		case strings.HasPrefix(path, "/recordings/stored/"):
			name, file := strings.CutSuffix(strings.TrimPrefix(path, "/recordings/stored/"), "/file")
			b, ok := stored[name]
			switch {
			case !ok:
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(`{"message":"Recording not found"}`))
			case r.Method == http.MethodGet && file:
				_, _ = w.Write(b)
			case r.Method == http.MethodDelete && !file:
				delete(stored, name)
				deleted = append(deleted, name)
				w.WriteHeader(http.StatusNoContent)
			default:
				w.WriteHeader(http.StatusMethodNotAllowed)
			}
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	p, cancel := testPBX(t)
	defer cancel()
	p.restURL = srv.URL + "/ari"
	p.cmdTimeout = time.Second
	ctx := t.Context()

	if live, err := p.ChannelLive(ctx, "up"); err != nil || !live {
		t.Errorf("ChannelLive(up) = %v, %v", live, err)
	}
	if live, err := p.ChannelLive(ctx, "gone"); err != nil || live {
		t.Errorf("ChannelLive(gone) = %v, %v", live, err)
	}
	if err := p.KillChannel(ctx, "up", "NORMAL_TEMPORARY_FAILURE"); err != nil {
		t.Error(err)
	}
	if err := p.KillChannel(ctx, "gone", "NORMAL_CLEARING"); err != nil {
		t.Errorf("KillChannel of a gone channel: %v", err)
	}
	if len(hungup) != 1 || hungup[0] != "up 41" {
		t.Errorf("hangups %v, want up with code 41", hungup)
	}

	for name, want := range map[string][]int16{"plain": {100, 200, 300}, "snoop": {1, 2}, "stereo": {10, 30, 20, 40}} {
		b, err := p.RecordingWAV(ctx, name)
		if err != nil {
			t.Errorf("RecordingWAV(%s): %v", name, err)
			continue
		}
		pcm, err := audio.ParseWAV(b)
		if err != nil || !slices.Equal(pcm.Samples, want) {
			t.Errorf("RecordingWAV(%s) = %v %v, want samples %v", name, pcm.Samples, err, want)
		}
	}
	for _, name := range []string{"missing", "half"} {
		if _, err := p.RecordingWAV(ctx, name); !errors.Is(err, adapter.ErrNotFound) {
			t.Errorf("RecordingWAV(%s): %v, want ErrNotFound", name, err)
		}
	}
	if err := p.DeleteRecording(ctx, "stereo"); err != nil {
		t.Error(err)
	}
	if !slices.Equal(deleted, []string{"stereo-in", "stereo-out"}) {
		t.Errorf("deleted %v", deleted)
	}
}
