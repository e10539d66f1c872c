package audio

import (
	"testing"
	"time"
)

const ms = time.Millisecond

func TestTrimEdges(t *testing.T) {
	sec := time.Second
	tests := []struct {
		name      string
		in        PCM
		threshold float64
		margin    time.Duration
		from, to  time.Duration // expected window of the input; from == to means empty
	}{
		{"burst in silence keeps 100 ms margins",
			join(silence(8000, sec), tone(8000, 440, 0.1, 500*ms), silence(8000, sec)), DefaultTrimThreshold, DefaultTrimMargin, 900 * ms, 1600 * ms},
		{"no margin cuts at the frame edges",
			join(silence(8000, sec), tone(8000, 440, 0.1, 500*ms), silence(8000, sec)), DefaultTrimThreshold, 0, 1000 * ms, 1500 * ms},
		{"unaligned burst: cut at the 20 ms frames it touches",
			join(silence(8000, 1010*ms), tone(8000, 440, 0.1, 500*ms), silence(8000, sec)), DefaultTrimThreshold, DefaultTrimMargin, 900 * ms, 1620 * ms},
		{"two bursts keep the silence between them",
			join(silence(8000, sec), tone(8000, 440, 0.1, 200*ms), silence(8000, sec), tone(8000, 880, 0.1, 200*ms), silence(8000, sec)), DefaultTrimThreshold, DefaultTrimMargin, 900 * ms, 2500 * ms},
		{"margin clipped at the start and end",
			join(silence(8000, 40*ms), tone(8000, 440, 0.1, sec), silence(8000, 40*ms)), DefaultTrimThreshold, DefaultTrimMargin, 0, 1080 * ms},
		{"no silence: unchanged",
			tone(8000, 440, 0.1, sec), DefaultTrimThreshold, DefaultTrimMargin, 0, sec},
		{"all silence: empty",
			silence(8000, 2*sec), DefaultTrimThreshold, DefaultTrimMargin, 0, 0},
		{"empty: empty",
			silence(8000, 0), DefaultTrimThreshold, DefaultTrimMargin, 0, 0},
		{"tone at 1.2 % of full scale is sound",
			join(silence(8000, sec), tone(8000, 440, 0.012, 200*ms), silence(8000, sec)), DefaultTrimThreshold, 0, 1000 * ms, 1200 * ms},
		{"tone at 0.8 % of full scale is silence",
			join(silence(8000, sec), tone(8000, 440, 0.008, 200*ms), silence(8000, sec)), DefaultTrimThreshold, 0, 0, 0},
		{"line noise at −50 dBFS is silence",
			noise(8000, 0.003, 3*sec, 1), DefaultTrimThreshold, DefaultTrimMargin, 0, 0},
		{"a DC offset is not sound",
			offset(silence(8000, sec), 2000), DefaultTrimThreshold, DefaultTrimMargin, 0, 0},
		{"a single 6 % click is not sound",
			click(silence(8000, sec), 4000, 2000), DefaultTrimThreshold, DefaultTrimMargin, 0, 0},
		{"a higher threshold drops a quieter burst",
			join(silence(8000, sec), tone(8000, 440, 0.03, 200*ms), silence(8000, sec), tone(8000, 440, 0.2, 200*ms), silence(8000, sec)), 0.05, 0, 2200 * ms, 2400 * ms},
		{"16 kHz input uses 20 ms frames too",
			join(silence(16000, sec), tone(16000, 440, 0.1, 500*ms), silence(16000, sec)), DefaultTrimThreshold, DefaultTrimMargin, 900 * ms, 1600 * ms},
		{"threshold 0 keeps everything",
			silence(8000, sec), 0, 0, 0, sec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TrimEdges(tt.in, tt.threshold, tt.margin)
			checkWindow(t, tt.in, got, tt.from, tt.to)
		})
	}
}

func TestTrimEdgesStereo(t *testing.T) {
	right := join(silence(8000, time.Second), tone(8000, 440, 0.1, 500*ms), silence(8000, time.Second))
	st, _ := Stereo(silence(8000, 2500*ms), right)
	got := TrimEdges(st, DefaultTrimThreshold, DefaultTrimMargin)
	if got.Channels != 2 || got.Duration() != 700*ms {
		t.Errorf("speech on the right channel only: %d ch, %v; want 2 ch, 700ms", got.Channels, got.Duration())
	}
	if got.Samples[0] != st.Samples[2*7200] {
		t.Error("stereo window does not start on a frame boundary")
	}
}

func TestTrimTail(t *testing.T) {
	sec := time.Second
	tests := []struct {
		name     string
		in       PCM
		keep     time.Duration
		from, to time.Duration
	}{
		{"trailing silence cut, 200 ms kept", join(tone(8000, 440, 0.1, sec), silence(8000, 2*sec)), DefaultTailKeep, 0, 1200 * ms},
		{"leading silence stays", join(silence(8000, sec), tone(8000, 440, 0.1, sec), silence(8000, sec)), DefaultTailKeep, 0, 2200 * ms},
		{"keep longer than the silence", join(tone(8000, 440, 0.1, sec), silence(8000, 100*ms)), DefaultTailKeep, 0, 1100 * ms},
		{"all silence: empty", silence(8000, 2*sec), DefaultTailKeep, 0, 0},
		{"keep 0", join(tone(8000, 440, 0.1, sec), silence(8000, sec)), 0, 0, sec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TrimTail(tt.in, DefaultTrimThreshold, tt.keep)
			checkWindow(t, tt.in, got, tt.from, tt.to)
		})
	}
}

func TestTrimResultDoesNotAlias(t *testing.T) {
	in := join(tone(8000, 440, 0.1, time.Second), silence(8000, time.Second))
	keep := in.Samples[8800]
	got := TrimTail(in, DefaultTrimThreshold, 100*ms)
	got.Samples = append(got.Samples, 12345)
	if in.Samples[8800] != keep {
		t.Error("appending to a trimmed result wrote into the input")
	}
}

// checkWindow asserts that got is exactly in[from:to] (by duration), with in's format.
func checkWindow(t *testing.T, in, got PCM, from, to time.Duration) {
	t.Helper()
	if got.Rate != in.Rate || got.Channels != in.Channels {
		t.Fatalf("format changed: %d Hz %d ch, want %d Hz %d ch", got.Rate, got.Channels, in.Rate, in.Channels)
	}
	if from == to {
		if !got.Empty() {
			t.Fatalf("got %v of audio, want empty", got.Duration())
		}
		return
	}
	if got.Duration() != to-from {
		t.Fatalf("got %v of audio, want %v (%v–%v)", got.Duration(), to-from, from, to)
	}
	a := samplesOf(from, in.Rate) * in.Channels
	if &got.Samples[0] != &in.Samples[a] {
		t.Errorf("window does not start at %v", from)
	}
}

func offset(p PCM, dc int16) PCM {
	for i := range p.Samples {
		p.Samples[i] += dc
	}
	return p
}

func click(p PCM, at int, amp int16) PCM {
	p.Samples[at] = amp
	return p
}
