package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	gomp3 "github.com/hajimehoshi/go-mp3"
)

// independentDecode decodes with go-mp3 alone, ignoring the Info/LAME tag as a player without
// gapless support would: a check of the stream that does not trust our own DecodeMP3.
func independentDecode(t *testing.T, b []byte) PCM {
	t.Helper()
	d, err := gomp3.NewDecoder(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("go-mp3: %v", err)
	}
	raw, err := io.ReadAll(d)
	if err != nil {
		t.Fatalf("go-mp3: %v", err)
	}
	p := PCM{Rate: d.SampleRate(), Channels: 2, Samples: make([]int16, len(raw)/2)}
	for i := range p.Samples {
		p.Samples[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
	}
	return p
}

func TestEncodeMP3Stream(t *testing.T) {
	src := speech(8000, 0.5, 3*time.Second, 11)
	b, err := EncodeMP3(src)
	if err != nil {
		t.Fatal(err)
	}

	// First frame: the Info tag; then 48 kbit/s MPEG-1 Layer III mono frames at 32 kHz.
	info, ok := parseMP3Header(b)
	if !ok {
		t.Fatalf("no frame header at the start: % x", b[:4])
	}
	gap, tagged := parseInfoTag(b, info)
	if !tagged || !gap.lame || gap.delay != shineDelay {
		t.Fatalf("Info tag = %+v (tagged %v), want LAME delay %d", gap, tagged, shineDelay)
	}
	wantFrames := (96000 + shineDelay + mpegDecoderDelay + 1151) / 1152
	if gap.frames != wantFrames || gap.padding != wantFrames*1152-shineDelay-96000 {
		t.Errorf("Info tag frames %d padding %d, want %d and %d", gap.frames, gap.padding, wantFrames, wantFrames*1152-shineDelay-96000)
	}
	pos, n := info.size, 0
	for pos < len(b) {
		h, ok := parseMP3Header(b[pos:])
		if !ok {
			t.Fatalf("frame %d at byte %d: no header", n, pos)
		}
		if h.version != "1" || h.layer != 3 || h.rate != 32000 || h.channels != 1 || h.kbps != 48 || h.size != 216 {
			t.Fatalf("frame %d: %+v, want MPEG-1 Layer III 32 kHz mono 48 kbit/s", n, h)
		}
		pos += h.size
		n++
	}
	if n != wantFrames || pos != len(b) {
		t.Errorf("%d audio frames ending at %d of %d bytes, want %d", n, pos, len(b), wantFrames)
	}

	// A decoder that ignores the tag: duration within 5 %, and it carries the source.
	raw := Mono(independentDecode(t, b))
	if raw.Rate != 32000 {
		t.Fatalf("go-mp3 rate %d, want 32000", raw.Rate)
	}
	if r := float64(raw.Duration()) / float64(src.Duration()); r < 0.95 || r > 1.05 {
		t.Errorf("go-mp3 decodes %v for %v of audio", raw.Duration(), src.Duration())
	}
	// Compared at 32 kHz, where the decoder's delay is a whole number of samples.
	src32k, _ := Resample(src, 32000)
	c, lag := Correlate(src32k, raw, 300*ms)
	if c < 0.98 {
		t.Errorf("go-mp3 output correlates %.4f with the source, want ≥ 0.98", c)
	}
	// The tag frame decodes as 1152 samples of silence, then shine's and the decoder's delays.
	if want := time.Duration(1152+shineDelay+mpegDecoderDelay) * time.Second / 32000; (lag - want).Abs() > ms/4 {
		t.Errorf("go-mp3 output lags %v, want %v", lag, want)
	}
}

func TestMP3RoundTrip(t *testing.T) {
	// Tones are periodic, so for them the coefficient is read at lag 0 only (maxLag 0).
	tests := []struct {
		name    string
		in      PCM
		minCoef float64
		maxLag  time.Duration
	}{
		{"speech 3 s", speech(8000, 0.5, 3*time.Second, 12), 0.99, 50 * ms},
		{"quiet speech (−30 dBFS)", speech(8000, 0.03, 2*time.Second, 13), 0.99, 50 * ms},
		{"1 kHz tone", tone(8000, 1000, 0.5, time.Second), 0.999, 0},
		{"empty", silence(8000, 0), 0, 0},
		{"one sample", PCM{Samples: []int16{1000}, Rate: 8000, Channels: 1}, 0, 0},
		{"1151 samples at 32 kHz", tone(32000, 440, 0.3, 1151*time.Second/32000), 0.99, 0},
		{"1152 samples at 32 kHz", tone(32000, 440, 0.3, 1152*time.Second/32000), 0.99, 0},
		{"1153 samples at 32 kHz", tone(32000, 440, 0.3, 1153*time.Second/32000), 0.99, 0},
		{"16 kHz input (wider band, more to code)", speech(16000, 0.5, time.Second, 14), 0.98, 50 * ms},
		{"44.1 kHz input stays 44.1 kHz", tone(44100, 1000, 0.3, time.Second), 0.999, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := EncodeMP3(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			p, err := DecodeMP3(b)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Resample(p, tt.in.Rate)
			if err != nil {
				t.Fatal(err)
			}
			// The LAME tag makes the round trip exact in length.
			if back.Frames() != tt.in.Frames() || p.Channels != 1 {
				t.Fatalf("decoded %d frames, %d ch; want %d, mono", back.Frames(), p.Channels, tt.in.Frames())
			}
			if tt.minCoef == 0 {
				return
			}
			if c, lag := Correlate(tt.in, back, tt.maxLag); c < tt.minCoef || lag != 0 {
				t.Errorf("correlation %.5f at %v, want ≥ %.3f at 0", c, lag, tt.minCoef)
			}
			// Levels are kept (shine's +1 dB is compensated) and nothing clips.
			n := tt.in.Frames()
			if d := db(rms(back, n/10, n-n/10) / rms(tt.in, n/10, n-n/10)); math.Abs(d) > 0.3 {
				t.Errorf("level changed by %.2f dB", d)
			}
		})
	}
}

func TestMP3LoudInput(t *testing.T) {
	// shine's filterbank overflows near full scale; the soft limiter in front of it must turn
	// that into mild clipping, never into inverted or garbled audio.
	square := func(f float64) PCM {
		p := tone(8000, f, 1, time.Second)
		for i, s := range p.Samples {
			p.Samples[i] = 32767
			if s < 0 {
				p.Samples[i] = -32768
			}
		}
		return p
	}
	tests := []struct {
		name    string
		in      PCM
		minCoef float64
	}{
		{"full-scale 60 Hz", tone(8000, 60, 1, time.Second), 0.98},
		{"full-scale 200 Hz", tone(8000, 200, 1, time.Second), 0.98},
		{"full-scale 1 kHz", tone(8000, 1000, 1, time.Second), 0.98},
		{"full-scale 3 kHz", tone(8000, 3000, 1, time.Second), 0.98},
		{"full-scale 3.4 kHz", tone(8000, 3400, 1, time.Second), 0.98},
		{"full-scale 300 Hz square", square(300), 0.95},
		{"full-scale 2.9 kHz square", square(2900), 0.95},
		{"speech clipped at full scale", speech(8000, 4, 2*time.Second, 16), 0.95},
		{"full-scale white noise", noise(8000, 1, time.Second, 17), 0.9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := EncodeMP3(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			p, err := DecodeMP3(b)
			if err != nil {
				t.Fatal(err)
			}
			back, _ := Resample(p, 8000)
			if c, _ := Correlate(tt.in, back, 0); c < tt.minCoef {
				t.Errorf("correlation %.4f, want ≥ %.2f", c, tt.minCoef)
			}
			// Limited to about −3 dB of the source; never louder.
			if d := db(rms(back, 800, 7200) / rms(tt.in, 800, 7200)); d > 0.1 || d < -7 {
				t.Errorf("level %.2f dB, want between −7 and 0 dB", d)
			}
		})
	}
	// Below the knee the limiter is the identity; above it, monotonic and at most the ceiling.
	prev := int16(0)
	for v := 0; v <= 32767; v++ {
		got := softLimit(int16(v))
		if (v <= shineKnee && got != int16(v)) || got < prev || float64(got) > shineCeiling || softLimit(int16(-v)) != -got {
			t.Fatalf("softLimit(%d) = %d (previous %d)", v, got, prev)
		}
		prev = got
	}
}

func TestMP3Stereo(t *testing.T) {
	l, r := speech(8000, 0.5, 2*time.Second, 21), speech(8000, 0.5, 2*time.Second, 22)
	st, _ := Stereo(l, r)
	b, err := EncodeMP3(st)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := parseMP3Header(b[216:]); h.channels != 2 {
		// The Info frame for stereo is larger: find the first audio frame through the tag.
		h0, _ := parseMP3Header(b)
		h, _ = parseMP3Header(b[h0.size:])
		if h.channels != 2 || h.kbps != 96 {
			t.Fatalf("stereo frames: %+v, want 2 channels at 96 kbit/s", h)
		}
	}
	p, err := DecodeMP3(b)
	if err != nil {
		t.Fatal(err)
	}
	p, _ = Resample(p, 8000)
	if p.Channels != 2 || p.Frames() != st.Frames() {
		t.Fatalf("decoded %d ch %d frames, want 2 ch %d frames", p.Channels, p.Frames(), st.Frames())
	}
	left, right := PCM{Rate: 8000, Channels: 1}, PCM{Rate: 8000, Channels: 1}
	for i := range p.Frames() {
		left.Samples = append(left.Samples, p.Samples[2*i])
		right.Samples = append(right.Samples, p.Samples[2*i+1])
	}
	if c, _ := Correlate(l, left, 0); c < 0.99 {
		t.Errorf("left channel correlates %.4f with the in track", c)
	}
	if c, _ := Correlate(r, right, 0); c < 0.99 {
		t.Errorf("right channel correlates %.4f with the out track", c)
	}
	if c, _ := Correlate(l, right, 0); c > 0.1 {
		t.Errorf("channels leak: left source correlates %.4f with the right channel", c)
	}
}

func TestDecodeMP3Tags(t *testing.T) {
	src := speech(8000, 0.5, time.Second, 31)
	b, _ := EncodeMP3(src)
	plain, err := DecodeMP3(b)
	if err != nil {
		t.Fatal(err)
	}
	id3v2 := append([]byte("ID3\x04\x00\x00\x00\x00\x00\x0A"), bytes.Repeat([]byte{0xFF}, 10)...) // 0xFF bytes must not pass for a frame
	id3v1 := append([]byte("TAG"), make([]byte, 125)...)
	h0, _ := parseMP3Header(b)

	tests := []struct {
		name      string
		file      []byte
		wantExact bool
		frames    int
	}{
		{"ID3v2 before", append(append([]byte{}, id3v2...), b...), true, 8000 * 4},
		{"ID3v1 after", append(append([]byte{}, b...), id3v1...), true, 8000 * 4},
		{"no Info tag: decoder delay kept", b[h0.size:], false, 29 * 1152},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := DecodeMP3(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if p.Frames() != tt.frames {
				t.Errorf("%d frames, want %d", p.Frames(), tt.frames)
			}
			if tt.wantExact && !equalSamples(p, plain) {
				t.Error("tags changed the decoded audio")
			}
		})
	}

	// A broken tag CRC from an unknown encoder: delay and padding are not trusted.
	bad := append([]byte{}, b...)
	bad[4+17+120+34] ^= 0xFF
	if g, _ := parseInfoTag(bad, h0); g.lame {
		t.Error("tag with a bad CRC and an unknown encoder string was trusted")
	}
	copy(bad[4+17+120:], "LAME3.100")
	if g, _ := parseInfoTag(bad, h0); !g.lame || g.delay != shineDelay {
		t.Errorf("LAME tag not trusted: %+v", g)
	}
}

