// Package httpapi is pbxbridge's HTTP server (echo): recordings and files, media for the PBX
// to play, health and metrics. It maps errors to statuses in one place and holds no business
// rules.
//
// Status: to be built with the Asterisk issue.
package httpapi
