package tts

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/audio"
)

// needEspeak returns an Espeak on the real espeak-ng, or skips the test.
func needEspeak(t *testing.T) *Espeak {
	t.Helper()
	e, err := NewEspeak()
	if err != nil {
		t.Skipf("espeak-ng is not installed (%v): run scripts/deps.sh, or apt-get install espeak-ng, to run this test", err)
	}
	return e
}

// fakeEspeak writes a shell script standing in for espeak-ng and returns an Espeak using it.
func fakeEspeak(t *testing.T, script string) *Espeak {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no /bin/sh for the fake espeak-ng")
	}
	path := filepath.Join(t.TempDir(), "espeak-ng")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &Espeak{Binary: path}
}

func parse8k(t *testing.T, wav []byte) audio.PCM {
	t.Helper()
	p, err := audio.ParseWAV(wav)
	if err != nil {
		t.Fatalf("Speak returned no valid WAV: %v", err)
	}
	if p.Rate != 8000 || p.Channels != 1 || len(wav) != 44+2*len(p.Samples) {
		t.Fatalf("Speak returned %d Hz, %d ch, %d bytes; want canonical 8 kHz mono", p.Rate, p.Channels, len(wav))
	}
	return p
}

func TestSpeakReal(t *testing.T) {
	e := needEspeak(t)
	tests := []struct {
		name, text, voice, language string
	}{
		{"man, en-US", "Please leave a message after the tone.", "man", "en-US"},
		{"woman, Plivo default spelling", "Please leave a message after the tone.", "WOMAN", "en-US"},
		{"Polly voice", "Thank you for calling.", "Polly.Joanna", ""},
		{"French", "Bonjour, laissez un message.", "woman", "fr-FR"},
		{"multi-line text", "Line one.\nLine two.", "man", "en-GB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wav, err := e.Speak(context.Background(), tt.text, tt.voice, tt.language)
			if err != nil {
				t.Fatal(err)
			}
			p := parse8k(t, wav)
			if d := p.Duration(); d < 500*time.Millisecond || d > 10*time.Second {
				t.Errorf("%q lasts %v", tt.text, d)
			}
			if audio.TrimEdges(p, audio.DefaultTrimThreshold, 0).Duration() < 300*time.Millisecond {
				t.Error("the speech is (nearly) silent")
			}
		})
	}

	// The female variant really is another voice.
	man, _ := e.Speak(context.Background(), "Hello", "man", "en-US")
	woman, _ := e.Speak(context.Background(), "Hello", "woman", "en-US")
	if string(man) == string(woman) {
		t.Error("man and woman render identically")
	}
}

func TestSpeakTextIsNotAnArgument(t *testing.T) {
	e := needEspeak(t)
	// Were the text on the command line, espeak-ng would print its version instead of WAV,
	// or try to read a voice called "xx"; on stdin it is just read out (or skipped).
	for _, text := range []string{"--version", "-v xx --help", "$(id) `id` ; rm -rf / | cat", "<speak>markup is not interpreted</speak>"} {
		wav, err := e.Speak(context.Background(), text, "man", "en-US")
		if err != nil {
			t.Fatalf("Speak(%q): %v", text, err)
		}
		parse8k(t, wav)
	}
}

func TestSpeakCommandLine(t *testing.T) {
	dir := t.TempDir()
	wav, _ := audio.EncodeWAV(audio.PCM{Samples: make([]int16, 22050), Rate: 22050, Channels: 1})
	if err := os.WriteFile(filepath.Join(dir, "out.wav"), wav, 0o644); err != nil {
		t.Fatal(err)
	}
	e := fakeEspeak(t, `printf '%s\n' "$@" > "`+dir+`/args"; cat > "`+dir+`/stdin"; cat "`+dir+`/out.wav"`)
	e.Speed = 140
	text := "Hello -v 'world' $HOME"
	out, err := e.Speak(context.Background(), text, "woman", "en-GB")
	if err != nil {
		t.Fatal(err)
	}
	args, _ := os.ReadFile(filepath.Join(dir, "args"))
	if got, want := string(args), "--stdout\n--stdin\n-b\n1\n-v\nen-gb+f3\n-s\n140\n"; got != want {
		t.Errorf("arguments:\n%s\nwant:\n%s", got, want)
	}
	stdin, _ := os.ReadFile(filepath.Join(dir, "stdin"))
	if string(stdin) != text+"\n" {
		t.Errorf("stdin = %q, want %q", stdin, text+"\n")
	}
	// 22.05 kHz from espeak-ng becomes 8 kHz, same duration.
	if p := parse8k(t, out); p.Duration() != time.Second {
		t.Errorf("1 s at 22.05 kHz became %v", p.Duration())
	}
}

func TestSpeakFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("not installed", func(t *testing.T) {
		e := &Espeak{Binary: filepath.Join(t.TempDir(), "no-such-espeak")}
		if _, err := e.Speak(ctx, "hello", "man", "en-US"); !errors.Is(err, ErrNotInstalled) {
			t.Errorf("error = %v, want ErrNotInstalled", err)
		}
	})
	t.Run("exit status and stderr are reported", func(t *testing.T) {
		e := fakeEspeak(t, `cat >/dev/null; echo "Error: The specified espeak-ng voice does not exist." >&2; exit 1`)
		_, err := e.Speak(ctx, "hello", "man", "en-US")
		var ee *EngineError
		if !errors.As(err, &ee) || ee.Voice != "en-us" || !strings.Contains(ee.Stderr, "voice does not exist") {
			t.Fatalf("error = %v, want an EngineError with stderr", err)
		}
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
			t.Errorf("error %v does not carry exit status 1", err)
		}
		if !strings.Contains(err.Error(), "voice does not exist") {
			t.Errorf("message %q does not include stderr", err)
		}
	})
	t.Run("output that is not WAV", func(t *testing.T) {
		e := fakeEspeak(t, `cat >/dev/null; echo "eSpeak NG text-to-speech: 1.51"`)
		var ee *EngineError
		if _, err := e.Speak(ctx, "hello", "man", "en-US"); !errors.As(err, &ee) || !errors.Is(err, audio.ErrMalformed) {
			t.Errorf("error = %v, want an EngineError wrapping audio.ErrMalformed", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		e := fakeEspeak(t, `exec sleep 30`)
		e.Timeout = 200 * time.Millisecond
		start := time.Now()
		_, err := e.Speak(ctx, "hello", "man", "en-US")
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "took longer than 200ms") {
			t.Errorf("error = %v, want the timeout", err)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("Speak returned after %v", time.Since(start))
		}
	})
	t.Run("caller's context", func(t *testing.T) {
		e := fakeEspeak(t, `exec sleep 30`)
		hangup := errors.New("caller hung up")
		cctx, cancel := context.WithCancelCause(ctx)
		time.AfterFunc(100*time.Millisecond, func() { cancel(hangup) })
		if _, err := e.Speak(cctx, "hello", "man", "en-US"); !errors.Is(err, hangup) {
			t.Errorf("error = %v, want the context's cause", err)
		}
	})
	t.Run("output bounded", func(t *testing.T) {
		e := fakeEspeak(t, `exec cat /dev/zero`)
		e.MaxOutput = 1 << 20
		start := time.Now()
		if _, err := e.Speak(ctx, "hello", "man", "en-US"); !errors.Is(err, ErrOutputTooLarge) {
			t.Errorf("error = %v, want ErrOutputTooLarge", err)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("Speak returned after %v", time.Since(start))
		}
	})
	t.Run("text too long", func(t *testing.T) {
		e := &Espeak{Binary: "/nonexistent", MaxText: 10}
		if _, err := e.Speak(ctx, "eleven char", "man", "en-US"); !errors.Is(err, ErrTextTooLong) {
			t.Errorf("error = %v, want ErrTextTooLong", err)
		}
	})
	t.Run("unknown language", func(t *testing.T) {
		e := &Espeak{Binary: "/nonexistent"}
		if _, err := e.Speak(ctx, "hello", "man", "xx-YY"); !errors.Is(err, ErrLanguage) {
			t.Errorf("error = %v, want ErrLanguage", err)
		}
	})
}

func TestSpeakBlank(t *testing.T) {
	e := &Espeak{Binary: "/nonexistent"} // proves espeak-ng is not run
	for _, text := range []string{"", "  \n\t"} {
		wav, err := e.Speak(context.Background(), text, "man", "en-US")
		if err != nil {
			t.Fatal(err)
		}
		if p := parse8k(t, wav); !p.Empty() {
			t.Errorf("blank text gave %v of audio", p.Duration())
		}
	}
	// espeak-ng writing nothing at all is an empty WAV too.
	wav, err := fakeEspeak(t, `cat >/dev/null`).Speak(context.Background(), "...", "man", "en-US")
	if err != nil {
		t.Fatal(err)
	}
	if p := parse8k(t, wav); !p.Empty() {
		t.Errorf("no output gave %v of audio", p.Duration())
	}
}
