package integration

import (
	"encoding/binary"
	"errors"
	"os"
	"time"
)

// A generator of the pcaps SIPp plays for digit collection (uac_pcap_keys_remote_bye.xml): one
// RTP stream with A-law audio and RFC 4733 telephone-events at chosen times. Debian ships one
// pcap per key (dtmf_2833_*.pcap), but each carries its own fixed sequence numbers and
// timestamps: played one after another, a key pressed twice repeats an event timestamp, which
// Asterisk takes for a retransmission of the event it already ended. Generated, every event
// gets its own timestamp in one stream, as a phone sends them.

// keyPress is a key the caller presses, at a time from the answer.
type keyPress struct {
	at    time.Duration
	digit byte
}

// speechAt is g711a.pcap's speech said from a time after the answer.
type speechAt struct{ at time.Duration }

const (
	rtpFrame     = 20 * time.Millisecond
	rtpFrameSamp = 160
	alawSilence  = 0xd5
	eventPT      = 101 // telephone-event/8000 in the scenarios' SDP
	alawPT       = 8
	eventFrames  = 6 // 120 ms of tone, then the end packet three times (RFC 4733 §2.5.1.4)
)

// rfc4733Event is the event code of a key (RFC 4733 §3.2).
func rfc4733Event(d byte) (byte, bool) {
	switch {
	case d >= '0' && d <= '9':
		return d - '0', true
	case d == '*':
		return 10, true
	case d == '#':
		return 11, true
	}
	return 0, false
}

// alawPayload is the A-law bytes of the RTP packets of a pcap (payload type 8).
func alawPayload(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 24 || binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 || binary.LittleEndian.Uint32(b[20:]) != 1 {
		return nil, errors.New("pcap: not a little-endian Ethernet capture")
	}
	var out []byte
	for off := 24; off+16 <= len(b); {
		incl := int(binary.LittleEndian.Uint32(b[off+8:]))
		pkt := b[off+16 : min(off+16+incl, len(b))]
		off += 16 + incl
		if len(pkt) < 14+20+8+12 || pkt[14]>>4 != 4 || pkt[14+9] != 17 {
			continue
		}
		rtp := pkt[14+int(pkt[14]&0x0f)*4+8:]
		if len(rtp) > 12 && rtp[1]&0x7f == alawPT {
			out = append(out, rtp[12+4*int(rtp[0]&0x0f):]...)
		}
	}
	return out, nil
}

// keysPcap builds the stream: 20 ms A-law packets (the speech where it is said, silence
// elsewhere) from the answer to a second after the last key or word, with each key's event
// packets in place of the audio while it sounds.
func keysPcap(speech []byte, says []speechAt, keys []keyPress) ([]byte, error) {
	return keysPcapAs(alawPT, alawSilence, speech, says, keys)
}

// keysPcapAs is keysPcap with another audio payload type (µ-law: 0 and silence 0xff, for the
// called party, whose SDP offers PCMU).
func keysPcapAs(pt, silence byte, speech []byte, says []speechAt, keys []keyPress) ([]byte, error) {
	end := time.Duration(0)
	for _, s := range says {
		end = max(end, s.at+time.Duration(len(speech))*time.Second/8000)
	}
	for _, k := range keys {
		end = max(end, k.at)
	}
	end += time.Second
	w := &pcapWriter{ssrc: 0x7062786b, seq: 4000, ts0: 8000}
	w.header()
	slots := int(end / rtpFrame)
	next := 0 // next key
	for i := 0; i < slots; i++ {
		t := time.Duration(i) * rtpFrame
		if next < len(keys) && t >= keys[next].at.Truncate(rtpFrame) {
			code, ok := rfc4733Event(keys[next].digit)
			if !ok {
				return nil, errors.New("pcap: not a DTMF key: " + string(keys[next].digit))
			}
			start := uint32(i * rtpFrameSamp)
			for f := 0; f < eventFrames; f++ {
				w.packet(t+time.Duration(f)*rtpFrame, f == 0, eventPT, start, eventPayload(code, false, (f+1)*rtpFrameSamp))
			}
			endAt := t + eventFrames*rtpFrame
			for r := 0; r < 3; r++ { // the end packet, sent three times with one sequence number
				w.packetSeq(endAt, false, eventPT, start, eventPayload(code, true, eventFrames*rtpFrameSamp), r > 0)
			}
			i += eventFrames + 1 // the slot of the end packet and one of quiet after it
			next++
			continue
		}
		payload := make([]byte, rtpFrameSamp)
		for j := range payload {
			payload[j] = silence
			for _, s := range says {
				if k := i*rtpFrameSamp + j - int(s.at*8000/time.Second); k >= 0 && k < len(speech) {
					payload[j] = speech[k]
				}
			}
		}
		w.packet(t, i == 0, pt, uint32(i*rtpFrameSamp), payload)
	}
	return w.b, nil
}

