package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v6"
	"github.com/CyCoreSystems/ari/v6/client/native"

	"github.com/pbxbridge/pbxbridge/audio"
	"github.com/pbxbridge/pbxbridge/integration/apptest"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
)

// This file holds what the Record tests (record_flexml_test.go, record_plivo_test.go) share:
// the apps they need in pbxbridge's config, the field sets of every callback, an ear on what a
// Local caller hears, and audio measurements.

// recordApps are apps the Record tests add to the config ({app} is the app server). Local
// calls name them in the Stasis arguments (call.app).
const recordApps = `  - name: plivo-tiny
    dialect: plivo
    url: {app}/answer/plivo
    status_url: {app}/status/plivo
    container: tiny
`

// raiseParallel lets the parallel tests run together: they spend their time waiting for
// calls, not on a CPU, so the default of GOMAXPROCS (2 here) would only serialise them. An
// explicit -test.parallel wins.
func raiseParallel() {
	if !flag.Parsed() {
		flag.Parse()
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "64")
	}
}

// slots bounds the Record tests' calls in flight. Started all at once they would be some 60
// calls within 100 ms on a 2-core machine, and a starved Asterisk delays Local-channel frames
// by seconds (a snoop then fills the gap with silence; a direct recording just gets the audio
// late), which says nothing about pbxbridge.
var slots = make(chan struct{}, 12)

// slot takes one of slots for the rest of the test: call it first in each test or subtest
// that places calls. A test holds one slot however many calls it makes one after another.
func slot(t *testing.T) {
	t.Helper()
	slots <- struct{}{}
	t.Cleanup(func() { <-slots })
}

// Field sets of the callbacks, exactly (callbacks.md §2.3, §2.4, §2.5, §2.6).
var (
	carrierxCallFields = []string{"AccountSid", "ApiVersion", "CallerName", "CallSid", "CallStatus", "Direction",
		"ForwardedFrom", "From", "OriginalFrom", "OriginalTo", "RequestUrl", "To"}
	carrierxRecordingFields = []string{"RecordingDuration", "RecordingSid", "RecordingStatus", "RecordingUrl",
		"TranscriptionSid", "TranscriptionStatus", "TranscriptionText", "TranscriptionUrl", "Digits"}
	// The action, errorAction, callbackUrl and status callback all carry the same 21 fields.
	carrierxFields = append(slices.Clone(carrierxCallFields), carrierxRecordingFields...)

	plivoCallFields   = []string{"CallUUID", "From", "To", "CallStatus", "Direction"}
	plivoHangupFields = []string{"HangupCause", "Duration", "BillDuration"}
	plivoRecFields    = []string{"RecordUrl", "RecordingDuration", "RecordingDurationMs", "RecordingStartMs", "RecordingEndMs", "RecordingID"}
	// plivoActionFields: §3.1 + §3.3 (Digits is an action-only parameter).
	plivoActionFields = append(append(slices.Clone(plivoCallFields), plivoRecFields...), "Digits")
	// plivoCallbackFields: §3.1 + §3.4.
	plivoCallbackFields = append(slices.Clone(plivoCallFields), plivoRecFields...)
)

// withHangup adds Plivo's after-hangup call parameters to a field set.
func withHangup(fields []string) []string { return append(slices.Clone(fields), plivoHangupFields...) }

var (
	hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)
	uuid4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

// wantFields checks that a request carries exactly these parameters, each once. For a JSON
// body the keys of the object are checked, for a GET the query, for a form the body.
func wantFields(t *testing.T, what string, r apptest.Request, fields []string) {
	t.Helper()
	var got []string
	switch {
	case r.JSON != nil:
		for k := range r.JSON {
			got = append(got, k)
		}
	case r.Method == http.MethodGet:
		for k, vs := range r.Query {
			got = append(got, k)
			if len(vs) != 1 {
				t.Errorf("%s: %s sent %d times", what, k, len(vs))
			}
		}
	default:
		form, err := url.ParseQuery(string(r.Body))
		if err != nil {
			t.Fatalf("%s: body is not a form: %v", what, err)
		}
		for k, vs := range form {
			got = append(got, k)
			if len(vs) != 1 {
				t.Errorf("%s: %s sent %d times", what, k, len(vs))
			}
		}
	}
	sort.Strings(got)
	want := slices.Clone(fields)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		var missing, extra []string
		for _, k := range want {
			if !slices.Contains(got, k) {
				missing = append(missing, k)
			}
		}
		for _, k := range got {
			if !slices.Contains(want, k) {
				extra = append(extra, k)
			}
		}
		t.Errorf("%s: fields missing %v, unexpected %v\n%s", what, missing, extra, r.Format())
	}
}

