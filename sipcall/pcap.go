package sipcall

import (
	"encoding/binary"
	"time"
)

// RTP stream parameters of the pcap: G.711 µ-law (static payload type 0) and
// telephone-event at payload type EventPayloadType, which the scenario's SDP offers.
const (
	packet           = 20 * time.Millisecond
	samplesPerPacket = 160 // 8 kHz × 20 ms
	ulawPayloadType  = 0
	// EventPayloadType is the RTP payload type of RFC 4733 telephone-events in the offer.
	EventPayloadType = 101
	eventVolume      = 10 // dBm0 below 0, as phones send
	silenceULaw      = 0xFF
)

// Stream is what the pcap holds, for the caller's records.
type Stream struct {
	Audio   time.Duration // of voice (and silence between digits), as sent
	Packets int
}

// BuildPCAP returns a pcap (Ethernet, IPv4, UDP, RTP) of one RTP stream: ulaw (8 kHz G.711
// µ-law samples) in 20 ms packets, with each digit's RFC 4733 events replacing the voice
// packets while it sounds, and silence after the audio up to the end of the last digit. The
// packets' capture times are their send times: SIPp's play_pcap_audio keeps them.
func BuildPCAP(ulaw []byte, digits []Digit) ([]byte, Stream) {
	slots := (len(ulaw) + samplesPerPacket - 1) / samplesPerPacket
	type event struct {
		start, end int // slots [start, end]: end is the final ("E") packet
		code       byte
	}
	toneSlots := int(ToneLength / packet)
	var events []event
	for _, d := range digits {
		code, _ := eventCode(d.Digit)
		start := int(d.At / packet)
		events = append(events, event{start: start, end: start + toneSlots - 1, code: code})
		slots = max(slots, start+toneSlots)
	}

	w := &pcapWriter{}
	w.header()
	var (
		seq    uint16 = 1
		ssrc   uint32 = 0x50425842 // "PBXB"
		ev     int
		marker = true // first packet of the stream, and the first of each event
	)
	for slot := 0; slot < slots; slot++ {
		at := time.Duration(slot) * packet
		for ev < len(events) && events[ev].end < slot {
			ev++
		}
		if ev < len(events) && slot >= events[ev].start {
			e := events[ev]
			n := slot - e.start + 1
			final := slot == e.end
			payload := []byte{e.code, eventVolume, 0, 0}
			if final {
				payload[1] |= 0x80
			}
			binary.BigEndian.PutUint16(payload[2:], uint16(n*samplesPerPacket))
			pkt := rtp(slot == e.start, EventPayloadType, seq, uint32(e.start*samplesPerPacket), ssrc, payload)
			w.packet(at, pkt)
			if final {
				// The end packet goes three times, with the same sequence number (RFC 4733
				// §2.5.1.4), as the pcaps of sip-tester do.
				w.packet(at, pkt)
				w.packet(at, pkt)
				marker = true
			}
			seq++
			continue
		}
		payload := make([]byte, samplesPerPacket)
		off := slot * samplesPerPacket
		n := 0
		if off < len(ulaw) {
			n = copy(payload, ulaw[off:])
		}
		for i := n; i < len(payload); i++ {
			payload[i] = silenceULaw
		}
		w.packet(at, rtp(marker, ulawPayloadType, seq, uint32(slot*samplesPerPacket), ssrc, payload))
		marker = false
		seq++
	}
	return w.buf, Stream{Audio: time.Duration(slots) * packet, Packets: w.n}
}

// rtp is an RTP packet (RFC 3550) with no CSRC and no extension.
func rtp(marker bool, pt byte, seq uint16, ts, ssrc uint32, payload []byte) []byte {
	b := make([]byte, 12+len(payload))
	b[0] = 0x80
	b[1] = pt
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	copy(b[12:], payload)
	return b
}

// pcapWriter writes the classic libpcap format (microsecond times, Ethernet link type),
// which SIPp's pcap player reads. Addresses and ports are placeholders: SIPp sends from its
// media port to the port the far end's SDP answered.
type pcapWriter struct {
	buf []byte
	n   int
}

func (w *pcapWriter) header() {
	h := make([]byte, 24)
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 65535)
	binary.LittleEndian.PutUint32(h[20:], 1) // LINKTYPE_ETHERNET
	w.buf = append(w.buf, h...)
}

// base is the capture time of the first packet: any fixed time works, SIPp uses differences.
const base = 1_700_000_000

func (w *pcapWriter) packet(at time.Duration, payload []byte) {
	const srcPort, dstPort = 6000, 20000
	udpLen := 8 + len(payload)
	ipLen := 20 + udpLen
	frame := make([]byte, 14+ipLen)
	// Ethernet: zero MACs, IPv4.
	binary.BigEndian.PutUint16(frame[12:], 0x0800)
	ip := frame[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(ipLen))
	ip[8] = 64 // TTL
	ip[9] = 17 // UDP
	copy(ip[12:], []byte{127, 0, 0, 1})
	copy(ip[16:], []byte{127, 0, 0, 1})
	binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip[:20]))
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[0:], srcPort)
	binary.BigEndian.PutUint16(udp[2:], dstPort)
	binary.BigEndian.PutUint16(udp[4:], uint16(udpLen))
	copy(udp[8:], payload) // checksum 0: none (IPv4 allows it)

	rec := make([]byte, 16)
	us := int64(at / time.Microsecond)
	binary.LittleEndian.PutUint32(rec[0:], uint32(base+us/1_000_000))
	binary.LittleEndian.PutUint32(rec[4:], uint32(us%1_000_000))
	binary.LittleEndian.PutUint32(rec[8:], uint32(len(frame)))
	binary.LittleEndian.PutUint32(rec[12:], uint32(len(frame)))
	w.buf = append(w.buf, rec...)
	w.buf = append(w.buf, frame...)
	w.n++
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
