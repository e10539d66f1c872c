package adapter

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/pbxbridge/pbxbridge/translate"
)

// This file turns rendered parameters into requests: through the outbox for every callback
// (callbacks.md §1.1), sent by the call's own goroutine when the call waits for the answer.

// request builds the URL and body of a request to t with params, per the target's method.
func request(t *translate.Target, params translate.Params) (u *url.URL, body []byte, bodyType string) {
	if t.Method == translate.GET {
		return params.AppendQuery(t.URL), nil, ""
	}
	bodyType, body = params.Body()
	return t.URL, body, bodyType
}

// entry is the outbox entry of a request: the URL's userinfo is sealed, never stored in clear.
func (s *session) entry(kind string, t *translate.Target, u *url.URL, body []byte, bodyType string) Entry {
	now := s.e.Now()
	e := Entry{
		ID: s.e.NewID(), CallID: s.id, Seq: s.nextSeq(), App: s.app.Name, Dialect: s.app.Dialect,
		Kind: kind, Method: t.Method, Body: body, BodyType: bodyType, Retry: t.Retry,
		Created: now, NextAt: now,
	}
	clean := *u
	if u.User != nil {
		clean.User = nil
		if s.e.Seal != nil {
			e.Auth = s.e.Seal([]byte(u.User.String()))
		} else {
			s.log.Warn("no sealing key: the URL's credentials are dropped", "kind", kind, "url", redacted(u))
		}
	}
	e.URL = clean.String()
	return e
}

// enqueue writes a callback to the outbox for the workers to deliver. Its answer is ignored.
func (s *session) enqueue(ctx context.Context, kind string, t *translate.Target, params translate.Params) {
	u, body, bodyType := request(t, params)
	e := s.entry(kind, t, u, body, bodyType)
	if err := s.e.enqueueDurable(context.WithoutCancel(ctx), s.log, e); err != nil {
		// The outbox is the store: if it cannot write, nothing else will work either. Say
		// loudly what was lost.
		s.log.Error("callback could not be queued and is lost", "kind", kind, "url", redacted(t.URL), "err", err)
		return
	}
	s.log.Debug("callback queued", "kind", kind, "event_id", e.ID, "url", redacted(t.URL))
	if s.e.Wake != nil {
		s.e.Wake()
	}
}

// send writes a request to the outbox leased to this engine, sends it at once, and waits for
// the answer: the call's flow depends on it (action executed, errorAction). A crash between
// the two leaves the entry for a worker to deliver after the lease.
func (s *session) send(ctx context.Context, kind string, t *translate.Target, params translate.Params) (*Response, error) {
	u, body, bodyType := request(t, params)
	e := s.entry(kind, t, u, body, bodyType)
	e.Owner, e.LeaseEnd = s.e.owner, e.Created.Add(s.e.Config.Outbox.Lease.D())
	octx := context.WithoutCancel(ctx)
	if err := s.e.enqueueDurable(octx, s.log, e); err != nil {
		return nil, fmt.Errorf("queue %s: %w", kind, err)
	}
	resp, err := s.e.Sender.Send(ctx, Request{
		EventID: e.ID, CallID: s.id, Kind: kind, App: s.app.Name, Dialect: s.app.Dialect, Method: t.Method, URL: u,
		Body: body, BodyType: bodyType, Retry: t.Retry, Document: true, Limit: s.app.DocumentLimit,
	})
	if err != nil {
		derr := s.e.retryStore(octx, s.log, "dead", func(ctx context.Context, retried bool) error {
			derr := s.e.Outbox.Dead(ctx, e.ID, s.e.owner, err.Error())
			if retried && errors.Is(derr, ErrNotFound) {
				return nil // an earlier attempt moved it
			}
			return derr
		})
		if derr != nil {
			s.log.Warn("moving failed request to dead letters", "event_id", e.ID, "err", derr)
		}
		return nil, err
	}
	aerr := s.e.retryStore(octx, s.log, "ack", func(ctx context.Context, retried bool) error {
		err := s.e.Outbox.Ack(ctx, e.ID, s.e.owner)
		if retried && errors.Is(err, ErrNotFound) {
			return nil // an earlier attempt acknowledged it
		}
		return err
	})
	if aerr != nil {
		s.log.Warn("acknowledging delivered request", "event_id", e.ID, "err", aerr)
	}
	return resp, nil
}

func (s *session) nextSeq() int64 { return s.seqN.Add(1) }

// sendStatus queues the call's status (hangup) callback, when the app has one.
func (s *session) sendStatus(ctx context.Context) {
	if s.app.StatusURL == "" {
		return
	}
	u, err := url.Parse(s.app.StatusURL)
	if err != nil {
		return // config validation makes this unreachable
	}
	pol, _ := translate.ParseRetryFragment(u.EscapedFragment())
	if u.Fragment == "" {
		pol = translate.DefaultRetryPolicy()
	}
	u.Fragment, u.RawFragment = "", ""
	params, err := translate.DocumentParams(s.app.Dialect, s.callParams())
	if err != nil {
		s.log.Error("rendering status callback", "err", err)
		return
	}
	s.enqueue(ctx, "hangup", &translate.Target{URL: u, Method: translate.Method(s.app.StatusMethod), Retry: pol}, params)
}

// callParams is the call as callbacks report it now.
func (s *session) callParams() translate.CallParams {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	p := s.params
	p.DocumentURL = s.docURL
	return p
}

// documentURL is a document's URL as requests report it (CarrierX RequestUrl) and the store
// keeps it: without userinfo, whose credentials must not leak, nor fragment (retry
// configuration, never sent); its query is part of the document's address and stays.
func documentURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	c.Fragment, c.RawFragment = "", ""
	return c.String()
}

// redacted is a URL fit for logs: no password, no query (it may hold tokens).
func redacted(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	c.RawQuery, c.Fragment, c.RawFragment = "", "", ""
	return c.String()
}