func equalSamples(a, b PCM) bool {
	if a.Rate != b.Rate || a.Channels != b.Channels || len(a.Samples) != len(b.Samples) {
		return false
	}
	for i := range a.Samples {
		if a.Samples[i] != b.Samples[i] {
			return false
		}
	}
	return true
}

func TestDecodeMP3Rejects(t *testing.T) {
	good, _ := EncodeMP3(tone(8000, 440, 0.3, 200*ms))
	// A chain of three MPEG-2.5 8 kHz 16 kbit/s frames (144 bytes each).
	mpeg25 := bytes.Repeat(append([]byte{0xFF, 0xE3, 0x28, 0xC4}, make([]byte, 140)...), 3)
	layer2 := append([]byte{0xFF, 0xFD, 0x18, 0xC4}, make([]byte, 500)...)
	free := append([]byte{0xFF, 0xFB, 0x08, 0xC4}, make([]byte, 500)...)
	tests := []struct {
		name string
		file []byte
		err  error
		msg  string
	}{
		{"not an mp3", []byte("hello, this is not audio at all"), ErrMalformed, "mp3: no MPEG audio frame found"},
		{"empty", nil, ErrMalformed, "no MPEG audio frame found"},
		{"a WAV file", mustWAV(t, tone(8000, 440, 0.3, 100*ms)), ErrMalformed, "no MPEG audio frame found"},
		{"MPEG-2.5", mpeg25, ErrUnsupported, "mp3: MPEG-2.5 (8000 Hz) is not supported"},
		{"Layer II", layer2, ErrUnsupported, "mp3: MPEG-1 Layer II is not supported, only Layer III"},
		{"free format", free, ErrUnsupported, "free-format bitrate"},
		{"truncated inside the first audio frame", good[:216+10], ErrMalformed, "mp3:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeMP3(tt.file)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error = %v, want %v", err, tt.err)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(tt.msg)) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}

