// Package media prepares what documents ask to play for the PBX: remote audio (Play,
// backgroundAudioUrl) is downloaded, decoded (WAV, MP3 or µ-law), converted to 8 kHz 16-bit
// mono WAV and cached; text (Say, Speak) is rendered by a Speaker. The results are put in a
// Store that the HTTP API serves, and the PBX plays them from there, so pbxbridge and the PBX
// need no shared filesystem (asterisk.md §1, BackgroundAudio).
package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/audio"
)

// Store keeps prepared media and returns the URL the PBX fetches it from.
type Store interface {
	Put(data []byte, ext, mime string) string
}

// Options tune a Media.
type Options struct {
	// MaxBytes bounds one download. Default 20 MiB (about 20 minutes of 128 kbit/s MP3).
	MaxBytes int64
	// Timeout bounds one download. Default 15 s.
	Timeout time.Duration
	// TTL is how long a downloaded URL is reused before it is fetched again. Default 10 min.
	TTL time.Duration
	// Client makes the downloads. Default: a client with Timeout.
	Client *http.Client
}

// Media implements adapter.Media. It is safe for concurrent use; concurrent requests for the
// same source share one download.
type Media struct {
	store   Store
	speaker adapter.Speaker
	opts    Options

	mu    sync.Mutex
	cache map[string]*entry
}

type entry struct {
	done    chan struct{} // closed when url/err are set
	url     string
	err     error
	expires time.Time
}

var _ adapter.Media = (*Media)(nil)

// New returns a Media that puts results in store and renders speech with speaker (nil: Say
// and Speak fail with adapter.ErrMedia and are skipped by the engine).
func New(store Store, speaker adapter.Speaker, opts Options) *Media {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 20 << 20
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 15 * time.Second
	}
	if opts.TTL <= 0 {
		opts.TTL = 10 * time.Minute
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: opts.Timeout}
	}
	return &Media{store: store, speaker: speaker, opts: opts, cache: map[string]*entry{}}
}

// Audio downloads and converts remote audio, once per TTL per URL.
func (m *Media) Audio(ctx context.Context, src *url.URL) (string, error) {
	if src == nil {
		return "", fmt.Errorf("%w: no URL", adapter.ErrMedia)
	}
	return m.cached(ctx, "url\x00"+src.String(), func(ctx context.Context) (string, error) {
		data, ctype, err := m.download(ctx, src)
		if err != nil {
			return "", err
		}
		pcm, err := decode(data, ctype, src.Path)
		if err != nil {
			return "", fmt.Errorf("%w: %s: %w", adapter.ErrMedia, redact(src), err)
		}
		return m.put(pcm)
	})
}

// Speech renders text once per TTL per (voice, language, text).
func (m *Media) Speech(ctx context.Context, text, voice, language string) (string, error) {
	if m.speaker == nil {
		return "", fmt.Errorf("%w: no text-to-speech engine configured", adapter.ErrMedia)
	}
	return m.cached(ctx, "tts\x00"+voice+"\x00"+language+"\x00"+text, func(ctx context.Context) (string, error) {
		wav, err := m.speaker.Speak(ctx, text, voice, language)
		if err != nil {
			return "", fmt.Errorf("%w: speech: %w", adapter.ErrMedia, err)
		}
		pcm, err := audio.ParseWAV(wav)
		if err != nil {
			return "", fmt.Errorf("%w: speech: %w", adapter.ErrMedia, err)
		}
		return m.put(pcm)
	})
}

func (m *Media) put(pcm audio.PCM) (string, error) {
	pcm, err := audio.Conform(pcm, 8000, 1)
	if err != nil {
		return "", fmt.Errorf("%w: %w", adapter.ErrMedia, err)
	}
	wav, err := audio.EncodeWAV(pcm)
	if err != nil {
		return "", fmt.Errorf("%w: %w", adapter.ErrMedia, err)
	}
	return m.store.Put(wav, "wav", "audio/wav"), nil
}

// cached runs build once per key per TTL; concurrent callers wait for the first. Failures are
// not cached, so a prompt that was briefly unreachable is tried again on the next call.
func (m *Media) cached(ctx context.Context, key string, build func(context.Context) (string, error)) (string, error) {
	m.mu.Lock()
	e, ok := m.cache[key]
	if ok && (e.expires.IsZero() || time.Now().Before(e.expires)) {
		m.mu.Unlock()
		select {
		case <-e.done:
			if e.err == nil {
				return e.url, nil
			}
			return "", e.err
		case <-ctx.Done():
			return "", context.Cause(ctx)
		}
	}
	e = &entry{done: make(chan struct{})}
	m.cache[key] = e
	m.mu.Unlock()

	// The work outlives one caller's cancellation: others may be waiting for it.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.opts.Timeout)
	e.url, e.err = build(wctx)
	cancel()
	m.mu.Lock()
	if e.err != nil {
		delete(m.cache, key)
	} else {
		e.expires = time.Now().Add(m.opts.TTL)
	}
	m.mu.Unlock()
	close(e.done)
	if e.err != nil {
		return "", e.err
	}
	return e.url, nil
}

func (m *Media) download(ctx context.Context, src *url.URL) ([]byte, string, error) {
	u := *src
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "", nil)
	if err != nil {
		return nil, "", err
	}
	if u.User != nil {
		pw, _ := u.User.Password()
		req.SetBasicAuth(u.User.Username(), pw)
		u.User = nil
	}
	req.URL = &u
	req.Host = u.Host
	req.Header.Set("User-Agent", "pbxbridge-media")
	req.Header.Set("Accept", "audio/wav, audio/x-wav, audio/mpeg, audio/basic, */*")
	resp, err := m.opts.Client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("%w: GET %s: %w", adapter.ErrMedia, redact(src), unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, "", fmt.Errorf("%w: GET %s: HTTP %d", adapter.ErrMedia, redact(src), resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, m.opts.MaxBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("%w: GET %s: %w", adapter.ErrMedia, redact(src), err)
	}
	if int64(len(data)) > m.opts.MaxBytes {
		return nil, "", fmt.Errorf("%w: GET %s: larger than %d bytes", adapter.ErrMedia, redact(src), m.opts.MaxBytes)
	}
	return data, resp.Header.Get("Content-Type"), nil
}

// decode recognises WAV and MP3 by their bytes, and headerless µ-law by its name or type.
func decode(data []byte, ctype, path string) (audio.PCM, error) {
	switch {
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WAVE":
		return audio.ParseWAV(data)
	case len(data) >= 3 && (string(data[:3]) == "ID3" || data[0] == 0xFF && data[1]&0xE0 == 0xE0):
		return audio.DecodeMP3(data)
	case strings.Contains(ctype, "audio/basic") || strings.HasSuffix(path, ".ul") || strings.HasSuffix(path, ".ulaw") || strings.HasSuffix(path, ".mulaw"):
		return audio.DecodeULaw(data), nil
	}
	return audio.PCM{}, errors.New("not WAV, MP3 or µ-law audio")
}

func redact(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	return c.String()
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
