// Package audio converts recordings: WAV, µ-law and MP3, silence trimming, concatenation for
// append mode, and durations from sample counts.
//
// Status: to be built with the Asterisk issue.
package audio
