package ari

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v6"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// call is one channel that entered our application. The handler goroutine calls its methods
// (one at a time, per adapter.Call); the loop goroutine applies its mailbox in order: it
// tracks the channel's state, cancels the context at hangup, and copies every event to the
// watchers, which are the operations in progress (a Record, a Play, a background recording).
// Operations read their own watcher, so each sees the call's events in Asterisk's order,
// hangups included, which is what decides a recording's end reason.
type call struct {
	p      *PBX
	id     string
	info   adapter.CallInfo
	log    *slog.Logger
	label  func(...slog.Attr) // labels log with the engine's call_id and app (LabelLog)
	ctx    context.Context
	cancel context.CancelCauseFunc
	mbox   *queue[evt]

	mu          sync.Mutex
	state       string // channel state: Ring, Up...
	bridged     bool   // in a bridge: a direct recording would fail
	gone        bool
	goneAt      time.Time
	handlerDone bool
	watchers    map[*watcher]struct{}
	// sentCode is the Q.850 code we hung the channel up with (0: we did not); end is how the
	// call ended (HangupReport), set at the first hangup event, before the context is cancelled.
	sentCode int
	end      adapter.HangupInfo
	endCause bool // end.Cause came from an event's Q.850 cause, not a guess
}

var (
	_ adapter.Call           = (*call)(nil)
	_ adapter.Labeler        = (*call)(nil)
	_ adapter.HangupReporter = (*call)(nil)
)

// LabelLog adds the engine's call_id and app to every later line of the call's log,
// including those of its loop and recording goroutines.
func (c *call) LabelLog(attrs ...slog.Attr) { c.label(attrs...) }

func (p *PBX) newCall(e evt) *call {
	c := &call{
		p:        p,
		id:       e.Channel,
		mbox:     newQueue[evt](),
		state:    e.ChannelState,
		watchers: map[*watcher]struct{}{},
	}
	c.log, c.label = adapter.NewCallLog(p.log.With("channel_id", e.Channel))
	c.ctx, c.cancel = context.WithCancelCause(p.callBase)
	c.info = adapter.CallInfo{
		ChannelID:  e.Channel,
		PBX:        p.cfg.Name,
		From:       e.CallerNumber,
		To:         dialled(e),
		CallerName: e.CallerName,
		Direction:  "inbound",
		AppArgs:    e.Args,
		Answered:   e.ChannelState == "Up",
		Arrived:    e.At,
	}
	return c
}

// dialled is the called number: the dialplan extension, unless that is the catch-all "s",
// in which case our dialplan passes the number as the first Stasis argument.
func dialled(e evt) string {
	if e.Exten != "" && e.Exten != "s" {
		return e.Exten
	}
	if len(e.Args) > 0 {
		return e.Args[0]
	}
	return ""
}

// watcher receives a copy of every event of its call from the moment it is registered.
type watcher struct{ q *queue[evt] }

// watch registers a watcher; it fails with ErrHangup once the call is gone, so that an
// operation never waits for events that were delivered before it started.
func (c *call) watch() (*watcher, error) {
	if c.p.runCtx.Err() != nil {
		return nil, c.stoppedErr()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return nil, c.hangupErr()
	}
	w := &watcher{q: newQueue[evt]()}
	c.watchers[w] = struct{}{}
	return w, nil
}

func (c *call) unwatch(w *watcher) {
	c.mu.Lock()
	delete(c.watchers, w)
	c.mu.Unlock()
	c.mbox.push(evt{Type: synWake})
}

func (c *call) hangupErr() error {
	return fmt.Errorf("channel %s: %w", c.id, adapter.ErrHangup)
}

// stopped is closed when the dispatcher has stopped: no event will reach a watcher again,
// so an operation waiting for one must give up whatever its own context says.
func (c *call) stopped() <-chan struct{} { return c.p.runCtx.Done() }

func (c *call) stoppedErr() error {
	return fmt.Errorf("channel %s: ARI event loop stopped: %w", c.id, adapter.ErrPBXDown)
}

func (c *call) loop() {
	defer c.p.wg.Done()
	defer c.p.forgetCall(c)
	var check <-chan time.Time
	for {
		select {
		case <-c.p.runCtx.Done():
			return
		case <-c.mbox.wake():
		case <-check:
			check = nil
			c.checkGone()
		}
		for {
			e, ok := c.mbox.pop()
			if !ok {
				break
			}
			c.apply(e)
		}
		c.mu.Lock()
		end := c.gone && c.handlerDone && len(c.watchers) == 0
		lingering := !c.gone && c.handlerDone
		c.mu.Unlock()
		if end {
			c.log.Debug("call finished")
			return
		}
		if lingering && check == nil {
			// The handler is done and we hung up, but no StasisEnd yet: look for ourselves
			// rather than wait forever for an event that may have been lost.
			check = time.After(2 * c.p.cmdTimeout)
		}
	}
}

