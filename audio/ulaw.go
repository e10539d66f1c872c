package audio

import (
	"fmt"
	"math/bits"
)

// G.711 companding, bit-exact with the ITU-T reference implementation (G.191 Software Tools
// Library, g711.c: ulaw_compress, ulaw_expand, alaw_expand). The encoders take 16-bit linear
// samples; G.711 itself works on 14-bit (µ-law) or 13-bit (A-law) magnitudes, so the two low
// bits are dropped, exactly as the reference does.

// ulawBias is G.711's µ-law bias (33) in 14-bit units.
const ulawBias = 33

// LinearToULaw compresses one 16-bit sample to a G.711 µ-law byte.
func LinearToULaw(x int16) byte {
	// The reference uses the one's complement for negative values, so -1 and 0 land in the
	// smallest step on their own sides.
	var absno int32
	if x < 0 {
		absno = int32(^x)>>2 + ulawBias
	} else {
		absno = int32(x)>>2 + ulawBias
	}
	absno = min(absno, 0x1FFF)
	segno := int32(bits.Len32(uint32(absno>>6))) + 1
	out := byte((8-segno)<<4 | (0xF - (absno>>segno)&0xF))
	if x >= 0 {
		out |= 0x80
	}
	return out
}

// ULawToLinear expands a G.711 µ-law byte to a 16-bit sample.
func ULawToLinear(u byte) int16 { return ulawTable[u] }

// ALawToLinear expands a G.711 A-law byte to a 16-bit sample (WAV format 6 input only; the
// bridge never writes A-law).
func ALawToLinear(a byte) int16 { return alawTable[a] }

// ulawTable and alawTable are computed once and only read afterwards.
var (
	ulawTable = makeULawTable()
	alawTable = makeALawTable()
)

func makeULawTable() (t [256]int16) {
	for i := range t {
		u := ^int32(i) // complement: stored codes are inverted
		sign := int32(1)
		if i < 0x80 {
			sign = -1
		}
		exponent := (u >> 4) & 0x07
		mantissa := u & 0x0F
		step := int32(4) << (exponent + 1)
		t[i] = int16(sign * ((0x80 << exponent) + step*mantissa + step/2 - 4*ulawBias))
	}
	return t
}

func makeALawTable() (t [256]int16) {
	for i := range t {
		ix := int32(i) ^ 0x55 // even bits are inverted on the line
		exponent := (ix & 0x7F) >> 4
		mantissa := ix & 0x0F
		if exponent > 0 {
			mantissa += 16
		}
		mantissa = mantissa<<4 + 0x08
		if exponent > 1 {
			mantissa <<= exponent - 1
		}
		if ix > 127 {
			t[i] = int16(mantissa)
		} else {
			t[i] = int16(-mantissa)
		}
	}
	return t
}

// EncodeULaw writes p as headerless G.711 µ-law, 8 kHz mono (the stored "ul" format): p is
// resampled to TelephonyRate and downmixed to mono first when it is not already.
func EncodeULaw(p PCM) ([]byte, error) {
	p, err := Conform(p, TelephonyRate, 1)
	if err != nil {
		return nil, fmt.Errorf("ulaw: %w", err)
	}
	out := make([]byte, len(p.Samples))
	for i, s := range p.Samples {
		out[i] = LinearToULaw(s)
	}
	return out, nil
}

// DecodeULaw reads headerless G.711 µ-law: every byte is one 8 kHz mono sample.
func DecodeULaw(b []byte) PCM {
	out := make([]int16, len(b))
	for i, u := range b {
		out[i] = ulawTable[u]
	}
	return PCM{Samples: out, Rate: TelephonyRate, Channels: 1}
}
