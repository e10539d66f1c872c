package audio

import (
	"fmt"
	"math"
)

// Resampler design. A polyphase windowed-sinc low-pass (Kaiser window, β = 8, about 80 dB of
// stop-band attenuation). Its cut-off sits at 91 % of the lower rate's Nyquist frequency and
// its half-length is resampleZeroCrossings periods of the lower rate, which gives a transition
// band of about 6.4 % of the lower rate: from 8 kHz (or to 8 kHz) the pass band reaches about
// 3.38 kHz (the telephone band) and everything from about 3.9 kHz is at least 80 dB down, so
// 22.05 or 16 kHz TTS output does not alias and upsampled telephone audio carries no images.
// The filter is centred, so the output is not delayed.
const (
	resampleZeroCrossings = 40
	resampleCutoff        = 0.91 * 0.5 // of the lower rate
	resampleKaiserBeta    = 8.0
	// resampleMaxPhases bounds the coefficient table. Ratios with more phases than this (odd
	// rates such as 44101 Hz) use the nearest of this many phases, an error below 1/2048 of an
	// input period (well under the filter's own error for telephone audio).
	resampleMaxPhases = 1024
)

// Resample converts p to rate (frames per second) with an anti-aliasing filter, channel by
// channel. The output has ceil(frames·rate/p.Rate) frames, so durations are kept.
func Resample(p PCM, rate int) (PCM, error) {
	return resample(p, rate, 1)
}

// resample is Resample with a gain folded into the filter (the MP3 path uses it to undo the
// encoder's gain at no extra cost).
func resample(p PCM, rate int, gain float64) (PCM, error) {
	if err := p.Validate(); err != nil {
		return PCM{}, fmt.Errorf("resample: %w", err)
	}
	if rate < MinRate || rate > MaxRate {
		return PCM{}, malformed("pcm", "resample", fmt.Sprintf("target rate %d Hz is outside %d–%d Hz", rate, MinRate, MaxRate))
	}
	if rate == p.Rate {
		if gain == 1 {
			return p, nil
		}
		out := make([]int16, len(p.Samples))
		for i, s := range p.Samples {
			out[i] = clip16(float64(s) * gain)
		}
		return PCM{Samples: out, Rate: rate, Channels: p.Channels}, nil
	}

	g := gcd(p.Rate, rate)
	up, down := rate/g, p.Rate/g
	f := newPolyphase(up, down, gain)

	ch := p.Channels
	n := p.Frames()
	nOut := int((int64(n)*int64(up) + int64(down) - 1) / int64(down))
	out := make([]int16, nOut*ch)
	// x holds one channel with f.half zeros either side (plus one for a rounded-up phase), so
	// the inner loop needs no bounds logic: output k reads x[base+1 : base+1+taps].
	x := make([]float64, n+2*f.half+1)
	for c := range ch {
		for i := range n {
			x[f.half+i] = float64(p.Samples[i*ch+c])
		}
		for k := range nOut {
			pos := int64(k) * int64(down)
			base := int(pos / int64(up))
			phase := f.phase(int(pos % int64(up)))
			if phase == f.phases {
				base, phase = base+1, 0
			}
			coef := f.coef[phase*f.taps : (phase+1)*f.taps]
			out[k*ch+c] = clip16(dot(x[base+1:base+1+len(coef)], coef))
		}
	}
	return PCM{Samples: out, Rate: rate, Channels: ch}, nil
}

// dot is the inner product of two slices of equal length (four accumulators: the loop is most
// of the time spent in Resample).
func dot(x, c []float64) float64 {
	x = x[:len(c)]
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(c); i += 4 {
		a0 += x[i] * c[i]
		a1 += x[i+1] * c[i+1]
		a2 += x[i+2] * c[i+2]
		a3 += x[i+3] * c[i+3]
	}
	for ; i < len(c); i++ {
		a0 += x[i] * c[i]
	}
	return (a0 + a1) + (a2 + a3)
}

// polyphase is the filter for one up/down ratio: phases rows of taps coefficients.
type polyphase struct {
	up     int
	phases int
	taps   int // 2*half
	half   int
	coef   []float64
}

// phase maps the fractional position num/up (of an input period) to a table row; it may return
// f.phases, meaning "phase 0 of the next input sample".
func (f *polyphase) phase(num int) int {
	if f.phases == f.up {
		return num
	}
	return int((int64(num)*int64(f.phases)*2 + int64(f.up)) / (2 * int64(f.up)))
}

func newPolyphase(up, down int, gain float64) *polyphase {
	r := 1.0 // lower rate / input rate
	if up < down {
		r = float64(up) / float64(down)
	}
	cut := resampleCutoff * r // cycles per input sample
	halfLen := resampleZeroCrossings / r
	half := int(math.Ceil(halfLen))
	phases := min(up, resampleMaxPhases)
	f := &polyphase{up: up, phases: phases, taps: 2 * half, half: half}
	f.coef = make([]float64, phases*f.taps)
	i0b := besselI0(resampleKaiserBeta)
	for ph := range phases {
		frac := float64(ph) / float64(phases)
		row := f.coef[ph*f.taps : (ph+1)*f.taps]
		var sum float64
		for i := range row {
			// Tap i multiplies input sample base-half+1+i; d is the output instant's distance
			// from that sample, in input periods.
			d := frac + float64(half-1-i)
			u := d / halfLen
			if u <= -1 || u >= 1 {
				continue
			}
			w := besselI0(resampleKaiserBeta*math.Sqrt(1-u*u)) / i0b
			row[i] = 2 * cut * sinc(2*cut*d) * w
			sum += row[i]
		}
		// Unit gain at DC for every phase (removes the tiny ripple a truncated sinc has).
		for i := range row {
			row[i] *= gain / sum
		}
	}
	return f
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// besselI0 is the modified Bessel function of the first kind, order 0 (power series).
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	q := x * x / 4
	for k := 1; k < 200; k++ {
		term *= q / float64(k*k)
		sum += term
		if term < sum*1e-16 {
			break
		}
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// clip16 rounds to nearest and saturates to the int16 range.
func clip16(v float64) int16 {
	v = math.Round(v)
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(v)
}
