package esl

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/textproto"
	"strings"
	"time"

	"github.com/percipia/eslgo/command"
	"github.com/percipia/eslgo/command/call"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/translate"
)

// Dial on FreeSWITCH is mod_dptools' bridge application, run on the caller's channel over the
// call's own outbound socket:
//
//	uuid_setvar_multi <caller> continue_on_fail=true;hangup_after_bridge=false;call_timeout=<s>;instant_ringback=true
//	uuid_setvar <caller> bridge_terminate_key [*]      (hangupOnStar; unset otherwise)
//	uuid_setvar <caller> ringback / transfer_ringback <tone or media>
//	execute bridge {originate_timeout=<s>,origination_caller_id_number=..}[origination_uuid=<id>,
//	    execute_on_answer_1='sched_hangup +<timeLimit> ALLOTTED_TIMEOUT',execute_on_answer_2='send_dtmf <digits>',
//	    sip_h_X-..=..,api_on_answer='uuid_record <caller> start <file> <limit> {RECORD_STEREO=true}']<endpoint>,[..]<endpoint2>
//
// Why bridge and not originate + uuid_bridge: bridge is what FreeSWITCH's own dialplans and
// the Plivo framework use. FreeSWITCH then rings every leg at once, plays the ringback,
// answers the caller when a leg answers, hangs the losers up (LOSE_RACE), cancels every leg
// when the caller hangs up while they ring (ORIGINATOR_CANCEL), passes DTMF, ends the bridge
// on the caller's terminate key, and reports the outcome on the caller's channel
// (originate_disposition, DIALSTATUS, last_bridge_hangup_cause) in the application's
// CHANNEL_EXECUTE_COMPLETE. It needs no inbound connection, and if pbxbridge dies during a
// Dial, FreeSWITCH still finishes it cleanly. With originate + uuid_bridge pbxbridge would
// do each of those itself, on the inbound connection, with a window at every step where a
// lost pbxbridge leaves legs ringing or a caller in silence.
//
// Each leg gets an origination_uuid of ours, so the winner named in CHANNEL_BRIDGE
// (Bridge-B-Unique-ID) maps back to its target, and a cancelled Dial can kill its legs.
// continue_on_fail=true keeps a failed bridge from hanging the caller up, and
// hangup_after_bridge=false keeps the caller for the next verb. hangupOnStar is
// bridge_terminate_key=* (as the Plivo framework did): the bridge itself ends on the caller's
// *, and the caller's DTMF event tells pbxbridge why it ended; bind_meta_app would need * and
// a second key, and a uuid_kill of ours would add a round trip and depend on pbxbridge. The time limit runs in
// FreeSWITCH (sched_hangup on the answered leg: it ends with ALLOTTED_TIMEOUT), with a
// backstop of ours two seconds later. The recording DialSpec.Record asks for is started by
// the answering leg itself (api_on_answer runs uuid_record on the caller's channel at the
// answer, with no round trip to pbxbridge), so it starts at the answer, never before; it is
// a media bug on the caller's channel, whose read stream is the caller and whose write
// stream is what the caller hears, the called party: RECORD_READ_ONLY for Tracks in,
// RECORD_WRITE_ONLY for out, RECORD_STEREO (left = caller, right = called party) for
// Channels 2. pbxbridge stops it when the bridge ends (CHANNEL_UNBRIDGE) or at MaxDuration,
// and takes the file as any uuid_record (record_transfer shared or http). A session
// recording already running on the caller's channel is not touched: its media bug keeps
// recording through the bridge.
func (c *Call) Dial(ctx context.Context, d adapter.DialSpec) (adapter.DialResult, error) {
	res := adapter.DialResult{Target: -1}
	if c.isHungup() {
		return res, c.hangupErr()
	}
	var rec *dialRecording
	recName := ""
	if d.Record != nil {
		rec, recName = newDialRecording(c, *d.Record), d.Record.Name
	}
	legs := make([]string, 0, len(d.Targets))
	ids := map[string]int{}
	for i, t := range d.Targets {
		ep, err := c.p.endpoint(t)
		if err != nil {
			c.log.Warn("dial target skipped", "target", i, "kind", t.Kind, "err", err)
			continue
		}
		id := newUUID()
		ids[id] = i
		vars := []string{"origination_uuid=" + id}
		n := 0
		if d.TimeLimit > 0 {
			n++
			vars = append(vars, fmt.Sprintf("execute_on_answer_%d='sched_hangup +%d ALLOTTED_TIMEOUT'", n, ceilSeconds(d.TimeLimit)))
		}
		if t.SendDigits != "" {
			if strings.Trim(t.SendDigits, "0123456789*#wWABCD") != "" {
				c.log.Warn("dial target: send digits ignored", "target", i, "digits", t.SendDigits)
			} else {
				n++
				vars = append(vars, fmt.Sprintf("execute_on_answer_%d='send_dtmf %s'", n, t.SendDigits))
			}
		}
		for _, h := range t.Headers {
			if v, ok := sipHeaderVar(h); ok {
				vars = append(vars, v)
			} else {
				c.log.Warn("dial target: SIP header ignored (name must be a token, value without quotes or brackets)", "target", i, "header", h.Name)
			}
		}
		if cf := d.Confirm; cf != nil {
			// switch_ivr_originate's collect thread: on the leg's answer it plays
			// group_confirm_file to the leg and reads group_confirm_key from it, every
			// group_confirm_read_timeout ms, until the key comes (the leg wins) or the
			// originate timeout ends the leg; the caller hears the ringback meanwhile.
			vars = append(vars, "group_confirm_key="+string(cf.Key))
			if cf.Audio != nil {
				if f := mediaTarget(cf.Audio.URL); !strings.ContainsAny(f, "'[]{}") { // quoted: commas are safe
					vars = append(vars, "group_confirm_file='"+f+"'")
				} else {
					c.log.Warn("dial target: confirm sound not usable in a dial string; silence instead", "target", i)
				}
			}
			if cf.Timeout > 0 {
				vars = append(vars, fmt.Sprintf("group_confirm_read_timeout=%d", cf.Timeout.Milliseconds()))
			}
		}
		if rec != nil {
			arg, err := rec.leg(i)
			if err != nil {
				return res, err
			}
			vars = append(vars, "api_on_answer='"+arg+"'")
		}
		legs = append(legs, "["+strings.Join(vars, ",")+"]"+ep)
	}
	if len(legs) == 0 {
		res.Status, res.Ended = adapter.DialFailed, time.Now()
		c.log.Warn("dial: no target can be dialled", "targets", len(d.Targets))
		return res, nil
	}
	timeout := ceilSeconds(d.Timeout)
	if timeout <= 0 {
		timeout = 60
	}
	global := []string{fmt.Sprintf("originate_timeout=%d", timeout)}
	if d.CallerID != "" {
		if v, ok := dialValue(d.CallerID); ok {
			global = append(global, "origination_caller_id_number="+v)
		}
	}
	if d.CallerName != "" {
		if v, ok := dialValue(d.CallerName); ok {
			global = append(global, "origination_caller_id_name="+v)
		}
	}
	ringback := "%(2000,4000,440,480)" // FreeSWITCH's us-ring
	if d.Ringback != nil {
		ringback = mediaTarget(d.Ringback.URL)
		// the caller hears our ringback, not the called party's early media
		global = append(global, "ignore_early_media=true")
	}
	dial := "{" + strings.Join(global, ",") + "}" + strings.Join(legs, ",")

	// the caller's channel: a failed bridge must not hang it up, nor a finished one
	setup := []string{
		fmt.Sprintf("uuid_setvar_multi %s continue_on_fail=true;hangup_after_bridge=false;call_timeout=%d;instant_ringback=true", c.uuid, timeout),
		"uuid_setvar " + c.uuid + " bridge_terminate_key", // unset
		"uuid_setvar " + c.uuid + " ringback " + ringback,
		"uuid_setvar " + c.uuid + " transfer_ringback " + ringback,
	}
	if d.HangupOnStar {
		setup[1] += " *"
	}
	for _, s := range setup {
		name, arg, _ := strings.Cut(s, " ")
		if _, err := c.send(ctx, name, command.API{Command: name, Arguments: arg}); err != nil {
			return res, err
		}
	}
	if rec != nil {
		// RECORD_START comes when the leg answers, before CHANNEL_BRIDGE
		rec.watch()
	}
	c.log.Info("dial", "targets", len(legs), "timeout", timeout, "time_limit", d.TimeLimit, "hangup_on_star", d.HangupOnStar,
		"record", recName)
	id := c.newAppUUID()
	c.clearMailbox()
	if _, err := c.send(ctx, "execute bridge", &call.Execute{AppName: "bridge", AppArgs: dial, AppUUID: id}); err != nil {
		if rec != nil {
			rec.unwatchAll()
		}
		return res, err
	}

	var (
		answered, unbridged, hangupSeen, callerFirst bool
		star, limitHit, lost                         bool
		done                                         *event
		limitC, maxC                                 <-chan time.Time
	)
	bound := time.Duration(timeout)*time.Second + 24*time.Hour
	if d.TimeLimit > 0 {
		bound = time.Duration(timeout)*time.Second + d.TimeLimit + time.Minute
	}
	wctx, cancel := context.WithTimeout(c.p.runCtx, bound)
	defer cancel()
	probe := time.NewTicker(c.p.probeEvery)
	defer probe.Stop()
	callDone := ctx.Done()
	arm := func(left time.Duration) {
		if left > 0 {
			t := time.NewTimer(left)
			maxC = t.C
		}
	}
wait:
	for {
		for e := c.pop(); e != nil; e = c.pop() {
			switch e.Name {
			case "CHANNEL_BRIDGE":
				if answered {
					continue
				}
				answered = true
				res.CalledID = e.lookup("Bridge-B-Unique-ID")
				if res.CalledID == "" {
					res.CalledID = e.lookup("Other-Leg-Unique-ID")
				}
				if i, ok := ids[res.CalledID]; ok {
					res.Target = i
				}
				res.Answered = parseMicros(e.lookup("Other-Leg-Channel-Answered-Time"))
				if res.Answered.IsZero() {
					res.Answered = e.At
				}
				if d.OnAnswer != nil {
					d.OnAnswer(res.Target, res.CalledID, res.Answered)
				}
				if d.TimeLimit > 0 {
					t := time.NewTimer(d.TimeLimit + 2*time.Second)
					defer t.Stop()
					limitC = t.C
				}
				if rec != nil {
					arm(rec.bridged(res.Target))
				}
			case "RECORD_START":
				if rec != nil {
					at := e.At
					if at.IsZero() {
						at = time.Now()
					}
					arm(rec.started(e.get("Record-File-Path"), at))
				}
			case "DTMF":
				if d.HangupOnStar && answered && !unbridged && e.get("DTMF-Digit") == "*" {
					star = true
				}
			case "CHANNEL_HANGUP":
				hangupSeen = true
			case "CHANNEL_UNBRIDGE":
				if !unbridged {
					unbridged, callerFirst = true, hangupSeen
					res.Ended = e.At
					if rec != nil && !hangupSeen {
						rec.stop(adapter.EndSessionEnd)
					}
				}
			case "CHANNEL_EXECUTE_COMPLETE":
				if e.get("Application-UUID") == id {
					done = e
					break wait
				}
			case "CHANNEL_HANGUP_COMPLETE":
				break wait
			}
		}
		select {
		case <-c.wake:
		case <-callDone:
			// the engine gave up on the Dial: end the legs; the bridge then completes
			callDone = nil
			if c.isHungup() {
				continue // FreeSWITCH cancels or hangs up the legs itself
			}
			cause := "ORIGINATOR_CANCEL"
			if answered {
				cause = "NORMAL_CLEARING"
			}
			for leg := range ids {
				_, _ = c.send(wctx, "uuid_kill", command.API{Command: "uuid_kill", Arguments: leg + " " + cause})
			}
		case <-limitC:
			// FreeSWITCH's sched_hangup should have ended it: the backstop
			limitC = nil
			if !unbridged {
				limitHit = true
				_, _ = c.send(wctx, "uuid_kill", command.API{Command: "uuid_kill", Arguments: res.CalledID + " ALLOTTED_TIMEOUT"})
			}
		case <-maxC:
			maxC = nil
			if !unbridged && !c.isHungup() {
				rec.stop(adapter.EndMaxLength)
			}
		case <-probe.C:
			if err := c.probe(wctx); err != nil {
				lost = true
				break wait
			}
		case <-wctx.Done():
			if !c.isHungup() {
				if rec != nil {
					rec.unwatchAll()
				}
				return res, fmt.Errorf("esl: dial: no completion in %v: %w", bound, adapter.ErrPBXDown)
			}
			lost = true
			break wait
		}
	}
	hungup := c.isHungup()
	cause := done.lookupVar("last_bridge_hangup_cause")
	if cause == "" {
		cause = done.lookupVar("bridge_hangup_cause")
	}
	if answered {
		res.Status, res.HangupCause = adapter.DialCompleted, cause
		if res.Ended.IsZero() {
			res.Ended = time.Now()
		}
		switch {
		case star && cause != "ALLOTTED_TIMEOUT" && !callerFirst:
			res.HungUpBy = "star"
		case callerFirst || (!unbridged && hungup):
			res.HungUpBy = "caller"
		case limitHit || cause == "ALLOTTED_TIMEOUT":
			res.HungUpBy = "time-limit"
		default:
			res.HungUpBy = "callee"
		}
	} else {
		disp := done.lookupVar("originate_disposition")
		res.HangupCause = disp
		res.Ended = time.Now()
		if done != nil && !done.At.IsZero() {
			res.Ended = done.At
		}
		res.CalledID = firstCreated(done.lookupVar("originate_causes"))
		switch {
		case hangupSeen || hungup || lost:
			res.Status = adapter.DialCanceled
			if res.HangupCause == "" {
				res.HangupCause = "ORIGINATOR_CANCEL"
			}
		default:
			res.Status = dialOutcome(disp)
		}
	}
	if rec != nil {
		res.Recording, res.RecordErr = rec.result(answered, hungup)
	}
	c.log.Info("dial ended", "status", res.Status, "target", res.Target, "called", res.CalledID, "hung_up_by", res.HungUpBy,
		"cause", res.HangupCause)
	if hungup || lost {
		return res, c.hangupErr()
	}
	if callDone == nil { // the engine gave up on it: the legs were ended
		return res, context.Cause(ctx)
	}
	return res, nil
}

