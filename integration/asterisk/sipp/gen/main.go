// Command gen writes callee_chirps.pcap, the audio the callee SIPp scenario
// (uas_callee.xml) sends: 10 s of µ-law RTP (payload type 0, 20 ms packets) in an
// Ethernet/IPv4/UDP pcap, as SIPp's play_pcap_audio reads it.
//
// The sound is a sequence of 250 ms frequency sweeps, each between two frequencies drawn from a
// fixed seed in 400–3000 Hz: nothing like the caller's speech (g711a.pcap), and sharp in
// correlation (no two segments alike, unlike a steady tone), so that the integration tests can
// tell from a recording which party is on which channel.
//
//	go run ./integration/asterisk/sipp/gen integration/asterisk/sipp/callee_chirps.pcap
package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"

	"github.com/pbxbridge/pbxbridge/audio"
)

const (
	rate     = 8000
	seconds  = 10
	segment  = rate / 4 // 250 ms
	packet   = 160      // 20 ms
	amp      = 2700.0   // RMS about 1,900: the caller's speech's level, so neither drowns the other in a mix
	ssrc     = 0x0ca11ee5
	baseSecs = 1700000000
)

// Samples is the callee's audio as 16-bit PCM at 8 kHz, before µ-law.
func Samples() []int16 {
	r := rand.New(rand.NewPCG(8, 2026))
	out := make([]int16, 0, rate*seconds)
	phase := 0.0
	for len(out) < rate*seconds {
		f0 := 400 + 2600*r.Float64()
		f1 := 400 + 2600*r.Float64()
		for i := 0; i < segment; i++ {
			f := f0 + (f1-f0)*float64(i)/segment
			phase += 2 * math.Pi * f / rate
			// 5 ms fades at the segment's edges keep the sweep free of clicks.
			g := math.Min(1, math.Min(float64(i), float64(segment-1-i))/40)
			out = append(out, int16(amp*g*math.Sin(phase)))
		}
	}
	return out
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gen <out.pcap>")
		os.Exit(2)
	}
	s := Samples()
	var b []byte
	le := binary.LittleEndian
	b = le.AppendUint32(b, 0xa1b2c3d4)
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 65535)
	b = le.AppendUint32(b, 1) // Ethernet
	for n := 0; n*packet+packet <= len(s); n++ {
		var rtp []byte
		rtp = append(rtp, 0x80, 0x00) // v2, PT 0
		if n == 0 {
			rtp[1] |= 0x80 // marker on the first packet
		}
		rtp = binary.BigEndian.AppendUint16(rtp, uint16(n))
		rtp = binary.BigEndian.AppendUint32(rtp, uint32(n*packet))
		rtp = binary.BigEndian.AppendUint32(rtp, ssrc)
		for _, v := range s[n*packet : (n+1)*packet] {
			rtp = append(rtp, audio.LinearToULaw(v))
		}
		udp := binary.BigEndian.AppendUint16(nil, 6000)
		udp = binary.BigEndian.AppendUint16(udp, 6001)
		udp = binary.BigEndian.AppendUint16(udp, uint16(8+len(rtp)))
		udp = binary.BigEndian.AppendUint16(udp, 0)
		udp = append(udp, rtp...)
		ip := []byte{0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1}
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(udp)))
		var sum uint32
		for i := 0; i < 20; i += 2 {
			sum += uint32(binary.BigEndian.Uint16(ip[i:]))
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
		frame := append(make([]byte, 12), 0x08, 0x00) // MACs, IPv4
		frame = append(append(frame, ip...), udp...)
		us := n * 20000
		b = le.AppendUint32(b, uint32(baseSecs+us/1000000))
		b = le.AppendUint32(b, uint32(us%1000000))
		b = le.AppendUint32(b, uint32(len(frame)))
		b = le.AppendUint32(b, uint32(len(frame)))
		b = append(b, frame...)
	}
	if err := os.WriteFile(os.Args[1], b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
