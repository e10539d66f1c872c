// Package local is the embedded store: durable call state, File metadata and outbox in a local
// directory, with no setup.
//
// Status: to be built with the Asterisk issue.
package local
