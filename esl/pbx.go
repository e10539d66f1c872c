package esl

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/percipia/eslgo"
	"github.com/percipia/eslgo/command"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/config"
)

// PBX is one FreeSWITCH node. It implements adapter.PBX.
//
// Calls arrive on the outbound listener: eslgo runs one handler goroutine per socket, which
// becomes the call's goroutine (it runs the engine's handler and returns only after the
// hangup's final events, because eslgo closes the socket when it returns). The inbound
// connection, when configured, is kept up by the health loop.
type PBX struct {
	cfg        config.FreeSWITCH
	log        *slog.Logger
	recordDir  string
	cmdTimeout time.Duration

	// Timings fixed by New; tests shorten them.
	probeEvery  time.Duration // a silent call's socket is probed this often
	healthEvery time.Duration
	reorderHold time.Duration // how long an event waits for a lower Event-Sequence
	linger      time.Duration // how long after hangup we wait for the final events

	runCtx context.Context // ends with Serve

	ready    atomic.Bool
	mu       sync.Mutex
	inbound  *eslgo.Conn
	inMu     sync.Mutex // serialises inbound commands
	notReady string
	calls    sync.WaitGroup

	lnMu    sync.Mutex
	lnErr   chan error // the listener's end; nil until the first Serve
	serving atomic.Pointer[serving]
}

var _ adapter.PBX = (*PBX)(nil)

// New returns the PBX for one freeswitch: entry of the configuration.
func New(cfg config.FreeSWITCH, log *slog.Logger) *PBX {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &PBX{
		cfg: cfg, log: log, recordDir: cfg.RecordDir, cmdTimeout: cfg.CommandTimeout.D(),
		probeEvery: 2 * time.Second, healthEvery: 5 * time.Second, reorderHold: 30 * time.Millisecond,
		linger: 5 * time.Second, runCtx: context.Background(), notReady: "not started",
	}
}

func (p *PBX) Name() string { return p.cfg.Name }

// Ready reports whether the listener is up and, when configured, the inbound connection
// answers.
func (p *PBX) Ready() error {
	if p.ready.Load() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Errorf("esl %s: %s: %w", p.cfg.Name, p.notReady, adapter.ErrPBXDown)
}

func (p *PBX) setNotReady(why string) {
	p.mu.Lock()
	p.notReady = why
	p.mu.Unlock()
	p.ready.Store(false)
}

