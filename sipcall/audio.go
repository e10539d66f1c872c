package sipcall

import (
	"fmt"

	"github.com/pbxbridge/pbxbridge/audio"
)

// ULawFromWAV converts a WAV file (any rate, mono or stereo, 8/16-bit PCM or G.711) into the
// 8 kHz µ-law samples a Call sends.
func ULawFromWAV(wav []byte) ([]byte, error) {
	pcm, err := audio.ParseWAV(wav)
	if err != nil {
		return nil, fmt.Errorf("caller audio: %w", err)
	}
	return audio.EncodeULaw(pcm)
}
