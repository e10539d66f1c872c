package config

import (
	"fmt"
	"time"
)

// Transcription chooses the speech-to-text provider behind Record's transcribe (CarrierX) and
// transcriptionUrl (Plivo), and tunes the durable jobs that run it. With no provider, every
// transcription request is answered through the dialect's callback as failed.
type Transcription struct {
	// Provider is "" (none), "openai" (any OpenAI-compatible server: OpenAI, whisper.cpp's
	// server, ...) or "pocketsphinx" (offline, Debian's pocketsphinx; poor accuracy).
	Provider     string             `yaml:"provider"`
	OpenAI       OpenAITranscriber  `yaml:"openai"`
	Pocketsphinx PocketsphinxConfig `yaml:"pocketsphinx"`
	// Workers is how many transcriptions one instance runs at once. Default 2; 1–64.
	Workers int `yaml:"workers"`
	// Lease is how long a claimed job stays with its worker without a renewal (renewed every
	// third of it): a dead instance's jobs are taken over after at most this. Default 30s;
	// 3s–10m.
	Lease Duration `yaml:"lease"`
	// Poll is how often idle workers look for jobs other instances queued. Default 2s;
	// 100ms–1m.
	Poll Duration `yaml:"poll"`
}

// OpenAITranscriber is an OpenAI-compatible transcription server.
type OpenAITranscriber struct {
	// URL is the server's root, without /v1 (requests go to <url>/v1/audio/transcriptions).
	// Required with provider openai; e.g. https://api.openai.com or http://127.0.0.1:8081.
	URL string `yaml:"url"`
	// APIKey is sent as a Bearer token when set. Never logged.
	APIKey Secret `yaml:"api_key"`
	// Model is the model field. Default whisper-1.
	Model string `yaml:"model"`
}

// PocketsphinxConfig runs pocketsphinx_continuous. Empty fields use the program's defaults.
type PocketsphinxConfig struct {
	Binary string `yaml:"binary"` // default pocketsphinx_continuous from PATH
	HMM    string `yaml:"hmm"`    // acoustic model directory (-hmm)
	LM     string `yaml:"lm"`     // language model (-lm)
	Dict   string `yaml:"dict"`   // pronunciation dictionary (-dict)
}

func (t *Transcription) applyDefaults() {
	if t.Workers == 0 {
		t.Workers = 2
	}
	if t.Lease == 0 {
		t.Lease = Duration(30 * time.Second)
	}
	if t.Poll == 0 {
		t.Poll = Duration(2 * time.Second)
	}
	if t.Provider == "openai" && t.OpenAI.Model == "" {
		t.OpenAI.Model = "whisper-1"
	}
}

func (t Transcription) validate(bad func(field, format string, args ...any) error) error {
	switch t.Provider {
	case "", "pocketsphinx":
	case "openai":
		if err := checkURL(t.OpenAI.URL); err != "" {
			return bad("transcription.openai.url", "%s", err)
		}
	default:
		return bad("transcription.provider", `must be "", "openai" or "pocketsphinx", got %q`, t.Provider)
	}
	if t.Workers < 1 || t.Workers > 64 {
		return bad("transcription.workers", "must be between 1 and 64, got %d", t.Workers)
	}
	if t.Lease < Duration(3*time.Second) || t.Lease > Duration(10*time.Minute) {
		return bad("transcription.lease", "must be between 3s and 10m, got %s", t.Lease)
	}
	if t.Poll < Duration(100*time.Millisecond) || t.Poll > Duration(time.Minute) {
		return bad("transcription.poll", "must be between 100ms and 1m, got %s", t.Poll)
	}
	return nil
}

// String keeps the API key out of %v.
func (t OpenAITranscriber) String() string {
	return fmt.Sprintf("{url:%s model:%s api_key:%s}", redactURL(t.URL), t.Model, t.APIKey)
}
