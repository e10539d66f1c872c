package transcribe_test

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/transcribe"
)

// server is an OpenAI-compatible transcription server answering with status and body, after
// checking the request's shape.
func server(t *testing.T, status int, body string, delay time.Duration) (*httptest.Server, chan struct{}) {
	t.Helper()
	got := make(chan struct{}, 1)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { got <- struct{}{} }()
		if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/transcriptions" {
			t.Errorf("request %s %s, want POST /v1/audio/transcriptions", r.Method, r.URL.Path)
		}
		if a := r.Header.Get("Authorization"); a != "Bearer sk-test" {
			t.Errorf("Authorization = %q", a)
		}
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			t.Errorf("multipart: %v", err)
			return
		}
		if f := r.MultipartForm.Value; f["response_format"][0] != "verbose_json" || f["model"][0] != "whisper-1" ||
			f["language"][0] != "en" || strings.Join(f["timestamp_granularities[]"], ",") != "word,segment" {
			t.Errorf("form fields = %v", f)
		}
		file, _, err := r.FormFile("file")
		if err != nil {
			t.Errorf("file: %v", err)
			return
		}
		if b, _ := io.ReadAll(file); string(b) != "RIFFfake" {
			t.Errorf("file = %q", b)
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s, got
}

func client(s *httptest.Server) *transcribe.OpenAI {
	return &transcribe.OpenAI{BaseURL: s.URL + "/", APIKey: "sk-test"}
}

func TestOpenAIConfidences(t *testing.T) {
	logp := math.Log(0.25)
	for _, tc := range []struct {
		name, body string
		want       []adapter.Word
		text       string // replaced at threshold 0.5 with "_"
	}{
		{"top-level words with probability (OpenAI-like servers)",
			`{"text":" hi it's sam","words":[{"word":"hi","start":0.1,"end":0.4,"probability":0.9},{"word":" it's","start":0.4,"end":0.6,"probability":0.3},{"word":"sam","start":0.6,"end":1.0,"probability":0.7}],"segments":[{"start":0,"end":1,"text":"hi it's sam","avg_logprob":-0.1}]}`,
			[]adapter.Word{wd("hi", 100*time.Millisecond, 400*time.Millisecond, 0.9), wd("it's", 400*time.Millisecond, 600*time.Millisecond, 0.3), wd("sam", 600*time.Millisecond, time.Second, 0.7)},
			"hi _ sam"},
		{"segment words with probability (whisper.cpp)",
			`{"task":"transcribe","language":"english","duration":2.0,"text":"call me","segments":[{"id":0,"start":0,"end":2,"text":" call me","avg_logprob":-0.2,"words":[{"word":" call","start":0.0,"end":0.5,"probability":0.2},{"word":" me","start":0.5,"end":0.9,"probability":0.8}]}]}`,
			[]adapter.Word{wd("call", 0, 500*time.Millisecond, 0.2), wd("me", 500*time.Millisecond, 900*time.Millisecond, 0.8)},
			"_ me"},
		{"segment words are whisper.cpp's tokens: pieces without a leading space continue a word",
			`{"text":" weasels, eaten","segments":[{"start":0,"end":2,"text":" weasels, eaten","avg_logprob":-0.2,"words":[{"word":" we","start":0.0,"end":0.2,"probability":0.9},{"word":"asel","start":0.2,"end":0.4,"probability":0.4},{"word":"s","start":0.4,"end":0.5,"probability":0.8},{"word":",","start":0.5,"end":0.5,"probability":0.95},{"word":" eaten","start":0.6,"end":1.0,"probability":0.7}]}]}`,
			[]adapter.Word{wd("weasels,", 0, 500*time.Millisecond, 0.4), wd("eaten", 600*time.Millisecond, time.Second, 0.7)},
			"_ eaten"},
		{"top-level words without probability take the segment's avg_logprob (OpenAI)",
			`{"text":"back soon","words":[{"word":"back","start":0.1,"end":0.5},{"word":"soon","start":1.2,"end":1.6}],"segments":[{"start":0,"end":1,"text":"back","avg_logprob":-0.05},{"start":1,"end":2,"text":"soon","avg_logprob":` + ftoa(logp) + `}]}`,
			[]adapter.Word{wd("back", 100*time.Millisecond, 500*time.Millisecond, math.Exp(-0.05)), wd("soon", 1200*time.Millisecond, 1600*time.Millisecond, 0.25)},
			"back _"},
		{"segments only: their words share avg_logprob",
			`{"text":"bye now","segments":[{"start":0,"end":1,"text":" bye now","avg_logprob":` + ftoa(logp) + `}]}`,
			[]adapter.Word{wd("bye", 0, time.Second, 0.25), wd("now", 0, time.Second, 0.25)},
			"_ _"},
		{"text only: no words, confidence unknown, nothing replaced",
			`{"text":" just text "}`, nil, "just text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := server(t, 200, tc.body, 0)
			got, err := client(s).Transcribe(context.Background(), []byte("RIFFfake"), "en")
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Words) != len(tc.want) {
				t.Fatalf("words = %+v, want %+v", got.Words, tc.want)
			}
			for i, w := range got.Words {
				x := tc.want[i]
				if w.Text != x.Text || w.Start != x.Start || w.End != x.End || math.Abs(w.Confidence-x.Confidence) > 1e-9 {
					t.Errorf("word %d = %+v, want %+v", i, w, x)
				}
			}
			if r := got.Replaced(0.5, "_"); r != tc.text {
				t.Errorf("Replaced(0.5, _) = %q, want %q", r, tc.text)
			}
		})
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func TestOpenAIFailures(t *testing.T) {
	t.Run("5xx", func(t *testing.T) {
		s, _ := server(t, 503, `{"error":{"message":"overloaded"}}`, 0)
		_, err := client(s).Transcribe(context.Background(), []byte("RIFFfake"), "en")
		var he *transcribe.HTTPError
		if !errors.As(err, &he) || he.Status != 503 || !strings.Contains(he.Body, "overloaded") {
			t.Fatalf("err = %v, want HTTPError 503 with the body", err)
		}
	})
	for _, body := range []string{`{"text":"unterminated`, `[1,2]`, `{"segments":[]}`, `<html>bad gateway</html>`} {
		t.Run("malformed "+body, func(t *testing.T) {
			s, _ := server(t, 200, body, 0)
			_, err := client(s).Transcribe(context.Background(), []byte("RIFFfake"), "en")
			if !errors.Is(err, transcribe.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
	t.Run("slow past the deadline", func(t *testing.T) {
		s, got := server(t, 200, `{"text":"late"}`, time.Minute)
		cause := errors.New("transcribeTimeout ran out")
		ctx, cancel := context.WithTimeoutCause(context.Background(), 200*time.Millisecond, cause)
		defer cancel()
		_, err := client(s).Transcribe(ctx, []byte("RIFFfake"), "en")
		if !errors.Is(err, cause) {
			t.Fatalf("err = %v, want the deadline's cause", err)
		}
		<-got // the server saw the request go away
	})
	t.Run("bad base URL", func(t *testing.T) {
		_, err := (&transcribe.OpenAI{BaseURL: "ftp://x"}).Transcribe(context.Background(), nil, "en")
		if err == nil || !strings.Contains(err.Error(), "base URL") {
			t.Fatalf("err = %v", err)
		}
	})
}

func wd(text string, start, end time.Duration, conf float64) adapter.Word {
	return adapter.Word{Text: text, Start: start, End: end, Confidence: conf}
}
