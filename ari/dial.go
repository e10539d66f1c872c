package ari

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/CyCoreSystems/ari/v6"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/translate"
)

// How a Dial runs on Asterisk:
//
//   - Each target is originated with POST /channels into our own application (appArgs
//     dialMarker), from the dial string config.Asterisk.Dial makes of it. Asterisk subscribes
//     the application to an originated channel at once, so its ringing and its end (with the
//     Q.850 cause: 17 busy, 19 no answer...) reach us before it is answered; it enters Stasis
//     (StasisStart) when it answers. Its id is registered with the dispatcher first, so every
//     event of it reaches this call's watchers.
//   - The caller hears the ringback media, or tone:ring, played on its channel until a target
//     answers.
//   - The first target to answer wins (the others are hung up with ANSWERED_ELSEWHERE); both
//     channels go into a mixing bridge of ours.
//   - A recording at answer (DialSpec.Record) runs through snoops on the caller's channel, as
//     a background recording does, made before the targets ring and recorded from the answer: a channel in a bridge cannot be recorded directly
//     (asterisk.md §3), and a snoop on the caller hears both parties: spy=in is the caller,
//     spy=out what the caller hears, the called party; stereo takes one of each (caller
//     left, called party right). A session recording started before the Dial goes on the
//     same way, through the snoops it already has.
//   - The Dial ends when either party hangs up, the time limit passes, or the caller presses *
//     with HangupOnStar; the called leg is hung up, the recording stopped (session-end) and
//     fetched, and the bridge destroyed. The caller's channel stays up for the next verb.

// dialMarker is the first appArgs of every channel a Dial originates: a StasisStart of one
// that nobody waits for any more (it answered as we gave up on it) is hung up, never taken
// for a new call.
const dialMarker = "pbxbridge-dial"

// defaultRing is how long targets ring when the spec says nothing.
const defaultRing = 30 * time.Second

// dialLeg is one target being rung.
type dialLeg struct {
	i        int
	id       string
	endpoint string
	rang     bool
	gone     bool
	cause    int // Q.850, 0 until known
	placed   bool
	// confirming: answered, its confirm sound playing (playback, "" when none), waiting for
	// the confirm key (DialSpec.Confirm) until its confirm timer fires.
	confirming bool
	playback   string
	confirmT   *time.Timer
}

type dialer struct {
	c      *call
	w      *watcher
	spec   adapter.DialSpec
	legs   []*dialLeg
	rb     *player
	winner *dialLeg
	bridge string
	armed  *recorder // the recording at answer, snoops up, not started
	rec    *session
	res    adapter.DialResult
	limit  <-chan time.Time
	// unconfirmed gets a confirming leg whose confirm timeout passed.
	unconfirmed chan *dialLeg
	done        bool
	err         error
}

// Dial rings the targets and bridges the first to answer with the caller (adapter.Call).
func (c *call) Dial(ctx context.Context, d adapter.DialSpec) (adapter.DialResult, error) {
	res := adapter.DialResult{Target: -1}
	if len(d.Targets) == 0 {
		return res, fmt.Errorf("ari: dial: no targets: %w", adapter.ErrUnsupported)
	}
	w, err := c.watch()
	if err != nil {
		return res, err
	}
	dl := &dialer{c: c, w: w, spec: d, res: res, unconfirmed: make(chan *dialLeg, len(d.Targets))}
	defer c.unwatch(w)
	_, err = dl.run(ctx)
	// cleanup completes the result (the recording, the end time): after run, not deferred
	// inside it, whose return value is taken before its defers run.
	dl.cleanup(context.WithoutCancel(ctx))
	return dl.res, err
}

// endpoint is the dial string of a target.
func (p *PBX) endpoint(t adapter.DialTarget) (string, error) {
	if t.Address == "" || strings.ContainsAny(t.Address, "&,;\"'<> \t\r\n()") {
		return "", fmt.Errorf("ari: dial %q: not a dialable %s (no '&', ',', ';', quotes, brackets or spaces): %w", t.Address, t.Kind, adapter.ErrUnsupported)
	}
	tmpl := p.cfg.Dial.Number
	switch t.Kind {
	case translate.TargetSIP:
		tmpl = p.cfg.Dial.SIP
	case translate.TargetUser:
		tmpl = p.cfg.Dial.User
	}
	if tmpl == "" {
		return "", fmt.Errorf("ari: dial %q: no dial template for %s targets: %w", t.Address, t.Kind, adapter.ErrUnsupported)
	}
	return config.Expand(tmpl, t.Address), nil
}

