package esl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/percipia/eslgo"
	"github.com/percipia/eslgo/command"
	"github.com/percipia/eslgo/command/call"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// Call is one FreeSWITCH channel handed to us on an outbound socket.
//
// Goroutines: eslgo's listener goroutines push events into the reorder buffer; the buffer
// delivers them in Event-Sequence order to apply (state) and into the mailbox, which the
// method running on the call's goroutine reads. Commands on the socket are serialised by cmdMu.
type Call struct {
	p     *PBX
	sock  *sock
	conn  *eslgo.Conn // sock.conn
	uuid  string
	info  adapter.CallInfo
	log   *slog.Logger
	label func(...slog.Attr) // labels log with the engine's call_id and app (LabelLog)

	ctx    context.Context
	cancel context.CancelCauseFunc

	cmdMu sync.Mutex // one command at a time: eslgo matches replies by arrival order

	mu       sync.Mutex
	mbox     []*event
	wake     chan struct{}
	answered bool
	hungup   bool
	cause    string
	// hangupSent: we asked FreeSWITCH to hang up (its CHANNEL_HANGUP may not be here yet)
	hangupSent bool
	sentCause  string             // the cause we asked for, with hangupSent
	end        adapter.HangupInfo // how the call ended, set at the first CHANNEL_HANGUP
	complete   chan struct{}      // closed at CHANNEL_HANGUP_COMPLETE
	lastEv     time.Time
	seq        int
	watchers   map[int]func(*event) // background recordings; called in order, must not block
}

var (
	_ adapter.Call           = (*Call)(nil)
	_ adapter.HangupReporter = (*Call)(nil)
)

// apply runs for each event in order, before it reaches the mailbox.
func (c *Call) apply(e *event) {
	c.mu.Lock()
	c.lastEv = time.Now()
	switch e.Name {
	case "CHANNEL_ANSWER":
		c.answered = true
	case "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE":
		if !c.hungup {
			c.hungup = true
			c.cause = e.get("Hangup-Cause")
			c.end = hangupInfo(e, c.sentCause)
			defer c.cancel(adapter.ErrHangup)
		}
		if e.Name == "CHANNEL_HANGUP_COMPLETE" {
			select {
			case <-c.complete:
			default:
				close(c.complete)
			}
		}
	}
	for _, w := range c.watchers {
		w(e)
	}
	c.mbox = append(c.mbox, e)
	if len(c.mbox) > 4096 { // nobody is reading: keep the newest
		c.mbox = c.mbox[len(c.mbox)-4096:]
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
	c.mu.Unlock()
}

// clearMailbox drops events no method waited for; called before a method sends its command.
func (c *Call) clearMailbox() {
	c.mu.Lock()
	c.mbox = nil
	c.mu.Unlock()
}

// isHungupLocked is isHungup for code already holding c.mu (event watchers).
func (c *Call) isHungupLocked() bool { return c.hungup }

func (c *Call) isHungup() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hungup
}

func (c *Call) hangupErr() error {
	return fmt.Errorf("esl: channel %s: %w", c.uuid, adapter.ErrHangup)
}

// Info may be called from any goroutine.
func (c *Call) Info() adapter.CallInfo { return c.info }

// send runs one command with a deadline, serialised with the call's other commands. A
// timeout means the socket is dead or FreeSWITCH stuck: ErrPBXDown. "-ERR" replies are errors.
func (c *Call) send(ctx context.Context, op string, cmd command.Command) (string, error) {
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, c.p.cmdTimeout)
	defer cancel()
	res, err := c.conn.SendCommand(ctx, cmd)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			// eslgo matches replies by arrival order: the late reply would be taken for the
			// next command's. The socket cannot be trusted any more: drop it (FreeSWITCH
			// then hangs the channel up) and treat the call as gone.
			c.log.Warn("event socket command timed out; dropping the socket", "op", op, "timeout", c.p.cmdTimeout)
			c.sock.close()
			c.lost()
		}
		if c.isHungup() {
			return "", fmt.Errorf("esl: %s: %w", op, adapter.ErrHangup)
		}
		return "", fmt.Errorf("esl: %s: %v: %w", op, err, adapter.ErrPBXDown)
	}
	reply := res.GetReply()
	if reply == "" {
		reply = strings.TrimSpace(string(res.Body))
	}
	if strings.HasPrefix(reply, "-ERR") || strings.HasPrefix(reply, "-USAGE") {
		return reply, &Error{Op: op, Reply: reply}
	}
	return reply, nil
}

