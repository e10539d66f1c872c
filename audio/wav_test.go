package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"
)

// chunk is one RIFF chunk for building test files; size < 0 means len(body).
type chunk struct {
	id    string
	size  int64
	body  []byte
	noPad bool // leave out the pad byte after an odd-sized body
}

func ck(id string, body []byte) chunk { return chunk{id: id, size: -1, body: body} }

// riff builds a RIFF file; the RIFF size field is deliberately left wrong (0), as streaming
// writers leave it, since ParseWAV must not rely on it.
func riff(magic string, chunks ...chunk) []byte {
	var b bytes.Buffer
	b.WriteString(magic)
	b.Write([]byte{0, 0, 0, 0})
	b.WriteString("WAVE")
	for _, c := range chunks {
		b.WriteString(c.id)
		size := c.size
		if size < 0 {
			size = int64(len(c.body))
		}
		binary.Write(&b, binary.LittleEndian, uint32(size))
		b.Write(c.body)
		if len(c.body)%2 == 1 && !c.noPad {
			b.WriteByte(0)
		}
	}
	return b.Bytes()
}

func fmtBody(tag, channels, rate, bits int) []byte {
	b := make([]byte, 16)
	le := binary.LittleEndian
	align := channels * ((bits + 7) / 8)
	le.PutUint16(b[0:], uint16(tag))
	le.PutUint16(b[2:], uint16(channels))
	le.PutUint32(b[4:], uint32(rate))
	le.PutUint32(b[8:], uint32(rate*align))
	le.PutUint16(b[12:], uint16(align))
	le.PutUint16(b[14:], uint16(bits))
	return b
}

func fmtExtensible(sub, channels, rate, bits int) []byte {
	b := fmtBody(wavExtensible, channels, rate, bits)
	ext := make([]byte, 24)
	binary.LittleEndian.PutUint16(ext[0:], 22)
	binary.LittleEndian.PutUint16(ext[2:], uint16(bits))
	binary.LittleEndian.PutUint16(ext[8:], uint16(sub))
	copy(ext[10:], extensibleGUIDTail)
	return append(b, ext...)
}

