package audio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	shine "github.com/braheezy/shine-mp3/pkg/mp3"
	gomp3 "github.com/hajimehoshi/go-mp3"
)

// MP3 encoding: shine (github.com/braheezy/shine-mp3 v0.1.0, a pure-Go port of the fixed-point
// shine encoder). What it produces, and why:
//
//   - MPEG-1 Layer III, 32 kHz, constant 48 kbit/s per channel (mono 48, stereo 96), preceded
//     by an Info frame with a LAME tag. MPEG-1 Layer III mono is what record.md asks for, and
//     every player reads it.
//   - Not MPEG-2.5 at 8 kHz, though shine has tables for it: v0.1.0 hard-codes 128 kbit/s,
//     which MPEG-2.5 does not allow (its 8 kHz frames carry bitrate index 15, "bad"), its
//     MPEG-2 16 kHz scale-factor table has typos, and go-mp3, the decoder fileMode=append
//     needs, refuses MPEG-2.5 outright. So 8 kHz audio is upsampled ×4 to 32 kHz, the lowest
//     MPEG-1 rate, with the package's polyphase filter (the telephone band, to about 3.4 kHz,
//     passes; images are 80 dB down).
//   - 48 kbit/s: the codec's own SNR (against the band-limited source) measured 17 / 29 / 38 dB
//     at 32 / 48 / 64 kbit/s on band-limited noise, the hard case, and 24 / 36 / 44 dB on a sum
//     of tones; G.711 gives about 37 dB. 48 kbit/s is 6 kB/s, 37 % of the WAV.
//   - Levels: shine's output is 9/8 (+1.02 dB) louder than its input at every frequency
//     (measured with go-mp3 and mpg123), so the input is scaled by 8/9 inside the resampler.
//     Near full scale shine's fixed-point filterbank overflows and inverts whole stretches of
//     audio; a soft limiter in front of it (shineKnee, shineCeiling) keeps unity gain up to
//     about −6.4 dBFS and softly clips louder peaks, so a full-scale tone comes back about
//     3 dB down instead of garbled.
//   - Gapless: shine delays the audio by 528 samples. The encoder pads both ends so the whole
//     input is coded and writes delay and padding into the LAME tag; DecodeMP3 and mpg123
//     remove them, so encode→decode gives back exactly the input's sample count and durations
//     stay exact across appends. Players that ignore the tag (ffmpeg does unless the encoder
//     string says LAME or Lavf) play one silent frame and about 33 ms of extra silence first.
//   - Library defects worked around in EncodeMP3/shineEncode: Write reads past the slice it is
//     given unless handed exactly one frame; the frame size is derived in floating point (one
//     byte short at 48 kbit/s, 32 kHz); there is no flush for the last frame's bits; and a
//     pointer past the sample buffer is left in the Encoder, which crashes the garbage
//     collector unless the buffer has spare capacity. The frame chain is checked before it
//     is returned.
const (
	mp3Rate        = 32000 // used for every input rate MPEG-1 lacks
	mp3KbpsPerChan = 48
	shineDelay     = 528
	shineGain      = 9.0 / 8.0
	// shine's fixed-point filterbank overflows on loud input: tones above about 0.62 of full
	// scale at its input, square waves above about 0.58, come back with whole stretches
	// inverted (correlation with the source 0.5 or worse). So its input passes a soft limiter:
	// linear up to shineKnee, then a tanh curve that never exceeds shineCeiling. Through the
	// 8/9 gain correction that is unity gain for sources up to about 0.48 of full scale
	// (−6.4 dBFS, far above speech levels on a phone line); louder peaks are softly clipped.
	shineKnee    = 14000.0
	shineCeiling = 17000.0
)

