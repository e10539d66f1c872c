// Package tts renders Say/Speak text to audio with a local engine, for the PBX to play.
//
// Status: to be built with the Asterisk issue.
package tts
