package audio

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"
)

func TestResampleTone(t *testing.T) {
	tests := []struct{ from, to int }{
		{8000, 32000}, {32000, 8000}, {16000, 8000}, {22050, 8000}, {44100, 8000},
		{48000, 8000}, {8000, 16000}, {8000, 11025}, {11025, 8000}, {24000, 8000},
		{44101, 8000}, // 8000 phases: the quantised-phase path
	}
	for _, tt := range tests {
		t.Run(fmtRates(tt.from, tt.to), func(t *testing.T) {
			src := tone(tt.from, 1000, 0.5, time.Second)
			got, err := Resample(src, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			want := int((int64(src.Frames())*int64(tt.to) + int64(tt.from) - 1) / int64(tt.from))
			if got.Rate != tt.to || got.Frames() != want {
				t.Fatalf("%d Hz, %d frames; want %d Hz, %d frames", got.Rate, got.Frames(), tt.to, want)
			}
			// Away from the edges the output is the same sine at the new rate: same level,
			// no delay.
			ideal := tone(tt.to, 1000, 0.5, time.Second)
			lo, hi := tt.to/10, got.Frames()-tt.to/10
			if d := db(rms(got, lo, hi) / rms(ideal, lo, hi)); math.Abs(d) > 0.05 {
				t.Errorf("level changed by %.3f dB", d)
			}
			var maxErr float64
			for i := lo; i < hi; i++ {
				maxErr = math.Max(maxErr, math.Abs(float64(got.Samples[i])-float64(ideal.Samples[i])))
			}
			if maxErr > 40 { // ≈ −58 dB of the tone's peak
				t.Errorf("largest difference from the ideal sine: %.0f", maxErr)
			}
		})
	}
}

func fmtRates(a, b int) string { return fmt.Sprintf("%d→%d", a, b) }

func TestResampleFilter(t *testing.T) {
	tests := []struct {
		name     string
		from, to int
		freq     float64 // input tone
		at       float64 // frequency to measure in the output
		minDB    float64 // output level at `at`, relative to the input tone
		maxDB    float64
	}{
		{"300 Hz passes 16k→8k", 16000, 8000, 300, 300, -0.05, 0.05},
		{"3.3 kHz passes 16k→8k", 16000, 8000, 3300, 3300, -0.5, 0.1},
		{"3.3 kHz passes 8k→32k", 8000, 32000, 3300, 3300, -0.5, 0.1},
		{"4.2 kHz does not alias to 3.8 kHz, 16k→8k", 16000, 8000, 4200, 3800, math.Inf(-1), -75},
		{"5 kHz does not alias to 3 kHz, 16k→8k", 16000, 8000, 5000, 3000, math.Inf(-1), -75},
		{"6 kHz does not alias to 2 kHz, 22.05k→8k", 22050, 8000, 6000, 2000, math.Inf(-1), -75},
		{"10 kHz does not alias to 2 kHz, 44.1k→8k", 44100, 8000, 10000, 2000, math.Inf(-1), -75},
		{"no image of 3 kHz at 5 kHz, 8k→32k", 8000, 32000, 3000, 5000, math.Inf(-1), -75},
		{"no image of 1 kHz at 7 kHz, 8k→32k", 8000, 32000, 1000, 7000, math.Inf(-1), -75},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tone(tt.from, tt.freq, 0.5, time.Second)
			got, err := Resample(src, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			lo, hi := tt.to/10, got.Frames()-tt.to/10
			level := db(goertzel(got, tt.at, lo, hi) / 0.5)
			if level < tt.minDB || level > tt.maxDB {
				t.Errorf("output at %.0f Hz: %.2f dB, want %.1f to %.1f dB", tt.at, level, tt.minDB, tt.maxDB)
			}
		})
	}
}

func TestResampleShapes(t *testing.T) {
	// Channels are filtered independently.
	st, _ := Stereo(tone(16000, 440, 0.5, time.Second), silence(16000, time.Second))
	got, err := Resample(st, 8000)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got.Frames() {
		if got.Samples[2*i+1] != 0 {
			t.Fatalf("silent right channel has %d at frame %d", got.Samples[2*i+1], i)
		}
	}
	// DC passes unchanged.
	dc := PCM{Samples: make([]int16, 16000), Rate: 16000, Channels: 1}
	for i := range dc.Samples {
		dc.Samples[i] = 1000
	}
	got, _ = Resample(dc, 8000)
	for i := 1000; i < 7000; i++ {
		if got.Samples[i] != 1000 {
			t.Fatalf("DC 1000 became %d at %d", got.Samples[i], i)
		}
	}
	// Full scale saturates instead of wrapping.
	sq := PCM{Samples: make([]int16, 8000), Rate: 8000, Channels: 1}
	for i := range sq.Samples {
		sq.Samples[i] = 32767
		if i/40%2 == 0 {
			sq.Samples[i] = -32768
		}
	}
	got, _ = Resample(sq, 32000)
	for i := 4000; i < 28000; i++ {
		if i%160 < 20 || i%160 >= 140 {
			continue // near an edge
		}
		if s, neg := got.Samples[i], i/160%2 == 0; (s < 0) != neg || (s > -30000 && s < 30000) {
			t.Fatalf("square wave sample %d is %d: the overshoot wrapped instead of saturating", i, s)
		}
	}
	// Same rate: unchanged and shared.
	p := tone(8000, 440, 0.5, 10*time.Millisecond)
	if got, _ := Resample(p, 8000); &got.Samples[0] != &p.Samples[0] {
		t.Error("Resample to the same rate copied the samples")
	}
	// Empty in, empty out.
	if got, err := Resample(PCM{Rate: 8000, Channels: 1}, 16000); err != nil || !got.Empty() || got.Rate != 16000 {
		t.Errorf("Resample(empty) = %+v, %v", got, err)
	}
	for _, rate := range []int{0, 999, 400000} {
		if _, err := Resample(p, rate); !errors.Is(err, ErrMalformed) {
			t.Errorf("Resample to %d Hz: error %v, want ErrMalformed", rate, err)
		}
	}
	if _, err := Resample(PCM{Rate: 8000}, 16000); err == nil {
		t.Error("Resample of a PCM with no channels: no error")
	}
}