// EncodeMP3 writes p as MPEG-1 Layer III (see above). Mono stays mono and stereo stays stereo;
// more channels are downmixed to mono. Rates other than 32, 44.1 and 48 kHz are resampled to
// 32 kHz.
func EncodeMP3(p PCM) (out []byte, err error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("mp3: %w", err)
	}
	if p.Channels > 2 {
		p = Mono(p)
	}
	rate := mp3Rate
	switch p.Rate {
	case 32000, 44100, 48000:
		rate = p.Rate
	}
	lowpass := 0
	if p.Rate < rate {
		lowpass = int(resampleCutoff * float64(p.Rate))
	}
	p, err = resample(p, rate, 1/shineGain)
	if err != nil {
		return nil, fmt.Errorf("mp3: %w", err)
	}

	ch := p.Channels
	kbps := mp3KbpsPerChan * ch
	const spf = 1152 // samples per channel per MPEG-1 Layer III frame
	n := p.Frames()
	// Pad so that the decoder's output (delayed by shineDelay+mpegDecoderDelay) still holds
	// the last input sample; the padding is recorded in the tag.
	frames := (n + shineDelay + mpegDecoderDelay + spf - 1) / spf
	padding := frames*spf - shineDelay - n
	// Two spare frames of silence. shine keeps the last bits of a frame in its bit cache until
	// the next frame pushes them out (v0.1.0 has no flush), so one extra frame is encoded and
	// cut off again. And shine leaves a pointer just past the last sample it read in the
	// Encoder: a pointer past the end of an allocation breaks the garbage collector ("found
	// bad pointer in Go heap"), so the buffer reaches one frame further than what is encoded.
	pcm := make([]int16, (frames+1)*spf*ch, (frames+2)*spf*ch)
	for i, v := range p.Samples {
		pcm[i] = softLimit(v)
	}

	audio, err := shineEncode(pcm, rate, ch, kbps, spf)
	if err != nil {
		return nil, err
	}
	if audio, err = firstFrames(audio, frames); err != nil {
		return nil, err
	}
	info, err := infoFrame(rate, ch, kbps, frames, len(audio), shineDelay, padding, lowpass, crc16(audio, 0))
	if err != nil {
		return nil, err
	}
	return append(info, audio...), nil
}

// softLimit passes v unchanged up to shineKnee in magnitude and maps louder values onto a tanh
// curve that approaches shineCeiling (continuous, with a continuous slope at the knee).
func softLimit(v int16) int16 {
	a := math.Abs(float64(v))
	if a <= shineKnee {
		return v
	}
	const room = shineCeiling - shineKnee
	return int16(math.Copysign(math.Round(shineKnee+room*math.Tanh((a-shineKnee)/room)), float64(v)))
}

// shineEncode runs the encoder over whole frames; pcm must have capacity for at least two
// samples past its length, and its output lacks the last frame's final bits (see EncodeMP3).
// A panic inside the library (it uses unsafe pointer arithmetic) becomes an error rather than
// taking the process down.
func shineEncode(pcm []int16, rate, ch, kbps, spf int) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("mp3: shine encoder panicked: %v", r)
		}
	}()
	enc := shine.NewEncoder(rate, ch)
	if enc.Mpeg.Version != shine.MPEG_I || int(enc.Mpeg.GranulesPerFrame)*576 != spf {
		return nil, unsupported("mp3", "", fmt.Sprintf("shine cannot encode MPEG-1 at %d Hz", rate))
	}
	// NewEncoder fixes 128 kbit/s; set the bitrate and its frame size with integer arithmetic
	// (the library's float computation gets 215.999… slots for 48 kbit/s at 32 kHz and then
	// writes frames one byte shorter than their headers say).
	bri := -1
	for i, k := range mpeg1L3Kbps {
		if k == kbps {
			bri = i
		}
	}
	if bri <= 0 {
		return nil, unsupported("mp3", "", fmt.Sprintf("%d kbit/s is not an MPEG-1 Layer III bitrate", kbps))
	}
	num := int64(spf) * int64(kbps) * 1000
	den := enc.Mpeg.BitsPerSlot * int64(rate)
	enc.Mpeg.Bitrate = int64(kbps)
	enc.Mpeg.BitrateIndex = int64(bri)
	enc.Mpeg.WholeSlotsPerFrame = num / den
	enc.Mpeg.FracSlotsPerFrame = float64(num%den) / float64(den)
	enc.Mpeg.Slot_lag = -enc.Mpeg.FracSlotsPerFrame
	enc.Mpeg.Padding = 0

	var buf bytes.Buffer
	buf.Grow(len(pcm) / (spf * ch) * (int(num/den) + 1))
	step := spf * ch
	for i := 0; i < len(pcm); i += step {
		// Exactly one frame per call: Write reads spf×ch samples from the slice's start (and
		// more if the slice is longer, skipping every other frame).
		if err := enc.Write(&buf, pcm[i:i+step]); err != nil {
			return nil, fmt.Errorf("mp3: shine: %w", err)
		}
	}
	return buf.Bytes(), nil
}