// dialOutcome maps a failed bridge's originate_disposition (a Q.850 cause name) to a Dial
// status, as Asterisk's DIALSTATUS would read.
func dialOutcome(cause string) adapter.DialStatus {
	switch cause {
	case "USER_BUSY":
		return adapter.DialBusy
	case "NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT", "PROGRESS_TIMEOUT":
		return adapter.DialNoAnswer
	case "ORIGINATOR_CANCEL":
		return adapter.DialCanceled
	}
	return adapter.DialFailed
}

// firstCreated is the first leg uuid of originate_causes (ARRAY::<uuid>;<cause>|:<uuid>;<cause>).
func firstCreated(causes string) string {
	first, _, _ := strings.Cut(strings.TrimPrefix(causes, "ARRAY::"), "|:")
	uuid, _, _ := strings.Cut(first, ";")
	return uuid
}

// dialRecordVars are the uuid_record variables of a Dial's recording on the caller's
// channel: read = the caller, write = the called party.
func dialRecordVars(r adapter.RecordSpec) string {
	var vars []string
	switch r.Tracks {
	case translate.TracksIn:
		vars = append(vars, "RECORD_READ_ONLY=true")
	case translate.TracksOut:
		vars = append(vars, "RECORD_WRITE_ONLY=true")
	}
	if r.Channels == 2 {
		vars = append(vars, "RECORD_STEREO=true")
	}
	return strings.Join(vars, ",")
}

