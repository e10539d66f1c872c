package tts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/audio"
)

// Defaults for the zero fields of an Espeak.
const (
	DefaultBinary    = "espeak-ng"
	DefaultSpeed     = 160              // words per minute; espeak-ng's own 175 is brisk on a phone line
	DefaultTimeout   = 30 * time.Second // one synthesis, when the caller's context allows longer
	DefaultMaxText   = 16 << 10         // bytes of text; the vendors cap Say/Speak at a few thousand characters
	DefaultMaxOutput = 64 << 20         // bytes of WAV from espeak-ng: about 25 minutes at 22.05 kHz
	stderrLimit      = 4 << 10          // bytes of espeak-ng's stderr kept for the error
)

// Errors. Speak's errors wrap one of these, a context error, or an *EngineError.
var (
	// ErrNotInstalled: the espeak-ng program is not there (install it: scripts/deps.sh).
	ErrNotInstalled = errors.New("tts: espeak-ng is not installed")
	// ErrLanguage: espeak-ng has no voice for the requested language.
	ErrLanguage = errors.New("tts: language not supported")
	// ErrTextTooLong: the text is longer than MaxText.
	ErrTextTooLong = errors.New("tts: text too long")
	// ErrOutputTooLarge: espeak-ng wrote more than MaxOutput bytes; it was stopped.
	ErrOutputTooLarge = errors.New("tts: espeak-ng output too large")
)

// EngineError is espeak-ng failing: it exited non-zero or wrote something that is not WAV.
type EngineError struct {
	Voice  string // the -v argument
	Stderr string // what espeak-ng printed on stderr (at most 4 KiB)
	Err    error  // the exit status, or the WAV parsing error
}

func (e *EngineError) Error() string {
	msg := fmt.Sprintf("tts: espeak-ng -v %s: %v", e.Voice, e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

func (e *EngineError) Unwrap() error { return e.Err }

// Espeak renders speech with the espeak-ng program. The zero value works (with the defaults
// above); NewEspeak also checks that the program is installed. An Espeak is safe for
// concurrent use: each Speak runs its own process and shares nothing.
type Espeak struct {
	Binary    string        // program name or path; "" = DefaultBinary, looked up in PATH
	Speed     int           // words per minute (espeak-ng -s, 80–450); 0 = DefaultSpeed
	Timeout   time.Duration // limit on one synthesis; 0 = DefaultTimeout
	MaxText   int           // limit on the text, in bytes; 0 = DefaultMaxText
	MaxOutput int64         // limit on espeak-ng's output, in bytes; 0 = DefaultMaxOutput
}

var _ adapter.Speaker = (*Espeak)(nil)

// NewEspeak returns an Espeak with the defaults, after checking that espeak-ng is installed
// (the error wraps ErrNotInstalled when it is not).
func NewEspeak() (*Espeak, error) {
	path, err := exec.LookPath(DefaultBinary)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotInstalled, err)
	}
	return &Espeak{Binary: path}, nil
}

// Speak renders text as 8 kHz 16-bit mono WAV (adapter.Speaker). voice and language are the
// dialect's attributes, mapped by EspeakVoice. The text goes to espeak-ng on stdin, never on
// the command line, and is read as plain text (no SSML), so nothing in it can act as an
// option or markup. Speak stops espeak-ng when ctx ends or Timeout passes, whichever is first,
// and when its output passes MaxOutput. Blank text gives a WAV with no samples without running
// espeak-ng.
func (e *Espeak) Speak(ctx context.Context, text, voice, language string) ([]byte, error) {
	v, err := EspeakVoice(voice, language)
	if err != nil {
		return nil, err
	}
	if limit := orDefault(e.MaxText, DefaultMaxText); len(text) > limit {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTextTooLong, len(text), limit)
	}
	if strings.TrimSpace(text) == "" {
		return audio.EncodeWAV(audio.PCM{Samples: []int16{}, Rate: audio.TelephonyRate, Channels: 1})
	}
	text = strings.ToValidUTF8(text, "\uFFFD") // espeak-ng is told the input is UTF-8
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}

	timeout := e.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout,
		fmt.Errorf("tts: espeak-ng took longer than %v: %w", timeout, context.DeadlineExceeded))
	defer cancel()

	bin := e.Binary
	if bin == "" {
		bin = DefaultBinary
	}
	speed := orDefault(e.Speed, DefaultSpeed)
	cmd := exec.CommandContext(ctx, bin, "--stdout", "--stdin", "-b", "1", "-v", v, "-s", strconv.Itoa(speed))
	cmd.Stdin = strings.NewReader(text)
	stdout := &capped{max: orDefault64(e.MaxOutput, DefaultMaxOutput), full: cancel}
	stderr := &capped{max: stderrLimit, truncate: true}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = time.Second // do not wait for pipes held open by a stray child after a kill

	switch runErr := cmd.Run(); {
	case runErr == nil:
	case stdout.overflow:
		return nil, fmt.Errorf("%w: more than %d bytes for %d bytes of text", ErrOutputTooLarge, stdout.max, len(text))
	case errors.Is(runErr, exec.ErrNotFound) || errors.Is(runErr, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: %w", ErrNotInstalled, runErr)
	case ctx.Err() != nil:
		return nil, context.Cause(ctx)
	case runErr != nil:
		return nil, &EngineError{Voice: v, Stderr: stderr.buf.String(), Err: runErr}
	}

	if stdout.buf.Len() == 0 { // espeak-ng writes nothing at all when there is nothing to say
		return audio.EncodeWAV(audio.PCM{Samples: []int16{}, Rate: audio.TelephonyRate, Channels: 1})
	}
	// espeak-ng writes 22.05 kHz WAV with sizes it cannot fix up on a pipe; ParseWAV reads
	// those as "to the end of the file".
	pcm, err := audio.ParseWAV(stdout.buf.Bytes())
	if err != nil {
		return nil, &EngineError{Voice: v, Stderr: stderr.buf.String(), Err: err}
	}
	if pcm, err = audio.Conform(pcm, audio.TelephonyRate, 1); err != nil {
		return nil, &EngineError{Voice: v, Stderr: stderr.buf.String(), Err: err}
	}
	return audio.EncodeWAV(pcm)
}

// capped is a buffer that takes at most max bytes. Past that it either drops the rest
// (truncate) or fails the write and calls full, which stops the process. It has only Write
// (no ReadFrom, which io.Copy would use to bypass the limit).
type capped struct {
	buf      bytes.Buffer
	max      int64
	truncate bool
	full     func()
	overflow bool
}

func (c *capped) Write(p []byte) (int, error) {
	room := c.max - int64(c.buf.Len())
	if int64(len(p)) <= room {
		return c.buf.Write(p)
	}
	if c.truncate {
		c.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	c.overflow = true
	if c.full != nil {
		c.full()
	}
	return 0, ErrOutputTooLarge
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func orDefault64(v, def int64) int64 {
	if v <= 0 {
		return def
	}
	return v
}
