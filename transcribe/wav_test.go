package transcribe_test

import "github.com/pbxbridge/pbxbridge/audio"

func encodeWAV(s []int16) ([]byte, error) {
	return audio.EncodeWAV(audio.PCM{Samples: s, Rate: audio.TelephonyRate, Channels: 1})
}
