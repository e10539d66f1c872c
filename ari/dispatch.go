package ari

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/CyCoreSystems/ari/v6"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// The dispatcher is the only reader of the inbox. It routes each event, in arrival order, to
// the mailbox of the call it belongs to: by channel id (the call's own channel and the snoops
// it created), by recording name, or by playback id. Recording and playback events carry no
// channel id, which is why every name and id we create is registered here before the
// command that creates it is sent.

// startKind is what a StasisStart means.
type startKind int

const (
	startNew     startKind = iota // a call: hand it to the handler
	startOwned                    // a snoop we created: its call's recording waits for it
	startKnown                    // a call we already have (a duplicate after a reconnect)
	startOrphan                   // one of our snoops that nobody waits for: hang it up
	startForeign                  // not ours: the ;2 half of a Local pair
)

func (k startKind) String() string {
	return [...]string{"new", "owned", "known", "orphan-snoop", "foreign"}[k]
}

// classifyStart decides what a StasisStart is. Callers hold rmu.
func (p *PBX) classifyStart(e *evt) (startKind, *call) {
	if c := p.calls[e.Channel]; c != nil {
		return startKnown, c
	}
	if r := p.chans[e.Channel]; r != nil {
		return startOwned, r.c
	}
	if strings.HasPrefix(e.ChannelName, "Snoop/") || len(e.Args) > 0 && (e.Args[0] == snoopMarker || e.Args[0] == dialMarker) {
		return startOrphan, nil
	}
	if isLocalSecondHalf(e.ChannelName, e.Channel) {
		return startForeign, nil
	}
	return startNew, nil
}

// lookup finds the call an event belongs to, nil if none. Callers hold rmu.
func (p *PBX) lookup(e *evt) *call {
	switch {
	case e.Recording != "":
		if r := p.recs[e.Recording]; r != nil {
			return r.c
		}
	case e.Playback != "":
		if r := p.pbs[e.Playback]; r != nil {
			return r.c
		}
	case e.Channel != "":
		if c := p.calls[e.Channel]; c != nil {
			return c
		}
		if r := p.chans[e.Channel]; r != nil {
			return r.c
		}
	}
	return nil
}

func (p *PBX) dispatcher(h func(context.Context, adapter.Call)) {
	defer p.wg.Done()
	for {
		e, err := p.inbox.next(p.runCtx)
		if err != nil {
			return
		}
		p.dispatch(e, h)
	}
}

func (p *PBX) dispatch(e evt, h func(context.Context, adapter.Call)) {
	if p.hook != nil {
		p.hook(e)
	}
	p.rmu.Lock()
	if e.Type == evChannelUserevent {
		if ch := p.pings[e.UserEvent]; ch != nil {
			delete(p.pings, e.UserEvent)
			close(ch)
		}
		p.rmu.Unlock()
		return
	}
	if e.Type != evStasisStart {
		c := p.lookup(&e)
		p.rmu.Unlock()
		if c != nil {
			c.mbox.push(e)
		}
		return
	}
	kind, c := p.classifyStart(&e)
	if kind == startNew && p.draining.Load() {
		p.rmu.Unlock()
		p.refuse(e)
		return
	}
	if kind == startNew {
		c = p.newCall(e)
		p.calls[e.Channel] = c
	}
	p.rmu.Unlock()

	switch kind {
	case startNew:
		p.st.calls.Add(1)
		c.log.Info("call arrived", "name", e.ChannelName, "state", e.ChannelState, "from", e.CallerNumber, "args", e.Args)
		p.wg.Add(1)
		go c.loop()
		p.handlers.Add(1)
		go c.runHandler(h)
	case startOwned, startKnown:
		c.mbox.push(e)
	case startOrphan:
		p.log.Warn("snoop channel nobody waits for: hanging it up", "channel_id", e.Channel, "name", e.ChannelName)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), p.cmdTimeout)
			defer cancel()
			_ = p.hangupChannel(ctx, e.Channel, causeNormal)
		}()
	case startForeign:
		p.log.Debug("ignoring StasisStart of a channel we do not own", "channel_id", e.Channel, "name", e.ChannelName)
	}
}

// routeKind names a routing table.
type routeKind int

const (
	routeChannel routeKind = iota
	routeRecording
	routePlayback
)

func (p *PBX) table(k routeKind) map[string]*route {
	switch k {
	case routeChannel:
		return p.chans
	case routeRecording:
		return p.recs
	default:
		return p.pbs
	}
}

