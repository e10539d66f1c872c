package audio

import (
	"encoding/binary"
	"fmt"
)

// MPEG audio frame headers, and the Xing/Info + LAME tag that carries encoder delay and padding
// (the "gapless" information that lets a decoder give back exactly the samples encoded).
//
// Tag layout (LAME "Mp3 Info Tag rev 1"): after the first frame's side information, "Info"
// (CBR) or "Xing" (VBR), a flags word, then the fields the flags announce (frames, bytes, a
// 100-byte TOC, quality), then the 36-byte LAME extension: a 9-byte encoder string, ..., the
// encoder delay and padding as two 12-bit numbers at offset 21, the music length and CRC, and a
// CRC-16 of the frame up to that point. The frame itself decodes as silence on players that
// ignore it.

const (
	// lameTagSize is the LAME extension after the Xing fields.
	lameTagSize = 36
	// xingFieldsSize is "Info", flags, frames, bytes, TOC and quality.
	xingFieldsSize = 4 + 4 + 4 + 4 + 100 + 4
	// mpegDecoderDelay is the delay of a standard MPEG audio decoder's synthesis filterbank, in
	// samples; by the LAME convention a decoder skips encoder delay + this many samples.
	mpegDecoderDelay = 529
)

var (
	mpeg1L3Kbps = [16]int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, -1}
	mpeg2L3Kbps = [16]int{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, -1}
	mpeg1Rates  = [3]int{44100, 48000, 32000}
	crc16Table  = makeCRC16Table()
)

// mp3Header is a decoded MPEG audio frame header.
type mp3Header struct {
	version  string // "1", "2" or "2.5"
	layer    int    // 1, 2 or 3
	kbps     int    // 0 = free format
	rate     int
	padding  int
	channels int
	size     int // bytes in the frame, header included (Layer III only)
	samples  int // per channel per frame (Layer III only)
	sideInfo int // bytes of side information after the header (Layer III only)
}

// parseMP3Header decodes the four bytes at b[0:4]. ok is false when they are not a frame
// header (no sync, reserved values).
func parseMP3Header(b []byte) (h mp3Header, ok bool) {
	if len(b) < 4 || b[0] != 0xFF || b[1]&0xE0 != 0xE0 {
		return h, false
	}
	ver := (b[1] >> 3) & 3
	layer := (b[1] >> 1) & 3
	bri := int(b[2] >> 4)
	sri := int((b[2] >> 2) & 3)
	if ver == 1 || layer == 0 || bri == 15 || sri == 3 || b[3]&3 == 2 {
		return h, false
	}
	h.layer = 4 - int(layer)
	h.rate = mpeg1Rates[sri]
	switch ver {
	case 3:
		h.version = "1"
	case 2:
		h.version, h.rate = "2", h.rate/2
	case 0:
		h.version, h.rate = "2.5", h.rate/4
	}
	h.padding = int(b[2]>>1) & 1
	h.channels = 2
	if b[3]>>6 == 3 {
		h.channels = 1
	}
	if h.layer != 3 {
		return h, true
	}
	if h.version == "1" {
		h.kbps = mpeg1L3Kbps[bri]
		h.samples = 1152
		h.size = 144000*h.kbps/h.rate + h.padding
		h.sideInfo = 32
		if h.channels == 1 {
			h.sideInfo = 17
		}
	} else {
		h.kbps = mpeg2L3Kbps[bri]
		h.samples = 576
		h.size = 72000*h.kbps/h.rate + h.padding
		h.sideInfo = 17
		if h.channels == 1 {
			h.sideInfo = 9
		}
	}
	return h, true
}

// mp3Gapless is what an Info/Xing frame says about the stream after it.
type mp3Gapless struct {
	frames  int // audio frames after the tag frame; 0 = not stated
	delay   int // encoder delay, samples
	padding int // samples added at the end
	lame    bool
}

// parseInfoTag reads the Xing/Info tag of the frame at f (header h). ok is false when the frame
// is an ordinary audio frame. The LAME delay and padding are trusted only when the tag CRC
// matches or the encoder string is one whose tags are known good (LAME, Lavf, Lavc).
func parseInfoTag(f []byte, h mp3Header) (g mp3Gapless, ok bool) {
	x := 4 + h.sideInfo
	if len(f) < h.size || x+8 > h.size {
		return g, false
	}
	if id := string(f[x : x+4]); id != "Xing" && id != "Info" {
		return g, false
	}
	be := binary.BigEndian
	flags := be.Uint32(f[x+4:])
	p := x + 8
	if flags&1 != 0 && p+4 <= h.size {
		g.frames = int(be.Uint32(f[p:]))
	}
	for bit, n := range []int{4, 4, 100, 4} {
		if flags&(1<<bit) != 0 {
			p += n
		}
	}
	if p+lameTagSize > h.size {
		return g, true
	}
	l := f[p : p+lameTagSize]
	enc := string(l[0:4])
	if be.Uint16(l[34:]) != crc16(f[:p+34], 0) && enc != "LAME" && enc != "Lavf" && enc != "Lavc" {
		return g, true
	}
	v := int(l[21])<<16 | int(l[22])<<8 | int(l[23])
	g.delay, g.padding, g.lame = v>>12, v&0xFFF, true
	return g, true
}