func le16(s ...int16) []byte {
	b := make([]byte, 2*len(s))
	for i, v := range s {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	return b
}

func TestParseWAVAccepts(t *testing.T) {
	pcm8k := fmtBody(wavPCM, 1, 8000, 16)
	samples := []int16{0, 1000, -1000, 32767, -32768}
	data := le16(samples...)
	list := ck("LIST", []byte("INFOISFT\x05\x00\x00\x00test\x00"))

	tests := []struct {
		name  string
		file  []byte
		want  []int16
		rate  int
		chans int
	}{
		{"canonical", riff("RIFF", ck("fmt ", pcm8k), ck("data", data)), samples, 8000, 1},
		{"LIST before fmt", riff("RIFF", list, ck("fmt ", pcm8k), ck("data", data)), samples, 8000, 1},
		{"LIST and fact between fmt and data", riff("RIFF", ck("fmt ", pcm8k), list, ck("fact", []byte{5, 0, 0, 0}), ck("data", data)), samples, 8000, 1},
		{"LIST after data", riff("RIFF", ck("fmt ", pcm8k), ck("data", data), list), samples, 8000, 1},
		{"odd chunk with pad byte", riff("RIFF", ck("JUNK", []byte{1, 2, 3}), ck("fmt ", pcm8k), ck("data", data)), samples, 8000, 1},
		{"odd chunk without pad byte", riff("RIFF", chunk{id: "JUNK", size: -1, body: []byte{1, 2, 3}, noPad: true}, ck("fmt ", pcm8k), ck("data", data)), samples, 8000, 1},
		{"fmt chunk with cbSize", riff("RIFF", ck("fmt ", append(slices.Clone(pcm8k), 0, 0)), ck("data", data)), samples, 8000, 1},
		{"data size 0 from a streaming writer", riff("RIFF", ck("fmt ", pcm8k), chunk{id: "data", size: 0, body: data}), samples, 8000, 1},
		{"data size 0xFFFFFFFF", riff("RIFF", ck("fmt ", pcm8k), chunk{id: "data", size: 0xFFFFFFFF, body: data}), samples, 8000, 1},
		{"data size past the end (espeak-ng 0x7FFFF000)", riff("RIFF", ck("fmt ", pcm8k), chunk{id: "data", size: 0x7FFFF000, body: data}), samples, 8000, 1},
		{"empty recording: bare 44-byte header", riff("RIFF", ck("fmt ", pcm8k), ck("data", nil)), []int16{}, 8000, 1},
		{"data size 0 followed by a real chunk is empty", riff("RIFF", ck("fmt ", pcm8k), ck("data", nil), list), []int16{}, 8000, 1},
		{"trailing partial frame dropped", riff("RIFF", ck("fmt ", pcm8k), ck("data", append(le16(7, 8), 9))), []int16{7, 8}, 8000, 1},
		{"data before fmt with a definite size", riff("RIFF", ck("data", data), ck("fmt ", pcm8k)), samples, 8000, 1},
		{"second data chunk ignored", riff("RIFF", ck("fmt ", pcm8k), ck("data", le16(1)), ck("data", le16(2))), []int16{1}, 8000, 1},
		{"stereo 16 kHz", riff("RIFF", ck("fmt ", fmtBody(wavPCM, 2, 16000, 16)), ck("data", le16(1, 2, 3, 4))), []int16{1, 2, 3, 4}, 16000, 2},
		{"8-bit unsigned", riff("RIFF", ck("fmt ", fmtBody(wavPCM, 1, 8000, 8)), ck("data", []byte{0x80, 0xFF, 0x00, 0x81})), []int16{0, 32512, -32768, 256}, 8000, 1},
		{"12-bit in 16-bit words", riff("RIFF", ck("fmt ", fmtBody(wavPCM, 1, 8000, 12)), ck("data", le16(16, -16))), []int16{16, -16}, 8000, 1},
		{"µ-law (format 7)", riff("RIFF", ck("fmt ", fmtBody(wavULaw, 1, 8000, 8)), ck("data", []byte{0xFF, 0x80, 0x00, 0xCE})), []int16{0, 32124, -32124, 988}, 8000, 1},
		{"A-law (format 6)", riff("RIFF", ck("fmt ", fmtBody(wavALaw, 1, 8000, 8)), ck("data", []byte{0xD5, 0x55, 0xAA, 0x2A})), []int16{8, -8, 32256, -32256}, 8000, 1},
		{"extensible PCM", riff("RIFF", ck("fmt ", fmtExtensible(wavPCM, 1, 8000, 16)), ck("data", data)), samples, 8000, 1},
		{"extensible µ-law", riff("RIFF", ck("fmt ", fmtExtensible(wavULaw, 1, 8000, 8)), ck("data", []byte{0xFF})), []int16{0}, 8000, 1},
		{"RF64 with ds64", riff("RF64", ck("ds64", make([]byte, 28)), ck("fmt ", pcm8k), chunk{id: "data", size: 0xFFFFFFFF, body: data}), samples, 8000, 1},
		{"trailing junk shorter than a chunk header", append(riff("RIFF", ck("fmt ", pcm8k), ck("data", data), list), 1, 2, 3), samples, 8000, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseWAV(tt.file)
			if err != nil {
				t.Fatalf("ParseWAV: %v", err)
			}
			if p.Rate != tt.rate || p.Channels != tt.chans || !slices.Equal(p.Samples, tt.want) {
				t.Errorf("ParseWAV = %d Hz, %d ch, %v; want %d Hz, %d ch, %v", p.Rate, p.Channels, p.Samples, tt.rate, tt.chans, tt.want)
			}
		})
	}
}