// endpoint is a target's dial string leg, from the freeswitch[].dial templates.
func (p *PBX) endpoint(t adapter.DialTarget) (string, error) {
	ds := p.cfg.Dial.OrDefaults()
	switch t.Kind {
	case translate.TargetNumber:
		n := strings.TrimPrefix(t.Address, "+")
		if n == "" || strings.Trim(n, "0123456789") != "" {
			return "", fmt.Errorf("number %q: digits with an optional leading +: %w", t.Address, adapter.ErrUnsupported)
		}
		return strings.ReplaceAll(ds.Number, "{number}", t.Address), nil
	case translate.TargetSIP, translate.TargetUser:
		uri := t.Address
		if strings.ContainsAny(uri, ",|[]{}<>'\" \t\r\n") {
			return "", fmt.Errorf("SIP URI %q: a character that would split the dial string: %w", uri, adapter.ErrUnsupported)
		}
		rest := uri
		if i := strings.IndexByte(rest, ':'); i >= 0 && (strings.EqualFold(rest[:i], "sip") || strings.EqualFold(rest[:i], "sips")) {
			rest = rest[i+1:]
		}
		if i := strings.IndexAny(rest, ";?"); i >= 0 {
			rest = rest[:i]
		}
		user, host, ok := strings.Cut(rest, "@")
		if !ok {
			user, host = "", rest
		}
		tmpl := ds.SIP
		if t.Kind == translate.TargetUser {
			tmpl = ds.User
		}
		if user == "" && strings.Contains(tmpl, "{user}") {
			return "", fmt.Errorf("SIP URI %q has no user part: %w", uri, adapter.ErrUnsupported)
		}
		r := strings.NewReplacer("{uri}", uri, "{user}", user, "{host}", host)
		return r.Replace(tmpl), nil
	}
	return "", fmt.Errorf("target kind %q: %w", t.Kind, adapter.ErrUnsupported)
}