// wantValues checks parameter values exactly.
func wantValues(t *testing.T, what string, r apptest.Request, want map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := r.Params[k]; !ok {
			t.Errorf("%s: no %s", what, k)
			continue
		}
		if got := r.Get(k); got != want[k] {
			t.Errorf("%s: %s = %q, want %q", what, k, got, want[k])
		}
	}
}

// wantHeaders checks the headers every request carries (callbacks.md §1.3).
func wantHeaders(t *testing.T, what string, r apptest.Request) {
	t.Helper()
	if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "pbxbridge/") {
		t.Errorf("%s: User-Agent %q, want pbxbridge/<version>", what, ua)
	}
	if id := r.Header.Get("X-Pbxbridge-Event-Id"); !uuid4.MatchString(id) {
		t.Errorf("%s: X-Pbxbridge-Event-Id %q is not a UUID", what, id)
	}
	if n := r.Header.Get("X-Pbxbridge-Attempt"); n == "" || strings.Trim(n, "0123456789") != "" || n == "0" {
		t.Errorf("%s: X-Pbxbridge-Attempt %q, want the attempt number from 1", what, n)
	}
}

// wantJSONPost checks a CarrierX POST: JSON body, RecordingDuration a number and every other
// field a string (callbacks.md §1.3).
func wantJSONPost(t *testing.T, what string, r apptest.Request) {
	t.Helper()
	wantHeaders(t, what, r)
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json; charset=utf-8" || r.JSON == nil {
		t.Errorf("%s: %s %q, want a JSON POST", what, r.Method, r.Header.Get("Content-Type"))
		return
	}
	for k, v := range r.JSON {
		_, isNum := v.(float64)
		_, isStr := v.(string)
		if k == "RecordingDuration" && !isNum || k != "RecordingDuration" && !isStr {
			t.Errorf("%s: %s is %T in the JSON body", what, k, v)
		}
	}
}

// wantGET checks a GET with its fields in the query and no body.
func wantGET(t *testing.T, what string, r apptest.Request) {
	t.Helper()
	wantHeaders(t, what, r)
	if r.Method != http.MethodGet || len(r.Body) != 0 {
		t.Errorf("%s: %s with a %d-byte body, want a GET with the fields in the query", what, r.Method, len(r.Body))
	}
}

// wantForm checks a Plivo form POST.
func wantForm(t *testing.T, what string, r apptest.Request) {
	t.Helper()
	wantHeaders(t, what, r)
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("%s: %s %q, want a form POST", what, r.Method, r.Header.Get("Content-Type"))
	}
}

// carrierxCall checks the §2.1 values every CarrierX request of a call carries.
func carrierxCall(t *testing.T, what string, r apptest.Request, status string) {
	t.Helper()
	wantValues(t, what, r, map[string]string{"AccountSid": "", "ApiVersion": "2.0", "CallStatus": status,
		"Direction": "inbound", "ForwardedFrom": ""})
	if !hex32.MatchString(r.Get("CallSid")) {
		t.Errorf("%s: CallSid %q is not 32 hex characters", what, r.Get("CallSid"))
	}
}

