// Package transcribe turns recordings into text through pluggable speech-to-text providers,
// always under the caller's deadline. Each provider implements adapter.Transcriber:
//
//   - OpenAI speaks the OpenAI-compatible HTTP API (POST {base}/v1/audio/transcriptions with
//     response_format=verbose_json and word timestamps). It serves OpenAI itself, whisper.cpp's
//     server and the other servers that copy that API.
//   - Pocketsphinx runs Debian's pocketsphinx_continuous with its en-US model on this machine:
//     no network, poor accuracy, real word confidences. It proves the plumbing offline.
//
// None of them holds state between calls; all are safe for concurrent use.
package transcribe

import "errors"

// Errors. A provider's error wraps one of these, a context error, or carries an *HTTPError.
var (
	// ErrMalformed: the provider answered with something that is not a transcript.
	ErrMalformed = errors.New("transcribe: malformed provider answer")
	// ErrLanguage: the provider cannot transcribe the requested language.
	ErrLanguage = errors.New("transcribe: language not supported")
	// ErrNotInstalled: an offline provider's program is missing (install it: scripts/deps.sh).
	ErrNotInstalled = errors.New("transcribe: program not installed")
	// ErrAudio: the recording could not be read or converted for the provider.
	ErrAudio = errors.New("transcribe: unreadable audio")
)
