package audio

import (
	"math"
	"math/rand/v2"
	"time"
)

// Generated test signals: no binary fixtures.

// tone is a sine of freq Hz with peak amplitude amp (fraction of full scale).
func tone(rate int, freq, amp float64, d time.Duration) PCM {
	n := samplesOf(d, rate)
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(math.Round(amp * 32767 * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))))
	}
	return PCM{Samples: s, Rate: rate, Channels: 1}
}

func silence(rate int, d time.Duration) PCM {
	return PCM{Samples: make([]int16, samplesOf(d, rate)), Rate: rate, Channels: 1}
}

// noise is deterministic white noise with peak amplitude amp.
func noise(rate int, amp float64, d time.Duration, seed uint64) PCM {
	r := rand.New(rand.NewPCG(seed, 1))
	s := make([]int16, samplesOf(d, rate))
	for i := range s {
		s[i] = int16(math.Round(amp * 32767 * (2*r.Float64() - 1)))
	}
	return PCM{Samples: s, Rate: rate, Channels: 1}
}

// speech is a speech-like test signal: white noise band-passed to the telephone band
// (300–3400 Hz, second-order sections), shaped into "syllables" of 80–300 ms with random levels
// and short pauses. Unlike a sum of steady tones it is not periodic, so it lines up with a
// delayed copy of itself at one lag only. Peaks reach about amp (fraction of full scale).
func speech(rate int, amp float64, d time.Duration, seed uint64) PCM {
	r := rand.New(rand.NewPCG(seed, 2))
	hp := newBiquad(rate, 300, true)
	lp := newBiquad(rate, math.Min(3400, 0.45*float64(rate)), false)
	s := make([]int16, samplesOf(d, rate))
	var env, level float64
	left := 0
	for i := range s {
		if left == 0 { // next syllable or pause
			left = int(float64(rate) * (0.08 + 0.22*r.Float64()))
			level = 0.25 + 0.75*r.Float64()
			if r.IntN(5) == 0 {
				level = 0
			}
		}
		left--
		env += (level - env) * 0.005 // about 25 ms attack and release at 8 kHz
		v := lp.step(hp.step(2*r.Float64() - 1))
		s[i] = clip16(amp * 32767 * env * v / 1.2)
	}
	return PCM{Samples: s, Rate: rate, Channels: 1}
}

// biquad is an RBJ-cookbook Butterworth (Q = 1/√2) high- or low-pass section.
type biquad struct{ b0, b1, b2, a1, a2, x1, x2, y1, y2 float64 }

func newBiquad(rate int, f float64, high bool) *biquad {
	w := 2 * math.Pi * f / float64(rate)
	alpha := math.Sin(w) / (2 * math.Sqrt2 / 2)
	cw := math.Cos(w)
	a0 := 1 + alpha
	q := &biquad{a1: -2 * cw / a0, a2: (1 - alpha) / a0}
	if high {
		q.b0, q.b1, q.b2 = (1+cw)/2/a0, -(1+cw)/a0, (1+cw)/2/a0
	} else {
		q.b0, q.b1, q.b2 = (1-cw)/2/a0, (1-cw)/a0, (1-cw)/2/a0
	}
	return q
}

func (q *biquad) step(x float64) float64 {
	y := q.b0*x + q.b1*q.x1 + q.b2*q.x2 - q.a1*q.y1 - q.a2*q.y2
	q.x2, q.x1, q.y2, q.y1 = q.x1, x, q.y1, y
	return y
}

// join concatenates mono signals of the same rate.
func join(parts ...PCM) PCM {
	out := PCM{Rate: parts[0].Rate, Channels: 1}
	for _, p := range parts {
		out.Samples = append(out.Samples, p.Samples...)
	}
	return out
}

// scale multiplies a signal by g.
func scale(p PCM, g float64) PCM {
	out := PCM{Samples: make([]int16, len(p.Samples)), Rate: p.Rate, Channels: p.Channels}
	for i, s := range p.Samples {
		out.Samples[i] = clip16(float64(s) * g)
	}
	return out
}

// rms is the RMS of samples [from, to) of a mono signal, as a fraction of full scale.
func rms(p PCM, from, to int) float64 {
	var sum float64
	for _, s := range p.Samples[from:to] {
		sum += float64(s) * float64(s)
	}
	return math.Sqrt(sum/float64(to-from)) / 32768
}

// goertzel is the amplitude (fraction of full scale, peak) of the freq component of samples
// [from, to) of a mono signal.
func goertzel(p PCM, freq float64, from, to int) float64 {
	var re, im float64
	for i, s := range p.Samples[from:to] {
		ph := 2 * math.Pi * freq * float64(i) / float64(p.Rate)
		re += float64(s) * math.Cos(ph)
		im -= float64(s) * math.Sin(ph)
	}
	return 2 * math.Hypot(re, im) / float64(to-from) / 32768
}

func db(ratio float64) float64 { return 20 * math.Log10(ratio) }

func log10(v float64) float64 { return math.Log10(v) }
