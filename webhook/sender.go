package webhook

import (
	"context"
	"log/slog"
	"net/url"

	"github.com/pbxbridge/pbxbridge/adapter"
)

var _ adapter.Sender = (*Client)(nil)

// Send is Do for the engine (adapter.Sender): the request names its app, whose auth token and
// signing secret come from Options.Secrets. It is used for the requests a call waits for.
func (c *Client) Send(ctx context.Context, r adapter.Request) (*adapter.Response, error) {
	token, secret := c.secrets(r.App)
	resp, err := c.Do(ctx, Request{
		EventID: r.EventID, CallID: r.CallID, Kind: r.Kind, Dialect: r.Dialect, Method: r.Method, URL: r.URL, Body: r.Body,
		BodyType: r.BodyType, Retry: r.Retry, AuthToken: token, Secret: secret,
		Document: r.Document, Limit: int64(r.Limit),
	})
	if err != nil {
		return nil, err
	}
	return &adapter.Response{Status: resp.Status, FinalURL: resp.FinalURL, Body: resp.Body, ContentType: resp.ContentType}, nil
}

// EntryRequest is the Request for an outbox entry, with its app's credentials from
// Options.Secrets. The error wraps ErrRequest when the entry cannot be sent (its URL does not
// parse or is not http(s)); the message never quotes the URL, which may hold credentials.
func (c *Client) EntryRequest(e adapter.Entry) (Request, error) {
	u, err := url.Parse(e.URL)
	if err != nil {
		return Request{}, requestError("entry %s: URL does not parse", e.ID)
	}
	if len(e.Auth) > 0 {
		if c.open == nil {
			return Request{}, requestError("entry %s: its URL credentials are sealed and no key is configured", e.ID)
		}
		plain, err := c.open(e.Auth)
		if err != nil {
			return Request{}, requestError("entry %s: its URL credentials cannot be opened (another key?)", e.ID)
		}
		// The userinfo was written by url.Userinfo.String, so it parses back as a URL's.
		ui, err := url.Parse("http://" + string(plain) + "@x/")
		if err != nil || ui.User == nil {
			return Request{}, requestError("entry %s: its URL credentials do not parse", e.ID)
		}
		u.User = ui.User
	}
	token, secret := c.secrets(e.App)
	r := Request{
		EventID: e.ID, CallID: e.CallID, Kind: e.Kind, Dialect: e.Dialect, Method: e.Method, URL: u,
		Body: e.Body, BodyType: e.BodyType, Retry: e.Retry, AuthToken: token, Secret: secret,
	}
	if err := c.prepare(&r); err != nil {
		return Request{}, err
	}
	return r, nil
}

func (c *Client) secrets(app string) (authToken, signingSecret string) {
	if c.sec == nil {
		return "", ""
	}
	return c.sec.For(app)
}

// Credentials are one app's secrets.
type Credentials struct {
	AuthToken     string // Plivo auth token (X-Plivo-Signature-V3)
	SigningSecret string // X-Pbxbridge-Signature secret
}

// String keeps fmt from printing the values.
func (Credentials) String() string { return "webhook.Credentials{[redacted]}" }

// GoString keeps %#v from printing the values.
func (c Credentials) GoString() string { return c.String() }

// LogValue keeps slog from printing the values.
func (Credentials) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// SecretMap is a fixed Secrets, by app name, built from configuration at start. It must not
// be modified once in use.
type SecretMap map[string]Credentials

// For implements Secrets.
func (m SecretMap) For(app string) (authToken, signingSecret string) {
	c := m[app]
	return c.AuthToken, c.SigningSecret
}