// Serve listens for FreeSWITCH's outbound sockets and runs h for each call until ctx ends.
//
// eslgo's ListenAndServe cannot be stopped: when ctx ends, calls are cancelled, new sockets
// are refused (listen), and the listening socket stays open until the process exits; a later
// Serve takes calls on it again.
func (p *PBX) Serve(ctx context.Context, h func(ctx context.Context, c adapter.Call)) error {
	if err := os.MkdirAll(p.recordDir, 0o770); err != nil {
		return fmt.Errorf("esl %s: record_dir: %w", p.cfg.Name, err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	p.runCtx = runCtx
	callBase, stopCalls := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopCalls(adapter.ErrPBXDown)
	listenErr, err := p.listen(ctx)
	if err != nil {
		return err
	}
	p.serving.Store(&serving{ctx: runCtx, base: callBase, h: h})
	defer p.serving.Store(nil)
	if p.cfg.Inbound == "" {
		p.ready.Store(true)
	} else {
		go p.health(runCtx)
	}
	p.log.Info("freeswitch: listening for outbound sockets", "listen", p.cfg.Listen, "inbound", p.cfg.Inbound, "record_dir", p.recordDir)
	select {
	case <-ctx.Done():
	case err := <-listenErr:
		p.lnMu.Lock()
		p.lnErr = nil // the next Serve listens again
		p.lnMu.Unlock()
		p.setNotReady("listener stopped")
		return fmt.Errorf("esl %s: listener: %v: %w", p.cfg.Name, err, adapter.ErrPBXDown)
	}
	p.setNotReady("stopped")
	stop()
	p.closeInbound()
	done := make(chan struct{})
	go func() { p.calls.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	return nil
}

// serving is what one Serve hands the listener: while it is set, arriving calls are taken.
type serving struct {
	ctx, base context.Context
	h         func(context.Context, adapter.Call)
}

// listen starts the outbound listener once for the life of the process: eslgo cannot close
// it, and Serve may run again on the same PBX (an instance that loses and regains the PBX's
// lease). A socket that arrives while no Serve runs is refused with `resume`, so that
// FreeSWITCH goes on with its dialplan (the next instance's socket) instead of hanging up.
func (p *PBX) listen(ctx context.Context) (<-chan error, error) {
	p.lnMu.Lock()
	defer p.lnMu.Unlock()
	if p.lnErr != nil {
		return p.lnErr, nil
	}
	// Fail fast on a taken address: the library would only log it.
	if ln, err := net.Listen("tcp", p.cfg.Listen); err != nil {
		return nil, fmt.Errorf("esl %s: listen %s: %w", p.cfg.Name, p.cfg.Listen, err)
	} else {
		_ = ln.Close()
	}
	opts := eslgo.DefaultOutboundOptions
	opts.Options = eslgo.Options{Context: context.WithoutCancel(ctx), Logger: logger{p.log}, ExitTimeout: p.cmdTimeout}
	listenErr := make(chan error, 1)
	go func() {
		listenErr <- opts.ListenAndServe(p.cfg.Listen, func(_ context.Context, conn *eslgo.Conn, connect *eslgo.RawResponse) {
			sv := p.serving.Load()
			if sv == nil || sv.ctx.Err() != nil {
				rctx, cancel := context.WithTimeout(context.Background(), p.cmdTimeout)
				_, _ = conn.SendCommand(rctx, resume{})
				cancel()
				p.log.Warn("freeswitch: call refused: this instance does not serve the PBX now",
					"channel_id", connect.GetHeader("Unique-ID"))
				return
			}
			p.calls.Add(1)
			defer p.calls.Done()
			// the end of this Serve cuts the calls it still runs, as eslgo's base context did
			// when it was the Serve's: an instance that lost the PBX's lease lets go at once
			var running atomic.Pointer[Call]
			h := func(ctx context.Context, c adapter.Call) {
				running.Store(c.(*Call))
				defer running.Store(nil)
				sv.h(ctx, c)
			}
			defer context.AfterFunc(sv.ctx, func() {
				if c := running.Load(); c != nil {
					c.lost() // the handler returns, and closing the socket hangs the channel up
				}
			})()
			p.handle(sv.base, conn, connect, h)
		})
	}()
	p.lnErr = listenErr
	return listenErr, nil
}

// resume asks FreeSWITCH to continue the dialplan when the socket closes.
type resume struct{}

func (resume) BuildMessage() string { return "resume" }

// handle owns one outbound socket: it sets the socket up, runs the engine's handler, and
// returns after the hangup's final events (or a lost socket).
func (p *PBX) handle(base context.Context, conn *eslgo.Conn, connect *eslgo.RawResponse, h func(context.Context, adapter.Call)) {
	uuid := connect.GetHeader("Unique-ID")
	c := &Call{
		p: p, conn: conn, uuid: uuid, log: p.log.With("channel_id", uuid),
		wake: make(chan struct{}, 1), complete: make(chan struct{}), lastEv: time.Now(),
	}
	c.ctx, c.cancel = context.WithCancelCause(base)
	app := connect.GetHeader("variable_pbxbridge_app")
	c.info = adapter.CallInfo{
		ChannelID:  uuid,
		PBX:        p.cfg.Name,
		From:       connect.GetHeader("Caller-Caller-ID-Number"),
		To:         connect.GetHeader("Caller-Destination-Number"),
		CallerName: connect.GetHeader("Caller-Caller-ID-Name"),
		Direction:  "inbound",
		Answered:   connect.GetHeader("Answer-State") == "answered",
		Arrived:    time.Now(),
	}
	if app != "" {
		c.info.AppArgs = []string{app}
	}
	c.answered = c.info.Answered
	ro := newReorder(p.reorderHold, c.apply)
	defer ro.close()
	// eslgo calls this in a new goroutine per event: only decode and queue here
	conn.RegisterEventListener(eslgo.EventListenAll, func(ev *eslgo.Event) {
		e := &event{Name: ev.GetName(), Seq: parseSeq(ev.GetHeader("Event-Sequence")),
			At: parseMicros(ev.GetHeader("Event-Date-Timestamp")), h: map[string]string{}}
		for k := range ev.Headers {
			e.h[k] = ev.GetHeader(k)
		}
		// keys as FreeSWITCH writes them, whatever canonicalisation eslgo applied
		for _, k := range []string{"Unique-ID", "Application-UUID", "Record-File-Path", "Record-Completion-Cause",
			"Hangup-Cause", "Application", "DTMF-Digit", "variable_record_ms", "variable_playback_terminator_used",
			"variable_silence_hits_exhausted"} {
			e.h[k] = ev.GetHeader(k)
		}
		ro.push(e)
	})
	setup := []command.Command{
		// bare linger: eslgo formats Linger.Seconds (a Duration) with %d, so a count would be
		// sent in nanoseconds; without a number FreeSWITCH lingers until we close
		command.Linger{Enabled: true},
		command.MyEvents{Format: "plain"},
		// myevents does not carry RECORD_* or PLAYBACK_*: subscribe to them for this call
		command.Event{Format: "plain", Listen: []string{"RECORD_START", "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP"}},
		command.DivertEvents{Enabled: true},
	}
	for _, cmd := range setup {
		if _, err := c.send(base, "setup", cmd); err != nil {
			c.log.Error("outbound socket setup failed", "err", err)
			c.lost()
			return
		}
	}
	c.log.Info("call arrived", "from", c.info.From, "to", c.info.To, "app", app)
	wctx, stopWatch := context.WithCancel(c.ctx)
	go c.watchdog(wctx)
	h(c.ctx, c)
	stopWatch()
	// the engine is done: hang up if the call is still up, then wait for the final events
	// (CHANNEL_HANGUP_COMPLETE) so that RECORD_STOP of media bugs is seen
	if !c.isHungup() {
		hctx, cancel := context.WithTimeout(base, p.cmdTimeout)
		_ = c.Hangup(hctx, "NORMAL_CLEARING")
		cancel()
	}
	select {
	case <-c.complete:
	case <-time.After(p.linger):
	case <-p.runCtx.Done():
	}
	c.cancel(adapter.ErrHangup)
}

// health keeps the inbound connection up: dial (with our own timeout: eslgo's Dial can hang
// when FreeSWITCH's ACL refuses us), then `api status` every healthEvery; a failure drops
// the connection and dials again.
func (p *PBX) health(ctx context.Context) {
	for ctx.Err() == nil {
		if err := p.checkInbound(ctx); err != nil {
			p.setNotReady(err.Error())
			p.log.Warn("freeswitch inbound connection", "err", err)
			p.closeInbound()
		} else {
			p.ready.Store(true)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(p.healthEvery):
		}
	}
}

func (p *PBX) checkInbound(ctx context.Context) error {
	p.mu.Lock()
	conn := p.inbound
	p.mu.Unlock()
	if conn == nil {
		type dialed struct {
			c   *eslgo.Conn
			err error
		}
		ch := make(chan dialed, 1)
		go func() {
			opts := eslgo.DefaultInboundOptions
			opts.Options = eslgo.Options{Context: ctx, Logger: logger{p.log}, ExitTimeout: p.cmdTimeout}
			opts.Password = p.cfg.Password.Reveal()
			opts.AuthTimeout = p.cfg.ConnectTimeout.D()
			c, err := opts.Dial(p.cfg.Inbound)
			ch <- dialed{c, err}
		}()
		select {
		case d := <-ch:
			if d.err != nil {
				return fmt.Errorf("dial %s: %v: %w", p.cfg.Inbound, d.err, adapter.ErrPBXDown)
			}
			conn = d.c
		case <-time.After(p.cfg.ConnectTimeout.D()):
			go func() {
				if d := <-ch; d.c != nil {
					d.c.Close()
				}
			}()
			return fmt.Errorf("dial %s: no answer in %v: %w", p.cfg.Inbound, p.cfg.ConnectTimeout.D(), adapter.ErrPBXDown)
		}
		p.mu.Lock()
		p.inbound = conn
		p.mu.Unlock()
	}
	_, err := p.api(ctx, "status", "")
	return err
}

// api runs an api command on the inbound connection.
func (p *PBX) api(ctx context.Context, cmd, args string) (string, error) {
	p.mu.Lock()
	conn := p.inbound
	p.mu.Unlock()
	if conn == nil {
		return "", fmt.Errorf("esl %s: no inbound connection: %w", p.cfg.Name, adapter.ErrPBXDown)
	}
	p.inMu.Lock()
	defer p.inMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, p.cmdTimeout)
	defer cancel()
	res, err := conn.SendCommand(ctx, command.API{Command: cmd, Arguments: args})
	if err != nil {
		return "", fmt.Errorf("esl %s: api %s: %v: %w", p.cfg.Name, cmd, err, adapter.ErrPBXDown)
	}
	body := string(res.Body)
	if len(body) >= 4 && body[:4] == "-ERR" {
		return body, &Error{Op: "api " + cmd, Reply: body}
	}
	return body, nil
}

func (p *PBX) closeInbound() {
	p.mu.Lock()
	conn := p.inbound
	p.inbound = nil
	p.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
}

// logger sends eslgo's messages to slog at debug level (the library is chatty and logs
// per-connection noise at info).
type logger struct{ l *slog.Logger }

func (l logger) Debug(f string, a ...any) { l.l.Debug("eslgo: " + fmt.Sprintf(f, a...)) }
func (l logger) Info(f string, a ...any)  { l.l.Debug("eslgo: " + fmt.Sprintf(f, a...)) }
func (l logger) Warn(f string, a ...any)  { l.l.Debug("eslgo: " + fmt.Sprintf(f, a...)) }
func (l logger) Error(f string, a ...any) { l.l.Warn("eslgo: " + fmt.Sprintf(f, a...)) }