func eventPayload(code byte, end bool, duration int) []byte {
	p := []byte{code, 10, byte(duration >> 8), byte(duration)} // volume -10 dBm0, as Debian's
	if end {
		p[1] |= 0x80
	}
	return p
}

// pcapWriter writes Ethernet/IPv4/UDP/RTP packets from 127.0.0.1:5000 to 127.0.0.1:2006 (SIPp
// keeps only the RTP and its timing, sending from its media port to the far end's).
type pcapWriter struct {
	b    []byte
	ssrc uint32
	seq  uint16
	ts0  uint32
}

func (w *pcapWriter) header() {
	w.b = binary.LittleEndian.AppendUint32(w.b, 0xa1b2c3d4)
	w.b = binary.LittleEndian.AppendUint16(w.b, 2)
	w.b = binary.LittleEndian.AppendUint16(w.b, 4)
	w.b = append(w.b, make([]byte, 8)...) // thiszone, sigfigs
	w.b = binary.LittleEndian.AppendUint32(w.b, 65535)
	w.b = binary.LittleEndian.AppendUint32(w.b, 1) // Ethernet
}

func (w *pcapWriter) packet(at time.Duration, marker bool, pt byte, ts uint32, payload []byte) {
	w.packetSeq(at, marker, pt, ts, payload, false)
}

// packetSeq writes one packet; again repeats the previous sequence number (a retransmission).
func (w *pcapWriter) packetSeq(at time.Duration, marker bool, pt byte, ts uint32, payload []byte, again bool) {
	if !again {
		w.seq++
	}
	rtp := []byte{0x80, pt}
	if marker {
		rtp[1] |= 0x80
	}
	rtp = binary.BigEndian.AppendUint16(rtp, w.seq)
	rtp = binary.BigEndian.AppendUint32(rtp, w.ts0+ts)
	rtp = binary.BigEndian.AppendUint32(rtp, w.ssrc)
	rtp = append(rtp, payload...)
	udp := binary.BigEndian.AppendUint16(nil, 5000)
	udp = binary.BigEndian.AppendUint16(udp, 2006)
	udp = binary.BigEndian.AppendUint16(udp, uint16(8+len(rtp)))
	udp = binary.BigEndian.AppendUint16(udp, 0) // no checksum (allowed over IPv4)
	ip := []byte{0x45, 0}
	ip = binary.BigEndian.AppendUint16(ip, uint16(20+len(udp)+len(rtp)))
	ip = append(ip, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1)
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(ip[i])<<8 | uint32(ip[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	eth := append(make([]byte, 12), 0x08, 0x00)
	frame := append(append(append(eth, ip...), udp...), rtp...)
	base := time.Unix(1_700_000_000, 0).Add(at)
	w.b = binary.LittleEndian.AppendUint32(w.b, uint32(base.Unix()))
	w.b = binary.LittleEndian.AppendUint32(w.b, uint32(base.Nanosecond()/1000))
	w.b = binary.LittleEndian.AppendUint32(w.b, uint32(len(frame)))
	w.b = binary.LittleEndian.AppendUint32(w.b, uint32(len(frame)))
	w.b = append(w.b, frame...)
}
