// Package tts renders Say (FlexML) and Speak (Plivo) text to audio for the PBX to play.
//
// Espeak runs Debian's espeak-ng program (there is no speech synthesiser in Go) and returns
// 8 kHz 16-bit mono WAV, which is what adapter.Speaker promises. voices.go maps the dialects'
// voice and language attributes onto espeak-ng voices.
package tts
