package esl

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/httpapi"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
	"github.com/pbxbridge/pbxbridge/translate"
)

// Recording files over HTTP (record_transfer http): FreeSWITCH records to
// http_cache://<pbxbridge>/v1/freeswitch/..., the simulator PUTs the file on close, as
// mod_http_cache does, to a real httpapi server on loopback, which stores it in record_dir;
// esl waits for it there.

const testUploadToken = config.Secret("esl-upload-token-0123")

// uploadRig serves a PBX in HTTP-upload mode against a simulator, with the upload endpoint of
// a real httpapi server keyed with serverToken (a token other than testUploadToken makes
// every upload be refused).
func uploadRig(t *testing.T, opts eslsim.Options, serverToken config.Secret, fn func(ctx context.Context, c adapter.Call)) *rig {
	t.Helper()
	return newRig(t, opts, fn, func(c *config.FreeSWITCH) {
		api := httpapi.New(httpapi.Deps{Uploads: []httpapi.Upload{{PBX: c.Name, Dir: c.RecordDir, Token: serverToken, MaxBytes: 1 << 20}}})
		srv := httptest.NewServer(api.Handler())
		t.Cleanup(srv.Close)
		c.RecordTransfer, c.UploadURL, c.UploadToken = config.RecordHTTP, srv.URL, testUploadToken
		c.UploadTimeout = config.Duration(time.Second)
	})
}

func recordOver(t *testing.T, opts eslsim.Options, serverToken config.Secret, sc eslsim.Script, spec adapter.RecordSpec) (recOut, *rig) {
	t.Helper()
	out := make(chan recOut, 1)
	r := uploadRig(t, opts, serverToken, func(ctx context.Context, c adapter.Call) {
		res, err := c.Record(ctx, spec)
		out <- recOut{res, err}
	})
	if _, err := r.sim.Call(r.addr, sc); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-out:
		return o, r
	case <-time.After(15 * time.Second):
		t.Fatal("Record did not return")
	}
	return recOut{}, nil
}

func assertUploads(t *testing.T, sim *eslsim.Sim, status int) {
	t.Helper()
	ups := sim.Uploads()
	if len(ups) != 1 || ups[0].Status != status {
		t.Fatalf("uploads %+v, want one answered %d", ups, status)
	}
	if !strings.Contains(ups[0].URL, "/v1/freeswitch/fs/recordings/") || strings.Contains(ups[0].URL, string(testUploadToken)) {
		t.Errorf("upload URL %s", ups[0].URL)
	}
}

// TestRecordHTTPUpload: the record application's file reaches pbxbridge by PUT and comes
// back as the result; nothing stays in record_dir.
func TestRecordHTTPUpload(t *testing.T) {
	t.Parallel()
	o, r := recordOver(t, eslsim.Options{}, testUploadToken,
		eslsim.Script{Audio: eslsim.Tone(10*time.Second, 3000), DTMF: []eslsim.DTMF{{At: time.Second, Digit: '#'}}},
		adapter.RecordSpec{Name: "up-key", MaxDuration: 10 * time.Second, FinishKeys: mustKeys(t, "#")})
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Reason != adapter.EndKey || o.res.Key != '#' {
		t.Errorf("reason %s key %q, want key '#'", o.res.Reason, o.res.Key)
	}
	within(t, "audio", audioLen(o.res.WAV), 500*time.Millisecond, 1100*time.Millisecond)
	assertUploads(t, r.sim, http.StatusCreated)
	if left, _ := os.ReadDir(r.dir); len(left) != 0 {
		t.Errorf("left in record_dir: %v", left)
	}
}

// TestRecordBugHTTPUpload: a uuid_record (both parties) is uploaded when the bug closes.
func TestRecordBugHTTPUpload(t *testing.T) {
	t.Parallel()
	o, r := recordOver(t, eslsim.Options{}, testUploadToken,
		eslsim.Script{Audio: eslsim.Tone(10*time.Second, 3000), DTMF: []eslsim.DTMF{{At: 1500 * time.Millisecond, Digit: '5'}}},
		adapter.RecordSpec{Name: "up-both", Tracks: translate.TracksBoth, MaxDuration: 10 * time.Second, FinishKeys: mustKeys(t, "5")})
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Reason != adapter.EndKey || len(o.res.WAV) <= 44 {
		t.Errorf("reason %s, %d bytes, want key and audio", o.res.Reason, len(o.res.WAV))
	}
	assertUploads(t, r.sim, http.StatusCreated)
}

