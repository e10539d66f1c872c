package transcribe_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/transcribe"
	"github.com/pbxbridge/pbxbridge/tts"
)

// The output of pocketsphinx_continuous 0.8+5prealpha (Debian bookworm) with -time yes on
// two utterances, as it prints it.
const psOutput = `oh well you only bought
<s> 0.000 0.020 1.000100
oh 0.030 0.290 0.421979
well 0.300 0.590 0.935281
<sil> 0.600 0.770 1.000100
you 0.780 0.910 0.325000
[NOISE] 0.920 1.010 1.000000
only 1.020 1.410 0.174383
bought(2) 1.420 1.720 0.039444
</s> 1.730 2.020 1.000000
one two three four
<s> 3.000 3.100 1.000000
one 3.100 3.400 0.5
two 3.400 3.700 0.6
three 3.700 4.000 0.7
four 4.000 4.300 0.8
</s> 4.300 4.400 1.000000
`

func TestParsePocketsphinx(t *testing.T) {
	got, err := transcribe.ParsePocketsphinx([]byte(psOutput))
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != "oh well you only bought one two three four" {
		t.Errorf("Text = %q", got.Text)
	}
	if len(got.Words) != 9 {
		t.Fatalf("words = %+v", got.Words)
	}
	if w := got.Words[4]; w.Text != "bought" || w.Start != 1420*time.Millisecond || w.End != 1720*time.Millisecond || w.Confidence != 0.039444 {
		t.Errorf("alternate pronunciation word = %+v", w)
	}
	if r := got.Replaced(0.01, "_"); r != got.Text {
		t.Errorf("Replaced(0.01) = %q", r)
	}
	if r := got.Replaced(0.4, "?"); r != "oh well ? ? ? one two three four" {
		t.Errorf("Replaced(0.4, ?) = %q", r)
	}
}

// needProgram skips without the program, unless the integration run demands everything.
func needProgram(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("PBXBRIDGE_INTEGRATION") == "1" {
			t.Fatalf("%s is not installed: run scripts/deps.sh", name)
		}
		t.Skipf("%s is not installed (%v): run scripts/deps.sh to run this test", name, err)
	}
}

// TestPocketsphinxOffline speaks an utterance with espeak-ng at the telephone rate (what a
// recording holds) and transcribes it with the real pocketsphinx. The model is poor on
// synthetic speech, so only the plumbing is checked: words come back, in time order, inside
// the audio, with confidences in 0..1.
func TestPocketsphinxOffline(t *testing.T) {
	needProgram(t, "espeak-ng")
	needProgram(t, transcribe.DefaultPocketsphinx)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wav, err := (&tts.Espeak{Speed: 130}).Speak(ctx, "hello world, please call me back tomorrow", "", "en-US")
	if err != nil {
		t.Fatal(err)
	}
	var p transcribe.Pocketsphinx
	start := time.Now()
	got, err := p.Transcribe(ctx, wav, "en")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pocketsphinx heard %q in %v: %+v", got.Text, time.Since(start).Round(time.Millisecond), got.Words)
	if len(got.Words) == 0 || strings.TrimSpace(got.Text) == "" {
		t.Fatalf("no words recognised: %+v", got)
	}
	var last time.Duration
	for _, w := range got.Words {
		if w.Confidence < 0 || w.Confidence > 1 || w.Start < last || w.End < w.Start || w.End > 10*time.Second {
			t.Errorf("word out of range: %+v", w)
		}
		last = w.Start
	}

	if _, err := p.Transcribe(ctx, wav, "fr"); !errors.Is(err, transcribe.ErrLanguage) {
		t.Errorf("French: err = %v, want ErrLanguage", err)
	}
	if _, err := p.Transcribe(ctx, []byte("not audio"), "en"); !errors.Is(err, transcribe.ErrAudio) {
		t.Errorf("garbage: err = %v, want ErrAudio", err)
	}
	dead, stop := context.WithCancelCause(ctx)
	stop(errors.New("gave up"))
	if _, err := p.Transcribe(dead, wav, "en"); err == nil {
		t.Error("cancelled context: no error")
	}
}

func TestPocketsphinxMissing(t *testing.T) {
	p := transcribe.Pocketsphinx{Binary: "/nonexistent/pocketsphinx_continuous"}
	wav := mustWAV(t)
	if _, err := p.Transcribe(context.Background(), wav, "en"); !errors.Is(err, transcribe.ErrNotInstalled) {
		t.Fatalf("err = %v, want ErrNotInstalled", err)
	}
}

func mustWAV(t *testing.T) []byte {
	t.Helper()
	samples := make([]int16, 8000)
	for i := range samples {
		samples[i] = int16((i % 40) * 500)
	}
	b, err := encodeWAV(samples)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var _ adapter.Transcriber = (*transcribe.Pocketsphinx)(nil)
