// Package ari implements adapter.PBX and adapter.Call on Asterisk through ARI
// (github.com/CyCoreSystems/ari/v6). No ari library type crosses this package's edge.
//
// Status: to be built with the Asterisk issue.
package ari
