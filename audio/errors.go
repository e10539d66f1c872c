package audio

import "errors"

// Sentinel errors. Every error this package returns for bad input wraps one of them, so callers
// can tell a broken file (ErrMalformed) from a valid one this package cannot handle
// (ErrUnsupported) with errors.Is.
var (
	// ErrMalformed: the input breaks its container's rules (truncated header, bad magic, a chunk
	// running past the end, an MP3 stream with no decodable frame).
	ErrMalformed = errors.New("audio: malformed input")
	// ErrUnsupported: the input is well formed but uses an encoding this package does not read
	// or write (24-bit PCM, IEEE float, MPEG-2.5), or the request names an unknown format.
	ErrUnsupported = errors.New("audio: unsupported encoding")
)

// FormatError describes input that breaks a rule of its container. Its message names the
// container, the part and the rule ("wav: fmt chunk: 24-bit PCM is not supported"); Err is
// ErrMalformed or ErrUnsupported.
type FormatError struct {
	Container string // "wav", "mp3", "ulaw", "pcm"
	Part      string // "fmt chunk", "data chunk", "frame 12"; "" when the rule is about the whole input
	Rule      string // what is wrong, in words
	Err       error  // ErrMalformed or ErrUnsupported
}

func (e *FormatError) Error() string {
	if e.Part == "" {
		return e.Container + ": " + e.Rule
	}
	return e.Container + ": " + e.Part + ": " + e.Rule
}

func (e *FormatError) Unwrap() error { return e.Err }

func malformed(container, part, rule string) error {
	return &FormatError{Container: container, Part: part, Rule: rule, Err: ErrMalformed}
}

func unsupported(container, part, rule string) error {
	return &FormatError{Container: container, Part: part, Rule: rule, Err: ErrUnsupported}
}