// carrierxStored checks a completed recording's fields (§2.3, §2.5): the SID, the URL and the
// empty transcription fields. It returns RecordingDuration.
func carrierxStored(t *testing.T, what string, r apptest.Request, digits string) float64 {
	t.Helper()
	wantValues(t, what, r, map[string]string{"RecordingStatus": "completed", "Digits": digits,
		"TranscriptionSid": "", "TranscriptionStatus": "", "TranscriptionText": "", "TranscriptionUrl": ""})
	sid := r.Get("RecordingSid")
	if !uuid4.MatchString(sid) {
		t.Errorf("%s: RecordingSid %q is not a UUID", what, sid)
	}
	if u := r.Get("RecordingUrl"); !strings.HasPrefix(u, env.base+"/f/"+sid) {
		t.Errorf("%s: RecordingUrl %q, want %s/f/%s…", what, u, env.base, sid)
	}
	return num(t, what+" RecordingDuration", r.Get("RecordingDuration"))
}

// carrierxNoRecording checks the fields of a failed or absent status (§2.4, §2.6).
func carrierxNoRecording(t *testing.T, what string, r apptest.Request, status, digits string) {
	t.Helper()
	wantValues(t, what, r, map[string]string{"RecordingStatus": status, "RecordingDuration": "0", "RecordingSid": "",
		"RecordingUrl": "", "Digits": digits, "TranscriptionSid": "", "TranscriptionStatus": "", "TranscriptionText": "",
		"TranscriptionUrl": ""})
}

// plivoRecording checks a Plivo recording's parameters (§3.3, §3.4) with real values and
// returns RecordingDurationMs. ext is the file extension RecordUrl must have.
func plivoRecording(t *testing.T, what string, r apptest.Request, ext string) float64 {
	t.Helper()
	id := r.Get("RecordingID")
	if !uuid4.MatchString(id) {
		t.Errorf("%s: RecordingID %q is not a UUID", what, id)
	}
	if u := r.Get("RecordUrl"); !strings.HasPrefix(u, env.base+"/f/"+id+"."+ext+"?") {
		t.Errorf("%s: RecordUrl %q, want %s/f/%s.%s?…", what, u, env.base, id, ext)
	}
	secs := num(t, what+" RecordingDuration", r.Get("RecordingDuration"))
	ms := num(t, what+" RecordingDurationMs", r.Get("RecordingDurationMs"))
	within(t, what+": RecordingDuration vs RecordingDurationMs", secs, max(math.Round(ms/1000), min(ms, 1)), 0)
	start := num(t, what+" RecordingStartMs", r.Get("RecordingStartMs"))
	end := num(t, what+" RecordingEndMs", r.Get("RecordingEndMs"))
	now := float64(time.Now().UnixMilli())
	if start < now-5*60e3 || start > now || end < start || end > now {
		t.Errorf("%s: RecordingStartMs %.0f, RecordingEndMs %.0f: not epoch ms of the last minutes (now %.0f)", what, start, end, now)
	}
	// The file holds received audio only; the elapsed time can exceed it but never fall short
	// of it by more than the event timing.
	if end-start < ms-500 {
		t.Errorf("%s: RecordingEndMs-RecordingStartMs = %.0f ms, shorter than RecordingDurationMs %.0f", what, end-start, ms)
	}
	return ms
}

// requested reports whether the call caused a request to p.
func (c *call) requested(p string) bool {
	for _, r := range c.requests() {
		if r.Path == c.path(p) {
			return true
		}
	}
	return false
}

// count is the number of requests the call caused to p.
func (c *call) count(p string) int {
	n := 0
	for _, r := range c.requests() {
		if r.Path == c.path(p) {
			n++
		}
	}
	return n
}

// answered is the call's answer-document request.
func (c *call) answered(ctx context.Context) apptest.Request {
	c.t.Helper()
	r, err := env.app.Wait(ctx, func(r apptest.Request) bool {
		return r.Path == "/answer/"+c.dialect && (r.Get("From") == c.number || r.Get("To") == c.number)
	})
	if err != nil {
		c.t.Fatalf("answer request: %v", err)
	}
	return r
}

// notRequested fails if the call caused a request to any of paths. Call it once the call's
// status callback has arrived: a call's callbacks are delivered in order, so anything the call
// queued before it has been delivered by then.
func (c *call) notRequested(paths ...string) {
	c.t.Helper()
	for _, p := range paths {
		if c.requested(p) {
			c.t.Errorf("%s was requested; it must not be", c.path(p))
		}
	}
}

