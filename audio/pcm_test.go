package audio

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestDurationFromSamples(t *testing.T) {
	tests := []struct {
		name string
		p    PCM
		want time.Duration
	}{
		{"one second at 8 kHz", PCM{Samples: make([]int16, 8000), Rate: 8000, Channels: 1}, time.Second},
		{"one sample more", PCM{Samples: make([]int16, 8001), Rate: 8000, Channels: 1}, time.Second + 125*time.Microsecond},
		{"1.98 s file (Asterisk says 1 s)", PCM{Samples: make([]int16, 15840), Rate: 8000, Channels: 1}, 1980 * time.Millisecond},
		{"stereo counts frames", PCM{Samples: make([]int16, 16000), Rate: 8000, Channels: 2}, time.Second},
		{"22.05 kHz", PCM{Samples: make([]int16, 22050), Rate: 22050, Channels: 1}, time.Second},
		{"empty", PCM{Samples: nil, Rate: 8000, Channels: 1}, 0},
		{"zero value", PCM{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Duration(); got != tt.want {
				t.Errorf("Duration() = %v, want %v", got, tt.want)
			}
			if got, want := tt.p.Empty(), tt.want == 0; got != want {
				t.Errorf("Empty() = %v, want %v", got, want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		p    PCM
		ok   bool
	}{
		{"mono", PCM{Samples: make([]int16, 3), Rate: 8000, Channels: 1}, true},
		{"stereo", PCM{Samples: make([]int16, 4), Rate: 8000, Channels: 2}, true},
		{"empty", PCM{Rate: 8000, Channels: 1}, true},
		{"rate 0", PCM{Rate: 0, Channels: 1}, false},
		{"rate too high", PCM{Rate: 400000, Channels: 1}, false},
		{"no channels", PCM{Rate: 8000}, false},
		{"too many channels", PCM{Rate: 8000, Channels: 9}, false},
		{"partial frame", PCM{Samples: make([]int16, 3), Rate: 8000, Channels: 2}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func TestMono(t *testing.T) {
	tests := []struct {
		name string
		in   PCM
		want []int16
	}{
		{"mono unchanged", PCM{Samples: []int16{1, -2, 3}, Rate: 8000, Channels: 1}, []int16{1, -2, 3}},
		{"stereo averaged", PCM{Samples: []int16{100, 200, -100, -300, 32767, 32767}, Rate: 8000, Channels: 2}, []int16{150, -200, 32767}},
		{"rounds half away from zero", PCM{Samples: []int16{1, 2, -1, -2}, Rate: 8000, Channels: 2}, []int16{2, -2}},
		{"three channels", PCM{Samples: []int16{3, 6, 9}, Rate: 8000, Channels: 3}, []int16{6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Mono(tt.in)
			if got.Channels != 1 || got.Rate != tt.in.Rate || !slices.Equal(got.Samples, tt.want) {
				t.Errorf("Mono = %+v, want samples %v", got, tt.want)
			}
		})
	}
}

func TestStereo(t *testing.T) {
	in := PCM{Samples: []int16{1, 2, 3}, Rate: 8000, Channels: 1}
	out := PCM{Samples: []int16{-1}, Rate: 8000, Channels: 1}
	got, err := Stereo(in, out)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int16{1, -1, 2, 0, 3, 0}; !slices.Equal(got.Samples, want) || got.Channels != 2 {
		t.Errorf("Stereo = %+v, want left=in, right=out, padded: %v", got, want)
	}
	got, err = Stereo(out, in) // shorter left is padded too
	if err != nil {
		t.Fatal(err)
	}
	if want := []int16{-1, 1, 0, 2, 0, 3}; !slices.Equal(got.Samples, want) {
		t.Errorf("Stereo = %v, want %v", got.Samples, want)
	}

	// The right track is brought to the left's rate.
	l, r := tone(8000, 500, 0.5, time.Second), tone(16000, 500, 0.5, time.Second)
	got, err = Stereo(l, r)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rate != 8000 || got.Frames() != 8000 {
		t.Errorf("Stereo of 8 kHz and 16 kHz = %d Hz, %d frames; want 8000 Hz, 8000 frames", got.Rate, got.Frames())
	}

	if _, err := Stereo(got, l); !errors.Is(err, ErrMalformed) {
		t.Errorf("Stereo(stereo, mono) error = %v, want ErrMalformed", err)
	}
}

func TestConformAndConcat(t *testing.T) {
	mono8k := tone(8000, 440, 0.3, 500*time.Millisecond)
	stereo8k, _ := Stereo(mono8k, mono8k)
	mono16k := tone(16000, 440, 0.3, 250*time.Millisecond)

	tests := []struct {
		name       string
		existing   PCM
		added      PCM
		wantRate   int
		wantCh     int
		wantFrames int
	}{
		{"same format", mono8k, mono8k, 8000, 1, 8000},
		{"added resampled to existing rate", mono8k, mono16k, 8000, 1, 6000},
		{"existing rate wins when higher", mono16k, mono8k, 16000, 1, 12000},
		{"mono added to stereo existing is duplicated", stereo8k, mono8k, 8000, 2, 8000},
		{"stereo added to mono existing is downmixed", mono8k, stereo8k, 8000, 1, 8000},
		{"zero existing takes added as is", PCM{}, mono16k, 16000, 1, 4000},
		{"empty existing still sets the format", PCM{Rate: 8000, Channels: 1}, mono16k, 8000, 1, 2000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Concat(tt.existing, tt.added)
			if err != nil {
				t.Fatal(err)
			}
			if got.Rate != tt.wantRate || got.Channels != tt.wantCh || got.Frames() != tt.wantFrames {
				t.Errorf("Concat = %d Hz, %d ch, %d frames; want %d Hz, %d ch, %d frames",
					got.Rate, got.Channels, got.Frames(), tt.wantRate, tt.wantCh, tt.wantFrames)
			}
			if n := len(tt.existing.Samples); !slices.Equal(got.Samples[:n], tt.existing.Samples) {
				t.Error("existing audio is not kept unchanged at the start")
			}
		})
	}

	if _, err := Conform(mono8k, 8000, 0); !errors.Is(err, ErrMalformed) {
		t.Errorf("Conform to 0 channels: error %v, want ErrMalformed", err)
	}
	if _, err := Concat(PCM{Rate: 8000, Channels: 3, Samples: []int16{1}}, mono8k); err == nil {
		t.Error("Concat onto an invalid PCM: no error")
	}
}

func TestNormalize(t *testing.T) {
	three := PCM{Samples: make([]int16, 3*16000), Rate: 16000, Channels: 3}
	got, err := Normalize(three)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rate != TelephonyRate || got.Channels != 1 || got.Duration() != time.Second {
		t.Errorf("Normalize(3 ch, 16 kHz, 1 s) = %d Hz, %d ch, %v", got.Rate, got.Channels, got.Duration())
	}
	st := PCM{Samples: make([]int16, 2*8000), Rate: 8000, Channels: 2}
	if got, _ := Normalize(st); got.Channels != 2 || &got.Samples[0] != &st.Samples[0] {
		t.Error("Normalize of 8 kHz stereo should return it unchanged")
	}
}
