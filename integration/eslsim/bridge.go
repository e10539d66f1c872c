package eslsim

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bridging: mod_dptools' bridge application as FreeSWITCH 1.10 runs it on a channel
// (switch_ivr_originate.c, switch_ivr_bridge.c), with scriptable called parties.
//
// A test registers called parties with AddCallee, by endpoint: one leg of a dial string
// without its [..] variables, as pbxbridge builds it from freeswitch[].dial, e.g.
// "sofia/gateway/pstn/15551230001" or "sofia/external/sip:bob@example.com", or by the
// address alone ("15551230001", "sip:bob@example.com"); Options.Callees answers for the
// rest (say, by a number's last digits). Then
// `bridge <dial string>` on a channel (sendmsg execute) rings every leg of the first '|'
// group at once (',' separates simultaneous legs), bridges the caller with the first to
// answer, and returns when the bridge ends:
//
//   - {..} and <..> at the start set variables on every leg, [..] before a leg on that leg
//     (values may be 'quoted'); origination_uuid, origination_caller_id_number/_name,
//     originate_timeout and leg_timeout (ALLOTTED_TIMEOUT on that leg) are honoured, and
//     every variable is set on the leg's channel (sip_h_X-..., for instance).
//   - the caller's channel variables: call_timeout (default 60 s; originate_timeout wins),
//     continue_on_fail (unless "true" or naming the cause, a failed bridge hangs the caller
//     up with the cause, as mod_dptools does), hangup_after_bridge ("true" hangs the caller up
//     after a bridge it survived), bridge_terminate_key (the caller's key that ends the
//     bridge), transfer_ringback (what an answered caller hears while the legs ring: a tone
//     such as %(2000,4000,440,480), or anything Play understands).
//   - group_confirm_key on a leg (with group_confirm_file, group_confirm_read_timeout): an
//     answered leg must press the key (Channel.confirm) before it counts as answered; until
//     then the others ring on and the caller hears the ringback.
//   - on a leg's answer, its execute_on_answer* variables run on the leg (sched_hangup
//     +<s> [<cause>], send_dtmf <keys>, record_session <path>) and its api_on_answer*
//     variables run as api commands (uuid_record <caller> start ... starts a recording of the
//     caller's channel at the answer).
//   - outcome on the caller's channel, as CHANNEL_EXECUTE_COMPLETE's variables show it:
//     originate_disposition (SUCCESS, or the cause), DIALSTATUS (SUCCESS, BUSY, NOANSWER,
//     CANCEL, DONTCALL, INVALIDARGS or the cause), originate_causes
//     (ARRAY::<uuid>;<cause>|:...), and after a bridge bridge_uuid, last_bridge_to,
//     bridge_channel, signal_bond and last_bridge_hangup_cause / bridge_hangup_cause.
//   - failure causes: a leg whose endpoint is not registered fails with
//     NO_ROUTE_DESTINATION (error/<cause>, mod_dptools' error endpoint, with that cause); the
//     timeout ends the ringing legs with NO_ANSWER (cause NO_ANSWER); the caller's hangup
//     ends them with ORIGINATOR_CANCEL; the losers of a race get LOSE_RACE; when every leg
//     failed, the cause is the first leg's.
//
// Events: each leg fires CHANNEL_CREATE, CHANNEL_OUTGOING, CHANNEL_PROGRESS (ringing),
// CHANNEL_ANSWER, CHANNEL_HANGUP, CHANNEL_STATE, CHANNEL_HANGUP_COMPLETE and CHANNEL_DESTROY
// with its own Unique-ID (only inbound sockets subscribed to them see these); the caller's
// channel fires CHANNEL_ANSWER when it was not answered yet, CHANNEL_BRIDGE and
// CHANNEL_UNBRIDGE (Bridge-A-Unique-ID = the caller, Bridge-B-Unique-ID = the leg, and the
// leg's profile as Other-Leg-*), which its outbound socket's myevents delivers.
//
// Media while bridged: the caller's read stream stays the caller's audio, its write stream
// (what the caller hears, what a media bug records as "write") is the called party's Audio;
// the leg's write stream (Channel.Heard on Leg.Channel) is the caller's audio. So recordings
// of the caller's channel with RECORD_READ_ONLY, RECORD_WRITE_ONLY, RECORD_STEREO (left =
// caller, right = called party) or mixed hold what FreeSWITCH would write. The caller's keys
// during the bridge fire DTMF on the caller's channel and reach the called party
// (Leg.Received), except the terminate key. Simplification: an unanswered caller hears no
// ringback in the simulation (FreeSWITCH would send it as early media).