// serve answers a path of this call with a fixed document or status.
func (c *call) serve(p, doc string) { env.app.Document(c.path(p), doc) }
func (c *call) ok(paths ...string) {
	for _, p := range paths {
		env.app.Status(c.path(p), http.StatusOK)
	}
}

// recording downloads a recording URL and checks its Content-Type.
func recording(t *testing.T, u, contentType string) []byte {
	t.Helper()
	data, hdr := fetch(t, u)
	keep(t, "recording", data)
	if got := hdr.Get("Content-Type"); got != contentType {
		t.Errorf("GET %s: Content-Type %q, want %q", u, got, contentType)
	}
	return data
}

// wavFile checks a stored WAV: RIFF/WAVE, 8 kHz 16-bit PCM with the channels wanted.
func wavFile(t *testing.T, data []byte, channels int) audio.PCM {
	t.Helper()
	if len(data) < 44 || string(data[:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		t.Fatalf("stored file is not RIFF/WAVE: % x", data[:min(len(data), 16)])
	}
	// fmt chunk of a canonical header: PCM (1), channels, 8000 Hz, 16 bits.
	if string(data[12:16]) != "fmt " || le16(data[20:]) != 1 || le16(data[22:]) != channels ||
		le32(data[24:]) != 8000 || le16(data[34:]) != 16 {
		t.Errorf("WAV header: format %d, %d channels, %d Hz, %d bits; want PCM, %d channels, 8000 Hz, 16 bits",
			le16(data[20:]), le16(data[22:]), le32(data[24:]), le16(data[34:]), channels)
	}
	p, err := audio.ParseWAV(data)
	if err != nil {
		t.Fatalf("stored WAV: %v", err)
	}
	return p
}

func le16(b []byte) int { return int(b[0]) | int(b[1])<<8 }
func le32(b []byte) int { return le16(b) | le16(b[2:])<<16 }

// mp3File checks a stored MP3: its first frame header is MPEG-1 Layer III, mono (record.md
// §1.2), after an optional ID3v2 tag; it decodes to mono audio.
func mp3File(t *testing.T, data []byte) audio.PCM {
	t.Helper()
	off := 0
	if len(data) > 10 && string(data[:3]) == "ID3" {
		off = 10 + int(data[6]&0x7f)<<21 | int(data[7]&0x7f)<<14 | int(data[8]&0x7f)<<7 | int(data[9]&0x7f)
	}
	if len(data) < off+4 || data[off] != 0xff || data[off+1]&0xe0 != 0xe0 {
		t.Fatalf("stored file does not start with an MP3 frame sync: % x", data[off:min(len(data), off+8)])
	}
	if v, l, mode := data[off+1]>>3&3, data[off+1]>>1&3, data[off+3]>>6; v != 3 || l != 1 || mode != 3 {
		t.Errorf("MP3 frame header: version bits %02b, layer bits %02b, channel mode %02b; want MPEG-1 (11) Layer III (01) mono (11)", v, l, mode)
	}
	p, err := audio.DecodeMP3(data)
	if err != nil {
		t.Fatalf("stored MP3: %v", err)
	}
	if p.Channels != 1 {
		t.Errorf("stored MP3 has %d channels, want mono", p.Channels)
	}
	return p
}

// mono8k is p at 8 kHz mono, for correlation.
func mono8k(t *testing.T, p audio.PCM) audio.PCM {
	t.Helper()
	q, err := audio.Conform(p, 8000, 1)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// channel extracts one channel of a stereo PCM.
func channel(p audio.PCM, ch int) audio.PCM {
	out := audio.PCM{Rate: p.Rate, Channels: 1, Samples: make([]int16, 0, p.Frames())}
	for i := ch; i < len(p.Samples); i += p.Channels {
		out.Samples = append(out.Samples, p.Samples[i])
	}
	return out
}

// correlation is how well needle is found in haystack: the median, over the needle's 250 ms
// segments that hold sound, of each segment's best normalised correlation at any lag
// (audio.Correlate). Segments rather than the whole needle, because a snoop or a Local
// channel on a loaded machine slips a frame now and then (a 20 ms gap inserted or dropped),
// which moves the rest of the audio to another lag: the recording still carries every bit
// of it, and each segment still scores about 1. Unrelated audio scores low per segment.
func correlation(needle, haystack audio.PCM) float64 {
	needle, haystack = audio.Mono(needle), audio.Mono(haystack)
	if needle.Rate != 8000 || haystack.Rate != 8000 {
		var err error
		if needle, err = audio.Resample(needle, 8000); err != nil {
			return 0
		}
		if haystack, err = audio.Resample(haystack, 8000); err != nil {
			return 0
		}
	}
	const seg = 2000 // 250 ms
	var scores []float64
	for i := 0; i+seg <= len(needle.Samples); i += seg {
		part := audio.PCM{Rate: 8000, Channels: 1, Samples: needle.Samples[i : i+seg]}
		if loud(part, 300) < 100*time.Millisecond {
			continue // a pause: nothing to find
		}
		c, _ := audio.Correlate(part, haystack, haystack.Duration()+part.Duration())
		scores = append(scores, c)
	}
	if len(scores) == 0 {
		c, _ := audio.Correlate(needle, haystack, haystack.Duration()+needle.Duration())
		return c
	}
	sort.Float64s(scores)
	return scores[len(scores)/2]
}

// peak is the largest absolute sample.
func peak(p audio.PCM) int {
	m := 0
	for _, s := range p.Samples {
		m = max(m, abs(int(s)))
	}
	return m
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// loud is how long p is above a level, in 20 ms frames whose RMS exceeds it.
func loud(p audio.PCM, rms float64) time.Duration {
	p = audio.Mono(p)
	n := p.Rate / 50
	var d time.Duration
	for i := 0; i+n <= len(p.Samples); i += n {
		var e float64
		for _, s := range p.Samples[i : i+n] {
			e += float64(s) * float64(s)
		}
		if math.Sqrt(e/float64(n)) > rms {
			d += 20 * time.Millisecond
		}
	}
	return d
}

// quietEdges is how long p is quiet at its start and at its end: 10 ms frames whose RMS stays
// at or below rms.
func quietEdges(p audio.PCM, rms float64) (lead, trail time.Duration) {
	p = audio.Mono(p)
	n := p.Rate / 100
	var frames []bool
	for i := 0; i+n <= len(p.Samples); i += n {
		var e float64
		for _, s := range p.Samples[i : i+n] {
			e += float64(s) * float64(s)
		}
		frames = append(frames, math.Sqrt(e/float64(n)) > rms)
	}
	first, last := -1, -1
	for i, on := range frames {
		if on {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return p.Duration(), p.Duration()
	}
	return time.Duration(first) * 10 * time.Millisecond, p.Duration() - time.Duration(last+1)*10*time.Millisecond
}

// sounds of the project's Asterisk, the sources of what Local calls play.
func sound(t *testing.T, name string) audio.PCM {
	t.Helper()
	root := envOr("PBX_ASTERISK_ROOT", filepath.Join(envOr("PBX_CACHE", "/var/cache/pbxbridge"), "asterisk-root"))
	for _, dir := range []string{"en", "en_US_f_Allison"} {
		b, err := os.ReadFile(filepath.Join(root, "usr/share/asterisk/sounds", dir, name+".wav"))
		if err == nil {
			p, err := audio.ParseWAV(b)
			if err != nil {
				t.Fatalf("sound %s: %v", name, err)
			}
			return p
		}
	}
	t.Fatalf("sound %s not found under %s", name, root)
	return audio.PCM{}
}

// sipAudio is what the SIPp scenarios send: g711a.pcap.
func sipAudio(t *testing.T) audio.PCM {
	t.Helper()
	p, err := pcapAudio("/usr/share/sip-tester/g711a.pcap")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// chirp is a test signal no call carries otherwise: a linear sweep from 300 Hz to 3 kHz over
// d at amplitude a, sharp in correlation (unlike a steady tone, it matches at one lag only).
func chirp(d time.Duration, a float64) audio.PCM {
	n := int(d.Seconds() * 8000)
	p := audio.PCM{Rate: 8000, Channels: 1, Samples: make([]int16, n)}
	f0, f1, T := 300.0, 3000.0, d.Seconds()
	for i := range p.Samples {
		x := float64(i) / 8000
		p.Samples[i] = int16(a * math.Sin(2*math.Pi*(f0*x+(f1-f0)*x*x/(2*T))))
	}
	return p
}

// serveAudio serves p as a WAV at a path of the call.
func (c *call) serveAudio(p string, pcm audio.PCM) {
	c.t.Helper()
	b, err := audio.EncodeWAV(pcm)
	if err != nil {
		c.t.Fatal(err)
	}
	env.app.Handle(c.path(p), func(apptest.Request) (int, string) { return http.StatusOK, string(b) })
}

// ---- What a Local caller hears ----------------------------------------------------------

// observerApp is a Stasis application of the tests' own. Its snoops record, on the far half
// of a Local call, the audio that pbxbridge sends to the caller. The name is the process's
// own: Asterisk gives an application name to the last websocket that registers it.
var observerApp = fmt.Sprintf("pbxbridge-it-%d", os.Getpid())

var observer struct {
	once sync.Once
	cl   ari.Client
	stop context.CancelFunc // ends the websocket; the app lives as long as the tests
	err  error
}

func startObserver() error {
	observer.once.Do(func() {
		ws := strings.Replace(strings.Replace(ariURL, "https://", "wss://", 1), "http://", "ws://", 1) + "/events"
		done := make(chan error, 1)
		ctx, cancel := context.WithCancel(context.Background())
		observer.stop = cancel
		go func() {
			cl, err := native.ConnectWithContext(ctx, &native.Options{Application: observerApp, URL: ariURL,
				WebsocketURL: ws, Username: ariUser, Password: ariPassword})
			observer.cl = cl
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				cancel()
				observer.err = fmt.Errorf("observer app: %w", err)
				return
			}
		case <-time.After(15 * time.Second):
			cancel()
			observer.err = errors.New("observer app: no ARI websocket within 15 s")
			return
		}
		// Connecting returns before Asterisk has registered the app (asterisk.md §5).
		for range 100 {
			if st, _, _ := ariDo(http.MethodGet, "/applications/"+observerApp, nil); st == http.StatusOK {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		observer.err = errors.New("observer app: never registered")
	})
	return observer.err
}

// ariDo sends one ARI request.
func ariDo(method, path string, q url.Values) (int, []byte, error) {
	u := ariURL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, _ := http.NewRequest(method, u, nil)
	req.SetBasicAuth(ariUser, ariPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, nil
}

// heard is a recording of what a Local caller hears.
type heard struct {
	t    *testing.T
	name string
	fs   *eslsim.Channel // on FreeSWITCH: the simulated channel, whose write stream is the ear
}

// localHeard originates Local/<exten>@play-test/n like local, and records the audio the
// dialplan half receives: everything pbxbridge plays to the caller (beeps, background audio,
// prompts), on the call's timeline (a snoop sends silence when nothing plays).
func (c *call) localHeard(exten string) *heard {
	c.t.Helper()
	if err := startObserver(); err != nil {
		c.t.Fatal(err)
	}
	id := fmt.Sprintf("it-%s-%d", c.number, time.Now().UnixNano())
	q := url.Values{
		"endpoint":       {"Local/" + exten + "@play-test/n"},
		"app":            {"pbxbridge"},
		"appArgs":        {c.appName()},
		"callerId":       {fmt.Sprintf("\"test\" <%s>", c.number)},
		"channelId":      {id + "-1"},
		"otherChannelId": {id + "-2"},
	}
	if st, b, err := ariDo(http.MethodPost, "/channels", q); err != nil || st/100 != 2 {
		c.t.Fatalf("originate: HTTP %d %v: %s", st, err, b)
	}
	h := &heard{t: c.t, name: id + "-heard"}
	snoop := id + "-ear"
	if st, b, err := ariDo(http.MethodPost, "/channels/"+id+"-2/snoop",
		url.Values{"spy": {"in"}, "app": {observerApp}, "snoopId": {snoop}}); err != nil || st/100 != 2 {
		c.t.Fatalf("snoop: HTTP %d %v: %s", st, err, b)
	}
	// The snoop answers 409 until it is in Stasis.
	for i := 0; ; i++ {
		st, b, err := ariDo(http.MethodPost, "/channels/"+snoop+"/record",
			url.Values{"name": {h.name}, "format": {"wav"}, "ifExists": {"overwrite"}, "maxDurationSeconds": {"120"}})
		if err == nil && st/100 == 2 {
			break
		}
		if i == 100 {
			c.t.Fatalf("recording the snoop: HTTP %d %v: %s", st, err, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return h
}

// appName is the app a Local call names.
func (c *call) appName() string {
	if c.app != "" {
		return c.app
	}
	return c.dialect
}

// audio waits until the call is over (the snoop's recording ends with it) and returns what
// the caller heard.
func (h *heard) audio(ctx context.Context) audio.PCM {
	h.t.Helper()
	if h.fs != nil {
		return h.fsHeard(ctx)
	}
	for {
		st, _, err := ariDo(http.MethodGet, "/recordings/live/"+h.name, nil)
		if err == nil && st == http.StatusNotFound {
			break
		}
		select {
		case <-ctx.Done():
			h.t.Fatalf("the caller's ear %s is still recording", h.name)
		case <-time.After(100 * time.Millisecond):
		}
	}
	st, b, err := ariDo(http.MethodGet, "/recordings/stored/"+h.name+"/file", nil)
	if err != nil || st != http.StatusOK {
		h.t.Fatalf("what the caller heard: HTTP %d %v", st, err)
	}
	_, _, _ = ariDo(http.MethodDelete, "/recordings/stored/"+h.name, nil)
	keep(h.t, "heard.wav", b)
	p, err := audio.ParseWAV(b)
	if err != nil {
		h.t.Fatalf("what the caller heard: %v", err)
	}
	return p
}

// ---- pbxbridge's log ----------------------------------------------------------------------

// logLines returns the lines of pbxbridge's log that contain every one of subs.
func logLines(subs ...string) []string {
	b, _ := os.ReadFile(env.logPath)
	var out []string
	for _, line := range bytes.Split(b, []byte("\n")) {
		ok := true
		for _, s := range subs {
			ok = ok && bytes.Contains(line, []byte(s))
		}
		if ok {
			out = append(out, string(line))
		}
	}
	return out
}

// logValue is the value of key=value in a slog text line.
func logValue(line, key string) string {
	m := regexp.MustCompile(`(?:^| )` + regexp.QuoteMeta(key) + `=("(?:[^"\\]|\\.)*"|\S*)`).FindStringSubmatch(line)
	if m == nil {
		return ""
	}
	return strings.Trim(m[1], `"`)
}

// keep saves a file under $PBXBRIDGE_IT_KEEP, named after the test, for a look at failures.
func keep(t *testing.T, name string, data []byte) {
	dir := os.Getenv("PBXBRIDGE_IT_KEEP")
	if dir == "" {
		return
	}
	_ = os.MkdirAll(dir, 0o755)
	base := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + "-" + name
	path := filepath.Join(dir, base)
	for i := 2; ; i++ {
		if _, err := os.Stat(path); err != nil {
			break
		}
		path = filepath.Join(dir, fmt.Sprintf("%s.%d", base, i))
	}
	_ = os.WriteFile(path, data, 0o644)
}

// itAPIToken is the harness's API token (files API, Bearer).
const itAPIToken = "it-api-token"

// fileMeta reads a stored file's metadata through pbxbridge's files API
// (GET /core/v2/storage/files/{sid}, CarrierX's shape).
func fileMeta(t *testing.T, sid string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.base+"/core/v2/storage/files/"+sid, nil)
	req.Header.Set("Authorization", "Bearer "+itAPIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("files API for %s: HTTP %d, %v", sid, resp.StatusCode, err)
	}
	return m
}