func (dl *dialer) run(ctx context.Context) (adapter.DialResult, error) {
	c := dl.c
	bctx := context.WithoutCancel(ctx)
	for i, t := range dl.spec.Targets {
		ep, err := c.p.endpoint(t)
		if err != nil {
			c.log.Warn("dial target skipped", "target", i, "err", err)
			continue
		}
		dl.legs = append(dl.legs, &dialLeg{i: i, id: "pbxb-dial-" + newID(), endpoint: ep})
	}
	if len(dl.legs) == 0 {
		dl.res.Status = adapter.DialFailed
		return dl.res, nil
	}
	if rs := dl.spec.Record; rs != nil {
		// The snoops are made now, while nothing rings yet, so that the answer only has to
		// start the recording (recorder.arm).
		r, err := c.armSession(ctx, *rs)
		if err != nil {
			if errors.Is(err, adapter.ErrHangup) {
				dl.res.Status = adapter.DialCanceled
				return dl.res, err
			}
			c.log.Error("dial: recording at answer not prepared", "recording", rs.Name, "err", err)
			dl.res.RecordErr = err
		} else {
			dl.armed = r
		}
	}
	dl.ringback(ctx)
	placed := 0
	for _, l := range dl.legs {
		if err := dl.originate(ctx, l); err != nil {
			if errors.Is(err, adapter.ErrHangup) || context.Cause(ctx) != nil {
				dl.res.Status = adapter.DialCanceled
				return dl.res, c.hangupErr()
			}
			c.log.Warn("dial target not placed", "target", l.i, "endpoint", l.endpoint, "err", err)
			l.gone, l.cause = true, 0
			continue
		}
		placed++
	}
	if placed == 0 {
		dl.res.Status = adapter.DialFailed
		return dl.res, nil
	}
	ring := time.NewTimer(cmpDur(dl.spec.Timeout, defaultRing))
	defer ring.Stop()
	ringC := ring.C
	done := ctx.Done()
	for !dl.done {
		select {
		case <-dl.w.q.wake():
			for !dl.done {
				e, ok := dl.w.q.pop()
				if !ok {
					break
				}
				dl.observe(ctx, &e)
			}
		case <-ringC:
			ringC = nil
			if dl.winner == nil {
				c.log.Info("dial: no answer within the timeout", "timeout", dl.spec.Timeout)
				dl.res.Status = adapter.DialNoAnswer
				dl.res.HangupCause = "NO_ANSWER"
				dl.hangupLegs(bctx, nil, 19)
				dl.done = true
			}
		case l := <-dl.unconfirmed:
			if l.confirming && !l.gone && dl.winner == nil {
				c.log.Info("dial: the called party did not confirm in time", "target", l.i, "called_id", l.id)
				l.confirming = false
				dl.stopConfirmSound(bctx, l)
				// NO_ANSWER: it counts as not answered, whatever cause its end reports (an
				// answered channel we hang up ends as NORMAL_UNSPECIFIED)
				l.cause = 19
				c.hangupLeg(bctx, l, 19)
			}
		case <-dl.limit:
			c.log.Info("dial: time limit reached", "time_limit", dl.spec.TimeLimit)
			// FreeSWITCH's name for a call its time limit ended (Plivo reports it so).
			dl.res.HangupCause = "ALLOTTED_TIMEOUT"
			dl.finish(time.Now(), "time-limit")
		case <-done:
			done = nil
			if errors.Is(context.Cause(ctx), adapter.ErrHangup) {
				dl.callerGone(time.Now())
			} else {
				dl.err = context.Cause(ctx)
				dl.finish(time.Now(), "")
			}
		case <-c.stopped():
			dl.err = c.stoppedErr()
			dl.done = true
		}
	}
	return dl.res, dl.err
}

