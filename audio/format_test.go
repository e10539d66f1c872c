package audio

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in   string
		want Format
		ext  string
		mime string
	}{
		{"wav", FormatWAV, ".wav", "audio/wav"},
		{"WAV", FormatWAV, ".wav", "audio/wav"},
		{"ul", FormatULaw, ".ul", "audio/basic"},
		{"ulaw", FormatULaw, ".ul", "audio/basic"},
		{"Mp3", FormatMP3, ".mp3", "audio/mpeg"},
	}
	for _, tt := range tests {
		got, err := ParseFormat(tt.in)
		if err != nil || got != tt.want || got.Extension() != tt.ext || got.ContentType() != tt.mime || !got.Valid() {
			t.Errorf("ParseFormat(%q) = %q (%s, %s), %v; want %q (%s, %s)", tt.in, got, got.Extension(), got.ContentType(), err, tt.want, tt.ext, tt.mime)
		}
	}
	for _, bad := range []string{"", "ogg", "wave", "u-law"} {
		if _, err := ParseFormat(bad); !errors.Is(err, ErrUnsupported) {
			t.Errorf("ParseFormat(%q) error = %v, want ErrUnsupported", bad, err)
		}
	}
}

func TestConvert(t *testing.T) {
	src := speech(8000, 0.4, 2*time.Second, 51)
	wav8k := mustWAV(t, src)
	st, _ := Stereo(src, speech(8000, 0.4, 2*time.Second, 52))
	wavStereo := mustWAV(t, st)
	wav16k := mustWAV(t, mustResample(t, src, 16000))
	three := mustWAV(t, PCM{Samples: make([]int16, 3*16000), Rate: 8000, Channels: 3})
	var ulawWAV bytes.Buffer
	ulawWAV.Write(riff("RIFF", ck("fmt ", fmtBody(wavULaw, 1, 8000, 8)), ck("data", mustULaw(t, src))))

	tests := []struct {
		name     string
		in       []byte
		to       Format
		channels int
		size     int  // expected output bytes; 0 = not checked
		carries  bool // the output's (first) channel carries src
	}{
		{"wav → wav is canonical and unchanged", wav8k, FormatWAV, 1, len(wav8k), true},
		{"wav → ulaw: one byte per sample", wav8k, FormatULaw, 1, 16000, true},
		{"wav → mp3", wav8k, FormatMP3, 1, 0, true},
		{"16 kHz wav → 8 kHz wav", wav16k, FormatWAV, 1, 44 + 32000, true},
		{"stereo wav stays stereo", wavStereo, FormatWAV, 2, 44 + 64000, true},
		{"stereo wav → mono µ-law", wavStereo, FormatULaw, 1, 16000, false},
		{"stereo wav → stereo mp3", wavStereo, FormatMP3, 2, 0, true},
		{"3-channel wav → mono wav", three, FormatWAV, 1, 44 + 32000, false},
		{"µ-law wav → wav", ulawWAV.Bytes(), FormatWAV, 1, 44 + 32000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Convert(tt.in, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if tt.size != 0 && len(out) != tt.size {
				t.Errorf("%d bytes, want %d", len(out), tt.size)
			}
			p, err := Decode(out, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if p.Rate != TelephonyRate || p.Channels != tt.channels || p.Duration() != 2*time.Second {
				t.Errorf("decoded %d Hz, %d ch, %v; want 8000 Hz, %d ch, 2s", p.Rate, p.Channels, p.Duration(), tt.channels)
			}
			if tt.carries {
				first := PCM{Rate: p.Rate, Channels: 1}
				for i := range p.Frames() {
					first.Samples = append(first.Samples, p.Samples[i*p.Channels])
				}
				if c, lag := Correlate(src, first, 20*ms); c < 0.98 || lag != 0 {
					t.Errorf("output correlates %.4f at %v with the source", c, lag)
				}
			}
		})
	}
	if out, _ := Convert(wav8k, FormatWAV); !bytes.Equal(out, wav8k) {
		t.Error("a canonical 8 kHz WAV is not returned byte for byte")
	}

	if _, err := Convert(wav8k, "ogg"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Convert to ogg: error %v, want ErrUnsupported", err)
	}
	if _, err := Convert([]byte("not a wav file"), FormatMP3); !errors.Is(err, ErrMalformed) {
		t.Errorf("Convert of garbage: error %v, want ErrMalformed", err)
	}
	if _, err := Decode(wav8k, "flac"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Decode as flac: error %v, want ErrUnsupported", err)
	}
	if _, err := Encode(PCM{Rate: 8000}, FormatWAV); err == nil {
		t.Error("Encode of a PCM with no channels: no error")
	}
}

func TestAppend(t *testing.T) {
	first := speech(8000, 0.4, time.Second, 61)
	second := speech(8000, 0.4, 500*ms, 62)
	stereoFirst, _ := Stereo(first, first)

	tests := []struct {
		name     string
		format   Format
		existing PCM
		added    PCM
		channels int
	}{
		{"wav", FormatWAV, first, second, 1},
		{"ulaw", FormatULaw, first, second, 1},
		{"mp3", FormatMP3, first, second, 1},
		{"stereo wav: mono added is duplicated", FormatWAV, stereoFirst, second, 2},
		{"stereo mp3", FormatMP3, stereoFirst, second, 2},
		{"added at 16 kHz is converted", FormatWAV, first, mustResample(t, second, 16000), 1},
		{"onto an empty file", FormatWAV, silence(8000, 0), second, 1},
		{"empty added", FormatMP3, first, silence(8000, 0), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			existing, err := Encode(tt.existing, tt.format)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Append(existing, tt.format, tt.added)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Decode(out, tt.format)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.existing.Duration() + tt.added.Duration()
			if p.Channels != tt.channels || p.Duration() != want {
				t.Fatalf("appended file: %d ch, %v; want %d ch, %v", p.Channels, p.Duration(), tt.channels, want)
			}
			// Each part is where it belongs.
			m := Mono(p)
			split := tt.existing.Frames()
			if split > 0 {
				if c, lag := Correlate(Mono(tt.existing), m.window(0, split), 0); c < 0.95 {
					t.Errorf("existing part correlates %.4f (lag %v)", c, lag)
				}
			}
			if tt.added.Frames() > 0 {
				if c, _ := Correlate(mustResample(t, tt.added, 8000), m.window(split, m.Frames()), 0); c < 0.95 {
					t.Errorf("added part correlates %.4f", c)
				}
			}
		})
	}

	// An existing file that cannot be decoded fails the append.
	_, err := Append([]byte("RIFF\x00\x00\x00\x00WAVEjunk"), FormatWAV, second)
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("append onto a broken WAV: error %v, want ErrMalformed", err)
	}
	_, err = Append([]byte("definitely not an mp3"), FormatMP3, second)
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("append onto a broken MP3: error %v, want ErrMalformed", err)
	}

	// Repeated mp3 appends keep exact durations (the LAME tag) and the first audio.
	b, _ := Encode(first, FormatMP3)
	for range 3 {
		if b, err = Append(b, FormatMP3, second); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := Decode(b, FormatMP3)
	if p.Duration() != 2500*ms {
		t.Errorf("after three mp3 appends: %v, want 2.5s", p.Duration())
	}
	if c, _ := Correlate(first, p.window(0, 8000), 0); c < 0.95 {
		t.Errorf("first recording after four mp3 generations correlates %.4f", c)
	}
}

func mustResample(t *testing.T, p PCM, rate int) PCM {
	t.Helper()
	out, err := Resample(p, rate)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustULaw(t *testing.T, p PCM) []byte {
	t.Helper()
	b, err := EncodeULaw(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
