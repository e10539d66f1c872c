package ari

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/CyCoreSystems/ari/v6"
	"github.com/CyCoreSystems/ari/v6/client/native"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/config"
)

// snoopMarker is the first appArgs of every snoop channel we create. Together with the
// "Snoop/" name prefix it lets the dispatcher recognise a snoop whose StasisStart arrives
// after its recording was given up (or from a previous process), so that it is never taken
// for a new call.
const snoopMarker = "pbxbridge-snoop"

// maxInflight is how many REST requests may be outstanding at once, well under Asterisk's
// default HTTP sessionlimit of 100: past it, Asterisk closes new connections (observed with
// 80 simultaneous stereo recordings: EOF on every kind of request).
const maxInflight = 32

// PBX is one Asterisk reached over ARI. It implements adapter.PBX.
//
// Goroutines: Serve runs the health loop; one goroutine drains the library's bus into inbox;
// one dispatcher routes inbox events to calls; each call has a loop goroutine (its mailbox)
// and a handler goroutine. Routing tables are guarded by rmu; everything else a call owns is
// guarded by the call.
type PBX struct {
	cfg         config.Asterisk
	log         *slog.Logger
	restURL     string
	cmdTimeout  time.Duration
	connTimeout time.Duration
	http        *http.Client
	// inflight bounds concurrent REST requests: Asterisk's HTTP server serves at most
	// sessionlimit (default 100) connections and drops the rest, the websocket included.
	inflight chan struct{}

	// Timings, fixed by New; tests shorten them.
	healthEvery  time.Duration // between health pings
	replaceAfter time.Duration // failing this long, the library client is replaced
	hangupGrace  time.Duration // how long a recording waits for RecordingFinished after hangup
	stopGrace    time.Duration // how long Serve waits for handlers when it stops

	served   atomic.Bool
	draining atomic.Bool // Drain was called: new calls go back to the dialplan
	ready    atomic.Bool
	lost     atomic.Bool // the library reported a lost websocket since the last reconcile
	drops    atomic.Bool // a bus buffer was seen full since the last reconcile

	mu       sync.Mutex
	cl       ari.Client
	clStop   context.CancelFunc // ends cl's websocket
	sub      ari.Subscription
	notReady string // why Ready fails

	inbox *queue[evt]

	rmu   sync.Mutex
	calls map[string]*call  // by the call's channel id
	chans map[string]*route // snoop channels we created
	recs  map[string]*route // live recordings by name
	pbs   map[string]*route // playbacks by id
	pings map[string]chan struct{}

	callBase  context.Context // parent of every call's context
	stopCalls context.CancelCauseFunc
	runCtx    context.Context // ends the dispatcher and call loops
	stopRun   context.CancelFunc
	wg        sync.WaitGroup // internal goroutines
	handlers  sync.WaitGroup // handler goroutines

	st stats

	// hook, when set before Serve, sees every event the dispatcher handles (tests).
	hook func(evt)
}

// route ties a resource we created to its call. Confirmed once Asterisk accepted the
// command that created it: only then may a reconcile conclude from its absence that it ended.
type route struct {
	c         *call
	confirmed bool
}

type stats struct {
	events     atomic.Uint64
	busFull    atomic.Uint64
	reconnects atomic.Uint64
	reconciles atomic.Uint64
	calls      atomic.Uint64
}

// Stats are counters for metrics.
type Stats struct {
	Events uint64 // events received from the bus
	// BusFull counts receives that found the library's 100-slot subscription buffer full.
	// Its bus drops silently and only when full, so 0 proves that no event was dropped; each
	// count is one possible drop and triggers a reconcile.
	BusFull    uint64
	Reconnects uint64 // websocket losses the library reported
	Reconciles uint64
	Calls      uint64 // calls handed to the handler
	InboxPeak  int    // largest inbox backlog seen
}

var (
	_ adapter.PBX     = (*PBX)(nil)
	_ adapter.Drainer = (*PBX)(nil)
)

// New returns a PBX for one Asterisk. It does not connect: Serve does.
func New(cfg config.Asterisk, log *slog.Logger) *PBX {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &PBX{
		cfg:         cfg,
		log:         log, // the caller names the PBX (cmd adds pbx=<name>)
		restURL:     strings.TrimRight(cfg.URL, "/"),
		cmdTimeout:  cfg.CommandTimeout.D(),
		connTimeout: cfg.ConnectTimeout.D(),
		http:        &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: maxInflight, IdleConnTimeout: 20 * time.Second}},
		inflight:    make(chan struct{}, maxInflight),
		healthEvery: time.Second,
		hangupGrace: 3 * time.Second,
		inbox:       newQueue[evt](),
		calls:       map[string]*call{},
		chans:       map[string]*route{},
		recs:        map[string]*route{},
		pbs:         map[string]*route{},
		pings:       map[string]chan struct{}{},
		notReady:    "not started",
		callBase:    context.Background(),
		stopCalls:   func(error) {},
		runCtx:      context.Background(),
		stopRun:     func() {},
	}
	if p.cmdTimeout <= 0 {
		p.cmdTimeout = 5 * time.Second
	}
	if p.connTimeout <= 0 {
		p.connTimeout = 10 * time.Second
	}
	p.replaceAfter = max(3*p.connTimeout, 15*time.Second)
	p.stopGrace = 2*p.cmdTimeout + time.Second
	return p
}