// Error is a command FreeSWITCH refused ("-ERR ..." reply).
type Error struct {
	Op    string
	Reply string
}

func (e *Error) Error() string { return "esl: " + e.Op + ": " + e.Reply }

// ErrRefused is what every *Error unwraps to.
var ErrRefused = errors.New("refused by FreeSWITCH")

func (e *Error) Unwrap() error { return ErrRefused }

func (c *Call) newAppUUID() string {
	c.mu.Lock()
	c.seq++
	n := c.seq
	c.mu.Unlock()
	return fmt.Sprintf("%s-%d", c.uuid, n)
}

// execute runs a dialplan application and waits for its CHANNEL_EXECUTE_COMPLETE (matched
// by Application-UUID). observe sees every event of the call meanwhile, in order. The
// wait continues after a hangup (the application's completion follows CHANNEL_HANGUP) but
// is bounded by limit.
func (c *Call) execute(ctx context.Context, app, arg string, limit time.Duration, observe func(*event)) (*event, error) {
	if c.isHungup() {
		return nil, c.hangupErr()
	}
	id := c.newAppUUID()
	c.clearMailbox()
	if _, err := c.send(ctx, "execute "+app, &call.Execute{AppName: app, AppArgs: arg, AppUUID: id}); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(c.p.runCtx, limit)
	defer cancel()
	probe := time.NewTicker(c.p.probeEvery)
	defer probe.Stop()
	broke := false
	callDone := ctx.Done()
	for {
		for e := c.pop(); e != nil; e = c.pop() {
			if observe != nil {
				observe(e)
			}
			if e.Name == "CHANNEL_EXECUTE_COMPLETE" && e.get("Application-UUID") == id {
				return e, nil
			}
			if e.Name == "CHANNEL_HANGUP_COMPLETE" {
				// it never completed: queued behind a hangup, or FreeSWITCH gave up on it
				return nil, c.hangupErr()
			}
		}
		select {
		case <-c.wake:
		case <-callDone:
			// the engine gave up on the verb (not a hangup: then completion follows):
			// interrupt the application, and keep waiting for its completion
			callDone = nil
			if !c.isHungup() && !broke {
				broke = true
				_, _ = c.send(wctx, "uuid_break", command.API{Command: "uuid_break", Arguments: c.uuid + " all"})
			}
		case <-probe.C:
			if err := c.probe(wctx); err != nil {
				return nil, err
			}
		case <-wctx.Done():
			if c.isHungup() {
				return nil, c.hangupErr()
			}
			return nil, fmt.Errorf("esl: %s: no completion in %v: %w", app, limit, adapter.ErrPBXDown)
		}
	}
}

// pop takes the next event from the mailbox, nil if none.
func (c *Call) pop() *event {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.mbox) == 0 {
		return nil
	}
	e := c.mbox[0]
	c.mbox = c.mbox[1:]
	return e
}

// probe checks that the socket still answers when no event came for a while: eslgo's
// receive loop exits silently on a read error, after which nothing arrives and every
// command waits for its deadline.
func (c *Call) probe(ctx context.Context) error {
	c.mu.Lock()
	quiet := time.Since(c.lastEv)
	c.mu.Unlock()
	if quiet < c.p.probeEvery {
		return nil
	}
	if _, err := c.send(ctx, "probe", command.API{Command: "uuid_exists", Arguments: c.uuid}); err != nil && !errors.Is(err, ErrRefused) {
		c.lost()
		return fmt.Errorf("esl: socket lost: %w", adapter.ErrHangup)
	}
	c.mu.Lock()
	c.lastEv = time.Now()
	c.mu.Unlock()
	return nil
}

// watchdog probes a quiet socket while the engine runs, so that a socket that dies while no
// command or recording is waiting for FreeSWITCH (a Pause, a fetch) still ends the call within
// about probeEvery, not when the next command times out.
func (c *Call) watchdog(ctx context.Context) {
	t := time.NewTicker(c.p.probeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.probe(ctx); err != nil {
				return
			}
		}
	}
}

