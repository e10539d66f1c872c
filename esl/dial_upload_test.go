package esl

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
	"github.com/pbxbridge/pbxbridge/translate"
)

// TestDialRecordingHTTPUpload: with record_transfer http the answering leg starts the
// recording to an http_cache:// URL, and the file comes back by PUT as for any recording.
func TestDialRecordingHTTPUpload(t *testing.T) {
	t.Parallel()
	out := make(chan dialOut, 1)
	r := uploadRig(t, eslsim.Options{}, testUploadToken, func(ctx context.Context, c adapter.Call) {
		_ = c.Answer(ctx)
		res, err := c.Dial(ctx, adapter.DialSpec{Targets: []adapter.DialTarget{number(bobNumber)}, Timeout: 10 * time.Second,
			Record: &adapter.RecordSpec{Name: "dial-http", Tracks: translate.TracksBoth, Channels: 2}})
		out <- dialOut{res: res, err: err}
	})
	r.sim.AddCallee(bobEP, eslsim.Callee{Ring: 200 * time.Millisecond, Audio: calleeAudio, HangupAt: 1500 * time.Millisecond})
	if _, err := r.sim.Call(r.addr, eslsim.Script{Audio: callerAudio}); err != nil {
		t.Fatal(err)
	}
	o := <-out
	if o.err != nil || o.res.Recording == nil || o.res.RecordErr != nil {
		t.Fatalf("result %+v, err %v", o.res, o.err)
	}
	assertUploads(t, r.sim, http.StatusCreated)
	left, right := split(t, o.res.Recording.WAV)
	if c, _ := corr(left, callerAudio); c < 0.9 {
		t.Errorf("left is not the caller: %.2f", c)
	}
	if c, _ := corr(right, calleeAudio); c < 0.9 {
		t.Errorf("right is not the called party: %.2f", c)
	}
	if left, _ := filepath.Glob(filepath.Join(r.dir, "*")); len(left) != 0 {
		t.Errorf("left in record_dir: %v", left)
	}
}
