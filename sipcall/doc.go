// Package sipcall places one real SIP call with SIPp (Debian's sip-tester): it writes a UAC
// scenario and a pcap of G.711 µ-law RTP made from the caller's audio, with RFC 4733
// telephone-events for DTMF at given times, runs sipp, and reports how the call went.
// `pbxbridge call` uses it to call an application through the PBX.
//
// SIPp plays the pcap with its packets' own timing, so the audio and the digits reach the PBX
// as a phone would send them: one RTP stream, 20 ms packets, the digits replacing the voice
// packets while they sound (RFC 4733 §2.5).
package sipcall