// Name is the configured name of this Asterisk.
func (p *PBX) Name() string { return p.cfg.Name }

// Ready reports whether the websocket is up, the application registered, and events flow
// (the last health ping came back through the websocket).
func (p *PBX) Ready() error {
	if p.ready.Load() {
		return nil
	}
	p.mu.Lock()
	why := p.notReady
	p.mu.Unlock()
	return fmt.Errorf("%s: %w", why, adapter.ErrPBXDown)
}

func (p *PBX) setReady(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		if !p.ready.Load() {
			p.log.Info("ARI ready", "app", p.cfg.Application)
		}
		p.ready.Store(true)
		p.notReady = ""
		return
	}
	if p.ready.Load() {
		p.log.Warn("ARI not ready", "err", err)
	}
	p.ready.Store(false)
	p.notReady = err.Error()
}

// Stats returns the counters.
func (p *PBX) Stats() Stats {
	return Stats{
		Events:     p.st.events.Load(),
		BusFull:    p.st.busFull.Load(),
		Reconnects: p.st.reconnects.Load(),
		Reconciles: p.st.reconciles.Load(),
		Calls:      p.st.calls.Load(),
		InboxPeak:  p.inbox.maxLen(),
	}
}

func (p *PBX) client() ari.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cl
}

// Serve connects, waits until Asterisk has registered the application, then hands each new
// call to h until ctx is done. Only the first connection can fail Serve: after that, lost
// websockets and Asterisk restarts are survived (the library reconnects; Serve replaces the
// client if that takes longer than replaceAfter) and live calls are reconciled.
func (p *PBX) Serve(ctx context.Context, h func(ctx context.Context, c adapter.Call)) error {
	if !p.served.CompareAndSwap(false, true) {
		return errors.New("ari: Serve called twice")
	}
	p.runCtx, p.stopRun = context.WithCancel(ctx)
	p.callBase, p.stopCalls = context.WithCancelCause(context.WithoutCancel(ctx))

	if err := p.connect(ctx); err != nil {
		p.setReady(err)
		p.stopRun()
		return err
	}
	p.wg.Add(1)
	go p.dispatcher(h)

	err := p.waitRegistered(ctx)
	if err == nil {
		p.health(ctx)
	}
	p.shutdown()
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// connect makes a library client and connects it within ConnectTimeout. The library's own
// connect retries every second forever, so a watchdog bounds it; on timeout its goroutine is
// told to stop through the websocket context and ends within a second.
func (p *PBX) connect(ctx context.Context) error {
	lifetime, stop := context.WithCancel(context.Background())
	cl := native.New(&native.Options{
		Application:  p.cfg.Application,
		URL:          p.restURL,
		WebsocketURL: p.cfg.WebsocketURL,
		Username:     p.cfg.Username,
		Password:     p.cfg.Password.Reveal(),
		Logger:       newLibLogger(p.log.Handler(), p.onLost),
	})
	done := make(chan error, 1)
	go func() { done <- cl.ConnectWithContext(lifetime) }()
	t := time.NewTimer(p.connTimeout)
	defer t.Stop()
	var err error
	select {
	case err = <-done:
	case <-t.C:
		err = fmt.Errorf("no websocket to %s within %s", redactURL(p.cfg.WebsocketURL), p.connTimeout)
	case <-ctx.Done():
		err = context.Cause(ctx)
	}
	if err != nil {
		stop()
		return &Error{Op: "connect", Kind: adapter.ErrPBXDown, Msg: err.Error()}
	}
	// Subscribe with a nil key to every type we act on, and drain at once: events must
	// never wait in the library's bounded buffer.
	sub := cl.Bus().Subscribe(nil, subscribedTypes()...)
	p.mu.Lock()
	p.cl, p.clStop, p.sub = cl, stop, sub
	p.mu.Unlock()
	p.wg.Add(1)
	go p.drain(sub)
	p.log.Info("ARI websocket connected", "url", redactURL(p.cfg.WebsocketURL), "app", p.cfg.Application)
	return nil
}

// closeClient drops the current client: cancelling its context ends its websocket loop,
// and cancelling our subscription ends the drain goroutine. The library's Close is not
// used: it writes a flag its websocket goroutine writes too (a data race).
func (p *PBX) closeClient() {
	p.mu.Lock()
	cl, stop, sub := p.cl, p.clStop, p.sub
	p.cl, p.clStop, p.sub = nil, nil, nil
	p.mu.Unlock()
	if cl == nil {
		return
	}
	sub.Cancel()
	stop()
}

func (p *PBX) onLost() {
	if !p.lost.Swap(true) {
		p.st.reconnects.Add(1)
		p.setReady(errors.New("websocket lost; the library is reconnecting"))
	}
}

// drain moves events from the library's subscription into the inbox, and nothing else, so
// that the library's buffer (busBuffer) stays empty.
func (p *PBX) drain(sub ari.Subscription) {
	defer p.wg.Done()
	ch := sub.Events()
	for e := range ch {
		p.st.events.Add(1)
		// The bus drops only when this buffer is full, and only we empty it: if it was not
		// full at this receive, nothing was dropped since the previous one.
		if len(ch)+1 >= cap(ch) {
			if p.st.busFull.Add(1) == 1 || !p.drops.Load() {
				p.log.Warn("ARI event buffer was full: events may have been dropped; will reconcile")
			}
			p.drops.Store(true)
		}
		if v, ok := fromARI(e); ok {
			p.inbox.push(v)
		}
	}
}

// waitRegistered polls GET /applications/{app} until Asterisk knows the app, then pings it:
// an originate issued before that races the registration and its events never arrive.
func (p *PBX) waitRegistered(ctx context.Context) error {
	deadline := time.Now().Add(p.connTimeout)
	var last error
	for time.Now().Before(deadline) {
		last = p.cmd(ctx, "get application "+p.cfg.Application, ErrCommand, ErrCommand, func(cl ari.Client) error {
			_, err := cl.Application().Data(ari.NewKey(ari.ApplicationKey, p.cfg.Application))
			return err
		})
		if last == nil {
			if last = p.ping(ctx); last == nil {
				p.setReady(nil)
				return nil
			}
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(100 * time.Millisecond):
		}
	}
	err := fmt.Errorf("application %q not registered within %s: %w", p.cfg.Application, p.connTimeout, last)
	p.setReady(err)
	return err
}

// health pings every healthEvery. A failed ping makes the PBX not ready; the first good
// ping after a failure, a reported websocket loss or a full bus buffer triggers a reconcile,
// because events were lost in the gap. A client that fails for replaceAfter is replaced.
func (p *PBX) health(ctx context.Context) {
	t := time.NewTicker(p.healthEvery)
	defer t.Stop()
	lastOK := time.Now()
	stale := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if p.client() == nil {
			if err := p.connect(ctx); err != nil {
				p.setReady(err)
				continue
			}
		}
		if err := p.ping(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			p.setReady(err)
			stale = true
			if time.Since(lastOK) > p.replaceAfter {
				p.log.Warn("ARI unhealthy too long: replacing the client", "since", time.Since(lastOK).Round(time.Second))
				p.closeClient()
				lastOK = time.Now()
			}
			continue
		}
		lastOK = time.Now()
		if p.lost.Swap(false) || p.drops.Swap(false) || stale {
			if err := p.reconcile(ctx); err != nil {
				p.log.Warn("reconcile failed; will retry", "err", err)
				stale = true
				continue
			}
			stale = false
		}
		p.setReady(nil)
	}
}

