package audio

import (
	"slices"
	"testing"
	"time"
)

// Reference values computed by hand from ITU-T G.191 g711.c (ulaw_compress / ulaw_expand /
// alaw_expand), which is what the implementation must match bit for bit.
func TestULawVectors(t *testing.T) {
	enc := []struct {
		in   int16
		want byte
	}{
		{0, 0xFF}, {-1, 0x7F}, {1, 0xFF}, {4, 0xFE}, {-5, 0x7E},
		{1000, 0xCE}, {-1000, 0x4E},
		{8059, 0xA0}, {8060, 0x9F}, {8158, 0x9F}, {-8061, 0x1F}, {-8060, 0x20},
		{32767, 0x80}, {-32768, 0x00}, {32124, 0x80}, {31000, 0x81},
	}
	for _, tt := range enc {
		if got := LinearToULaw(tt.in); got != tt.want {
			t.Errorf("LinearToULaw(%d) = %#02x, want %#02x", tt.in, got, tt.want)
		}
	}
	dec := []struct {
		in   byte
		want int16
	}{
		{0x00, -32124}, {0x01, -31100}, {0x0F, -16764}, {0x70, -120}, {0x7E, -8}, {0x7F, 0},
		{0x80, 32124}, {0xCE, 988}, {0xFE, 8}, {0xFF, 0},
	}
	for _, tt := range dec {
		if got := ULawToLinear(tt.in); got != tt.want {
			t.Errorf("ULawToLinear(%#02x) = %d, want %d", tt.in, got, tt.want)
		}
	}
	alaw := []struct {
		in   byte
		want int16
	}{
		{0xD5, 8}, {0x55, -8}, {0xAA, 32256}, {0x2A, -32256}, {0xD4, 24}, {0xC5, 264}, {0x80, 5504},
	}
	for _, tt := range alaw {
		if got := ALawToLinear(tt.in); got != tt.want {
			t.Errorf("ALawToLinear(%#02x) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestULawRoundTrip(t *testing.T) {
	// Every code decodes to a level that encodes back to the same code, except µ-law's
	// "negative zero" 0x7F, whose level 0 encodes as positive zero 0xFF.
	for c := range 256 {
		want := byte(c)
		if want == 0x7F {
			want = 0xFF
		}
		if got := LinearToULaw(ULawToLinear(byte(c))); got != want {
			t.Errorf("code %#02x → %d → %#02x, want %#02x", c, ULawToLinear(byte(c)), got, want)
		}
	}

	// Every 16-bit value is quantised to one of the two levels around it, and the mapping is
	// monotonic.
	levels := make([]int, 0, 256)
	for c := range 256 {
		levels = append(levels, int(ULawToLinear(byte(c))))
	}
	slices.Sort(levels)
	levels = slices.Compact(levels)
	prev := -1 << 20
	for x := -32768; x <= 32767; x++ {
		y := int(ULawToLinear(LinearToULaw(int16(x))))
		if y < prev {
			t.Fatalf("not monotonic at %d: %d after %d", x, y, prev)
		}
		prev = y
		i, _ := slices.BinarySearch(levels, x)
		lo, hi := levels[max(i-1, 0)], levels[min(i, len(levels)-1)]
		if y != lo && y != hi && y != x {
			t.Fatalf("%d quantised to %d, not to a neighbouring level (%d or %d)", x, y, lo, hi)
		}
	}
}

func TestEncodeDecodeULaw(t *testing.T) {
	src := speech(8000, 0.5, time.Second, 3)
	b, err := EncodeULaw(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != src.Frames() {
		t.Fatalf("EncodeULaw wrote %d bytes for %d samples", len(b), src.Frames())
	}
	back := DecodeULaw(b)
	if back.Rate != 8000 || back.Channels != 1 || back.Duration() != time.Second {
		t.Fatalf("DecodeULaw = %d Hz, %d ch, %v", back.Rate, back.Channels, back.Duration())
	}
	if c, lag := Correlate(src, back, 10*time.Millisecond); c < 0.999 || lag != 0 {
		t.Errorf("µ-law round trip correlates %.5f at %v, want ≥ 0.999 at 0", c, lag)
	}
	// SNR of G.711 on speech-level signals is about 35–38 dB.
	var sig, errE float64
	for i, s := range src.Samples {
		d := float64(s) - float64(back.Samples[i])
		sig += float64(s) * float64(s)
		errE += d * d
	}
	if snr := 10 * log10(sig/errE); snr < 30 {
		t.Errorf("µ-law SNR %.1f dB, want ≥ 30", snr)
	}

	// Other shapes are normalised to 8 kHz mono.
	st, _ := Stereo(tone(16000, 400, 0.3, time.Second), tone(16000, 400, 0.3, time.Second))
	b, err = EncodeULaw(st)
	if err != nil || len(b) != 8000 {
		t.Errorf("EncodeULaw(16 kHz stereo, 1 s) = %d bytes, %v; want 8000", len(b), err)
	}
	if _, err := EncodeULaw(PCM{Rate: 8000}); err == nil {
		t.Error("EncodeULaw of a PCM with no channels: no error")
	}
}
