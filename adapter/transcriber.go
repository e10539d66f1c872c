package adapter

import (
	"context"
	"errors"
	"strings"
	"time"
)

// This file declares what the engine needs from a speech-to-text provider (transcribe/
// implements it) and the dialect-neutral transcript it returns.

// ErrNoTranscriber: transcription was asked for and no provider is configured. The transcript
// is reported as failed through the dialect's callback (record.md §1.2, Open).
var ErrNoTranscriber = errors.New("no transcription provider configured")

// Transcriber turns a recording into text. Implementations are safe for concurrent use and
// honour ctx's deadline: the engine always gives one (the Record's transcription timeout).
type Transcriber interface {
	// Transcribe reads wav (the stored recording as 8 kHz 16-bit WAV, mono or stereo) and
	// returns its transcript. language is an ISO 639-1 code ("en").
	Transcribe(ctx context.Context, wav []byte, language string) (Transcript, error)
}

// Word is one recognised word.
type Word struct {
	Text       string
	Start, End time.Duration // from the start of the audio; zero when the provider gives none
	// Confidence is 0–1. Providers that report none give 1, so that no word is replaced.
	Confidence float64
}

// Transcript is a provider's answer. Words may be empty when the provider gives text only.
type Transcript struct {
	Text  string
	Words []Word
}

// Replaced is the text with every word whose confidence is below threshold replaced by with
// (CarrierX transcribeLowConfidenceWordReplacement / …Threshold). Without words it is Text.
func (t Transcript) Replaced(threshold float64, with string) string {
	if len(t.Words) == 0 {
		return strings.TrimSpace(t.Text)
	}
	parts := make([]string, 0, len(t.Words))
	for _, w := range t.Words {
		text := strings.TrimSpace(w.Text)
		if text == "" {
			continue
		}
		if w.Confidence < threshold {
			text = with
		}
		parts = append(parts, text)
	}
	return strings.Join(parts, " ")
}
