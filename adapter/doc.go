// Package adapter is the engine: one goroutine owns each call, fetches its document, runs the
// verbs of the translated program on an adapter.Call and turns outcomes into callbacks. It
// declares the interfaces it consumes (Call, PBX, Store, Outbox, Blob, Transcriber, Speaker);
// ari/, esl/ and store/ implement them. It imports translate/ and no implementation package.
//
// Status: to be built with the Asterisk issue.
package adapter