// Callee is a scriptable called party.
type Callee struct {
	// Ring is how long the leg rings (CHANNEL_PROGRESS) before it answers or refuses.
	Ring time.Duration
	// Refuse, when set, is the Q.850 cause it refuses with after Ring: USER_BUSY,
	// CALL_REJECTED, NO_USER_RESPONSE...
	Refuse string
	// NoAnswer: it rings until the bridge gives up or the caller hangs up.
	NoAnswer bool
	// Audio is what it says from its answer; silence after.
	Audio []int16
	// DTMF are keys it presses, timed from its answer (DTMF events on its leg).
	DTMF []DTMF
	// HangupAt hangs it up (NORMAL_CLEARING) that long after its answer; 0 = never.
	HangupAt time.Duration
}

// AddCallee registers the called party reached at endpoint; a later registration replaces
// an earlier one. endpoint is a whole leg ("sofia/gateway/pstn/15550001"), or only its address,
// the part after the last '/' ("15550001", "sip:bob@example.com", "dave"), which then matches
// whatever endpoint template led to it; a whole leg wins over an address.
func (s *Sim) AddCallee(endpoint string, c Callee) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.callees == nil {
		s.callees = map[string]Callee{}
	}
	s.callees[endpoint] = c
}

// Leg is one leg a bridge originated.
type Leg struct {
	Endpoint string
	// Vars are the leg's variables from the dial string ({..}, <..> and its own [..]).
	Vars map[string]string
	// Channel is the leg's channel; nil when the endpoint could not be reached.
	Channel *Channel

	mu       sync.Mutex
	cause    string
	received []byte
}

// Cause is the leg's hangup cause ("" while it is up).
func (l *Leg) Cause() string {
	if l.Channel != nil {
		return l.Channel.HangupCause()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cause
}

// Received are the keys the called party received: send_dtmf at its answer, then the
// caller's keys passed across the bridge.
func (l *Leg) Received() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.received)
}

func (l *Leg) receive(keys string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := 0; i < len(keys); i++ {
		if strings.IndexByte("0123456789*#ABCDabcd", keys[i]) >= 0 {
			l.received = append(l.received, keys[i])
		}
	}
}

// Legs returns the legs bridges originated so far, in order.
func (s *Sim) Legs() []*Leg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Leg(nil), s.legs...)
}

func init() {
	for k, v := range map[string][3]string{
		"CHANNEL_BRIDGE":   {"switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1735"},
		"CHANNEL_UNBRIDGE": {"switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1848"},
		"CHANNEL_PROGRESS": {"switch_channel.c", "switch_channel_perform_mark_ring_ready_value", "3555"},
		"CHANNEL_OUTGOING": {"switch_core_session.c", "switch_core_session_outgoing_channel", "727"},
	} {
		callingSite[k] = v
	}
}

// dialLeg is one leg of a parsed dial string.
type dialLeg struct {
	endpoint string
	vars     map[string]string
}

