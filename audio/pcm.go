package audio

import (
	"fmt"
	"time"
)

// TelephonyRate is the sample rate of everything the engines capture and of every stored
// recording: 8 kHz.
const TelephonyRate = 8000

// Limits on what this package reads and writes. Rates outside this range are not audio a PBX
// produces; more channels than MaxChannels are downmixed or refused.
const (
	MinRate     = 1000
	MaxRate     = 384000
	MaxChannels = 8
)

// PCM is linear 16-bit audio in memory. With more than one channel the samples are interleaved,
// left first (frame i of channel c is Samples[i*Channels+c]).
//
// Treat a PCM as immutable: functions in this package never modify the samples they are given,
// and may return a PCM that shares its backing array with an argument (capacity is clipped, so
// appending to a result never writes into an argument).
type PCM struct {
	Samples  []int16
	Rate     int // frames per second
	Channels int // 1 = mono, 2 = stereo (left = in, right = out for recordings)
}

// Frames returns the number of sample frames (samples per channel).
func (p PCM) Frames() int {
	if p.Channels <= 0 {
		return 0
	}
	return len(p.Samples) / p.Channels
}

// Duration is the length of the audio computed from its sample count, rounded down to the
// nanosecond (the spec's rule: durations come from samples, never from engine counters).
func (p PCM) Duration() time.Duration {
	if p.Rate <= 0 {
		return 0
	}
	return time.Duration(int64(p.Frames()) * int64(time.Second) / int64(p.Rate))
}

// Empty reports whether p holds no samples (the spec's "empty recording").
func (p PCM) Empty() bool { return p.Frames() == 0 }

// Validate checks the rules every PCM must follow: a rate in [MinRate, MaxRate], 1 to
// MaxChannels channels, and whole frames.
func (p PCM) Validate() error {
	switch {
	case p.Rate < MinRate || p.Rate > MaxRate:
		return malformed("pcm", "", fmt.Sprintf("sample rate %d Hz is outside %d–%d Hz", p.Rate, MinRate, MaxRate))
	case p.Channels < 1 || p.Channels > MaxChannels:
		return malformed("pcm", "", fmt.Sprintf("%d channels is outside 1–%d", p.Channels, MaxChannels))
	case len(p.Samples)%p.Channels != 0:
		return malformed("pcm", "", fmt.Sprintf("%d samples is not a whole number of %d-channel frames", len(p.Samples), p.Channels))
	}
	return nil
}

// samplesOf converts a duration to a frame count at rate, rounding to nearest; negative
// durations count as zero.
func samplesOf(d time.Duration, rate int) int {
	if d <= 0 {
		return 0
	}
	return int((int64(d)*int64(rate) + int64(time.Second)/2) / int64(time.Second))
}

// window returns frames [from, to) of p, sharing p's samples with capacity clipped.
func (p PCM) window(from, to int) PCM {
	a, b := from*p.Channels, to*p.Channels
	return PCM{Samples: p.Samples[a:b:b], Rate: p.Rate, Channels: p.Channels}
}

// Mono downmixes p to one channel by averaging the channels (rounded to nearest). A mono input
// is returned as it is.
func Mono(p PCM) PCM {
	if p.Channels == 1 {
		return p
	}
	n := p.Frames()
	out := make([]int16, n)
	ch := p.Channels
	for i := range n {
		sum := 0
		for _, s := range p.Samples[i*ch : i*ch+ch] {
			sum += int(s)
		}
		out[i] = int16(roundDiv(sum, ch))
	}
	return PCM{Samples: out, Rate: p.Rate, Channels: 1}
}

// roundDiv divides rounding half away from zero.
func roundDiv(a, b int) int {
	if a >= 0 {
		return (a + b/2) / b
	}
	return -((-a + b/2) / b)
}

// Stereo merges two mono tracks into one stereo PCM: left = in (what the caller says), right =
// out (what the caller hears), as record.md's Channels=2 asks. The shorter track is padded with
// silence at its end (the engines start both captures together; their ends differ). right is
// resampled to left's rate when the rates differ.
func Stereo(left, right PCM) (PCM, error) {
	if left.Channels != 1 || right.Channels != 1 {
		return PCM{}, malformed("pcm", "stereo merge", fmt.Sprintf("needs two mono tracks, got %d and %d channels", left.Channels, right.Channels))
	}
	if err := left.Validate(); err != nil {
		return PCM{}, fmt.Errorf("stereo merge: left: %w", err)
	}
	right, err := Resample(right, left.Rate)
	if err != nil {
		return PCM{}, fmt.Errorf("stereo merge: right: %w", err)
	}
	n := max(len(left.Samples), len(right.Samples))
	out := make([]int16, 2*n)
	for i, s := range left.Samples {
		out[2*i] = s
	}
	for i, s := range right.Samples {
		out[2*i+1] = s
	}
	return PCM{Samples: out, Rate: left.Rate, Channels: 2}, nil
}

// Conform converts p to rate and channels: it resamples, then maps channels (mono is duplicated
// into stereo; anything else is downmixed to mono first).
func Conform(p PCM, rate, channels int) (PCM, error) {
	if channels < 1 || channels > MaxChannels {
		return PCM{}, malformed("pcm", "", fmt.Sprintf("target of %d channels is outside 1–%d", channels, MaxChannels))
	}
	p, err := Resample(p, rate)
	if err != nil {
		return PCM{}, err
	}
	if p.Channels == channels {
		return p, nil
	}
	m := Mono(p)
	if channels == 1 {
		return m, nil
	}
	out := make([]int16, len(m.Samples)*channels)
	for i, s := range m.Samples {
		for c := range channels {
			out[i*channels+c] = s
		}
	}
	return PCM{Samples: out, Rate: rate, Channels: channels}, nil
}

// Concat appends added after existing. The existing audio's format wins (record.md, fileMode
// append): added is converted to existing's rate and channel count. A zero PCM (no rate, no
// channels) as existing yields added unchanged.
func Concat(existing, added PCM) (PCM, error) {
	if existing.Rate == 0 && existing.Channels == 0 && len(existing.Samples) == 0 {
		if err := added.Validate(); err != nil {
			return PCM{}, fmt.Errorf("concat: added audio: %w", err)
		}
		return added, nil
	}
	if err := existing.Validate(); err != nil {
		return PCM{}, fmt.Errorf("concat: existing audio: %w", err)
	}
	conv, err := Conform(added, existing.Rate, existing.Channels)
	if err != nil {
		return PCM{}, fmt.Errorf("concat: added audio: %w", err)
	}
	out := make([]int16, 0, len(existing.Samples)+len(conv.Samples))
	out = append(out, existing.Samples...)
	out = append(out, conv.Samples...)
	return PCM{Samples: out, Rate: existing.Rate, Channels: existing.Channels}, nil
}

// Normalize converts p to the stored-recording shape: TelephonyRate, and one or two channels
// (more are downmixed to mono).
func Normalize(p PCM) (PCM, error) {
	ch := p.Channels
	if ch > 2 {
		ch = 1
	}
	return Conform(p, TelephonyRate, ch)
}