// ping sends a user event to our own application and waits for it to come back through the
// websocket: that proves the connection, the registration and our event path at once.
func (p *PBX) ping(ctx context.Context) error {
	name := "pbxbridge-ping-" + newID()
	seen := make(chan struct{})
	p.rmu.Lock()
	p.pings[name] = seen
	p.rmu.Unlock()
	defer func() {
		p.rmu.Lock()
		delete(p.pings, name)
		p.rmu.Unlock()
	}()
	q := map[string][]string{"application": {p.cfg.Application}}
	if err := p.rawCmd(ctx, "ping", http.MethodPost, "/events/user/"+name, q, ErrCommand, ErrCommand); err != nil {
		return err
	}
	t := time.NewTimer(p.cmdTimeout)
	defer t.Stop()
	select {
	case <-seen:
		return nil
	case <-t.C:
		return fmt.Errorf("health ping sent but not received within %s: websocket down", p.cmdTimeout)
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// shutdown ends every call's context with ErrPBXDown, gives handlers stopGrace to return,
// then closes the client and waits for the internal goroutines.
func (p *PBX) shutdown() {
	p.setReady(errors.New("stopped"))
	p.stopCalls(fmt.Errorf("asterisk %s: serve stopped: %w", p.cfg.Name, adapter.ErrPBXDown))
	done := make(chan struct{})
	go func() { p.handlers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(p.stopGrace):
		p.log.Warn("call handlers still running after shutdown grace; not waiting")
	}
	p.stopRun()
	p.closeClient()
	p.wg.Wait()
	p.http.CloseIdleConnections()
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func redactURL(s string) string {
	if i := strings.Index(s, "@"); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "xxx" + s[i:]
		}
	}
	return s
}