// parseDialString splits a bridge dial string into '|' groups of ',' legs.
func parseDialString(s string) [][]dialLeg {
	global := map[string]string{}
	s = strings.TrimSpace(s)
	for len(s) > 0 && (s[0] == '{' || s[0] == '<') {
		end := matchClose(s)
		if end < 0 {
			break
		}
		parseVars(s[1:end], global)
		s = s[end+1:]
	}
	var groups [][]dialLeg
	for _, g := range splitTop(s, '|') {
		var legs []dialLeg
		for _, l := range splitTop(g, ',') {
			l = strings.TrimSpace(l)
			vars := map[string]string{}
			for k, v := range global {
				vars[k] = v
			}
			for strings.HasPrefix(l, "[") {
				end := matchClose(l)
				if end < 0 {
					break
				}
				parseVars(l[1:end], vars)
				l = l[end+1:]
			}
			if l != "" {
				legs = append(legs, dialLeg{l, vars})
			}
		}
		if len(legs) > 0 {
			groups = append(groups, legs)
		}
	}
	return groups
}

// matchClose returns the index of the bracket closing s[0], outside quotes.
func matchClose(s string) int {
	open := s[0]
	close := map[byte]byte{'{': '}', '[': ']', '<': '>'}[open]
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			quoted = !quoted
		case quoted:
		case c == open:
			depth++
		case c == close:
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// splitTop splits s at sep outside quotes and brackets.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, quoted, from := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			quoted = !quoted
		case quoted:
		case c == '[' || c == '{' || c == '<':
			depth++
		case c == ']' || c == '}' || c == '>':
			depth--
		case c == sep && depth == 0:
			out = append(out, s[from:i])
			from = i + 1
		}
	}
	return append(out, s[from:])
}

func parseVars(body string, into map[string]string) {
	for _, kv := range splitTop(body, ',') {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			continue
		}
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = v[1 : len(v)-1]
		}
		into[k] = v
	}
}

// raceWindow is how close two answers must be for both legs to be answered before the
// bridge picks the first (one pass of the originate loop).
const raceWindow = 20 * time.Millisecond

type legEvent struct {
	leg      *Leg
	answered bool
}

// bridgeApp is mod_dptools' bridge on channel a (the caller).
func (a *Channel) bridgeApp(arg string) {
	groups := parseDialString(arg)
	timeout := 60 * time.Second
	if n, err := strconv.Atoi(a.Var("call_timeout")); err == nil && n > 0 {
		timeout = time.Duration(n) * time.Second
	}
	if len(groups) > 0 {
		if n, err := strconv.Atoi(groups[0][0].vars["originate_timeout"]); err == nil && n > 0 {
			timeout = time.Duration(n) * time.Second
		}
	}
	var all []*Leg
	var winner *Leg
	cause := "DESTINATION_OUT_OF_ORDER"
	for _, g := range groups {
		var legs []*Leg
		winner, cause, legs = a.ring(g, timeout)
		all = append(all, legs...)
		if winner != nil || cause == "ORIGINATOR_CANCEL" {
			break
		}
	}
	var causes []string
	for _, l := range all {
		if l.Channel != nil {
			c := l.Cause()
			if l == winner {
				c = "NONE"
			}
			causes = append(causes, l.Channel.uuid+";"+c)
		}
	}
	if len(causes) > 0 {
		a.setVar("originate_causes", "ARRAY::"+strings.Join(causes, "|:"))
	}
	if winner == nil {
		a.setVar("originate_disposition", cause)
		a.setVar("DIALSTATUS", dialStatus(cause))
		cof := a.Var("continue_on_fail")
		if cof != "true" && !strings.Contains(","+cof+",", ","+cause+",") {
			// mod_dptools: a failed bridge hangs the caller up unless continue_on_fail says not to
			a.Hangup(cause)
		}
		return
	}
	a.setVar("originate_disposition", "SUCCESS")
	a.setVar("DIALSTATUS", "SUCCESS")
	a.bridgeTo(winner)
}