// apply updates the call's state from one event and hands it to the watchers.
func (c *call) apply(e evt) {
	c.mu.Lock()
	var hungUp bool
	if e.Channel == c.id {
		switch {
		case e.isHangup():
			if !c.gone {
				c.gone, c.goneAt, hungUp = true, e.At, true
				c.end, c.endCause = hangupInfo(e, c.sentCode)
			} else if !c.endCause && c.sentCode == 0 && q850(e) != 0 {
				// A causeless ChannelHangupRequest, then a ChannelDestroyed that has one.
				c.end, c.endCause = hangupInfo(e, 0)
			}
		case e.Type == evChannelStateChange:
			c.state = e.ChannelState
		case e.Type == evChannelEnteredBridge:
			c.bridged = true
		case e.Type == evChannelLeftBridge:
			c.bridged = false
		}
	}
	ws := make([]*watcher, 0, len(c.watchers))
	for w := range c.watchers {
		ws = append(ws, w)
	}
	c.mu.Unlock()
	if hungUp {
		c.log.Info("call hung up", "event", e.Type, "cause", e.Cause, "soft", e.Soft)
		c.cancel(adapter.ErrHangup)
	}
	if e.Type == synWake {
		return
	}
	for _, w := range ws {
		w.q.push(e)
	}
}

// checkGone asks Asterisk about a channel we hung up but never heard leave.
func (c *call) checkGone() {
	ctx, cancel := context.WithTimeout(context.Background(), c.p.cmdTimeout)
	defer cancel()
	if c.p.missing(ctx, "/channels/"+url.PathEscape(c.id)) {
		c.apply(evt{Type: synChannelGone, At: time.Now(), Channel: c.id, Synthetic: true})
		return
	}
	_ = c.p.hangupChannel(ctx, c.id, causeNormal)
}

func (c *call) runHandler(h func(context.Context, adapter.Call)) {
	defer c.p.handlers.Done()
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("call handler panicked", "panic", r, "stack", string(debug.Stack()))
		}
		c.handlerReturned()
	}()
	h(c.ctx, c)
}

// handlerReturned hangs up a call its handler left up: it would otherwise sit in Stasis
// with nobody driving it. Not at shutdown, where the engine decides.
func (c *call) handlerReturned() {
	c.mu.Lock()
	c.handlerDone = true
	gone := c.gone
	c.mu.Unlock()
	if !gone && c.p.callBase.Err() == nil {
		ctx, cancel := context.WithTimeout(context.Background(), c.p.cmdTimeout)
		err := c.p.hangupChannel(ctx, c.id, causeNormal)
		cancel()
		if errors.Is(err, adapter.ErrHangup) {
			c.mbox.push(evt{Type: synChannelGone, At: time.Now(), Channel: c.id, Synthetic: true})
		} else if err != nil {
			c.log.Warn("hangup after handler returned", "err", err)
		}
	}
	c.mbox.push(evt{Type: synWake})
}

func (c *call) isUp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == "Up"
}

func (c *call) isBridged() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bridged
}

// Info may be called from any goroutine: info never changes.
func (c *call) Info() adapter.CallInfo { return c.info }

// chanCmd runs a library command on this call's channel: 404 means the call is gone.
func (c *call) chanCmd(ctx context.Context, op string, f func(ari.Client, *ari.Key) error) error {
	key := ari.NewKey(ari.ChannelKey, c.id)
	return c.p.cmd(ctx, op+" on channel "+c.id, adapter.ErrHangup, ErrCommand, func(cl ari.Client) error {
		return f(cl, key)
	})
}

func (c *call) Answer(ctx context.Context) error {
	if c.isUp() {
		return nil
	}
	err := c.chanCmd(ctx, "answer", func(cl ari.Client, k *ari.Key) error { return cl.Channel().Answer(k) })
	if err == nil {
		c.mu.Lock()
		c.state = "Up" // ChannelStateChange follows; operations may not wait for it
		c.mu.Unlock()
	}
	return err
}

// PreAnswer opens early media with POST /channels/{id}/progress (SIP 183 Session Progress),
// so that Play and Say are heard before the answer. Asterisk 22 has it; the library does not,
// hence a request of our own. POST …/ring would only signal ringing (180), without media.
func (c *call) PreAnswer(ctx context.Context) error {
	if c.isUp() {
		return nil
	}
	return c.p.rawCmd(ctx, "progress on channel "+c.id, http.MethodPost,
		"/channels/"+url.PathEscape(c.id)+"/progress", nil, adapter.ErrHangup, ErrCommand)
}

