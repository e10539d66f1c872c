package media

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/audio"
)

// memStore is the smallest real Store: it keeps what is put, by URL.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStore) Put(data []byte, ext, mime string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := "http://bridge/media/" + string(rune('a'+len(s.m))) + "." + ext
	s.m[u] = data
	return u
}

func tone(rate, channels int, secs float64) audio.PCM {
	n := int(float64(rate) * secs)
	p := audio.PCM{Rate: rate, Channels: channels, Samples: make([]int16, n*channels)}
	for i := 0; i < n; i++ {
		for c := 0; c < channels; c++ {
			p.Samples[i*channels+c] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/float64(rate)))
		}
	}
	return p
}

func TestAudio(t *testing.T) {
	wav16k, _ := audio.EncodeWAV(tone(16000, 2, 1))
	mp3, err := audio.EncodeMP3(tone(8000, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	ulaw, _ := audio.EncodeULaw(tone(8000, 1, 1))
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/a.wav":
			w.Write(wav16k)
		case "/a.mp3":
			w.Write(mp3)
		case "/a.ul":
			w.Write(ulaw)
		case "/auth.wav":
			if u, p, ok := r.BasicAuth(); !ok || u != "me" || p != "pw" {
				w.WriteHeader(401)
				return
			}
			w.Write(wav16k)
		case "/big.wav":
			w.Write(make([]byte, 2048))
		case "/text":
			w.Write([]byte("hello"))
		default:
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()
	st := &memStore{m: map[string][]byte{}}
	m := New(st, nil, Options{MaxBytes: 1 << 20})
	ctx := context.Background()
	for _, p := range []string{"/a.wav", "/a.mp3", "/a.ul", "/auth.wav"} {
		u, _ := url.Parse(srv.URL + p)
		if p == "/auth.wav" {
			u.User = url.UserPassword("me", "pw")
		}
		got, err := m.Audio(ctx, u)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		pcm, err := audio.ParseWAV(st.m[got])
		if err != nil || pcm.Rate != 8000 || pcm.Channels != 1 {
			t.Fatalf("%s: stored %d Hz %d ch, %v; want 8 kHz mono WAV", p, pcm.Rate, pcm.Channels, err)
		}
		if d := pcm.Duration().Seconds(); d < 0.9 || d > 1.1 {
			t.Errorf("%s: %.2f s, want 1 s", p, d)
		}
	}
	// Cached: a second request for the same URL downloads nothing.
	before := hits.Load()
	u, _ := url.Parse(srv.URL + "/a.wav")
	if _, err := m.Audio(ctx, u); err != nil || hits.Load() != before {
		t.Errorf("second request downloaded again (hits %d -> %d, %v)", before, hits.Load(), err)
	}
	// Failures name the URL without its query, and are not cached.
	for _, p := range []string{"/missing.wav?token=secret", "/text"} {
		u, _ := url.Parse(srv.URL + p)
		_, err := m.Audio(ctx, u)
		if !errors.Is(err, adapter.ErrMedia) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: err = %v, want ErrMedia without the query", p, err)
		}
	}
	small := New(st, nil, Options{MaxBytes: 1024})
	u, _ = url.Parse(srv.URL + "/big.wav")
	if _, err := small.Audio(ctx, u); err == nil || !strings.Contains(err.Error(), "larger than 1024 bytes") {
		t.Errorf("oversized: %v", err)
	}
	if _, err := m.Speech(ctx, "hello", "woman", "en-US"); !errors.Is(err, adapter.ErrMedia) {
		t.Errorf("speech without a speaker: %v, want ErrMedia", err)
	}
}