// infoFrame builds an MPEG-1 Layer III Info frame (CBR) with a LAME extension for a stream of
// frames audio frames (audioLen bytes, CRC-16 musicCRC) at rate, channels and kbps. The frame
// uses kbps if the tag fits in such a frame, else the smallest bitrate it fits in.
func infoFrame(rate, channels, kbps, frames, audioLen, delay, padding, lowpass int, musicCRC uint16) ([]byte, error) {
	side := 32
	if channels == 1 {
		side = 17
	}
	need := 4 + side + xingFieldsSize + lameTagSize
	bri := -1
	for i, k := range mpeg1L3Kbps {
		if k >= kbps && 144000*k/rate >= need {
			bri = i
			break
		}
	}
	sri := -1
	for i, r := range mpeg1Rates {
		if r == rate {
			sri = i
		}
	}
	if bri < 0 || sri < 0 || delay > 0xFFF || padding > 0xFFF {
		return nil, fmt.Errorf("mp3: no Info frame for %d Hz, %d kbit/s, delay %d, padding %d", rate, kbps, delay, padding)
	}
	size := 144000 * mpeg1L3Kbps[bri] / rate
	f := make([]byte, size)
	mode := byte(0) // stereo, as shine writes it
	if channels == 1 {
		mode = 3
	}
	// sync, MPEG-1, Layer III, no CRC | bitrate, rate, no padding | mode, original
	f[0], f[1], f[2], f[3] = 0xFF, 0xFB, byte(bri)<<4|byte(sri)<<2, mode<<6|0x04
	be := binary.BigEndian
	x := 4 + side
	copy(f[x:], "Info")
	be.PutUint32(f[x+4:], 0x0F) // frames, bytes, TOC, quality
	be.PutUint32(f[x+8:], uint32(frames))
	total := size + audioLen
	be.PutUint32(f[x+12:], uint32(total))
	for i := range 100 { // CBR: byte offset grows linearly with time
		f[x+16+i] = byte(i * 256 / 100)
	}
	// quality (x+116) stays 0
	l := f[x+xingFieldsSize : x+xingFieldsSize+lameTagSize]
	copy(l[0:9], "shine-mp3")
	l[9] = 0x01                         // tag revision 0, CBR
	l[10] = byte(min(lowpass/100, 255)) // low-pass, in 100 Hz
	l[20] = byte(min(kbps, 255))
	l[21], l[22], l[23] = byte(delay>>4), byte(delay<<4)|byte(padding>>8), byte(padding)
	be.PutUint32(l[28:], uint32(total))
	be.PutUint16(l[32:], musicCRC)
	be.PutUint16(l[34:], crc16(f[:x+xingFieldsSize+34], 0))
	return f, nil
}

// crc16 continues a CRC-16/ARC (polynomial 0x8005, reflected, as the LAME tag uses).
func crc16(b []byte, crc uint16) uint16 {
	for _, c := range b {
		crc = crc>>8 ^ crc16Table[byte(crc)^c]
	}
	return crc
}

func makeCRC16Table() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xA001
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}

// skipID3v2 returns the offset after an ID3v2 tag at the start of b (0 when there is none).
func skipID3v2(b []byte) int {
	if len(b) < 10 || string(b[0:3]) != "ID3" {
		return 0
	}
	size := int(b[6]&0x7F)<<21 | int(b[7]&0x7F)<<14 | int(b[8]&0x7F)<<7 | int(b[9]&0x7F)
	end := 10 + size
	if b[5]&0x10 != 0 { // footer present
		end += 10
	}
	return min(end, len(b))
}

// findFrame returns the offset of the first frame header at or after from that is followed by
// another valid header (or by the end of the data), so that a stray 0xFF in a tag cannot pass
// for the stream's start.
func findFrame(b []byte, from int) (int, mp3Header, bool) {
	for i := from; i+4 <= len(b); i++ {
		h, ok := parseMP3Header(b[i:])
		if !ok {
			continue
		}
		if h.layer != 3 || h.kbps == 0 {
			return i, h, true // reported as unsupported by the caller
		}
		switch next := i + h.size; {
		case next == len(b):
			return i, h, true
		case next > len(b):
			if i == from {
				return i, h, true // a single truncated frame
			}
		default:
			if n, ok := parseMP3Header(b[next:]); ok && n.version == h.version && n.layer == h.layer {
				return i, h, true
			}
		}
	}
	return 0, mp3Header{}, false
}
