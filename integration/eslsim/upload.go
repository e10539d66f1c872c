package eslsim

import (
	"bytes"
	"net/http"
	"strings"
	"time"
)

// Upload is one PUT the simulator made for an http_cache:// recording.
type Upload struct {
	URL    string
	Bytes  int
	Status int   // the HTTP status; 0 when the request failed
	Err    error // the request's error, if any
}

// put is mod_http_cache's http_put when a recording to http_cache://<url> is closed
// (mod_http_cache.c, http_file_close): one PUT of the whole file, Content-Type from the
// extension, User-Agent freeswitch-http-cache/1.0; 200, 201, 202 and 204 are success, and
// nothing is retried. It runs in the thread that closes the file, so before RECORD_STOP
// (switch_ivr_async.c closes a media bug's file, then sends RECORD_STOP; the simulator does the
// same for the record application).
// Options.UploadDelay holds it back (a slow network).
func (s *Sim) put(url string, body []byte) {
	if d := s.opts.UploadDelay; d > 0 {
		time.Sleep(d)
	}
	u := Upload{URL: url, Bytes: len(body)}
	if s.opts.NoUpload {
		u.Err = errNoUpload
		s.recordUpload(u)
		return
	}
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
	if err == nil {
		ct := "application/octet-stream"
		if strings.HasSuffix(strings.ToLower(url), ".wav") {
			ct = "audio/x-wav"
		}
		req.Header.Set("Content-Type", ct)
		req.Header.Set("User-Agent", "freeswitch-http-cache/1.0")
		var res *http.Response
		if res, err = (&http.Client{Timeout: 30 * time.Second}).Do(req); err == nil {
			res.Body.Close()
			u.Status = res.StatusCode
		}
	}
	u.Err = err
	s.recordUpload(u)
}

type uploadError string

func (e uploadError) Error() string { return string(e) }

// errNoUpload is the upload Options.NoUpload suppressed (an unreachable pbxbridge).
const errNoUpload = uploadError("upload suppressed by Options.NoUpload")

func (s *Sim) recordUpload(u Upload) {
	s.mu.Lock()
	s.uploads = append(s.uploads, u)
	s.mu.Unlock()
}

// Uploads lists the PUTs made so far, in order.
func (s *Sim) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Upload(nil), s.uploads...)
}