func (c *call) SendDTMF(ctx context.Context, digits string) error {
	for i := 0; i < len(digits); i++ {
		if !strings.ContainsRune("0123456789*#ABCDabcdwW", rune(digits[i])) {
			return fmt.Errorf("ari: send DTMF %q: %q is not a DTMF digit: %w", digits, digits[i], adapter.ErrUnsupported)
		}
	}
	return c.chanCmd(ctx, "send DTMF", func(cl ari.Client, k *ari.Key) error {
		return cl.Channel().SendDTMF(k, digits, nil)
	})
}

func (c *call) Hangup(ctx context.Context, cause string) error {
	code, ok := q850Code(cause)
	if !ok {
		c.log.Warn("unknown hangup cause; using NORMAL_CLEARING", "cause", cause)
		code = causeNormal
	}
	return c.hangup(ctx, code)
}

// Reject refuses the call: "busy" as USER_BUSY (SIP 486), anything else as CALL_REJECTED
// (SIP 603).
func (c *call) Reject(ctx context.Context, reason string) error {
	code := 21 // CALL_REJECTED
	if strings.EqualFold(reason, "busy") {
		code = 17 // USER_BUSY
	}
	return c.hangup(ctx, code)
}

// hangup ends the call. The request must outlive the call's context: the hangup it causes
// cancels that context, often before the HTTP answer is read.
func (c *call) hangup(ctx context.Context, code int) error {
	if err := context.Cause(ctx); err != nil {
		if errors.Is(err, adapter.ErrHangup) {
			return c.hangupErr()
		}
		return err
	}
	c.mu.Lock()
	if !c.gone && c.sentCode == 0 {
		c.sentCode = code
	}
	c.mu.Unlock()
	err := c.p.hangupChannel(context.WithoutCancel(ctx), c.id, code)
	if err == nil {
		c.log.Info("hung up", "q850", code)
	}
	return err
}

const causeNormal = 16

// hangupChannel sends DELETE /channels/{id}?reason_code=N. The library only sends ARI's
// reason names, which cover a handful of causes; reason_code takes any Q.850 code.
func (p *PBX) hangupChannel(ctx context.Context, id string, code int) error {
	q := url.Values{"reason_code": {strconv.Itoa(code)}}
	return p.rawCmd(ctx, "hangup channel "+id, http.MethodDelete, "/channels/"+url.PathEscape(id), q, adapter.ErrHangup, ErrCommand)
}

// q850Code maps a Q.850 cause name (as FreeSWITCH and the engine spell them) to its code.
func q850Code(name string) (int, bool) {
	switch strings.ToUpper(name) {
	case "UNALLOCATED_NUMBER", "UNALLOCATED":
		return 1, true
	case "NO_ROUTE_TRANSIT_NET":
		return 2, true
	case "NO_ROUTE_DESTINATION":
		return 3, true
	case "CHANNEL_UNACCEPTABLE":
		return 6, true
	case "NORMAL_CLEARING", "ORIGINATOR_CANCEL", "ALLOTTED_TIMEOUT":
		// The last two are FreeSWITCH names with no Q.850 code of their own.
		return 16, true
	case "USER_BUSY":
		return 17, true
	case "NO_USER_RESPONSE":
		return 18, true
	case "NO_ANSWER":
		return 19, true
	case "SUBSCRIBER_ABSENT":
		return 20, true
	case "CALL_REJECTED":
		return 21, true
	case "NUMBER_CHANGED":
		return 22, true
	case "ANSWERED_ELSEWHERE":
		return 26, true
	case "DESTINATION_OUT_OF_ORDER":
		return 27, true
	case "INVALID_NUMBER_FORMAT":
		return 28, true
	case "FACILITY_REJECTED":
		return 29, true
	case "NORMAL_UNSPECIFIED":
		return 31, true
	case "NORMAL_CIRCUIT_CONGESTION":
		return 34, true
	case "NETWORK_OUT_OF_ORDER":
		return 38, true
	case "NORMAL_TEMPORARY_FAILURE":
		return 41, true
	case "SWITCH_CONGESTION":
		return 42, true
	case "REQUESTED_CHAN_UNAVAIL":
		return 44, true
	case "OUTGOING_CALL_BARRED":
		return 52, true
	case "INCOMING_CALL_BARRED":
		return 54, true
	case "BEARERCAPABILITY_NOTAUTH":
		return 57, true
	case "BEARERCAPABILITY_NOTAVAIL":
		return 58, true
	case "SERVICE_UNAVAILABLE":
		return 63, true
	case "INCOMPATIBLE_DESTINATION":
		return 88, true
	case "RECOVERY_ON_TIMER_EXPIRE":
		return 102, true
	case "INTERWORKING", "MEDIA_TIMEOUT":
		return 127, true
	}
	return 0, false
}
