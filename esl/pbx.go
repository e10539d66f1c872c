package esl

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
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
// Calls arrive on the outbound listener (ours; each socket is handed to eslgo's connection
// handling, socket.go): one handler goroutine per socket becomes the call's goroutine (it runs the engine's handler and returns only after the
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
	draining atomic.Bool // Drain was called: the listener is closed
	ln       net.Listener
	mu       sync.Mutex
	inbound  *sock
	inMu     sync.Mutex // serialises inbound commands
	notReady string
	calls    sync.WaitGroup
}

var (
	_ adapter.PBX     = (*PBX)(nil)
	_ adapter.Drainer = (*PBX)(nil)
	_ adapter.Labeler = (*Call)(nil)
)

// LabelLog adds the engine's call_id and app to every later line of the call's log.
func (c *Call) LabelLog(attrs ...slog.Attr) { c.label(attrs...) }

// Drain stops taking new calls: the outbound listener closes, so FreeSWITCH's `socket`
// application fails to connect and the dialplan goes on to its next action (another
// pbxbridge's socket line, or whatever the admin put there), as for an HA standby. The calls
// in progress keep their sockets until Serve's context ends. A socket accepted just before
// the close is told to resume the dialplan and closed.
func (p *PBX) Drain() {
	if p.draining.Swap(true) {
		return
	}
	p.mu.Lock()
	ln := p.ln
	p.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	p.log.Info("freeswitch draining: outbound listener closed", "listen", p.cfg.Listen)
}

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
// Then it closes the listener, drops the inbound connection, and waits (up to 10 s) for the
// calls' handlers to return; their sockets are closed, which FreeSWITCH takes as the end of
// each call.
func (p *PBX) Serve(ctx context.Context, h func(ctx context.Context, c adapter.Call)) error {
	if err := os.MkdirAll(p.recordDir, 0o770); err != nil {
		return fmt.Errorf("esl %s: record_dir: %w", p.cfg.Name, err)
	}
	ln, err := net.Listen("tcp", p.cfg.Listen)
	if err != nil {
		return fmt.Errorf("esl %s: listen %s: %w", p.cfg.Name, p.cfg.Listen, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	if p.draining.Load() {
		_ = ln.Close()
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	p.runCtx = runCtx
	callBase, stopCalls := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopCalls(adapter.ErrPBXDown)

	listenErr := make(chan error, 1)
	go func() {
		listenErr <- p.serveOutbound(runCtx, ln, func(s *sock, connect *eslgo.RawResponse) {
			if runCtx.Err() != nil {
				return
			}
			if p.draining.Load() {
				p.log.Info("draining: new call sent back to the dialplan", "channel_id", connect.GetHeader("Unique-ID"))
				s.resume(p.cmdTimeout)
				return
			}
			p.calls.Add(1)
			defer p.calls.Done()
			p.handle(callBase, s, connect, h)
		})
	}()
	if p.cfg.Inbound == "" {
		p.ready.Store(true)
	} else {
		go p.health(runCtx)
	}
	p.log.Info("freeswitch: listening for outbound sockets", "listen", ln.Addr().String(), "inbound", p.cfg.Inbound, "record_dir", p.recordDir)
	select {
	case <-ctx.Done():
		_ = ln.Close()
		<-listenErr
	case err := <-listenErr:
		if err != nil || !p.draining.Load() {
			_ = ln.Close()
			p.setNotReady("listener stopped")
			return fmt.Errorf("esl %s: listener: %v: %w", p.cfg.Name, err, adapter.ErrPBXDown)
		}
		<-ctx.Done() // drained: the calls in progress go on until Serve is told to stop
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

// handle owns one outbound socket: it sets the socket up, runs the engine's handler, and
// returns after the hangup's final events (or a lost socket); the socket is closed after.
func (p *PBX) handle(base context.Context, s *sock, connect *eslgo.RawResponse, h func(context.Context, adapter.Call)) {
	uuid := connect.GetHeader("Unique-ID")
	conn := s.conn
	c := &Call{
		p: p, sock: s, conn: conn, uuid: uuid,
		wake: make(chan struct{}, 1), complete: make(chan struct{}), lastEv: time.Now(),
	}
	c.log, c.label = adapter.NewCallLog(p.log.With("channel_id", uuid))
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
			"variable_silence_hits_exhausted", "variable_sip_hangup_disposition", "variable_sip_term_status"} {
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
	// Serve's end closes the socket: FreeSWITCH hangs the channel up, and the call ends here
	// as on any lost socket
	defer context.AfterFunc(p.runCtx, c.lost)()
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
		s, err := p.dialInbound(ctx, p.cfg.Inbound, p.cfg.Password.Reveal(), p.cfg.ConnectTimeout.D())
		if err != nil {
			return fmt.Errorf("dial %s: %w: %w", p.cfg.Inbound, err, adapter.ErrPBXDown)
		}
		p.mu.Lock()
		p.inbound = s
		p.mu.Unlock()
	}
	if _, err := p.api(ctx, "status", ""); err != nil {
		return err
	}
	if p.cfg.RecordTransfer == config.RecordHTTP {
		// without mod_http_cache FreeSWITCH cannot open http_cache:// and the record
		// application hangs the call up: refuse calls instead
		body, err := p.api(ctx, "module_exists", "mod_http_cache")
		if err != nil {
			return err
		}
		if strings.TrimSpace(body) != "true" {
			return fmt.Errorf("record_transfer http needs mod_http_cache, which FreeSWITCH has not loaded: %w", adapter.ErrPBXDown)
		}
	}
	return nil
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
	res, err := conn.conn.SendCommand(ctx, command.API{Command: cmd, Arguments: args})
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
		conn.close()
	}
}

// logger sends eslgo's messages to slog at debug level (the library is chatty and logs
// per-connection noise at info).
type logger struct{ l *slog.Logger }

func (l logger) Debug(f string, a ...any) { l.l.Debug("eslgo: " + fmt.Sprintf(f, a...)) }
func (l logger) Info(f string, a ...any)  { l.l.Debug("eslgo: " + fmt.Sprintf(f, a...)) }
func (l logger) Warn(f string, a ...any)  { l.l.Debug("eslgo: " + fmt.Sprintf(f, a...)) }
func (l logger) Error(f string, a ...any) { l.l.Warn("eslgo: " + fmt.Sprintf(f, a...)) }