func TestParseWAVRejects(t *testing.T) {
	pcm8k := fmtBody(wavPCM, 1, 8000, 16)
	data := le16(1, 2)
	tests := []struct {
		name string
		file []byte
		err  error
		msg  string
	}{
		{"too short", []byte("RIFF\x00\x00"), ErrMalformed, "wav: file is 6 bytes, shorter than the 12-byte RIFF header"},
		{"not RIFF", []byte("OggS\x00\x00\x00\x00WAVEfmt "), ErrMalformed, `wav: file starts with "OggS", not "RIFF"`},
		{"big-endian RIFX", riff("RIFX", ck("fmt ", pcm8k)), ErrUnsupported, "wav: big-endian RIFX files are not supported"},
		{"not WAVE", append([]byte("RIFF\x00\x00\x00\x00AVI "), 0), ErrMalformed, `wav: RIFF form type is "AVI ", not "WAVE"`},
		{"24-bit PCM", riff("RIFF", ck("fmt ", fmtBody(wavPCM, 1, 8000, 24)), ck("data", make([]byte, 6))), ErrUnsupported, "wav: fmt chunk: 24-bit PCM is not supported"},
		{"32-bit PCM", riff("RIFF", ck("fmt ", fmtBody(wavPCM, 1, 8000, 32)), ck("data", make([]byte, 8))), ErrUnsupported, "wav: fmt chunk: 32-bit PCM is not supported"},
		{"IEEE float", riff("RIFF", ck("fmt ", fmtBody(wavFloat, 1, 8000, 32)), ck("data", data)), ErrUnsupported, "wav: fmt chunk: format tag 0x0003 (IEEE float) is not supported"},
		{"IMA ADPCM", riff("RIFF", ck("fmt ", fmtBody(0x11, 1, 8000, 4)), ck("data", data)), ErrUnsupported, "wav: fmt chunk: format tag 0x0011 (IMA ADPCM) is not supported"},
		{"extensible float", riff("RIFF", ck("fmt ", fmtExtensible(wavFloat, 1, 8000, 32)), ck("data", data)), ErrUnsupported, "wav: fmt chunk: format tag 0x0003 (IEEE float) is not supported"},
		{"extensible unknown GUID", riff("RIFF", ck("fmt ", append(fmtExtensible(wavPCM, 1, 8000, 16)[:26], make([]byte, 14)...)), ck("data", data)), ErrUnsupported, "sub-format"},
		{"extensible too short", riff("RIFF", ck("fmt ", fmtExtensible(wavPCM, 1, 8000, 16)[:30]), ck("data", data)), ErrMalformed, "WAVE_FORMAT_EXTENSIBLE needs 40 bytes"},
		{"0 channels", riff("RIFF", ck("fmt ", fmtBody(wavPCM, 0, 8000, 16)), ck("data", data)), ErrMalformed, "wav: fmt chunk: declares 0 channels"},
		{"9 channels", riff("RIFF", ck("fmt ", fmtBody(wavPCM, 9, 8000, 16)), ck("data", data)), ErrUnsupported, "9 channels is more than the 8 supported"},
		{"rate 0", riff("RIFF", ck("fmt ", fmtBody(wavPCM, 1, 0, 16)), ck("data", data)), ErrMalformed, "sample rate of 0 Hz"},
		{"rate 500", riff("RIFF", ck("fmt ", fmtBody(wavPCM, 1, 500, 16)), ck("data", data)), ErrUnsupported, "sample rate 500 Hz is outside 1000–384000 Hz"},
		{"0 bits", riff("RIFF", ck("fmt ", fmtBody(wavPCM, 1, 8000, 0)), ck("data", data)), ErrMalformed, "0 bits per sample"},
		{"16-bit µ-law", riff("RIFF", ck("fmt ", fmtBody(wavULaw, 1, 8000, 16)), ck("data", data)), ErrMalformed, "wav: fmt chunk: µ-law needs 8 bits per sample, not 16"},
		{"fmt chunk too short", riff("RIFF", ck("fmt ", pcm8k[:14]), ck("data", data)), ErrMalformed, "wav: fmt chunk: is 14 bytes, shorter than the 16 a fmt chunk needs"},
		{"fmt chunk past the end", riff("RIFF", chunk{id: "fmt ", size: 100, body: pcm8k}), ErrMalformed, "wav: fmt chunk: declares 100 bytes, only 16 remain"},
		{"no fmt chunk", riff("RIFF", ck("LIST", []byte("INFO"))), ErrMalformed, "wav: no fmt chunk"},
		{"no data chunk", riff("RIFF", ck("fmt ", pcm8k)), ErrMalformed, "wav: no data chunk"},
		{"data of unknown size before fmt", riff("RIFF", chunk{id: "data", size: 0xFFFFFFFF, body: data}, ck("fmt ", pcm8k)), ErrMalformed, "wav: data chunk: has no usable size and comes before the fmt chunk"},
		{"chunk past the end before data", riff("RIFF", ck("fmt ", pcm8k), chunk{id: "LIST", size: 1000, body: []byte("INFO")}), ErrMalformed, `wav: "LIST" chunk: declares 1000 bytes, only 4 remain`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseWAV(tt.file)
			if !errors.Is(err, tt.err) {
				t.Fatalf("ParseWAV error = %v, want %v", err, tt.err)
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Container != "wav" {
				t.Fatalf("error %v is not a wav FormatError", err)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(tt.msg)) {
				t.Errorf("error %q does not name the rule %q", err, tt.msg)
			}
		})
	}
}