// dialStatus is switch_ivr_originate.c's DIALSTATUS for a failure cause.
func dialStatus(cause string) string {
	switch cause {
	case "ORIGINATOR_CANCEL":
		return "CANCEL"
	case "USER_BUSY":
		return "BUSY"
	case "NO_ANSWER":
		return "NOANSWER"
	case "DESTINATION_OUT_OF_ORDER", "INVALID_PROFILE":
		return "INVALIDARGS"
	case "CALL_REJECTED":
		return "DONTCALL"
	}
	return cause
}

// ring originates one group of legs at once and waits for the first answer, the timeout,
// the caller's hangup or every leg's failure.
func (a *Channel) ring(group []dialLeg, timeout time.Duration) (*Leg, string, []*Leg) {
	events := make(chan legEvent, 2*len(group))
	var legs []*Leg
	pending := 0
	for _, dl := range group {
		l := a.sim.originateLeg(a, dl, events)
		legs = append(legs, l)
		if l.Channel != nil {
			pending++
		}
	}
	firstCause := func() string {
		for _, l := range legs {
			if c := l.Cause(); c != "" {
				return c
			}
		}
		return "DESTINATION_OUT_OF_ORDER"
	}
	var rb *writeSeg
	a.mu.Lock()
	up := !a.answered.IsZero()
	a.mu.Unlock()
	if up && pending > 0 {
		if pcm := ringbackSamples(a.Var("transfer_ringback")); len(pcm) > 0 {
			rb = a.startWrite(pcm, true)
		}
	}
	defer a.stopWrite(rb)
	hangAll := func(cause string, except *Leg) {
		for _, l := range legs {
			if l != except && l.Channel != nil {
				l.Channel.Hangup(cause)
			}
		}
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for pending > 0 {
		select {
		case ev := <-events:
			if ev.answered && ev.leg.Channel.HangupCause() == "" {
				// the ringback stops where the called party's media starts
				a.stopWriteAt(rb, ev.leg.Channel.mediaStart())
				if len(legs) > 1 {
					// switch_ivr_originate polls its legs in a loop: a leg that answers
					// within the same pass is answered too (its on-answer hooks ran) and
					// only then loses the race
					time.Sleep(raceWindow)
					hangAll("LOSE_RACE", ev.leg)
				}
				return ev.leg, "SUCCESS", legs
			}
			if !ev.answered {
				pending--
			}
		case k := <-a.dtmf:
			a.dtmfEvent(k) // dequeued by the originate loop, not passed on
		case <-timer.C:
			hangAll("NO_ANSWER", nil)
			return nil, "NO_ANSWER", legs
		case <-a.hungup:
			hangAll("ORIGINATOR_CANCEL", nil)
			return nil, "ORIGINATOR_CANCEL", legs
		}
	}
	return nil, firstCause(), legs
}

// originateLeg creates one leg and runs its callee's script; events gets its answer or its
// end.
func (s *Sim) originateLeg(a *Channel, dl dialLeg, events chan<- legEvent) *Leg {
	l := &Leg{Endpoint: dl.endpoint, Vars: dl.vars}
	s.mu.Lock()
	s.legs = append(s.legs, l)
	c, ok := s.callees[dl.endpoint]
	if !ok {
		c, ok = s.callees[dl.endpoint[strings.LastIndexByte(dl.endpoint, '/')+1:]]
	}
	s.mu.Unlock()
	if !ok && s.opts.Callees != nil {
		c, ok = s.opts.Callees(dl.endpoint)
	}
	if !ok {
		l.cause = "NO_ROUTE_DESTINATION"
		if rest, isErr := strings.CutPrefix(dl.endpoint, "error/"); isErr {
			l.cause = strings.ToUpper(rest)
		}
		return l
	}
	sc := Script{From: a.script.From, CallerName: a.script.CallerName, ChannelName: dl.endpoint,
		Audio: c.Audio, DTMF: c.DTMF, HangupAt: c.HangupAt}
	if v := dl.vars["origination_caller_id_number"]; v != "" {
		sc.From = v
	}
	if v := dl.vars["origination_caller_id_name"]; v != "" {
		sc.CallerName = v
	}
	sc.To = dl.endpoint[strings.LastIndexByte(dl.endpoint, '/')+1:]
	b := s.newChannelID(sc, dl.vars["origination_uuid"])
	b.socketArg = ""
	b.mu.Lock()
	b.outgoing, b.leg = true, l
	b.state, b.stateNum, b.callState = "CS_INIT", 1, "DOWN"
	b.setVarLocked("direction", "outbound")
	keys := make([]string, 0, len(dl.vars))
	for k := range dl.vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.setVarLocked(k, dl.vars[k])
	}
	b.mu.Unlock()
	l.Channel = b
	b.emit("CHANNEL_CREATE")
	b.emit("CHANNEL_OUTGOING")
	b.mu.Lock()
	b.state, b.stateNum, b.callState = "CS_CONSUME_MEDIA", 7, "RINGING"
	b.mu.Unlock()
	b.emit("CHANNEL_PROGRESS")
	go b.legLife()
	if n, err := strconv.Atoi(dl.vars["leg_timeout"]); err == nil && n > 0 {
		t := time.AfterFunc(time.Duration(n)*time.Second, func() {
			b.mu.Lock()
			up := !b.answered.IsZero()
			b.mu.Unlock()
			if !up {
				b.Hangup("ALLOTTED_TIMEOUT")
			}
		})
		go func() { <-b.hungup; t.Stop() }()
	}
	go func() {
		t := time.NewTimer(c.Ring)
		defer t.Stop()
		select {
		case <-t.C:
			switch {
			case c.Refuse != "":
				b.Hangup(c.Refuse)
			case c.NoAnswer:
				<-b.hungup
			default:
				key := dl.vars["group_confirm_key"]
				if key != "" {
					b.mu.Lock()
					b.readingKeys = true // the collect thread reads the leg's keys
					b.mu.Unlock()
				}
				b.answerLeg()
				if key == "" || b.confirm(key, dl.vars["group_confirm_file"], dl.vars["group_confirm_read_timeout"]) {
					events <- legEvent{l, true}
				}
				<-b.hungup
			}
		case <-b.hungup:
		}
		events <- legEvent{l, false}
	}()
	return l
}

