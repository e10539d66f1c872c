package audio

import (
	"math"
	"time"
)

// Silence trimming (record.md: trim="trim-silence" → Trim=edges, and Plivo's tail-on-silence).
//
// The gate works on short frames, not samples: a frame is sound when, on any channel, its RMS
// around the frame's own mean reaches the threshold. Why these choices:
//   - 20 ms frames with RMS, not peaks: the cut lands within 20 ms of the speech, and a short
//     click counts only by its energy (a one-sample pop at 6 % of full scale stays under the
//     gate, where a peak gate would keep a whole leading silence because of it).
//   - RMS around the mean: a DC offset from a cheap ADC or a codec is not sound.
//   - The threshold is a fraction of full scale, read as the peak amplitude of a sine with the
//     frame's RMS (the AES17 dBFS convention): with the default 0.01, a tone of peak amplitude
//     1 % of full scale (about −40 dBFS) passes and quieter line noise does not.
//   - Any channel: in a stereo recording one party speaking is enough.
const (
	// DefaultTrimThreshold is record.md's default gate: 1 % of full scale, about −40 dBFS.
	DefaultTrimThreshold = 0.01
	// DefaultTrimMargin is the audio kept before the first and after the last sound frame.
	DefaultTrimMargin = 100 * time.Millisecond
	// DefaultTailKeep is the silence kept after the last sound by TrimTail, as Asterisk keeps
	// after a silence stop.
	DefaultTailKeep = 200 * time.Millisecond
	// TrimFrame is the gate's frame length.
	TrimFrame = 20 * time.Millisecond
)

// TrimEdges cuts leading and trailing silence from p, keeping margin of audio before the first
// and after the last frame that reaches threshold (a fraction of full scale, see above; 0 keeps
// everything). All silence gives an empty PCM with p's rate and channels. The result shares
// p's samples.
func TrimEdges(p PCM, threshold float64, margin time.Duration) PCM {
	first, last, ok := soundSpan(p, threshold)
	if !ok {
		return p.window(0, 0)
	}
	m := samplesOf(margin, p.Rate)
	return p.window(max(first-m, 0), min(last+m, p.Frames()))
}

// TrimTail cuts trailing silence from p, keeping keep of audio after the last frame that
// reaches threshold; leading silence stays. All silence gives an empty PCM. The result shares
// p's samples.
func TrimTail(p PCM, threshold float64, keep time.Duration) PCM {
	_, last, ok := soundSpan(p, threshold)
	if !ok {
		return p.window(0, 0)
	}
	return p.window(0, min(last+samplesOf(keep, p.Rate), p.Frames()))
}

// soundSpan returns the first frame index of the first sound frame and the frame index just
// after the last one; ok is false when no frame is sound.
func soundSpan(p PCM, threshold float64) (first, last int, ok bool) {
	n := p.Frames()
	if n == 0 || p.Rate <= 0 {
		return 0, 0, false
	}
	size := max(samplesOf(TrimFrame, p.Rate), 1)
	// RMS ≥ threshold·FS/√2, compared squared to avoid a square root per frame.
	limit := threshold * 32768 / math.Sqrt2
	limit2 := limit * limit
	first = -1
	for start := 0; start < n; start += size {
		end := min(start+size, n)
		if frameIsSound(p, start, end, limit2) {
			if first < 0 {
				first = start
			}
			last = end
		}
	}
	return first, last, first >= 0
}

// frameIsSound reports whether any channel of frames [start, end) has a variance of at least
// limit2 (its RMS around its mean reaches the gate).
func frameIsSound(p PCM, start, end int, limit2 float64) bool {
	ch := p.Channels
	cnt := float64(end - start)
	for c := range ch {
		var sum, sq float64
		for i := start; i < end; i++ {
			v := float64(p.Samples[i*ch+c])
			sum += v
			sq += v * v
		}
		mean := sum / cnt
		if sq/cnt-mean*mean >= limit2 {
			return true
		}
	}
	return false
}
