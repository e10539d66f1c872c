package integration

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/audio"
	"github.com/pbxbridge/pbxbridge/integration/apptest"
)

// Transcription end to end (record.md §1.2, §2.2, §4; callbacks.md §2.5–2.7, §3.5): a real
// call records tt-weasels, pbxbridge runs the transcription job against an OpenAI-compatible
// server (a handler of the app server, answering verbose_json with word probabilities), and
// the application receives each dialect's transcription callbacks.

// transcriptionConfig is the shared pbxbridge's transcription section ({app} is the app
// server): the provider is the handler sttPath serves.
const transcriptionConfig = `transcription:
  provider: openai
  openai: {url: "{app}/stt", api_key: it-stt-key}
  poll: 200ms
`

const sttPath = "/stt/v1/audio/transcriptions"

// sttText is the transcript the server gives, with its tokens as whisper.cpp's server gives
// them (" eat" "en": one word, probability 0.3).
const sttText = "weasels have eaten our phone system"

const sttAnswer = `{"task":"transcribe","language":"english","duration":3.0,"text":" weasels have eaten our phone system",
"segments":[{"id":0,"start":0,"end":3,"text":" weasels have eaten our phone system","avg_logprob":-0.2,"words":[
{"word":" weasels","start":0.0,"end":0.6,"probability":0.91},{"word":" have","start":0.6,"end":0.8,"probability":0.88},
{"word":" eat","start":0.8,"end":1.0,"probability":0.3},{"word":"en","start":1.0,"end":1.2,"probability":0.7},{"word":" our","start":1.2,"end":1.4,"probability":0.95},
{"word":" phone","start":1.4,"end":1.8,"probability":0.97},{"word":" system","start":1.8,"end":2.4,"probability":0.93}]}]}`

// sttServe answers transcription requests, after checking that they carry a WAV recording.
func sttServe(r apptest.Request) (int, string) {
	if r.Header.Get("Authorization") != "Bearer it-stt-key" {
		return http.StatusUnauthorized, `{"error":{"message":"bad key"}}`
	}
	if _, err := sttWAV(r); err != nil {
		return http.StatusBadRequest, `{"error":{"message":"` + err.Error() + `"}}`
	}
	return http.StatusOK, sttAnswer
}

// sttWAV is the recording a transcription request carries.
func sttWAV(r apptest.Request) (audio.PCM, error) {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return audio.PCM{}, err
	}
	mr := multipart.NewReader(bytes.NewReader(r.Body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return audio.PCM{}, err
		}
		if p.FormName() == "file" {
			b, err := io.ReadAll(p)
			if err != nil {
				return audio.PCM{}, err
			}
			return audio.ParseWAV(b)
		}
	}
}

func transcribeCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestTranscribeFlexML: transcribe="true" on Local/s. The action and the status callback go
// at once with empty transcription fields; callbackUrl is held back until the transcript is
// finished and goes with transcribeCallback, both carrying it with the low-confidence word
// replaced; the provider got the recording.
func TestTranscribeFlexML(t *testing.T) {
	t.Parallel()
	env.app.Handle(sttPath, sttServe)
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := transcribeCtx(t)
		c := newCall(t, "flexml").on(p)
		c.doc = `<Response><Record action="` + c.path("after") + `" callbackUrl="` + c.path("cb") +
			`" recordingStatusCallback="` + c.path("status") + `" transcribe="true" transcribeCallback="` + c.path("tr") +
			`" transcribeLowConfidenceWordThreshold="0.5" transcribeLowConfidenceWordReplacement="[?]"/></Response>`
		c.serve("after", hangupDoc)
		c.ok("cb", "status", "tr")
		c.dial(ctx, "s")

		act := c.wait(ctx, "after")
		carrierxStored(t, "action", act, "#")
		st := c.wait(ctx, "status")
		carrierxStored(t, "status callback", st, "#")
		cb := c.wait(ctx, "cb")
		tr := c.wait(ctx, "tr")
		for _, r := range []apptest.Request{cb, tr} {
			wantJSONPost(t, r.Path, r)
			wantFields(t, r.Path, r, carrierxFields)
			wantValues(t, r.Path, r, map[string]string{"CallSid": act.Get("CallSid"), "RecordingSid": act.Get("RecordingSid"),
				"RecordingUrl": act.Get("RecordingUrl"), "RecordingDuration": act.Get("RecordingDuration"), "RecordingStatus": "completed",
				"TranscriptionStatus": "completed", "TranscriptionText": "weasels have [?] our phone system", "TranscriptionUrl": "",
				"TranscriptionSid": cb.Get("TranscriptionSid"), "Digits": "#"})
			if !uuid4.MatchString(r.Get("TranscriptionSid")) {
				t.Errorf("%s: TranscriptionSid %q is not a UUID", r.Path, r.Get("TranscriptionSid"))
			}
			if r.At.Before(st.At) {
				t.Errorf("%s came before the status callback, which does not wait for the transcript", r.Path)
			}
		}
		if cb.At.After(tr.At) {
			t.Errorf("callbackUrl came after transcribeCallback; both are queued at once, callbackUrl first")
		}
		c.waitStatus(ctx)
	})
}

// TestTranscribePlivo: transcriptionUrl on Local/s. callbackUrl goes at once; the transcript
// goes to transcriptionUrl as a form POST with exactly Plivo's seven parameters, no call
// parameters, and no replacement of low-confidence words.
func TestTranscribePlivo(t *testing.T) {
	t.Parallel()
	env.app.Handle(sttPath, sttServe)
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx := transcribeCtx(t)
		c := newCall(t, "plivo").on(p)
		c.doc = `<Response><Record action="` + c.url("after") + `" callbackUrl="` + c.url("cb") +
			`" transcriptionType="auto" transcriptionUrl="` + c.url("tr") + `" finishOnKey="#" fileFormat="wav"/></Response>`
		c.serve("after", hangupDoc)
		c.ok("cb", "tr")
		c.dial(ctx, "s")

		act := c.wait(ctx, "after")
		cb := c.wait(ctx, "cb")
		tr := c.wait(ctx, "tr")
		wantForm(t, "transcriptionUrl", tr)
		wantFields(t, "transcriptionUrl", tr, []string{"transcription_charge", "transcription", "duration", "call_uuid",
			"transcription_rate", "recording_id", "error"})
		wantValues(t, "transcriptionUrl", tr, map[string]string{"transcription_charge": "0", "transcription": sttText,
			"duration": cb.Get("RecordingDuration"), "call_uuid": act.Get("CallUUID"), "transcription_rate": "0",
			"recording_id": act.Get("RecordingID"), "error": ""})
		if tr.At.Before(cb.At) {
			t.Error("the transcript came before callbackUrl, which does not wait for it")
		}
		c.waitStatus(ctx)

		// The provider got the recording: as long as the stored file.
		rec := wavFile(t, recording(t, act.Get("RecordUrl"), "audio/wav"), 1)
		var lens []string
		for _, r := range env.app.Requests() {
			if r.Path != sttPath {
				continue
			}
			if got, err := sttWAV(r); err == nil {
				if d := got.Duration() - rec.Duration(); d > -10*time.Millisecond && d < 10*time.Millisecond {
					return
				}
				lens = append(lens, got.Duration().String())
			}
		}
		t.Errorf("no transcription request carried the %v recording (lengths sent: %s)", rec.Duration(), strings.Join(lens, ", "))
	})
}