// firstFrames returns the first want frames of the encoder's output, checking on the way that
// each header is valid and each frame as long as its header says.
func firstFrames(b []byte, want int) ([]byte, error) {
	pos := 0
	for n := range want {
		h, ok := parseMP3Header(b[pos:])
		if !ok || h.layer != 3 || pos+h.size > len(b) {
			return nil, fmt.Errorf("mp3: encoder wrote an invalid frame %d at byte %d", n, pos)
		}
		pos += h.size
	}
	return b[:pos], nil
}

// DecodeMP3 decodes an MPEG-1 or MPEG-2 Layer III stream (github.com/hajimehoshi/go-mp3) into
// PCM at the stream's rate, mono or stereo as the stream is. ID3v2 and ID3v1 tags are skipped.
// A LAME tag's encoder delay and padding are removed, so a file from EncodeMP3 decodes to
// exactly the samples encoded; other files keep the decoder's leading delay. MPEG-2.5, Layer I
// and II, and free-format streams are refused with ErrUnsupported; a stream that cannot be
// decoded to its end with ErrMalformed (for fileMode=append that fails the recording, as
// record.md says).
func DecodeMP3(b []byte) (PCM, error) {
	start := skipID3v2(b)
	end := len(b)
	if end-start >= 128 && string(b[end-128:end-125]) == "TAG" {
		end -= 128
	}
	off, h, ok := findFrame(b[:end], start)
	if !ok {
		return PCM{}, malformed("mp3", "", "no MPEG audio frame found")
	}
	switch {
	case h.layer != 3:
		return PCM{}, unsupported("mp3", "", fmt.Sprintf("MPEG-%s Layer %s is not supported, only Layer III", h.version, strings.Repeat("I", h.layer)))
	case h.version == "2.5":
		return PCM{}, unsupported("mp3", "", fmt.Sprintf("MPEG-2.5 (%d Hz) is not supported", h.rate))
	case h.kbps == 0:
		return PCM{}, unsupported("mp3", "", "free-format bitrate is not supported")
	}
	gap, tagged := parseInfoTag(b[off:end], h)
	if tagged {
		off += h.size
	}
	if off >= end {
		return PCM{Samples: []int16{}, Rate: h.rate, Channels: h.channels}, nil
	}
	stereo, err := goMP3Decode(b[off:end])
	if err != nil {
		return PCM{}, err
	}

	total := len(stereo) / 2 // frames decoded
	from, to := 0, total
	if gap.lame {
		from = min(gap.delay+mpegDecoderDelay, total)
		if gap.frames > 0 {
			to = gap.frames*h.samples - gap.padding + mpegDecoderDelay
		} else {
			to = total - gap.padding + mpegDecoderDelay
		}
		to = max(min(to, total), from)
	}
	out := make([]int16, (to-from)*h.channels)
	if h.channels == 1 {
		for i := range out {
			out[i] = stereo[2*(from+i)] // go-mp3 duplicates mono into both channels
		}
	} else {
		copy(out, stereo[2*from:2*to])
	}
	return PCM{Samples: out, Rate: h.rate, Channels: h.channels}, nil
}

// goMP3Decode decodes a frame stream to interleaved stereo samples (go-mp3 always outputs two
// channels). Library errors and panics become FormatErrors.
func goMP3Decode(b []byte) (out []int16, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, malformed("mp3", "", fmt.Sprintf("decoder failed: %v", r))
		}
	}()
	d, err := gomp3.NewDecoder(bytes.NewReader(b))
	if err != nil {
		return nil, libError(err)
	}
	raw, err := io.ReadAll(d)
	if err != nil {
		return nil, libError(err)
	}
	out = make([]int16, len(raw)/2)
	for i := range out {
		out[i] = int16(uint16(raw[2*i]) | uint16(raw[2*i+1])<<8)
	}
	return out, nil
}

func libError(err error) error {
	rule := strings.TrimPrefix(err.Error(), "mp3: ")
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		rule = "stream ends before its first complete frame"
	}
	return malformed("mp3", "", rule)
}