func TestEncodeWAV(t *testing.T) {
	for _, p := range []PCM{
		tone(8000, 440, 0.5, 100*time.Millisecond),
		{Samples: []int16{1, -1, 2, -2}, Rate: 16000, Channels: 2},
		{Samples: []int16{}, Rate: 8000, Channels: 1},
	} {
		b, err := EncodeWAV(p)
		if err != nil {
			t.Fatal(err)
		}
		le := binary.LittleEndian
		if len(b) != 44+2*len(p.Samples) || string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
			t.Fatalf("header %q is not canonical", b[:44])
		}
		checks := []struct {
			name      string
			got, want uint32
		}{
			{"RIFF size", le.Uint32(b[4:]), uint32(len(b) - 8)},
			{"fmt size", le.Uint32(b[16:]), 16},
			{"format", uint32(le.Uint16(b[20:])), 1},
			{"channels", uint32(le.Uint16(b[22:])), uint32(p.Channels)},
			{"rate", le.Uint32(b[24:]), uint32(p.Rate)},
			{"byte rate", le.Uint32(b[28:]), uint32(p.Rate * p.Channels * 2)},
			{"block align", uint32(le.Uint16(b[32:])), uint32(p.Channels * 2)},
			{"bits", uint32(le.Uint16(b[34:])), 16},
			{"data size", le.Uint32(b[40:]), uint32(2 * len(p.Samples))},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
			}
		}
		back, err := ParseWAV(b)
		if err != nil {
			t.Fatal(err)
		}
		if back.Rate != p.Rate || back.Channels != p.Channels || !slices.Equal(back.Samples, p.Samples) {
			t.Error("EncodeWAV → ParseWAV does not round-trip")
		}
	}
	if _, err := EncodeWAV(PCM{Rate: 8000, Channels: 2, Samples: []int16{1}}); !errors.Is(err, ErrMalformed) {
		t.Errorf("EncodeWAV of a partial frame: error %v, want ErrMalformed", err)
	}
}

func FuzzParseWAV(f *testing.F) {
	pcm8k := fmtBody(wavPCM, 1, 8000, 16)
	f.Add(riff("RIFF", ck("fmt ", pcm8k), ck("data", le16(1, 2, 3))))
	f.Add(riff("RIFF", ck("LIST", []byte("INFOabc")), ck("fmt ", pcm8k), chunk{id: "data", size: 0, body: le16(1)}))
	f.Add(riff("RF64", ck("fmt ", fmtExtensible(wavULaw, 2, 8000, 8)), chunk{id: "data", size: 0xFFFFFFFF, body: []byte{1, 2, 3}}))
	f.Add(riff("RIFF", ck("fmt ", fmtBody(wavPCM, 2, 22050, 8)), ck("data", []byte{1, 2, 3})))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseWAV(b)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || !(errors.Is(err, ErrMalformed) || errors.Is(err, ErrUnsupported)) {
				t.Fatalf("error %v is not a FormatError wrapping a sentinel", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("ParseWAV returned invalid PCM: %v", err)
		}
		w, err := EncodeWAV(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := ParseWAV(w)
		if err != nil || !slices.Equal(p.Samples, q.Samples) {
			t.Fatalf("re-encoded file does not parse back: %v", err)
		}
	})
}
