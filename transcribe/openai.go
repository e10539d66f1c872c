package transcribe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// Defaults for the zero fields of an OpenAI.
const (
	DefaultOpenAIModel = "whisper-1"
	DefaultMaxAnswer   = 8 << 20 // bytes of JSON read from the provider
	errorBodyLimit     = 512     // bytes of an error answer kept in HTTPError
)

// HTTPError is a provider answering with a status other than 200.
type HTTPError struct {
	Status int
	Body   string // the start of the answer, for the log (providers put the reason there)
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("transcribe: provider answered HTTP %d", e.Status)
	if b := strings.TrimSpace(e.Body); b != "" {
		msg += ": " + b
	}
	return msg
}

// OpenAI is a client of the OpenAI-compatible transcription API. The zero value is not
// usable: BaseURL is required. It is safe for concurrent use.
type OpenAI struct {
	// BaseURL is the server's root, without /v1: https://api.openai.com, or
	// http://127.0.0.1:8080 for a whisper.cpp server started with
	// --inference-path /v1/audio/transcriptions.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <key>" when set. Never logged.
	APIKey string
	// Model is the model field; "" = DefaultOpenAIModel.
	Model string
	// Client sends the requests; nil = a client without a timeout of its own (the caller's
	// context gives the deadline).
	Client *http.Client
	// MaxAnswer bounds the answer read, in bytes; 0 = DefaultMaxAnswer.
	MaxAnswer int64
}

var _ adapter.Transcriber = (*OpenAI)(nil)

// Transcribe posts wav and reads the verbose_json answer. Word confidences come from
// words[].probability, else segments[].words[].probability, else exp(avg_logprob) of the
// segment that holds the word; a provider that gives none of these gets confidence 1.
func (o *OpenAI) Transcribe(ctx context.Context, wav []byte, language string) (adapter.Transcript, error) {
	base, err := url.Parse(strings.TrimRight(o.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return adapter.Transcript{}, fmt.Errorf("transcribe: base URL %q must be an absolute http or https URL", o.BaseURL)
	}
	endpoint := base.JoinPath("v1", "audio", "transcriptions")

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fields := [][2]string{
		{"model", orDefaultString(o.Model, DefaultOpenAIModel)},
		{"response_format", "verbose_json"},
		{"timestamp_granularities[]", "word"},
		{"timestamp_granularities[]", "segment"},
	}
	if language != "" {
		fields = append(fields, [2]string{"language", language})
	}
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return adapter.Transcript{}, err
		}
	}
	fw, err := mw.CreateFormFile("file", "recording.wav")
	if err != nil {
		return adapter.Transcript{}, err
	}
	if _, err := fw.Write(wav); err != nil {
		return adapter.Transcript{}, err
	}
	if err := mw.Close(); err != nil {
		return adapter.Transcript{}, err
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint.String(), &body)
	if err != nil {
		return adapter.Transcript{}, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	if o.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.APIKey)
	}
	client := o.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		if cerr := context.Cause(ctx); cerr != nil {
			return adapter.Transcript{}, cerr
		}
		return adapter.Transcript{}, fmt.Errorf("transcribe: POST %s: %w", redactedURL(endpoint), err)
	}
	defer resp.Body.Close()
	limit := o.MaxAnswer
	if limit <= 0 {
		limit = DefaultMaxAnswer
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if cerr := context.Cause(ctx); cerr != nil {
			return adapter.Transcript{}, cerr
		}
		return adapter.Transcript{}, fmt.Errorf("transcribe: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return adapter.Transcript{}, &HTTPError{Status: resp.StatusCode, Body: string(data[:min(len(data), errorBodyLimit)])}
	}
	if int64(len(data)) > limit {
		return adapter.Transcript{}, fmt.Errorf("%w: answer larger than %d bytes", ErrMalformed, limit)
	}
	return parseVerbose(data)
}

