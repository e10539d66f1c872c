package audio

import (
	"testing"
	"time"
)

// Benchmarks on a 60 s recording (8 kHz mono, speech-like, with leading and trailing
// silence). Each reports x_realtime: seconds of audio processed per second of wall time.

const benchAudio = 60 * time.Second

func benchRecording() PCM {
	return join(silence(8000, 2*time.Second), speech(8000, 0.4, benchAudio-4*time.Second, 99), silence(8000, 2*time.Second))
}

func reportRealTime(b *testing.B, n int, audio time.Duration) {
	b.ReportMetric(float64(n)*audio.Seconds()/b.Elapsed().Seconds(), "x_realtime")
}

func benchConvert(b *testing.B, to Format) {
	wav, err := EncodeWAV(benchRecording())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(wav)))
	n := 0
	for b.Loop() {
		if _, err := Convert(wav, to); err != nil {
			b.Fatal(err)
		}
		n++
	}
	reportRealTime(b, n, benchAudio)
}

func BenchmarkConvertWAVToMP3(b *testing.B)  { benchConvert(b, FormatMP3) }
func BenchmarkConvertWAVToULaw(b *testing.B) { benchConvert(b, FormatULaw) }
func BenchmarkConvertWAVToWAV(b *testing.B)  { benchConvert(b, FormatWAV) }

func BenchmarkTrimEdges(b *testing.B) {
	p := benchRecording()
	n := 0
	for b.Loop() {
		TrimEdges(p, DefaultTrimThreshold, DefaultTrimMargin)
		n++
	}
	reportRealTime(b, n, benchAudio)
}

func BenchmarkDecodeMP3(b *testing.B) {
	mp3, err := EncodeMP3(benchRecording())
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		if _, err := Decode(mp3, FormatMP3); err != nil {
			b.Fatal(err)
		}
		n++
	}
	reportRealTime(b, n, benchAudio)
}

func BenchmarkAppendMP3(b *testing.B) {
	rec := benchRecording()
	existing, err := EncodeMP3(rec)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for b.Loop() { // 60 s existing + 60 s added
		if _, err := Append(existing, FormatMP3, rec); err != nil {
			b.Fatal(err)
		}
		n++
	}
	reportRealTime(b, n, 2*benchAudio)
}

func BenchmarkResample22050To8000(b *testing.B) {
	p := speech(22050, 0.4, benchAudio, 98) // espeak-ng's output rate
	n := 0
	for b.Loop() {
		if _, err := Resample(p, 8000); err != nil {
			b.Fatal(err)
		}
		n++
	}
	reportRealTime(b, n, benchAudio)
}
