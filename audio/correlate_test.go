package audio

import (
	"math"
	"math/cmplx"
	"testing"
	"time"
)

func TestCorrelate(t *testing.T) {
	sent := speech(8000, 0.4, 2*time.Second, 7)
	other := noise(8000, 0.3, 2*time.Second, 8)
	ulaw, _ := EncodeULaw(join(silence(8000, 300*ms), sent))
	sent16k, _ := Resample(join(silence(8000, 250*ms), sent), 16000)
	stereo, _ := Stereo(join(silence(8000, 100*ms), sent), silence(8000, 2100*ms))

	tests := []struct {
		name    string
		a, b    PCM
		maxLag  time.Duration
		minCoef float64
		maxCoef float64
		lag     time.Duration
		anyLag  bool
	}{
		{"identical", sent, sent, time.Second, 0.9999, 1, 0, false},
		{"recording starts 300 ms late", sent, join(silence(8000, 300*ms), sent, silence(8000, 500*ms)), time.Second, 0.9999, 1, 300 * ms, false},
		{"recording starts 120 ms early (negative lag)", join(silence(8000, 120*ms), sent), sent, time.Second, 0.9999, 1, -120 * ms, false},
		{"−6 dB Local channel does not lower the score", sent, join(silence(8000, 40*ms), scale(sent, 0.5)), time.Second, 0.999, 1, 40 * ms, false},
		{"through µ-law", sent, DecodeULaw(ulaw), time.Second, 0.999, 1, 300 * ms, false},
		{"recording at 16 kHz", sent, sent16k, time.Second, 0.995, 1, 250 * ms, false},
		{"stereo recording, speech on the left", sent, stereo, time.Second, 0.7, 1, 100 * ms, false},
		{"found inside a longer recording with other sound", sent, join(other, silence(8000, 500*ms), sent, other), 5 * time.Second, 0.9999, 1, 2500 * ms, false},
		{"with noise about 20 dB down", sent, mix(sent, noise(8000, 0.015, 2*time.Second, 9)), time.Second, 0.98, 1, 0, false},
		{"unrelated noise", sent, other, time.Second, -1, 0.1, 0, true},
		{"lag outside the window is not found", sent, join(silence(8000, 2*time.Second), sent), 500 * ms, -1, 0.2, 0, true},
		{"inverted copy does not match", sent, scale(sent, -1), time.Second, -1, 0.3, 0, true},
		{"silence", sent, silence(8000, 2*time.Second), time.Second, 0, 0, 0, false},
		{"empty", sent, silence(8000, 0), time.Second, 0, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, lag := Correlate(tt.a, tt.b, tt.maxLag)
			if c < tt.minCoef || c > tt.maxCoef {
				t.Errorf("coef = %.5f, want %.4f to %.4f", c, tt.minCoef, tt.maxCoef)
			}
			if !tt.anyLag && lag != tt.lag {
				t.Errorf("lag = %v, want %v", lag, tt.lag)
			}
			if tt.anyLag && (lag < -tt.maxLag || lag > tt.maxLag) {
				t.Errorf("lag %v outside ±%v", lag, tt.maxLag)
			}
		})
	}
}

func mix(a, b PCM) PCM {
	out := PCM{Samples: make([]int16, len(a.Samples)), Rate: a.Rate, Channels: 1}
	for i := range out.Samples {
		out.Samples[i] = clip16(float64(a.Samples[i]) + float64(b.Samples[i]))
	}
	return out
}

func TestFFT(t *testing.T) {
	// Against a direct DFT.
	for _, n := range []int{1, 2, 8, 64} {
		x := make([]complex128, n)
		for i := range x {
			x[i] = complex(math.Sin(float64(i)*0.7)+0.1*float64(i), math.Cos(float64(i)*1.3))
		}
		got := append([]complex128(nil), x...)
		fft(got, false)
		for k := range n {
			var want complex128
			for j := range n {
				want += x[j] * cmplx.Rect(1, -2*math.Pi*float64(j*k)/float64(n))
			}
			if cmplx.Abs(got[k]-want) > 1e-9*float64(n) {
				t.Fatalf("n=%d bin %d: %v, want %v", n, k, got[k], want)
			}
		}
		fft(got, true)
		for i := range got {
			if cmplx.Abs(got[i]/complex(float64(n), 0)-x[i]) > 1e-12*float64(n) {
				t.Fatalf("n=%d: inverse does not give the input back at %d", n, i)
			}
		}
	}
}
