// Package esl implements adapter.PBX and adapter.Call on FreeSWITCH through the event socket
// (github.com/percipia/eslgo). No eslgo type crosses this package's edge.
//
// Status: to be built with the FreeSWITCH issue.
package esl
