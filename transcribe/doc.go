// Package transcribe turns recordings into text through pluggable speech-to-text providers,
// always under a deadline.
//
// Status: to be built with the transcription issue.
package transcribe