// own registers a resource of c before the command that creates it is sent.
func (p *PBX) own(c *call, k routeKind, id string) {
	p.rmu.Lock()
	p.table(k)[id] = &route{c: c}
	p.rmu.Unlock()
}

// confirm marks a resource as accepted by Asterisk.
func (p *PBX) confirm(k routeKind, id string) {
	p.rmu.Lock()
	if r := p.table(k)[id]; r != nil {
		r.confirmed = true
	}
	p.rmu.Unlock()
}

// disown forgets a resource; later events about it are dropped.
func (p *PBX) disown(k routeKind, id string) {
	p.rmu.Lock()
	delete(p.table(k), id)
	p.rmu.Unlock()
}

func (p *PBX) forgetCall(c *call) {
	p.rmu.Lock()
	if p.calls[c.id] == c {
		delete(p.calls, c.id)
	}
	p.rmu.Unlock()
}

// reconcile compares what we track with what Asterisk has, after events may have been lost:
// a call or snoop whose channel is gone, a live recording or playback that no longer exists,
// each gets a synthetic event through the inbox, so it reaches its call in order with the
// real events that did arrive.
func (p *PBX) reconcile(ctx context.Context) error {
	p.st.reconciles.Add(1)
	var keys []*ari.Key
	err := p.cmd(ctx, "list channels", ErrCommand, ErrCommand, func(cl ari.Client) error {
		var err error
		keys, err = cl.Channel().List(nil)
		return err
	})
	if err != nil {
		return err
	}
	alive := make(map[string]bool, len(keys))
	for _, k := range keys {
		alive[k.ID] = true
	}
	var gone []string
	var recs, pbs []string
	p.rmu.Lock()
	for id := range p.calls {
		if !alive[id] {
			gone = append(gone, id)
		}
	}
	for id, r := range p.chans {
		if r.confirmed && !alive[id] {
			gone = append(gone, id)
		}
	}
	for name, r := range p.recs {
		if r.confirmed {
			recs = append(recs, name)
		}
	}
	for id, r := range p.pbs {
		if r.confirmed {
			pbs = append(pbs, id)
		}
	}
	p.rmu.Unlock()

	now := time.Now()
	for _, id := range gone {
		p.inbox.push(evt{Type: synChannelGone, At: now, Channel: id, Synthetic: true})
	}
	for _, name := range recs {
		if p.missing(ctx, "/recordings/live/"+url.PathEscape(name)) {
			p.inbox.push(evt{Type: synRecordingGone, At: now, Recording: name, Synthetic: true})
		}
	}
	for _, id := range pbs {
		if p.missing(ctx, "/playbacks/"+url.PathEscape(id)) {
			p.inbox.push(evt{Type: synPlaybackGone, At: now, Playback: id, Synthetic: true})
		}
	}
	p.log.Info("reconciled with Asterisk", "channels", len(keys), "gone", len(gone), "recordings", len(recs), "playbacks", len(pbs))
	p.reportStrays(ctx)
	return nil
}

// reportStrays logs channels that sit in our application without us knowing them: a call
// whose StasisStart was lost, or one left by a previous process. They are not adopted (the
// document would start over mid-call) nor hung up (a shared application may own them);
// an operator should look.
func (p *PBX) reportStrays(ctx context.Context) {
	var ids []string
	err := p.cmd(ctx, "get application "+p.cfg.Application, ErrCommand, ErrCommand, func(cl ari.Client) error {
		d, err := cl.Application().Data(ari.NewKey(ari.ApplicationKey, p.cfg.Application))
		if err == nil {
			ids = d.ChannelIDs
		}
		return err
	})
	if err != nil {
		return
	}
	p.rmu.Lock()
	var strays []string
	for _, id := range ids {
		if p.calls[id] == nil && p.chans[id] == nil && !isLocalSecondHalf("", id) {
			strays = append(strays, id)
		}
	}
	p.rmu.Unlock()
	if len(strays) > 0 {
		p.log.Warn("channels in our application that no call owns", "channel_ids", strays)
	}
}

// missing reports a resource that answers 404. Any other outcome counts as present: a
// reconcile must never end something that may still run.
func (p *PBX) missing(ctx context.Context, path string) bool {
	st, _, err := p.raw(ctx, http.MethodGet, path, nil, 0)
	return err == nil && st == http.StatusNotFound
}
