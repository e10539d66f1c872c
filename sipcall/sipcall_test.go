package sipcall

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseDTMF(t *testing.T) {
	got, err := ParseDTMF("5.5s:#, 3s:1,8s:12")
	if err != nil {
		t.Fatal(err)
	}
	want := []Digit{{3 * time.Second, '1'}, {5500 * time.Millisecond, '#'}, {8 * time.Second, '1'}, {8*time.Second + 2*ToneLength, '2'}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("digit %d: got %v, want %v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"3s", "3s:x", "soon:1", "-1s:1", "1s:1,1.1s:2"} {
		if _, err := ParseDTMF(bad); !errors.Is(err, ErrDTMF) {
			t.Errorf("ParseDTMF(%q) = %v, want ErrDTMF", bad, err)
		}
	}
}

// rtpPacket is one packet read back from a pcap.
type rtpPacket struct {
	at      time.Duration
	pt      byte
	marker  bool
	seq     uint16
	ts      uint32
	payload []byte
}

func readPCAP(t *testing.T, b []byte) []rtpPacket {
	t.Helper()
	if binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 || binary.LittleEndian.Uint32(b[20:]) != 1 {
		t.Fatal("not a microsecond Ethernet pcap")
	}
	var out []rtpPacket
	var t0 time.Duration
	for off := 24; off < len(b); {
		sec, us := binary.LittleEndian.Uint32(b[off:]), binary.LittleEndian.Uint32(b[off+4:])
		n := int(binary.LittleEndian.Uint32(b[off+8:]))
		frame := b[off+16 : off+16+n]
		off += 16 + n
		at := time.Duration(sec)*time.Second + time.Duration(us)*time.Microsecond
		if len(out) == 0 {
			t0 = at
		}
		if frame[14+9] != 17 || int(binary.BigEndian.Uint16(frame[14+20+4:])) != n-14-20 {
			t.Fatalf("packet %d is not a well-formed UDP datagram", len(out))
		}
		r := frame[14+20+8:]
		out = append(out, rtpPacket{at: at - t0, pt: r[1] & 0x7f, marker: r[1]&0x80 != 0,
			seq: binary.BigEndian.Uint16(r[2:]), ts: binary.BigEndian.Uint32(r[4:]), payload: r[12:]})
	}
	return out
}

func TestBuildPCAP(t *testing.T) {
	ul := make([]byte, 8000) // 1 s of voice
	for i := range ul {
		ul[i] = 0x20
	}
	digits, err := ParseDTMF("500ms:#,1.5s:7")
	if err != nil {
		t.Fatal(err)
	}
	b, st := BuildPCAP(ul, digits)
	pk := readPCAP(t, b)
	// 1.5 s + 200 ms of tone = 85 slots, plus two repeats of each final event packet.
	if st.Audio != 1700*time.Millisecond || len(pk) != 85+4 || st.Packets != len(pk) {
		t.Fatalf("stream %+v, %d packets", st, len(pk))
	}
	var events, voice int
	for i, p := range pk {
		switch p.pt {
		case 0:
			voice++
			if len(p.payload) != 160 || p.ts != uint32(p.at/time.Millisecond)*8 {
				t.Fatalf("voice packet %d: %d bytes, ts %d at %v", i, len(p.payload), p.ts, p.at)
			}
		case EventPayloadType:
			events++
			code, end := p.payload[0], p.payload[1]&0x80 != 0
			dur := binary.BigEndian.Uint16(p.payload[2:])
			switch {
			case p.at >= 500*time.Millisecond && p.at < 700*time.Millisecond:
				if code != 11 || p.ts != 4000 || int(dur) != int(p.at-500*time.Millisecond)/int(time.Millisecond)*8+160 {
					t.Fatalf("'#' packet at %v: code %d ts %d duration %d", p.at, code, p.ts, dur)
				}
				if p.marker != (p.at == 500*time.Millisecond) || end != (p.at == 680*time.Millisecond) {
					t.Fatalf("'#' packet at %v: marker %v end %v", p.at, p.marker, end)
				}
			case p.at >= 1500*time.Millisecond:
				if code != 7 {
					t.Fatalf("'7' packet at %v: code %d", p.at, code)
				}
			default:
				t.Fatalf("event packet at %v", p.at)
			}
		}
	}
	if events != 2*(10+2) || voice != 85-20 {
		t.Fatalf("%d event packets, %d voice packets", events, voice)
	}
	// Sequence numbers grow by one per packet, repeats of a final event excepted.
	for i := 1; i < len(pk); i++ {
		if d := pk[i].seq - pk[i-1].seq; d != 1 && !(d == 0 && pk[i].pt == EventPayloadType) {
			t.Fatalf("sequence %d after %d", pk[i].seq, pk[i-1].seq)
		}
	}
}

func TestScenarioEscapes(t *testing.T) {
	s := scenario("15550100001", `/tmp/a"b.pcap`, 1500*time.Millisecond)
	if strings.Contains(s, `a"b`) || !strings.Contains(s, `timeout="1500"`) || !strings.Contains(s, `play_pcap_audio="/tmp/a&#34;b.pcap"`) {
		t.Fatalf("scenario:\n%s", s)
	}
}