func cmpDur(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// ringback plays the ringback media (or the ringing tone) to the caller until an answer.
func (dl *dialer) ringback(ctx context.Context) {
	media := "tone:ring"
	loops := 0
	if rb := dl.spec.Ringback; rb != nil {
		if m, err := mediaURI(rb.URL); err == nil {
			media, loops = m, rb.Loops
		} else {
			dl.c.log.Warn("ringback media unusable; playing the ringing tone", "err", err)
		}
	}
	pl := &player{c: dl.c, media: media, loops: loops}
	if err := pl.start(ctx); err != nil {
		dl.c.log.Warn("ringback not played", "media", media, "err", err)
		return
	}
	dl.rb = pl
}

// originate places one target's call into our application.
func (dl *dialer) originate(ctx context.Context, l *dialLeg) error {
	c := dl.c
	info := c.Info()
	num, name := cmpStr(dl.spec.CallerID, info.From), cmpStr(dl.spec.CallerName, info.CallerName)
	q := url.Values{
		"endpoint":  {l.endpoint},
		"app":       {c.p.cfg.Application},
		"appArgs":   {dialMarker + "," + c.id},
		"channelId": {l.id},
		// Asterisk's own ring limit backs ours up, a little later so that ours decides.
		"timeout":  {strconv.Itoa(int(cmpDur(dl.spec.Timeout, defaultRing)/time.Second) + 5)},
		"callerId": {callerID(name, num)},
	}
	var body []byte
	if hs := dl.spec.Targets[l.i].Headers; len(hs) > 0 {
		vars := map[string]string{}
		for _, h := range hs {
			vars["PJSIP_HEADER(add,"+h.Name+")"] = h.Value
		}
		body, _ = json.Marshal(map[string]any{"variables": vars})
	}
	c.p.own(c, routeChannel, l.id)
	op := "originate " + l.endpoint
	st, rb, err := c.p.rawBody(ctx, http.MethodPost, "/channels", q, body, 0)
	if err != nil {
		c.p.disown(routeChannel, l.id)
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
		return &Error{Op: op, Kind: adapter.ErrPBXDown, Msg: redactErr(err)}
	}
	if st/100 != 2 {
		c.p.disown(routeChannel, l.id)
		return statusError(op, st, rb, ErrCommand, ErrCommand)
	}
	c.p.confirm(routeChannel, l.id)
	l.placed = true
	c.log.Info("dialling", "target", l.i, "endpoint", l.endpoint, "called_id", l.id)
	return nil
}

func cmpStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// callerID is ARI's "name" <number> form.
func callerID(name, num string) string {
	name = strings.NewReplacer(`"`, "", "<", "", ">", "").Replace(name)
	num = strings.NewReplacer("<", "", ">", "", `"`, "").Replace(num)
	if name == "" {
		return "<" + num + ">"
	}
	return `"` + name + `" <` + num + ">"
}

func (dl *dialer) leg(id string) *dialLeg {
	for _, l := range dl.legs {
		if l.id == id {
			return l
		}
	}
	return nil
}

// observe applies one event of the caller's channel or of a dialled leg.
func (dl *dialer) observe(ctx context.Context, e *evt) {
	c := dl.c
	if dl.rb != nil && e.Playback != "" {
		if _, err := dl.rb.observe(ctx, e); err != nil {
			c.log.Warn("ringback failed", "err", err)
			dl.rb = nil
		}
		return
	}
	if e.Channel == c.id {
		switch {
		case e.isHangup():
			dl.callerGone(e.At)
		case e.Type == evChannelDtmfReceived && e.Digit == '*' && dl.spec.HangupOnStar && dl.winner != nil:
			c.log.Info("dial: caller pressed * (hangupOnStar)")
			dl.finish(e.At, "star")
		}
		return
	}
	l := dl.leg(e.Channel)
	if l == nil {
		return
	}
	switch {
	case e.Type == evChannelStateChange && e.ChannelState == "Ringing":
		l.rang = true
	case e.Type == evStasisStart:
		if dl.winner != nil || l.gone {
			c.hangupLeg(context.WithoutCancel(ctx), l, 26) // ANSWERED_ELSEWHERE
			return
		}
		if dl.spec.Confirm != nil {
			dl.confirm(ctx, l)
			return
		}
		dl.answered(ctx, l, e.At)
	case e.Type == evChannelDtmfReceived && l.confirming:
		if e.Digit != dl.spec.Confirm.Key {
			return // a wrong key: the called party may still press the right one
		}
		c.log.Info("dial: the called party confirmed", "target", l.i, "called_id", l.id)
		l.confirming = false
		l.confirmT.Stop()
		dl.stopConfirmSound(context.WithoutCancel(ctx), l)
		dl.answered(ctx, l, e.At)
	case e.isHangup():
		if l.confirmT != nil {
			l.confirmT.Stop()
		}
		l.confirming = false
		// q850, not e.Cause: a soft ChannelHangupRequest's cause 32 is Asterisk's soft-hangup
		// flag, not a Q.850 code, and would report NORMAL_UNSPECIFIED.
		if q := q850(*e); q != 0 && l.cause == 0 {
			l.cause = q
		}
		if l.gone {
			return
		}
		l.gone = true
		c.p.disown(routeChannel, l.id)
		if l == dl.winner {
			c.log.Info("dial: called party hung up", "cause", l.cause)
			dl.res.HangupCause = causeName(cmpInt(l.cause, causeNormal))
			dl.finish(e.At, "callee")
			return
		}
		if dl.winner == nil && dl.allGone() {
			dl.unanswered()
		}
	}
}

// confirm starts the confirmation of a leg that answered (DialSpec.Confirm): the leg, in our
// application and in no bridge, hears the confirm sound alone (the caller goes on hearing the
// ringback) and has Timeout from its answer to press the key; its ChannelDtmfReceived events
// reach this Dial's watcher. The other legs ring on meanwhile.
func (dl *dialer) confirm(ctx context.Context, l *dialLeg) {
	c := dl.c
	cf := dl.spec.Confirm
	l.confirming = true
	l.confirmT = time.AfterFunc(cmpDur(cf.Timeout, 2*time.Minute), func() { dl.unconfirmed <- l })
	c.log.Info("dial: answered; waiting for the confirm key", "target", l.i, "called_id", l.id, "key", string(cf.Key))
	if cf.Audio == nil {
		return
	}
	media, err := mediaURI(cf.Audio.URL)
	if err != nil {
		c.log.Warn("dial: confirm sound unusable; the called party hears silence", "err", err)
		return
	}
	id := "pbxb-pb-" + newID()
	q := url.Values{"media": {media}, "playbackId": {id}}
	c.p.own(c, routePlayback, id)
	if err := c.p.rawCmd(ctx, "play confirm sound to "+l.id, http.MethodPost, "/channels/"+url.PathEscape(l.id)+"/play", q, nil, ErrCommand); err != nil {
		c.p.disown(routePlayback, id)
		c.log.Warn("dial: confirm sound not played", "called_id", l.id, "err", err)
		return
	}
	c.p.confirm(routePlayback, id)
	l.playback = id
}

// stopConfirmSound stops a leg's confirm sound if it still plays.
func (dl *dialer) stopConfirmSound(ctx context.Context, l *dialLeg) {
	if l.playback == "" {
		return
	}
	id := l.playback
	l.playback = ""
	err := dl.c.p.rawCmd(ctx, "stop confirm sound "+id, http.MethodDelete, "/playbacks/"+url.PathEscape(id), nil, nil, ErrCommand)
	dl.c.p.disown(routePlayback, id)
	if err != nil && statusOfErr(err) != 404 {
		dl.c.log.Warn("dial: stopping the confirm sound", "playback_id", id, "err", err)
	}
}

func cmpInt(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

func (dl *dialer) allGone() bool {
	for _, l := range dl.legs {
		if !l.gone {
			return false
		}
	}
	return true
}

// unanswered ends a Dial whose every target ended before answering, with the outcome their
// causes say: busy when one was busy or refused it, no-answer when one rang out, else failed.
func (dl *dialer) unanswered() {
	st, cause := adapter.DialFailed, 0
	for _, l := range dl.legs {
		switch l.cause {
		case 17, 21:
			st, cause = adapter.DialBusy, l.cause
		case 18, 19:
			if st != adapter.DialBusy {
				st, cause = adapter.DialNoAnswer, l.cause
			}
		default:
			if cause == 0 {
				cause = l.cause
			}
		}
	}
	dl.res.Status = st
	if cause != 0 {
		dl.res.HangupCause = causeName(cause)
	}
	dl.c.log.Info("dial: not answered", "status", st, "cause", dl.res.HangupCause)
	dl.done = true
}

// answered bridges the caller with the leg that answered and starts the recording.
func (dl *dialer) answered(ctx context.Context, l *dialLeg, at time.Time) {
	c := dl.c
	bctx := context.WithoutCancel(ctx)
	dl.winner = l
	if at.IsZero() {
		at = time.Now()
	}
	dl.res.Status, dl.res.Target, dl.res.CalledID, dl.res.Answered = adapter.DialCompleted, l.i, l.id, at
	c.log.Info("dial: answered", "target", l.i, "called_id", l.id)
	dl.hangupLegs(bctx, l, 26)
	if dl.rb != nil {
		dl.rb.stop(bctx)
		dl.rb = nil
	}
	if err := dl.bridgeBoth(ctx, l); err != nil {
		c.log.Error("dial: bridging failed", "err", err)
		dl.res.HangupCause = "NORMAL_TEMPORARY_FAILURE"
		dl.finish(time.Now(), "")
		if errors.Is(err, adapter.ErrHangup) && dl.callerIsGone() {
			dl.callerGone(time.Now())
		}
		return
	}
	if dl.spec.OnAnswer != nil {
		dl.spec.OnAnswer(l.i, l.id, at)
	}
	if d := dl.spec.Targets[l.i].SendDigits; d != "" {
		digits := strings.Map(func(r rune) rune {
			if strings.ContainsRune("0123456789*#ABCDabcd", r) {
				return r
			}
			return -1 // w and W: the waits are not modelled here
		}, d)
		if digits != "" {
			err := c.p.cmd(bctx, "send DTMF to "+l.id, nil, ErrCommand, func(cl ari.Client) error {
				return cl.Channel().SendDTMF(ari.NewKey(ari.ChannelKey, l.id), digits, nil)
			})
			if err != nil {
				c.log.Warn("dial: sendDigits failed", "err", err)
			}
		}
	}
	if dl.spec.TimeLimit > 0 {
		dl.limit = time.After(dl.spec.TimeLimit)
	}
	if r := dl.armed; r != nil {
		dl.armed = nil
		rec, err := r.startArmed(ctx)
		if err != nil {
			c.log.Error("dial: recording at answer failed", "recording", r.spec.Name, "err", err)
			dl.res.RecordErr = err
		} else {
			dl.rec = rec
		}
	}
}

func (dl *dialer) callerIsGone() bool {
	dl.c.mu.Lock()
	defer dl.c.mu.Unlock()
	return dl.c.gone
}

// bridgeBoth creates a mixing bridge and puts the caller and the leg in it.
func (dl *dialer) bridgeBoth(ctx context.Context, l *dialLeg) error {
	c := dl.c
	id := "pbxb-bridge-" + newID()
	q := url.Values{"type": {"mixing"}, "bridgeId": {id}, "name": {id}}
	if err := c.p.rawCmd(ctx, "create bridge "+id, http.MethodPost, "/bridges", q, nil, ErrCommand); err != nil {
		return err
	}
	dl.bridge = id
	q = url.Values{"channel": {c.id + "," + l.id}}
	return c.p.rawCmd(ctx, "add channels to bridge "+id, http.MethodPost, "/bridges/"+url.PathEscape(id)+"/addChannel", q, adapter.ErrHangup, ErrCommand)
}

// callerGone ends the Dial because the caller hung up.
func (dl *dialer) callerGone(at time.Time) {
	if dl.done {
		return
	}
	if dl.winner == nil {
		dl.res.Status = adapter.DialCanceled
		dl.res.HangupCause = "ORIGINATOR_CANCEL"
		dl.done = true
	} else {
		dl.finish(at, "caller")
	}
	dl.err = dl.c.hangupErr()
}

// finish ends an answered Dial (or one given up for another reason) at at.
func (dl *dialer) finish(at time.Time, by string) {
	if dl.done {
		return
	}
	dl.done = true
	if dl.winner == nil {
		if dl.res.Status == "" {
			dl.res.Status = adapter.DialFailed
		}
		return
	}
	if at.IsZero() {
		at = time.Now()
	}
	dl.res.Ended, dl.res.HungUpBy = at, by
	if dl.res.HangupCause == "" {
		dl.res.HangupCause = "NORMAL_CLEARING"
	}
}

// hangupLegs hangs up every leg still up except keep.
func (dl *dialer) hangupLegs(ctx context.Context, keep *dialLeg, code int) {
	for _, l := range dl.legs {
		if l != keep && l.placed && !l.gone {
			dl.c.hangupLeg(ctx, l, code)
		}
	}
}

func (c *call) hangupLeg(ctx context.Context, l *dialLeg, code int) {
	if err := c.p.hangupChannel(ctx, l.id, code); err != nil && !errors.Is(err, adapter.ErrHangup) {
		c.log.Warn("dial: hanging up called leg", "called_id", l.id, "err", err)
	}
}

// cleanup ends what the Dial created: the legs, the ringback, the recording (whose result
// goes into the Dial's) and the bridge. The caller's channel is left as it is.
func (dl *dialer) cleanup(ctx context.Context) {
	c := dl.c
	if dl.rb != nil {
		dl.rb.stop(ctx)
	}
	dl.hangupLegs(ctx, nil, causeNormal)
	if dl.armed != nil {
		// Nobody answered: nothing was recorded; the snoops go.
		dl.armed.close()
		dl.armed = nil
	}
	if dl.res.Status == adapter.DialCompleted && dl.res.Ended.IsZero() {
		dl.res.Ended = time.Now()
	}
	if dl.rec != nil {
		sctx, cancel := context.WithTimeout(ctx, 2*c.p.hangupGrace+c.p.cmdTimeout)
		if err := dl.rec.stopFor(sctx, adapter.EndSessionEnd); err != nil {
			c.log.Warn("dial: recording did not finish in time", "err", err)
			dl.res.RecordErr = fmt.Errorf("ari: dial recording: %w", err)
		} else {
			res, err := dl.rec.Result()
			if err != nil {
				dl.res.RecordErr = err
			} else {
				dl.res.Recording = &res
			}
		}
		cancel()
	}
	if dl.bridge != "" {
		err := c.p.rawCmd(ctx, "destroy bridge "+dl.bridge, http.MethodDelete, "/bridges/"+url.PathEscape(dl.bridge), nil, nil, ErrCommand)
		if err != nil && statusOfErr(err) != 404 {
			c.log.Warn("dial: destroying bridge", "bridge", dl.bridge, "err", err)
		}
	}
	for _, l := range dl.legs {
		// Events about the legs after this are of no interest; a late StasisStart is an orphan.
		c.p.disown(routeChannel, l.id)
	}
}

// causeNames are the Q.850 names q850Code knows, for the reverse lookup.
var causeNames = []string{"UNALLOCATED_NUMBER", "NO_ROUTE_TRANSIT_NET", "NO_ROUTE_DESTINATION", "CHANNEL_UNACCEPTABLE",
	"NORMAL_CLEARING", "USER_BUSY", "NO_USER_RESPONSE", "NO_ANSWER", "SUBSCRIBER_ABSENT", "CALL_REJECTED",
	"NUMBER_CHANGED", "ANSWERED_ELSEWHERE", "DESTINATION_OUT_OF_ORDER", "INVALID_NUMBER_FORMAT", "FACILITY_REJECTED",
	"NORMAL_UNSPECIFIED", "NORMAL_CIRCUIT_CONGESTION", "NETWORK_OUT_OF_ORDER", "NORMAL_TEMPORARY_FAILURE",
	"SWITCH_CONGESTION", "REQUESTED_CHAN_UNAVAIL", "OUTGOING_CALL_BARRED", "INCOMING_CALL_BARRED",
	"BEARERCAPABILITY_NOTAUTH", "BEARERCAPABILITY_NOTAVAIL", "SERVICE_UNAVAILABLE", "INCOMPATIBLE_DESTINATION",
	"RECOVERY_ON_TIMER_EXPIRE", "INTERWORKING"}

// causeName is the Q.850 name of a cause code.
func causeName(code int) string {
	for _, n := range causeNames {
		if c, ok := q850Code(n); ok && c == code {
			return n
		}
	}
	return "NORMAL_UNSPECIFIED"
}
