package audio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// WAV format tags this package reads.
const (
	wavPCM        = 0x0001
	wavFloat      = 0x0003
	wavALaw       = 0x0006
	wavULaw       = 0x0007
	wavExtensible = 0xFFFE
)

// wavHeaderSize is the size of the canonical header EncodeWAV writes.
const wavHeaderSize = 44

// extensibleGUIDTail is bytes 2..16 of every KSDATAFORMAT_SUBTYPE GUID whose first two bytes
// are a classic format tag (PCM, µ-law, ...).
var extensibleGUIDTail = []byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}

// wavFormat is what ParseWAV needs from the fmt chunk.
type wavFormat struct {
	tag      int
	channels int
	rate     int
	bytes    int // container bytes per sample: 1 or 2
}

// ParseWAV decodes a RIFF/WAVE file into 16-bit PCM at the file's own rate and channel count
// (Normalize converts to the stored shape). It reads what telephony systems write:
//
//   - PCM with 1–16 bits per sample in one or two bytes (8-bit is unsigned, as WAV defines),
//     G.711 µ-law (format 7) and A-law (format 6), plain or WAVE_FORMAT_EXTENSIBLE; "RIFF" and
//     "RF64" files;
//   - chunks in any order before the data (LIST, fact, cue, JUNK, ds64 ... are skipped), odd
//     chunk sizes with or without the pad byte the standard asks for;
//   - a data size a streaming writer never fixed: 0 or 0xFFFFFFFF, or larger than the file
//     (espeak-ng writes 0x7FFFF000), all mean "to the end of the file". A data size of 0
//     followed by another well-formed chunk is a real empty recording (Asterisk writes a bare
//     44-byte header when no audio arrived). A trailing partial frame is dropped.
//
// 24- and 32-bit PCM, IEEE float, ADPCM and big-endian RIFX are refused with ErrUnsupported;
// broken files with ErrMalformed. Every error names the rule broken.
func ParseWAV(b []byte) (PCM, error) {
	if len(b) < 12 {
		return PCM{}, malformed("wav", "", fmt.Sprintf("file is %d bytes, shorter than the 12-byte RIFF header", len(b)))
	}
	switch string(b[0:4]) {
	case "RIFF", "RF64":
	case "RIFX":
		return PCM{}, unsupported("wav", "", "big-endian RIFX files are not supported")
	default:
		return PCM{}, malformed("wav", "", fmt.Sprintf("file starts with %q, not \"RIFF\"", printable(b[0:4])))
	}
	if string(b[8:12]) != "WAVE" {
		return PCM{}, malformed("wav", "", fmt.Sprintf("RIFF form type is %q, not \"WAVE\"", printable(b[8:12])))
	}

	var (
		format  *wavFormat
		data    []byte
		hasData bool
	)
	pos := 12
scan:
	for pos+8 <= len(b) {
		id := string(b[pos : pos+4])
		size := int64(binary.LittleEndian.Uint32(b[pos+4 : pos+8]))
		body := pos + 8
		remain := int64(len(b) - body)
		switch {
		case id == "data" && !hasData:
			if size > remain || size == 0xFFFFFFFF || (size == 0 && !nextChunkFits(b, body)) {
				// A size the writer never fixed: the audio runs to the end of the file.
				data, hasData = b[body:], true
				if format == nil {
					return PCM{}, malformed("wav", "data chunk", "has no usable size and comes before the fmt chunk")
				}
				break scan
			}
			data, hasData = b[body:body+int(size)], true
		case id == "fmt " && format == nil:
			if size > remain {
				return PCM{}, malformed("wav", "fmt chunk", fmt.Sprintf("declares %d bytes, only %d remain", size, remain))
			}
			f, err := parseFmt(b[body : body+int(size)])
			if err != nil {
				return PCM{}, err
			}
			format = f
		case size > remain:
			if hasData && format != nil {
				break scan // a broken trailer after the audio loses nothing
			}
			return PCM{}, malformed("wav", fmt.Sprintf("%q chunk", printable(b[pos:pos+4])), fmt.Sprintf("declares %d bytes, only %d remain", size, remain))
		}
		if hasData && format != nil {
			break
		}
		pos = nextChunk(b, body, int(size))
	}
	if format == nil {
		return PCM{}, malformed("wav", "", "no fmt chunk")
	}
	if !hasData {
		return PCM{}, malformed("wav", "", "no data chunk")
	}
	return decodeWAVData(data, format), nil
}

// nextChunk returns the offset of the chunk after one whose body starts at body. The standard
// pads odd-sized chunks to an even length; some writers omit the pad byte, so when only the
// unpadded offset holds something that looks like a chunk ID, that one is used.
func nextChunk(b []byte, body, size int) int {
	next := body + size
	if size%2 == 0 {
		return next
	}
	if !plausibleID(b, next+1) && plausibleID(b, next) {
		return next
	}
	return next + 1
}

// nextChunkFits reports whether a well-formed chunk header (a printable ID and a size that fits
// in the file) starts at off: used to tell a real empty data chunk from an unfixed size 0.
func nextChunkFits(b []byte, off int) bool {
	if !plausibleID(b, off) || off+8 > len(b) {
		return false
	}
	return int64(binary.LittleEndian.Uint32(b[off+4:off+8])) <= int64(len(b)-off-8)
}

