package adapter

import (
	"context"
	"errors"
	"net/url"

	"github.com/pbxbridge/pbxbridge/translate"
)

// Sender performs one logical HTTP request to an application, with the URL's retry policy,
// and returns the final answer (webhook.Client implements it). It is safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, r Request) (*Response, error)
}

// Request is one logical request: every attempt carries the same EventID.
type Request struct {
	EventID  string
	CallID   string // for log lines
	Kind     string // answer, redirect, action, ... (the outbox entry's Kind), for traces
	App      string // whose auth token and signing secret sign it
	Dialect  translate.Dialect
	Method   translate.Method
	URL      *url.URL // may carry userinfo (sent as Basic auth)
	Body     []byte   // POST body; for GET the parameters are already in URL
	BodyType string
	Retry    translate.RetryPolicy
	Document bool // a document fetch: Accept header, body limit
	Limit    int  // body limit in bytes for documents (0 = 100 KB)
}

// Response is the final answer of a Request.
type Response struct {
	Status      int
	FinalURL    *url.URL // after redirects, without userinfo: the base of relative URLs
	Body        []byte
	ContentType string
}

// ErrMedia: audio to play could not be fetched or converted.
var ErrMedia = errors.New("media unavailable")

// Media turns what a document asks to play into URLs the PBX can fetch: remote audio is
// downloaded, converted to 8 kHz WAV and cached; text is rendered by a Speaker. It is safe
// for concurrent use.
type Media interface {
	// Audio returns a PBX-playable URL for remote audio (Play, backgroundAudioUrl).
	Audio(ctx context.Context, src *url.URL) (string, error)
	// Speech returns a PBX-playable URL for text (Say, Speak).
	Speech(ctx context.Context, text, voice, language string) (string, error)
}

// Links makes the public URLs of stored files (RecordingUrl / RecordUrl).
type Links interface {
	// FileURL is the signed, expiring public URL of a stored file. ext is "" for CarrierX
	// (/f/<sid>) and the format's extension for Plivo (/f/<sid>.<ext>).
	FileURL(sid, ext string) string
}