// lost treats a dead socket as a hangup: the call cannot be controlled any more, and
// FreeSWITCH hangs a channel up when its outbound socket goes away.
func (c *Call) lost() {
	c.mu.Lock()
	if !c.hungup {
		c.hungup = true
		c.cause = "SOCKET_LOST"
		c.log.Warn("event socket lost; treating the call as hung up")
		c.cancel(adapter.ErrHangup)
	}
	select {
	case <-c.complete:
	default:
		close(c.complete)
	}
	c.mu.Unlock()
}

func (c *Call) Answer(ctx context.Context) error {
	c.mu.Lock()
	done := c.answered
	c.mu.Unlock()
	if done {
		return nil
	}
	_, err := c.execute(ctx, "answer", "", c.p.cmdTimeout*2, nil)
	return err
}

func (c *Call) PreAnswer(ctx context.Context) error {
	_, err := c.execute(ctx, "pre_answer", "", c.p.cmdTimeout*2, nil)
	return err
}

// SendDTMF sends digits to the caller.
func (c *Call) SendDTMF(ctx context.Context, digits string) error {
	_, err := c.execute(ctx, "send_dtmf", digits, c.p.cmdTimeout+time.Duration(len(digits))*time.Second, nil)
	return err
}

func (c *Call) Hangup(ctx context.Context, cause string) error {
	if cause == "" {
		cause = "NORMAL_CLEARING"
	}
	c.mu.Lock()
	sent := c.hangupSent
	c.hangupSent = true
	if !sent && !c.hungup {
		c.sentCause = cause
	}
	c.mu.Unlock()
	if sent || c.isHungup() {
		return nil // the CHANNEL_HANGUP may still be in the reorder window
	}
	_, err := c.send(ctx, "hangup", call.Hangup{Cause: cause})
	var refused *Error
	if errors.Is(err, adapter.ErrHangup) || (errors.As(err, &refused) && strings.Contains(refused.Reply, "invalid session id")) {
		return nil // already gone
	}
	return err
}

// Reject refuses an unanswered call: "busy" is 486 (USER_BUSY), anything else 603
// (CALL_REJECTED).
func (c *Call) Reject(ctx context.Context, reason string) error {
	cause := "CALL_REJECTED"
	if reason == "busy" {
		cause = "USER_BUSY"
	}
	return c.Hangup(ctx, cause)
}

// Play plays a URL (FreeSWITCH fetches http(s) through mod_httapi's http_cache or
// mod_http_cache), a tone (tone:<tone_stream spec>) or a sound (sound:<file>), stopping on
// StopKeys.
func (c *Call) Play(ctx context.Context, ps adapter.PlaySpec) (adapter.PlayResult, error) {
	if err := c.setTerminators(ctx, ps.StopKeys.String()); err != nil {
		return adapter.PlayResult{}, err
	}
	target := mediaTarget(ps.URL)
	loops := ps.Loops
	if loops <= 0 {
		loops = 1000 // "until stopped": the engine cancels ctx
	}
	var res adapter.PlayResult
	for i := 0; i < loops; i++ {
		done, err := c.execute(ctx, "playback", target, 4*time.Hour, nil)
		if err != nil {
			return res, err
		}
		if k := done.get("variable_playback_terminator_used"); k != "" {
			res.Key = k[0]
			return res, nil
		}
		if ctx.Err() != nil {
			return res, context.Cause(ctx)
		}
	}
	return res, nil
}

func mediaTarget(u string) string {
	switch {
	case strings.HasPrefix(u, "tone:"):
		return "tone_stream://" + strings.TrimPrefix(u, "tone:")
	case strings.HasPrefix(u, "sound:"):
		return strings.TrimPrefix(u, "sound:")
	case strings.HasPrefix(u, "http://"), strings.HasPrefix(u, "https://"):
		return "http_cache://" + u
	}
	return u
}

// setTerminators always sets playback_terminators: unset, FreeSWITCH uses '*'.
func (c *Call) setTerminators(ctx context.Context, keys string) error {
	if keys == "" {
		keys = "none"
	}
	_, err := c.execute(ctx, "set", "playback_terminators="+keys, c.p.cmdTimeout*2, nil)
	return err
}

func (c *Call) watch(f func(*event)) (remove func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	id := c.seq
	if c.watchers == nil {
		c.watchers = map[int]func(*event){}
	}
	c.watchers[id] = f
	return func() {
		c.mu.Lock()
		delete(c.watchers, id)
		c.mu.Unlock()
	}
}