// plausibleID reports whether b[off:off+4] is four printable ASCII bytes (a RIFF FourCC).
func plausibleID(b []byte, off int) bool {
	if off < 0 || off+4 > len(b) {
		return false
	}
	for _, c := range b[off : off+4] {
		if c < 0x20 || c > 0x7E {
			return false
		}
	}
	return true
}

func printable(id []byte) string {
	return string(bytes.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7E {
			return '?'
		}
		return r
	}, id))
}

func parseFmt(c []byte) (*wavFormat, error) {
	const part = "fmt chunk"
	if len(c) < 16 {
		return nil, malformed("wav", part, fmt.Sprintf("is %d bytes, shorter than the 16 a fmt chunk needs", len(c)))
	}
	le := binary.LittleEndian
	tag := int(le.Uint16(c[0:2]))
	channels := int(le.Uint16(c[2:4]))
	rate := int64(le.Uint32(c[4:8]))
	bits := int(le.Uint16(c[14:16]))
	if tag == wavExtensible {
		if len(c) < 40 {
			return nil, malformed("wav", part, fmt.Sprintf("WAVE_FORMAT_EXTENSIBLE needs 40 bytes, the chunk has %d", len(c)))
		}
		if !bytes.Equal(c[26:40], extensibleGUIDTail) {
			return nil, unsupported("wav", part, fmt.Sprintf("WAVE_FORMAT_EXTENSIBLE sub-format %x is not supported", c[24:40]))
		}
		tag = int(le.Uint16(c[24:26]))
	}
	switch {
	case channels == 0:
		return nil, malformed("wav", part, "declares 0 channels")
	case channels > MaxChannels:
		return nil, unsupported("wav", part, fmt.Sprintf("%d channels is more than the %d supported", channels, MaxChannels))
	case rate == 0:
		return nil, malformed("wav", part, "declares a sample rate of 0 Hz")
	case rate < MinRate || rate > MaxRate:
		return nil, unsupported("wav", part, fmt.Sprintf("sample rate %d Hz is outside %d–%d Hz", rate, MinRate, MaxRate))
	}
	f := &wavFormat{tag: tag, channels: channels, rate: int(rate)}
	switch tag {
	case wavPCM:
		switch {
		case bits == 0:
			return nil, malformed("wav", part, "declares 0 bits per sample")
		case bits <= 16:
			// 1–8 bits sit in one unsigned byte, 9–16 in a signed 16-bit word, left-justified,
			// so both read as 8- or 16-bit samples.
			f.bytes = (bits + 7) / 8
		default:
			return nil, unsupported("wav", part, fmt.Sprintf("%d-bit PCM is not supported", bits))
		}
	case wavULaw, wavALaw:
		if bits != 8 {
			return nil, malformed("wav", part, fmt.Sprintf("%s needs 8 bits per sample, not %d", tagName(tag), bits))
		}
		f.bytes = 1
	default:
		return nil, unsupported("wav", part, fmt.Sprintf("format tag 0x%04X (%s) is not supported", tag, tagName(tag)))
	}
	return f, nil
}

func tagName(tag int) string {
	switch tag {
	case wavPCM:
		return "PCM"
	case 0x0002:
		return "Microsoft ADPCM"
	case wavFloat:
		return "IEEE float"
	case wavALaw:
		return "A-law"
	case wavULaw:
		return "µ-law"
	case 0x0011:
		return "IMA ADPCM"
	case 0x0031:
		return "GSM 6.10"
	case 0x0055:
		return "MPEG Layer III"
	}
	return "unknown"
}

func decodeWAVData(data []byte, f *wavFormat) PCM {
	frame := f.channels * f.bytes
	n := len(data) / frame * f.channels
	out := make([]int16, n)
	switch {
	case f.tag == wavULaw:
		for i := range out {
			out[i] = ULawToLinear(data[i])
		}
	case f.tag == wavALaw:
		for i := range out {
			out[i] = ALawToLinear(data[i])
		}
	case f.bytes == 1:
		for i := range out {
			out[i] = int16(int(data[i])-128) << 8
		}
	default:
		for i := range out {
			out[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
		}
	}
	return PCM{Samples: out, Rate: f.rate, Channels: f.channels}
}

// EncodeWAV writes p as a canonical WAV file: a 44-byte header (RIFF, fmt with 16-bit PCM,
// data) followed by the samples, at p's own rate and channel count.
func EncodeWAV(p PCM) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("wav: %w", err)
	}
	dataLen := int64(len(p.Samples)) * 2
	if dataLen > math.MaxUint32-(wavHeaderSize-8) {
		return nil, unsupported("wav", "", fmt.Sprintf("%d bytes of audio do not fit a RIFF file (4 GiB)", dataLen))
	}
	out := make([]byte, wavHeaderSize+dataLen)
	le := binary.LittleEndian
	copy(out[0:], "RIFF")
	le.PutUint32(out[4:], uint32(wavHeaderSize-8+dataLen))
	copy(out[8:], "WAVEfmt ")
	le.PutUint32(out[16:], 16)
	le.PutUint16(out[20:], wavPCM)
	le.PutUint16(out[22:], uint16(p.Channels))
	le.PutUint32(out[24:], uint32(p.Rate))
	le.PutUint32(out[28:], uint32(p.Rate*p.Channels*2))
	le.PutUint16(out[32:], uint16(p.Channels*2))
	le.PutUint16(out[34:], 16)
	copy(out[36:], "data")
	le.PutUint32(out[40:], uint32(dataLen))
	for i, s := range p.Samples {
		le.PutUint16(out[wavHeaderSize+2*i:], uint16(s))
	}
	return out, nil
}
