package audio

import (
	"fmt"
	"strings"
)

// Format is a stored-recording format (record.md §3 Format). Its values are the spellings the
// rest of the bridge uses, so a translate.AudioFormat converts with Format(f).
type Format string

// Stored formats.
const (
	FormatWAV  Format = "wav"  // RIFF, 8 kHz, 16-bit PCM, mono (stereo for two-channel recordings)
	FormatULaw Format = "ulaw" // headerless G.711 µ-law, 8 kHz, mono
	FormatMP3  Format = "mp3"  // MPEG-1 Layer III (see EncodeMP3)
)

// ParseFormat reads a format name case-insensitively; "ul" (FlexML's spelling) means ulaw.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "wav":
		return FormatWAV, nil
	case "ulaw", "ul":
		return FormatULaw, nil
	case "mp3":
		return FormatMP3, nil
	}
	return "", &FormatError{Container: "format", Rule: fmt.Sprintf("%q is not wav, mp3, ul or ulaw", s), Err: ErrUnsupported}
}

// Valid reports whether f is one of the stored formats.
func (f Format) Valid() bool {
	return f == FormatWAV || f == FormatULaw || f == FormatMP3
}

// Extension is the file name extension, with its dot: ".wav", ".ul", ".mp3".
func (f Format) Extension() string {
	if f == FormatULaw {
		return ".ul"
	}
	return "." + string(f)
}

// ContentType is the MIME type served for the format.
func (f Format) ContentType() string {
	switch f {
	case FormatWAV:
		return "audio/wav"
	case FormatULaw:
		return "audio/basic"
	case FormatMP3:
		return "audio/mpeg"
	}
	return "application/octet-stream"
}

func (f Format) check() error {
	if !f.Valid() {
		return &FormatError{Container: "format", Rule: fmt.Sprintf("%q is not wav, ulaw or mp3", string(f)), Err: ErrUnsupported}
	}
	return nil
}

// Encode writes p in the stored shape of format f: 8 kHz; one or two channels for wav and mp3
// (more are downmixed to mono), mono for ulaw.
func Encode(p PCM, f Format) ([]byte, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	p, err := Normalize(p)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", f, err)
	}
	switch f {
	case FormatULaw:
		return EncodeULaw(p)
	case FormatMP3:
		return EncodeMP3(p)
	}
	return EncodeWAV(p)
}

// Decode reads a stored file of format f into PCM in the stored shape (8 kHz; one or two
// channels).
func Decode(b []byte, f Format) (PCM, error) {
	if err := f.check(); err != nil {
		return PCM{}, err
	}
	var (
		p   PCM
		err error
	)
	switch f {
	case FormatULaw:
		return DecodeULaw(b), nil
	case FormatMP3:
		p, err = DecodeMP3(b)
	default:
		p, err = ParseWAV(b)
	}
	if err != nil {
		return PCM{}, err
	}
	return Normalize(p)
}

// Convert turns a WAV file (as the engines capture it, or anything ParseWAV reads) into format
// to, in the stored shape. Convert(wav, FormatWAV) normalises (8 kHz, 16-bit, canonical header).
func Convert(wav []byte, to Format) ([]byte, error) {
	if err := to.check(); err != nil {
		return nil, err
	}
	p, err := ParseWAV(wav)
	if err != nil {
		return nil, err
	}
	return Encode(p, to)
}

// Append implements fileMode=append: it decodes existing (a stored file of format f), appends
// added after it, and encodes the whole in f. The existing file's format wins: added is
// converted to its rate and channels. An existing file that cannot be decoded is an error (the
// recording fails, record.md). For mp3 the existing audio is decoded and re-encoded, one more
// generation of lossy coding per append.
func Append(existing []byte, f Format, added PCM) ([]byte, error) {
	old, err := Decode(existing, f)
	if err != nil {
		return nil, fmt.Errorf("append: existing %s file: %w", f, err)
	}
	all, err := Concat(old, added)
	if err != nil {
		return nil, fmt.Errorf("append: %w", err)
	}
	return Encode(all, f)
}
