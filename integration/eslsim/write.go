package eslsim

import (
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pbxbridge/pbxbridge/audio"
)

// The write stream: what the channel plays to the caller (playback, displace_session). Media
// bugs mix it with the read stream (or record it alone with RECORD_WRITE_ONLY, or on the right
// of a RECORD_STEREO file), and Heard returns it, as an ear on the caller's side would.

// writeSeg is audio played to the caller from media position at.
type writeSeg struct {
	at   int
	pcm  []int16
	loop bool // repeat pcm until stopped
	end  int  // media position where it stopped; -1 while it plays
}

// startWrite starts playing pcm to the caller now.
func (ch *Channel) startWrite(pcm []int16, loop bool) *writeSeg {
	return ch.startWriteAt(pcm, loop, time.Now())
}

// startWriteAt starts playing pcm to the caller from wall-clock time t.
func (ch *Channel) startWriteAt(pcm []int16, loop bool, t time.Time) *writeSeg {
	s := &writeSeg{at: ch.mediaPos(t), pcm: pcm, loop: loop, end: -1}
	ch.mu.Lock()
	ch.written = append(ch.written, s)
	ch.mu.Unlock()
	return s
}

// stopWrite stops a segment now (a finished playback stops at its own end anyway).
func (ch *Channel) stopWrite(s *writeSeg) {
	ch.stopWriteAt(s, time.Now())
}

// stopWriteAt stops a segment at wall-clock time t (a segment stops once).
func (ch *Channel) stopWriteAt(s *writeSeg, t time.Time) {
	if s == nil {
		return
	}
	pos := ch.mediaPos(t)
	ch.mu.Lock()
	if s.end < 0 {
		s.end = pos
	}
	ch.mu.Unlock()
}

// writeAt is the write stream in [from, to) of the media timeline, segments mixed.
func (ch *Channel) writeAt(from, to int) []int16 {
	out := make([]int16, max(to-from, 0))
	ch.mu.Lock()
	segs := append([]*writeSeg(nil), ch.written...)
	ends := make([]int, len(segs))
	for i, s := range segs {
		ends[i] = s.end
	}
	ch.mu.Unlock()
	for i, s := range segs {
		if len(s.pcm) == 0 {
			continue
		}
		stop := ends[i]
		if !s.loop && (stop < 0 || stop > s.at+len(s.pcm)) {
			stop = s.at + len(s.pcm)
		}
		for p := max(from, s.at); p < to && (stop < 0 || p < stop); p++ {
			v := int(out[p-from]) + int(s.pcm[(p-s.at)%len(s.pcm)])
			out[p-from] = int16(max(min(v, math.MaxInt16), math.MinInt16))
		}
	}
	return out
}

// Heard is what the caller heard: the write stream from the answer until the hangup (or now).
func (ch *Channel) Heard() []int16 {
	ch.mu.Lock()
	end := ch.hangupAt
	ch.mu.Unlock()
	if end.IsZero() {
		end = time.Now()
	}
	return ch.writeAt(0, ch.mediaPos(end))
}

// mix is the read and write streams mixed, as a media bug records them by default.
func mix(read, write []int16) []int16 {
	out := make([]int16, len(read))
	for i := range read {
		v := int(read[i])
		if i < len(write) {
			v += int(write[i])
		}
		out[i] = int16(max(min(v, math.MaxInt16), math.MinInt16))
	}
	return out
}

// mediaSamples is the audio of a playback target at 8 kHz mono: tone_stream://%(on,off,f…),
// silence_stream://ms, http_cache://<loopback URL of a WAV> (fetched as mod_http_cache would;
// the simulator sends nothing off loopback) and file_string://a!b. ok is false for anything
// else.
func mediaSamples(target string) ([]int16, bool) {
	switch {
	case strings.HasPrefix(target, "tone_stream://%("):
		rest := strings.TrimPrefix(target, "tone_stream://%(")
		p := strings.Split(strings.SplitN(rest, ")", 2)[0], ",")
		if len(p) < 3 {
			return nil, false
		}
		on, _ := strconv.Atoi(p[0])
		off, _ := strconv.Atoi(p[1])
		var freqs []float64
		for _, f := range p[2:] {
			if v, err := strconv.ParseFloat(f, 64); err == nil {
				freqs = append(freqs, v)
			}
		}
		n, m := on*Rate/1000, off*Rate/1000
		out := make([]int16, n+m)
		for i := 0; i < n && len(freqs) > 0; i++ {
			v := 0.0
			for _, f := range freqs {
				v += math.Sin(2 * math.Pi * f * float64(i) / Rate)
			}
			out[i] = int16(8000 * v / float64(len(freqs)))
		}
		return out, true
	case strings.HasPrefix(target, "silence_stream://"):
		ms, _ := strconv.Atoi(strings.Split(strings.TrimPrefix(target, "silence_stream://"), ",")[0])
		return make([]int16, ms*Rate/1000), true
	case strings.HasPrefix(target, "http_cache://"):
		return wavURL(strings.TrimPrefix(target, "http_cache://"))
	case strings.HasPrefix(target, "file_string://"):
		var out []int16
		for _, part := range strings.Split(strings.TrimPrefix(target, "file_string://"), "!") {
			s, ok := mediaSamples(part)
			if !ok {
				return nil, false
			}
			out = append(out, s...)
		}
		return out, true
	}
	return nil, false
}

// wavURL fetches a WAV from a loopback URL and returns it at 8 kHz mono.
func wavURL(u string) ([]int16, bool) {
	pu, err := url.Parse(u)
	if err != nil || pu.Scheme != "http" {
		return nil, false
	}
	if ip := net.ParseIP(pu.Hostname()); ip == nil || !ip.IsLoopback() {
		return nil, false
	}
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get(u)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, false
	}
	p, err := audio.ParseWAV(b)
	if err != nil {
		return nil, false
	}
	if p, err = audio.Conform(p, Rate, 1); err != nil {
		return nil, false
	}
	return p.Samples, true
}