// dialValue quotes a dial-string variable value: single quotes when it holds a comma or a
// space; false when it cannot be carried (a quote or a bracket).
func dialValue(v string) (string, bool) {
	if strings.ContainsAny(v, "'\"[]{}<>|\r\n") {
		return "", false
	}
	if strings.ContainsAny(v, ", \t") {
		return "'" + v + "'", true
	}
	return v, true
}

// sipHeaderVar is the leg variable that sends a custom SIP header on the INVITE (sip_h_).
func sipHeaderVar(h translate.SIPHeader) (string, bool) {
	if h.Name == "" || strings.Trim(h.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
		return "", false
	}
	v, ok := dialValue(h.Value)
	if !ok {
		return "", false
	}
	return "sip_h_" + h.Name + "=" + v, true
}

// lookup finds a header by its name as FreeSWITCH writes it, whatever canonicalisation
// eslgo applied to the key.
func (e *event) lookup(k string) string {
	if e == nil {
		return ""
	}
	if v, ok := e.h[k]; ok && v != "" {
		return v
	}
	return e.h[textproto.CanonicalMIMEHeaderKey(k)]
}

// lookupVar is a channel variable the event carries (variable_<name>).
func (e *event) lookupVar(name string) string { return e.lookup("variable_" + name) }

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
