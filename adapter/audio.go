package adapter

import (
	"time"

	"github.com/pbxbridge/pbxbridge/audio"
)

// The engine's use of audio/: captures come as WAV; stored files are encoded per format.

type pcmAudio = audio.PCM

// decodeCapture reads a PBX capture. No bytes at all means no audio frame arrived.
func decodeCapture(wav []byte) (pcmAudio, error) {
	if len(wav) == 0 {
		return pcmAudio{Rate: 8000, Channels: 1}, nil
	}
	return audio.ParseWAV(wav)
}

func trimEdges(p pcmAudio, threshold float64, margin time.Duration) pcmAudio {
	return audio.TrimEdges(p, threshold, margin)
}

// trimTail is Asterisk's own trimming after a silence stop, so both PBXs give the same file.
func trimTail(p pcmAudio, threshold float64, keep time.Duration) pcmAudio {
	return audio.TrimTail(p, threshold, keep)
}

func pcmDuration(p pcmAudio) time.Duration { return p.Duration() }

func concatPCM(existing, added pcmAudio) (pcmAudio, error) { return audio.Concat(existing, added) }

// encodePCM encodes audio in a stored format ("wav", "mp3", "ul") with its MIME type.
func encodePCM(p pcmAudio, format string) ([]byte, string, error) {
	f, err := audio.ParseFormat(format)
	if err != nil {
		return nil, "", err
	}
	data, err := audio.Encode(p, f)
	return data, f.ContentType(), err
}

// decodeFile decodes a stored file of a format ("wav", "mp3", "ul").
func decodeFile(data []byte, format string) (pcmAudio, error) {
	f, err := audio.ParseFormat(format)
	if err != nil {
		return pcmAudio{}, err
	}
	return audio.Decode(data, f)
}