// verbose is the verbose_json answer, with the fields every compatible server shares.
type verbose struct {
	Text     *string       `json:"text"`
	Words    []verboseWord `json:"words"`
	Segments []struct {
		Start      float64       `json:"start"`
		End        float64       `json:"end"`
		Text       string        `json:"text"`
		AvgLogprob *float64      `json:"avg_logprob"`
		Words      []verboseWord `json:"words"`
	} `json:"segments"`
}

type verboseWord struct {
	Word        string   `json:"word"`
	Start       float64  `json:"start"`
	End         float64  `json:"end"`
	Probability *float64 `json:"probability"`
}

func parseVerbose(data []byte) (adapter.Transcript, error) {
	var v verbose
	if err := json.Unmarshal(data, &v); err != nil {
		return adapter.Transcript{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if v.Text == nil {
		return adapter.Transcript{}, fmt.Errorf("%w: no text field", ErrMalformed)
	}
	t := adapter.Transcript{Text: strings.TrimSpace(*v.Text)}

	// segmentConfidence is exp(avg_logprob) of the segment holding time s, or 1.
	segmentConfidence := func(s float64) float64 {
		for _, seg := range v.Segments {
			if seg.AvgLogprob != nil && s >= seg.Start && s < seg.End {
				return clamp01(math.Exp(*seg.AvgLogprob))
			}
		}
		return 1
	}
	word := func(w verboseWord, fallback float64) adapter.Word {
		c := fallback
		if w.Probability != nil {
			c = clamp01(*w.Probability)
		}
		return adapter.Word{Text: strings.TrimSpace(w.Word), Start: seconds(w.Start), End: seconds(w.End), Confidence: c}
	}

	segWords := 0
	for _, seg := range v.Segments {
		segWords += len(seg.Words)
	}
	switch {
	case len(v.Words) > 0 && (allProbabilities(v.Words) || segWords == 0):
		// OpenAI: top-level words (without probabilities, so they take the segment's).
		for _, w := range v.Words {
			t.Words = append(t.Words, word(w, segmentConfidence(w.Start)))
		}
	case segWords > 0:
		// whisper.cpp and others: words inside segments, with probabilities. whisper.cpp's
		// "words" are its tokens: a token that does not start with a space continues the
		// word before it ("we", "asel", "s"), and the word is as sure as its least sure part.
		for _, seg := range v.Segments {
			fallback := 1.0
			if seg.AvgLogprob != nil {
				fallback = clamp01(math.Exp(*seg.AvgLogprob))
			}
			spaced := false
			for _, w := range seg.Words {
				spaced = spaced || strings.HasPrefix(w.Word, " ")
			}
			for i, w := range seg.Words {
				next := word(w, fallback)
				if n := len(t.Words); spaced && i > 0 && n > 0 && !strings.HasPrefix(w.Word, " ") {
					prev := &t.Words[n-1]
					prev.Text += next.Text
					prev.End = max(prev.End, next.End)
					prev.Confidence = min(prev.Confidence, next.Confidence)
					continue
				}
				t.Words = append(t.Words, next)
			}
		}
	default:
		// No word timestamps at all: the segments' words share their segment's confidence.
		for _, seg := range v.Segments {
			c := 1.0
			if seg.AvgLogprob != nil {
				c = clamp01(math.Exp(*seg.AvgLogprob))
			}
			for _, f := range strings.Fields(seg.Text) {
				t.Words = append(t.Words, adapter.Word{Text: f, Start: seconds(seg.Start), End: seconds(seg.End), Confidence: c})
			}
		}
	}
	// Drop empty words.
	out := t.Words[:0]
	for _, w := range t.Words {
		if w.Text != "" {
			out = append(out, w)
		}
	}
	t.Words = out
	return t, nil
}

func allProbabilities(ws []verboseWord) bool {
	for _, w := range ws {
		if w.Probability == nil {
			return false
		}
	}
	return true
}

func clamp01(f float64) float64 {
	switch {
	case math.IsNaN(f) || f < 0:
		return 0
	case f > 1:
		return 1
	}
	return f
}

func seconds(f float64) time.Duration {
	if f <= 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

func orDefaultString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// redactedURL is a URL fit for errors and logs: no userinfo, no query.
func redactedURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	return c.String()
}