// TestRecordUploadNeverArrives: FreeSWITCH cannot reach pbxbridge; after upload_timeout the
// recording fails with an error that names the file.
func TestRecordUploadNeverArrives(t *testing.T) {
	t.Parallel()
	o, _ := recordOver(t, eslsim.Options{NoUpload: true}, testUploadToken,
		eslsim.Script{Audio: eslsim.Tone(10*time.Second, 3000)},
		adapter.RecordSpec{Name: "up-lost", MaxDuration: time.Second})
	if !errors.Is(o.err, adapter.ErrRecordingFailed) || !errors.Is(o.err, ErrUploadMissing) {
		t.Fatalf("err = %v, want ErrRecordingFailed and ErrUploadMissing", o.err)
	}
	if !strings.Contains(o.err.Error(), "up-lost.wav") {
		t.Errorf("the error does not name the file: %v", o.err)
	}
}

// TestRecordUploadRefused: pbxbridge refuses the upload (FreeSWITCH signed it with another
// token); the file never arrives and the recording fails the same way.
func TestRecordUploadRefused(t *testing.T) {
	t.Parallel()
	o, r := recordOver(t, eslsim.Options{}, "another-upload-token-0123",
		eslsim.Script{Audio: eslsim.Tone(10*time.Second, 3000)},
		adapter.RecordSpec{Name: "up-refused", MaxDuration: time.Second})
	if !errors.Is(o.err, adapter.ErrRecordingFailed) || !strings.Contains(o.err.Error(), "up-refused.wav") {
		t.Fatalf("err = %v, want ErrRecordingFailed naming up-refused.wav", o.err)
	}
	assertUploads(t, r.sim, http.StatusUnauthorized)
	if left, _ := os.ReadDir(r.dir); len(left) != 0 {
		t.Errorf("left in record_dir: %v", left)
	}
}

// TestStartRecordingHTTPUpload: a background recording ended by hangup is uploaded and its
// result carries the audio.
func TestStartRecordingHTTPUpload(t *testing.T) {
	t.Parallel()
	got := make(chan adapter.Recording, 1)
	r := uploadRig(t, eslsim.Options{}, testUploadToken, func(ctx context.Context, c adapter.Call) {
		if err := c.Answer(ctx); err != nil {
			t.Error(err)
			return
		}
		rec, err := c.StartRecording(ctx, adapter.RecordSpec{Name: "up-sess", MaxDuration: time.Minute})
		if err != nil {
			t.Error(err)
			return
		}
		got <- rec
		<-ctx.Done()
	})
	if _, err := r.sim.Call(r.addr, eslsim.Script{Audio: eslsim.Tone(10*time.Second, 3000), HangupAt: 1500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	var rec adapter.Recording
	select {
	case rec = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no recording started")
	}
	select {
	case <-rec.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the recording never ended")
	}
	res, err := rec.Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.WAV) <= 44 {
		t.Errorf("%d bytes of recording", len(res.WAV))
	}
	assertUploads(t, r.sim, http.StatusCreated)
}

// TestUploadNeedsHTTPCache: in HTTP mode the health check asks FreeSWITCH for
// mod_http_cache; without it the PBX is not ready (a call's record would be hung up), and
// says why.
func TestUploadNeedsHTTPCache(t *testing.T) {
	t.Parallel()
	for _, missing := range []bool{true, false} {
		sim := eslsim.New(eslsim.Options{Password: "pw", NoHTTPCache: missing})
		t.Cleanup(sim.Close)
		addr, err := sim.ListenInbound("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r := newRig(t, eslsim.Options{}, func(context.Context, adapter.Call) {}, func(c *config.FreeSWITCH) {
			c.Inbound, c.Password = addr, "pw"
			c.RecordTransfer, c.UploadURL, c.UploadToken = config.RecordHTTP, "http://127.0.0.1:9", testUploadToken
			c.UploadTimeout = config.Duration(time.Second)
		})
		// wait for the health check's verdict (it starts "not ready")
		var rerr error
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			rerr = r.p.Ready()
			if (missing && rerr != nil && strings.Contains(rerr.Error(), "mod_http_cache")) || (!missing && rerr == nil) {
				break
			}
		}
		switch {
		case missing && (rerr == nil || !strings.Contains(rerr.Error(), "mod_http_cache")):
			t.Errorf("without mod_http_cache: Ready = %v, want an error naming mod_http_cache", rerr)
		case !missing && rerr != nil:
			t.Errorf("with mod_http_cache: Ready = %v", rerr)
		}
	}
}
