package ari

import (
	"context"
	"net/http"
	"net/url"
)

// Drain stops taking new calls; the calls in progress go on, and Serve keeps the websocket
// (their events need it) until its context ends.
//
// A new call's StasisStart during the drain is answered with POST /channels/{id}/continue:
// the channel leaves Stasis and the dialplan goes on at the priority after Stasis(), as when
// no pbxbridge is connected at all (Stasis() fails then). The admin decides there what a
// refused call becomes: the documented `same => n,Hangup()` ends it (normal clearing), and a
// Dial to another pbxbridge's Asterisk or a Goto elsewhere sends it on. Hanging it up
// ourselves would take that choice away; leaving it in Stasis unanswered would hold the
// caller until the process exits.
func (p *PBX) Drain() {
	if !p.draining.Swap(true) {
		p.log.Info("ARI draining: new calls go back to the dialplan", "app", p.cfg.Application)
	}
}

// refuse sends a new call's channel back to the dialplan (Drain). Called by the dispatcher,
// which must not block on REST: the request runs in its own goroutine.
func (p *PBX) refuse(e evt) {
	p.log.Info("draining: new call sent back to the dialplan", "channel_id", e.Channel, "from", e.CallerNumber, "args", e.Args)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), p.cmdTimeout)
		defer cancel()
		err := p.rawCmd(ctx, "continue channel "+e.Channel, http.MethodPost, "/channels/"+url.PathEscape(e.Channel)+"/continue", nil, ErrCommand, ErrCommand)
		if err != nil {
			p.log.Warn("draining: could not send the call back to the dialplan; hanging it up", "channel_id", e.Channel, "err", err)
			_ = p.hangupChannel(ctx, e.Channel, causeNormal)
		}
	}()
}
