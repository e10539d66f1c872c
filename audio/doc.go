// Package audio post-processes recordings: it reads and writes WAV, G.711 µ-law and MP3,
// trims silence, resamples, concatenates (fileMode=append), merges and downmixes tracks, and
// measures durations from sample counts.
//
// The engines always capture 8 kHz 16-bit PCM; everything here works on PCM (16-bit samples in
// memory) and converts at the edges. The package knows nothing about calls: callers pass bytes
// and a Format and get bytes back. It is pure Go and safe for concurrent use: there is no
// package-level mutable state, and every function works on the values it is given.
//
// Choices worth knowing (each documented where it is made):
//   - MP3 is written as MPEG-1 Layer III at 32 kHz, 48 kbit/s per channel, by the shine encoder
//     after upsampling from 8 kHz (mp3.go explains why not MPEG-2.5 at 8 kHz, and the encoder
//     defects worked around). An Info/LAME tag carries the encoder delay and padding, so
//     decoding gives back exactly the samples encoded. Peaks above about −6 dBFS are softly
//     limited, because shine's fixed-point filterbank overflows near full scale.
//   - Trimming is an energy gate on 20 ms frames, using each frame's RMS around its mean
//     (trim.go).
//   - Resampling is a polyphase windowed-sinc (Kaiser) low-pass; the pass band ends at 90 % of
//     the lower rate's Nyquist frequency (resample.go).
package audio