// confirm is switch_ivr_originate's collect thread on an answered leg with
// group_confirm_key: switch_ivr_read plays group_confirm_file ("silence" when unset) to the
// leg and reads as many keys as the key has characters, within group_confirm_read_timeout ms
// (default 5000) after the prompt; the exact key makes the leg the winner; anything else
// (a wrong key, no key) reads again, prompt and all, for as long as the leg is up: the
// originate timeout (NO_ANSWER) or the caller's cancel ends it. A prompt that cannot be
// played hangs the leg up with DESTINATION_OUT_OF_ORDER. group_confirm_error_file and
// key = "exec" are not modelled.
func (b *Channel) confirm(key, file, readTimeout string) bool {
	wait := 5000 * time.Millisecond
	if n, err := strconv.Atoi(readTimeout); err == nil && n > 0 {
		wait = time.Duration(n) * time.Millisecond
	}
	defer b.parkDequeue()
	for {
		var pcm []int16
		if file != "" && file != "silence" {
			var ok bool
			if pcm, ok = mediaSamples(file); !ok {
				b.Hangup("DESTINATION_OUT_OF_ORDER")
				return false
			}
		}
		seg := b.startWrite(pcm, false)
		t := time.NewTimer(time.Duration(len(pcm))*time.Second/Rate + wait)
		var got []byte
	read:
		for len(got) < len(key) {
			select {
			case k := <-b.dtmf:
				b.dtmfEvent(k)
				got = append(got, k.d)
			case <-t.C:
				break read
			case <-b.hungup:
				t.Stop()
				b.stopWrite(seg)
				return false
			}
		}
		t.Stop()
		b.stopWrite(seg)
		if string(got) == key {
			b.setVar("group_dial_status", "winner")
			return true
		}
	}
}

