package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestTranscription(t *testing.T) {
	c, err := Parse([]byte("apps: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if tr := c.Transcription; tr.Provider != "" || tr.Workers != 2 || tr.Lease.D() != 30*time.Second || tr.Poll.D() != 2*time.Second {
		t.Errorf("defaults: %+v", tr)
	}
	c, err = Parse([]byte("transcription:\n  provider: openai\n  openai: {url: 'http://127.0.0.1:9/', api_key: sk-secret}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Transcription.OpenAI.Model != "whisper-1" {
		t.Errorf("model default: %q", c.Transcription.OpenAI.Model)
	}
	if s := fmt.Sprintf("%v %+v", c.Transcription, c.Transcription.OpenAI); strings.Contains(s, "sk-secret") {
		t.Errorf("the API key prints: %s", s)
	}
	for _, tc := range []struct{ yaml, field string }{
		{"transcription: {provider: whisper}", "transcription.provider"},
		{"transcription: {provider: openai}", "transcription.openai.url"},
		{"transcription: {provider: openai, openai: {url: 'ftp://x'}}", "transcription.openai.url"},
		{"transcription: {workers: 65}", "transcription.workers"},
		{"transcription: {lease: 1s}", "transcription.lease"},
		{"transcription: {poll: 2m}", "transcription.poll"},
	} {
		_, err := Parse([]byte(tc.yaml))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%q: err = %v, want a FieldError for %s", tc.yaml, err, tc.field)
		}
	}
	if _, err := Parse([]byte("transcription: {provider: pocketsphinx, pocketsphinx: {binary: /usr/bin/pocketsphinx_continuous}}")); err != nil {
		t.Errorf("pocketsphinx: %v", err)
	}
}