func mustWAV(t *testing.T, p PCM) []byte {
	t.Helper()
	b, err := EncodeWAV(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMP3Concurrent(t *testing.T) {
	// Encoders and decoders share no state (run with -race).
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			src := speech(8000, 0.5, 500*ms, uint64(40+i))
			b, err := EncodeMP3(src)
			if err != nil {
				t.Error(err)
				return
			}
			p, err := DecodeMP3(b)
			if err != nil {
				t.Error(err)
				return
			}
			if p, _ = Resample(p, 8000); p.Frames() != src.Frames() {
				t.Errorf("goroutine %d: %d frames, want %d", i, p.Frames(), src.Frames())
			}
		})
	}
	wg.Wait()
}

func TestMP3GarbageCollectorSafe(t *testing.T) {
	// shine keeps raw pointers into the sample buffer; with a GC after every few allocations
	// a pointer past the end of an allocation makes the runtime abort. Many lengths, so that
	// the buffer's end falls on many allocation boundaries.
	defer debug.SetGCPercent(debug.SetGCPercent(1))
	for n := range 40 {
		p := tone(32000, 440, 0.3, time.Duration(1152*(n+1)+n*37)*time.Second/32000)
		if _, err := EncodeMP3(p); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
	}
}

func FuzzDecodeMP3(f *testing.F) {
	b, _ := EncodeMP3(tone(8000, 440, 0.3, 100*ms))
	f.Add(b)
	f.Add(b[216:])
	f.Add(b[:300])
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeMP3(b)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a FormatError", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("DecodeMP3 returned invalid PCM: %v", err)
		}
	})
}
