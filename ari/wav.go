package ari

import (
	"time"

	"github.com/pbxbridge/pbxbridge/audio"
)

// Asterisk's "wav" format is RIFF, 8 kHz, 16-bit, mono PCM with a 44-byte header; a
// recording that received no audio frame is that header alone (asterisk.md §2). Parsing,
// encoding and the stereo merge are package audio's; what is Asterisk-specific stays here.

// alignStart pads the track that started later with silence at its front, so that the two
// line up in a stereo merge: each snoop's recording starts on its own, a few milliseconds
// apart (asterisk.md §1). lead is how much later right started than left.
func alignStart(left, right audio.PCM, lead time.Duration) (audio.PCM, audio.PCM) {
	pad := func(p audio.PCM, d time.Duration) audio.PCM {
		n := int(d * time.Duration(p.Rate) / time.Second)
		if n <= 0 {
			return p
		}
		s := make([]int16, n*p.Channels, n*p.Channels+len(p.Samples))
		return audio.PCM{Samples: append(s, p.Samples...), Rate: p.Rate, Channels: p.Channels}
	}
	return pad(left, -lead), pad(right, lead)
}

// wavDuration is the audio length of a WAV, for logs.
func wavDuration(b []byte) time.Duration {
	if len(b) == 0 {
		return 0
	}
	p, err := audio.ParseWAV(b)
	if err != nil {
		return 0
	}
	return p.Duration()
}
