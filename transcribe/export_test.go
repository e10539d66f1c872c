package transcribe

// ParsePocketsphinx exposes the output parser to the external tests.
var ParsePocketsphinx = parsePocketsphinx
