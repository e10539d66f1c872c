package main

import (
	"log/slog"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/transcribe"
)

// newTranscriber is the configured speech-to-text provider; nil when none is configured (every
// transcription is then reported as failed through the dialect's callback).
func newTranscriber(c config.Transcription, log *slog.Logger) adapter.Transcriber {
	switch c.Provider {
	case "openai":
		log.Info("transcription through an OpenAI-compatible server", "url", c.OpenAI.URL, "model", c.OpenAI.Model)
		return &transcribe.OpenAI{BaseURL: c.OpenAI.URL, APIKey: c.OpenAI.APIKey.Reveal(), Model: c.OpenAI.Model}
	case "pocketsphinx":
		log.Info("transcription offline with pocketsphinx (en-US only, poor accuracy)")
		p := c.Pocketsphinx
		return &transcribe.Pocketsphinx{Binary: p.Binary, HMM: p.HMM, LM: p.LM, Dict: p.Dict}
	}
	log.Info("no transcription provider configured: transcription requests will report failed")
	return nil
}