// answerLeg answers an originated leg and runs its execute_on_answer* and api_on_answer*
// variables (switch_channel_perform_mark_answered).
func (b *Channel) answerLeg() {
	b.answer()
	b.mu.Lock()
	var exec, api []header
	for _, v := range b.vars {
		switch {
		case strings.HasPrefix(v.k, "execute_on_answer"):
			exec = append(exec, v)
		case strings.HasPrefix(v.k, "api_on_answer"):
			api = append(api, v)
		}
	}
	b.mu.Unlock()
	for _, v := range exec {
		app, arg, _ := strings.Cut(strings.TrimSpace(v.v), " ")
		switch app {
		case "sched_hangup":
			f := strings.Fields(arg)
			if len(f) == 0 {
				continue
			}
			n, _ := strconv.Atoi(strings.TrimPrefix(f[0], "+"))
			cause := "ALLOTTED_TIMEOUT"
			if len(f) > 1 {
				cause = f[1]
			}
			time.AfterFunc(time.Duration(n)*time.Second, func() { b.Hangup(cause) })
		case "send_dtmf":
			b.leg.receive(arg)
		case "record_session":
			b.startBug(arg, nil)
		}
	}
	for _, v := range api {
		var after func()
		b.sim.apiRun(v.v, &after)
		if after != nil {
			after()
		}
	}
	// switch_channel_perform_mark_answered runs the hooks in the channel thread before any
	// media flows: the bridge's streams start now, however late the caller's side gets to
	// the bridge (a loaded machine put 35 ms of the called party's audio before a recording
	// started by api_on_answer)
	b.mu.Lock()
	b.mediaFrom = time.Now()
	b.mu.Unlock()
}

// mediaStart is when an answered leg's media starts to flow (answerLeg), or now.
func (b *Channel) mediaStart() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mediaFrom.IsZero() {
		return time.Now()
	}
	return b.mediaFrom
}

// bridgeTo bridges the caller a with the answered leg l until either hangs up or the
// caller presses bridge_terminate_key.
func (a *Channel) bridgeTo(l *Leg) {
	b := l.Channel
	a.answer() // switch_channel_answer(caller_channel) once the peer answered
	// the media flows from the leg's answer (after its on-answer hooks), or from the
	// caller's own answer when that came later
	now := b.mediaStart()
	if at := a.Answered(); at.After(now) {
		now = at
	}
	posA := a.mediaPos(now)
	a.mu.Lock()
	rest := []int16(nil)
	if posA < len(a.script.Audio) {
		rest = append(rest, a.script.Audio[posA:]...)
	}
	a.setVarLocked("bridge_uuid", b.uuid)
	a.setVarLocked("last_bridge_to", b.uuid)
	a.setVarLocked("bridge_channel", b.name)
	a.setVarLocked("signal_bond", b.uuid)
	a.mu.Unlock()
	segA := a.startWriteAt(append([]int16(nil), b.script.Audio...), false, now) // the caller hears the called party
	segB := b.startWriteAt(rest, false, now)                                    // the called party hears the caller
	b.mu.Lock()
	b.state, b.stateNum = "CS_EXCHANGE_MEDIA", 5
	b.mu.Unlock()
	ids := []header{{"Bridge-A-Unique-ID", a.uuid}, {"Bridge-B-Unique-ID", b.uuid}}
	a.sim.emitPre("CHANNEL_BRIDGE", a, ids, b.otherLeg(), "")
	term := a.Var("bridge_terminate_key")
	why := ""
	for why == "" {
		select {
		case k := <-a.dtmf:
			a.dtmfEvent(k)
			if term != "" && k.d == term[0] {
				why = "key"
			} else {
				l.receive(string(k.d))
			}
		case <-a.hungup:
			why = "caller"
		case <-b.hungup:
			why = "callee"
		}
	}
	a.stopWrite(segA)
	b.stopWrite(segB)
	if why != "callee" {
		b.Hangup("NORMAL_CLEARING")
	}
	bc := b.HangupCause()
	a.setVar("last_bridge_hangup_cause", bc)
	a.setVar("bridge_hangup_cause", bc)
	a.sim.emitPre("CHANNEL_UNBRIDGE", a, ids, b.otherLeg(), "")
	if why != "caller" && a.Var("hangup_after_bridge") == "true" {
		a.Hangup("NORMAL_CLEARING")
	}
}

