package transcribe

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/audio"
)

// DefaultPocketsphinx is the program Debian's pocketsphinx package installs.
const DefaultPocketsphinx = "pocketsphinx_continuous"

// pocketsphinxRate is the rate of the en-US acoustic model: recordings are resampled to it
// (8 kHz input with -samprate 8000 fails with the 16 kHz model).
const pocketsphinxRate = 16000

// Pocketsphinx transcribes offline with pocketsphinx_continuous (Debian: pocketsphinx and
// pocketsphinx-en-us, 0.8+5prealpha). The zero value uses the program from PATH with the
// package's default en-US model. Each Transcribe runs its own process on its own temporary
// file, so a Pocketsphinx is safe for concurrent use.
type Pocketsphinx struct {
	Binary string // program name or path; "" = DefaultPocketsphinx
	// HMM, LM and Dict override the acoustic model directory, language model and
	// dictionary (-hmm, -lm, -dict); "" = the program's built-in en-US defaults.
	HMM, LM, Dict string
	// TempDir holds the converted audio while the program runs; "" = os.TempDir().
	TempDir string
}

var _ adapter.Transcriber = (*Pocketsphinx)(nil)

// EngineError is pocketsphinx_continuous exiting with an error.
type EngineError struct {
	Stderr string
	Err    error
}

func (e *EngineError) Error() string {
	msg := fmt.Sprintf("transcribe: pocketsphinx_continuous: %v", e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

func (e *EngineError) Unwrap() error { return e.Err }

// Transcribe converts wav to 16 kHz mono and runs pocketsphinx_continuous -time yes on it.
// The program is killed when ctx ends. Only English is supported.
func (p *Pocketsphinx) Transcribe(ctx context.Context, wav []byte, language string) (adapter.Transcript, error) {
	if language != "" && !strings.EqualFold(language, "en") && !strings.HasPrefix(strings.ToLower(language), "en-") {
		return adapter.Transcript{}, fmt.Errorf("%w: pocketsphinx has the en-US model only, not %q", ErrLanguage, language)
	}
	pcm, err := audio.ParseWAV(wav)
	if err != nil {
		return adapter.Transcript{}, fmt.Errorf("%w: %w", ErrAudio, err)
	}
	if pcm, err = audio.Conform(pcm, pocketsphinxRate, 1); err != nil {
		return adapter.Transcript{}, fmt.Errorf("%w: %w", ErrAudio, err)
	}
	if pcm.Empty() {
		return adapter.Transcript{}, nil
	}
	data, err := audio.EncodeWAV(pcm)
	if err != nil {
		return adapter.Transcript{}, fmt.Errorf("%w: %w", ErrAudio, err)
	}
	f, err := os.CreateTemp(p.TempDir, "pbxbridge-stt-*.wav")
	if err != nil {
		return adapter.Transcript{}, fmt.Errorf("transcribe: temporary file: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return adapter.Transcript{}, fmt.Errorf("transcribe: temporary file: %w", err)
	}
	if err := f.Close(); err != nil {
		return adapter.Transcript{}, fmt.Errorf("transcribe: temporary file: %w", err)
	}

	args := []string{"-infile", filepath.Clean(f.Name()), "-time", "yes", "-logfn", os.DevNull}
	for _, o := range [][2]string{{"-hmm", p.HMM}, {"-lm", p.LM}, {"-dict", p.Dict}} {
		if o[1] != "" {
			args = append(args, o[0], o[1])
		}
	}
	cmd := exec.CommandContext(ctx, orDefaultString(p.Binary, DefaultPocketsphinx), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &capWriter{b: &stderr, max: 4 << 10}
	cmd.WaitDelay = time.Second
	switch runErr := cmd.Run(); {
	case runErr == nil:
	case errors.Is(runErr, exec.ErrNotFound) || errors.Is(runErr, fs.ErrNotExist):
		return adapter.Transcript{}, fmt.Errorf("%w: %w", ErrNotInstalled, runErr)
	case ctx.Err() != nil:
		return adapter.Transcript{}, context.Cause(ctx)
	default:
		return adapter.Transcript{}, &EngineError{Stderr: stderr.String(), Err: runErr}
	}
	return parsePocketsphinx(stdout.Bytes())
}

// parsePocketsphinx reads what pocketsphinx_continuous -time yes prints on stdout: for each
// utterance, the hypothesis on a line of its own, then one line per segment:
//
//	oh well
//	<s> 0.000 0.020 1.000100
//	oh 0.030 0.290 0.421979
//	well(2) 0.300 0.590 0.935281
//	<sil> 0.600 0.770 1.000100
//	</s> 1.730 2.020 1.000000
//
// Fields are the word (with "(n)" naming an alternate pronunciation), start and end in
// seconds, and the posterior probability (which rounding can push just over 1). Fillers
// (<s>, </s>, <sil>, [NOISE], ++GARBAGE++) are not words.
func parsePocketsphinx(out []byte) (adapter.Transcript, error) {
	var t adapter.Transcript
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 {
			continue // a hypothesis line
		}
		start, e1 := strconv.ParseFloat(f[1], 64)
		end, e2 := strconv.ParseFloat(f[2], 64)
		conf, e3 := strconv.ParseFloat(f[3], 64)
		if e1 != nil || e2 != nil || e3 != nil {
			continue // a four-word hypothesis
		}
		w := f[0]
		if filler(w) {
			continue
		}
		if i := strings.IndexByte(w, '('); i > 0 && strings.HasSuffix(w, ")") {
			w = w[:i]
		}
		t.Words = append(t.Words, adapter.Word{Text: w, Start: seconds(start), End: seconds(end), Confidence: clamp01(conf)})
	}
	if err := sc.Err(); err != nil {
		return adapter.Transcript{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	texts := make([]string, len(t.Words))
	for i, w := range t.Words {
		texts[i] = w.Text
	}
	t.Text = strings.Join(texts, " ")
	return t, nil
}

func filler(w string) bool {
	return strings.HasPrefix(w, "<") || strings.HasPrefix(w, "[") || strings.HasPrefix(w, "++")
}

// capWriter keeps at most max bytes and drops the rest.
type capWriter struct {
	b   *bytes.Buffer
	max int
}

func (c *capWriter) Write(p []byte) (int, error) {
	if room := c.max - c.b.Len(); room > 0 {
		c.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
