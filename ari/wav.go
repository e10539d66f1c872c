package ari

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Asterisk's "wav" format is RIFF, 8 kHz, 16-bit, mono PCM with a 44-byte header; a
// recording that received no audio frame is that header alone (asterisk.md §2).

// errNotWAV: the stored file is not RIFF/WAVE PCM.
var errNotWAV = errors.New("not a 16-bit PCM WAV file")

type pcm struct {
	rate     int
	channels int
	data     []byte // little-endian 16-bit samples, interleaved
}

// parseWAV reads the fmt and data chunks. A data size that overruns the file (a file whose
// header was not finalised, say after a crash) is clamped to what is there.
func parseWAV(b []byte) (pcm, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return pcm{}, errNotWAV
	}
	var p pcm
	var bits int
	haveFmt := false
	for off := 12; off+8 <= len(b); {
		id := string(b[off : off+4])
		size := int(binary.LittleEndian.Uint32(b[off+4 : off+8]))
		body := off + 8
		end := body + size
		if end > len(b) || end < body {
			end = len(b)
		}
		switch id {
		case "fmt ":
			if end-body < 16 {
				return pcm{}, fmt.Errorf("%w: short fmt chunk", errNotWAV)
			}
			if tag := binary.LittleEndian.Uint16(b[body:]); tag != 1 {
				return pcm{}, fmt.Errorf("%w: format tag %d", errNotWAV, tag)
			}
			p.channels = int(binary.LittleEndian.Uint16(b[body+2:]))
			p.rate = int(binary.LittleEndian.Uint32(b[body+4:]))
			bits = int(binary.LittleEndian.Uint16(b[body+14:]))
			haveFmt = true
		case "data":
			if size == 0 && end == body && len(b) > body {
				end = len(b) // header never finalised: the samples run to the end
			}
			p.data = b[body:end]
		}
		off = end + size%2 // chunks are word-aligned
		if off > len(b) {
			break
		}
	}
	if !haveFmt || bits != 16 || p.channels < 1 || p.rate <= 0 {
		return pcm{}, errNotWAV
	}
	p.data = p.data[:len(p.data)/(2*p.channels)*(2*p.channels)]
	return p, nil
}

// encodeWAV writes a canonical 44-byte-header WAV.
func encodeWAV(rate, channels int, data []byte) []byte {
	out := make([]byte, 44+len(data))
	copy(out[0:], "RIFF")
	binary.LittleEndian.PutUint32(out[4:], uint32(36+len(data)))
	copy(out[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(out[16:], 16)
	binary.LittleEndian.PutUint16(out[20:], 1)
	binary.LittleEndian.PutUint16(out[22:], uint16(channels))
	binary.LittleEndian.PutUint32(out[24:], uint32(rate))
	binary.LittleEndian.PutUint32(out[28:], uint32(rate*channels*2))
	binary.LittleEndian.PutUint16(out[32:], uint16(channels*2))
	binary.LittleEndian.PutUint16(out[34:], 16)
	copy(out[36:], "data")
	binary.LittleEndian.PutUint32(out[40:], uint32(len(data)))
	copy(out[44:], data)
	return out
}

// mergeStereo interleaves two mono tracks of one rate, left = in, right = out. lead is how
// much later the right track started than the left (negative: earlier); the later one is
// padded with silence at the front so that the two line up, and the shorter one at the end.
// The package audio has no merge yet; this is the only one the bridge needs.
func mergeStereo(left, right []byte, rate int, leadMs int64) []byte {
	pad := func(b []byte, ms int64) []byte {
		if ms <= 0 {
			return b
		}
		return append(make([]byte, int(ms)*rate/1000*2), b...)
	}
	left, right = pad(left, -leadMs), pad(right, leadMs)
	n := max(len(left), len(right)) / 2
	out := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		if 2*i+1 < len(left) {
			out[4*i], out[4*i+1] = left[2*i], left[2*i+1]
		}
		if 2*i+1 < len(right) {
			out[4*i+2], out[4*i+3] = right[2*i], right[2*i+1]
		}
	}
	return out
}