// otherLeg is the Other-Leg-* profile block a bridge event carries for the peer.
func (b *Channel) otherLeg() []header {
	b.mu.Lock()
	defer b.mu.Unlock()
	return []header{
		{"Other-Type", "originatee"},
		{"Other-Leg-Direction", "outbound"},
		{"Other-Leg-Logical-Direction", "outbound"},
		{"Other-Leg-Caller-ID-Name", b.script.CallerName},
		{"Other-Leg-Caller-ID-Number", b.script.From},
		{"Other-Leg-Destination-Number", b.script.To},
		{"Other-Leg-Unique-ID", b.uuid},
		{"Other-Leg-Channel-Name", b.name},
		{"Other-Leg-Channel-Created-Time", usec(b.created)},
		{"Other-Leg-Channel-Answered-Time", usec(b.answered)},
		{"Other-Leg-Channel-Hangup-Time", usec(b.hangupAt)},
	}
}

// legLife ends an originated leg after its hangup: its media bugs stop, then
// CHANNEL_HANGUP_COMPLETE and CHANNEL_DESTROY.
func (b *Channel) legLife() {
	<-b.hungup
	b.mu.Lock()
	b.state, b.stateNum = "CS_HANGUP", 10
	bugs := append([]*mediaBug(nil), b.bugs...)
	b.mu.Unlock()
	b.emit("CHANNEL_STATE")
	for _, bug := range bugs {
		b.stopBugWith(bug, "success-silence")
	}
	b.mu.Lock()
	b.state, b.stateNum = "CS_REPORTING", 11
	b.mu.Unlock()
	b.emit("CHANNEL_STATE")
	b.emit("CHANNEL_HANGUP_COMPLETE")
	b.mu.Lock()
	b.state, b.stateNum = "CS_DESTROY", 12
	b.mu.Unlock()
	b.emit("CHANNEL_DESTROY")
	b.destroy()
}

// ringbackSamples is the audio of a ringback variable: a tone (%(on,off,freq...)), ${us-ring}
// or a Play target.
func ringbackSamples(v string) []int16 {
	switch {
	case v == "":
		return nil
	case v == "${us-ring}":
		v = "%(2000,4000,440,480)"
	}
	if strings.HasPrefix(v, "%(") {
		v = "tone_stream://" + v
	}
	pcm, _ := mediaSamples(v)
	return pcm
}

// String describes a leg for test failures.
func (l *Leg) String() string {
	id := ""
	if l.Channel != nil {
		id = l.Channel.uuid
	}
	return fmt.Sprintf("leg %s (%s) cause %q", l.Endpoint, id, l.Cause())
}

// Answered is when the channel was answered; zero while it is not.
func (ch *Channel) Answered() time.Time {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.answered
}

// WaitAnswered waits up to d for a leg to endpoint to answer and returns it; nil if none did.
func (s *Sim) WaitAnswered(endpoint string, d time.Duration) *Leg {
	deadline := time.Now().Add(d)
	for {
		for _, l := range s.Legs() {
			if l.Endpoint == endpoint && l.Channel != nil && !l.Channel.Answered().IsZero() {
				return l
			}
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Bugs are the paths of the channel's running recording media bugs (uuid_record,
// record_session).
func (ch *Channel) Bugs() []string {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	var out []string
	for _, b := range ch.bugs {
		if !b.stopped {
			out = append(out, b.path)
		}
	}
	return out
}
