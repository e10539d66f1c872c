package eslsim

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rate is the simulated codec rate (L16 8 kHz); frames are 20 ms.
const (
	Rate         = 8000
	frameSamples = 160
	frameDur     = 20 * time.Millisecond
)

// Script is what the simulated caller does. Times are from the moment the call is answered
// (or, for a call that is never answered, from the moment it reached the socket).
type Script struct {
	From, To string
	// CallerName is the caller id name (Caller-Caller-ID-Name); "" sends no such header.
	CallerName string
	// Audio is what the caller says, 8 kHz mono; silence after it ends.
	Audio []int16
	// NoMedia: the caller sends no media frames at all (like an Asterisk Local channel that
	// plays nothing), so the record application has nothing to write; Audio is ignored.
	NoMedia bool
	DTMF    []DTMF
	// HangupAt hangs the caller up; 0 = the caller never hangs up.
	HangupAt time.Duration
	// Vars are extra channel variables (variable_* headers), such as the application name.
	Vars map[string]string
	// ChannelName is the channel's name; "" means sofia/internal/<From>@127.0.0.1.
	ChannelName string
	// PeerUUID names the other leg of a loopback pair: `uuid_send_dtmf <PeerUUID> <keys>` sends
	// keys out of that leg, so this channel receives them (d_record_dtmf, e_outbound_socket).
	PeerUUID string
	// Socket, in a Script that Options.Dialplan returns, makes that extension run
	// `socket <Socket> async full`: originate hands the leg to the outbound socket there.
	Socket string
}

// DTMF is one key the caller presses.
type DTMF struct {
	At    time.Duration
	Digit byte
}

// Tone returns d of a 440 Hz tone at amplitude amp (speech, as far as energy goes).
func Tone(d time.Duration, amp int16) []int16 {
	n := int(d / (time.Second / Rate))
	s := make([]int16, n)
	for i := range s {
		// a square-ish wave keeps the energy test independent of math
		if (i/9)%2 == 0 {
			s[i] = amp
		} else {
			s[i] = -amp
		}
	}
	return s
}

// Silence returns d of digital silence.
func Silence(d time.Duration) []int16 { return make([]int16, int(d/(time.Second/Rate))) }

type appCall struct {
	name, arg, uuid string
	// command is the COMMAND event uuid_broadcast built (numbered when it was queued); its
	// headers lead the PRIVATE_COMMAND fired after the application
	command []header
}

type mediaBug struct {
	path    string
	start   time.Time
	limit   time.Duration
	stopped bool
	vars    map[string]string
	done    chan struct{}
}

// bugVar is a recording variable: passed in uuid_record's {..} block, else the channel's.
func (ch *Channel) bugVar(b *mediaBug, k string) string {
	if v, ok := b.vars[k]; ok {
		return v
	}
	return ch.Var(k)
}

// Channel is one simulated call leg.
type Channel struct {
	sim       *Sim
	uuid      string
	name      string
	sessionID uint64
	script    Script
	socketArg string // "<host:port> async full", the dialplan's socket application
	parkUUID  string // Application-UUID of &park()
	created   time.Time

	mu          sync.Mutex
	vars        []header // channel variables, in the order they were first set
	answered    time.Time
	hangupAt    time.Time
	cause       string
	state       string
	callState   string
	stateNum    int
	apps        []appCall
	appsCh      chan struct{}
	hungup      chan struct{}
	dtmf        chan dtmfKey
	brk         chan struct{} // uuid_break: stop the running application
	displacing  string        // displace_session's file, until uuid_displace stop
	displaceSeg *writeSeg     // what displace_session plays
	written     []*writeSeg   // the write stream (write.go)
	// readingKeys: an application runs; keys wait in the channel's queue (dtmf) for it
	// (record and playback dequeue them) or for the park loop after it
	readingKeys bool
	outbound    *conn
	parked      bool // originated with &park(): CHANNEL_EXECUTE park, CHANNEL_PARK at start
	bugs        []*mediaBug
	done        chan struct{}
	gone        bool
	// outgoing: a leg the bridge application originated (Call-Direction outbound); leg is
	// its bridge state (bridge.go)
	outgoing bool
	leg      *Leg
	// mediaFrom: when an answered leg's media starts to flow, once its api_on_answer and
	// execute_on_answer ran (answerLeg); the bridge's streams start there, not when the
	// caller's goroutine gets to them
	mediaFrom time.Time
}

func (s *Sim) newChannel(sc Script) *Channel { return s.newChannelID(sc, "") }

// newChannelID creates a channel; uuid "" means a new one.
func (s *Sim) newChannelID(sc Script, uuid string) *Channel {
	if uuid == "" {
		uuid = newUUID()
	}
	if sc.From == "" {
		sc.From = "0000000000"
	}
	if sc.To == "" {
		sc.To = "pbxbridge"
	}
	s.mu.Lock()
	s.sessions++
	id := s.sessions
	s.mu.Unlock()
	ch := &Channel{
		sim: s, uuid: uuid, sessionID: id, script: sc, created: time.Now(),
		state: "CS_EXECUTE", callState: "RINGING", stateNum: 4,
		parkUUID: newUUID(), appsCh: make(chan struct{}, 1), hungup: make(chan struct{}), dtmf: make(chan dtmfKey, 32), brk: make(chan struct{}, 1), done: make(chan struct{}),
	}
	ch.name = sc.ChannelName
	if ch.name == "" {
		ch.name = "sofia/internal/" + sc.From + "@127.0.0.1"
	}
	ch.setVar("direction", "inbound")
	ch.setVar("uuid", ch.uuid)
	ch.setVar("session_id", fmt.Sprint(id))
	ch.setVar("channel_name", ch.name)
	ch.setVar("read_codec", "L16")
	ch.setVar("read_rate", "8000")
	ch.setVar("write_codec", "L16")
	ch.setVar("write_rate", "8000")
	ch.setVar("call_uuid", ch.uuid)
	for k, v := range sc.Vars {
		ch.setVar(k, v)
	}
	s.mu.Lock()
	s.channels[ch.uuid] = ch
	s.mu.Unlock()
	return ch
}

// UUID is the channel's Unique-ID.
func (ch *Channel) UUID() string { return ch.uuid }

// Done is closed when the channel is destroyed (after CHANNEL_HANGUP_COMPLETE).
func (ch *Channel) Done() <-chan struct{} { return ch.done }

// Var returns a channel variable.
func (ch *Channel) Var(k string) string {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.getVarLocked(k)
}

// Displacing is the file displace_session plays to the caller, "" when none.
func (ch *Channel) Displacing() string {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.displacing
}

// HangupCause is the cause once the channel hung up.
func (ch *Channel) HangupCause() string {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.cause
}

// DropSocket closes the outbound socket abruptly, as a FreeSWITCH crash or network cut would.
func (ch *Channel) DropSocket() {
	ch.mu.Lock()
	c := ch.outbound
	ch.mu.Unlock()
	if c != nil {
		c.Drop()
	}
}

// PressDTMF makes the caller press a key now.
func (ch *Channel) PressDTMF(d byte) { ch.receiveDTMF(d, "RTP") }

func (ch *Channel) setVar(k, v string) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.setVarLocked(k, v)
}

func (ch *Channel) setVarLocked(k, v string) {
	for i := range ch.vars {
		if ch.vars[i].k == k {
			ch.vars[i].v = v
			return
		}
	}
	ch.vars = append(ch.vars, header{k, v})
}

func (ch *Channel) unsetVarLocked(k string) {
	for i := range ch.vars {
		if ch.vars[i].k == k {
			ch.vars = append(ch.vars[:i], ch.vars[i+1:]...)
			return
		}
	}
}

func (ch *Channel) getVarLocked(k string) string {
	for _, h := range ch.vars {
		if h.k == k {
			return h.v
		}
	}
	return ""
}

func (ch *Channel) isGone() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.gone
}

func usec(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return fmt.Sprint(t.UnixMicro())
}

// headersLocked renders the channel block every channel event carries, with the channel
// variables when vars; called with sim.mu held.
func (ch *Channel) headersLocked(vars bool) []header {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	dir := "inbound"
	if ch.outgoing {
		dir = "outbound"
	}
	answer := "ringing"
	if !ch.answered.IsZero() {
		answer = "answered"
	}
	if ch.cause != "" {
		answer = "hangup"
	}
	hs := []header{
		{"Channel-State", ch.state},
		{"Channel-Call-State", ch.callState},
		{"Channel-State-Number", fmt.Sprint(ch.stateNum)},
		{"Channel-Name", ch.name},
		{"Unique-ID", ch.uuid},
		{"Call-Direction", dir},
		{"Presence-Call-Direction", dir},
		{"Channel-HIT-Dialplan", "true"},
		{"Channel-Call-UUID", ch.uuid},
		{"Answer-State", answer},
	}
	if ch.cause != "" {
		hs = append(hs, header{"Hangup-Cause", ch.cause})
	}
	hs = append(hs,
		header{"Channel-Read-Codec-Name", "L16"},
		header{"Channel-Read-Codec-Rate", "8000"},
		header{"Channel-Read-Codec-Bit-Rate", "128000"},
		header{"Channel-Write-Codec-Name", "L16"},
		header{"Channel-Write-Codec-Rate", "8000"},
		header{"Channel-Write-Codec-Bit-Rate", "128000"},
		header{"Caller-Direction", dir},
		header{"Caller-Logical-Direction", dir},
		header{"Caller-Dialplan", "xml"},
		header{"Caller-Caller-ID-Number", ch.script.From},
	)
	if ch.script.CallerName != "" {
		hs = append(hs, header{"Caller-Caller-ID-Name", ch.script.CallerName})
	}
	hs = append(hs,
		header{"Caller-Orig-Caller-ID-Number", ch.script.From},
		header{"Caller-ANI", ch.script.From},
		header{"Caller-Destination-Number", ch.script.To},
		header{"Caller-Unique-ID", ch.uuid},
		header{"Caller-Source", "mod_sofia"},
		header{"Caller-Context", "public"},
		header{"Caller-Channel-Name", ch.name},
		header{"Caller-Profile-Index", "1"},
		header{"Caller-Profile-Created-Time", usec(ch.created)},
		header{"Caller-Channel-Created-Time", usec(ch.created)},
		header{"Caller-Channel-Answered-Time", usec(ch.answered)},
		header{"Caller-Channel-Progress-Time", "0"},
		header{"Caller-Channel-Progress-Media-Time", "0"},
		header{"Caller-Channel-Hangup-Time", usec(ch.hangupAt)},
		header{"Caller-Channel-Transfer-Time", "0"},
		header{"Caller-Channel-Resurrect-Time", "0"},
		header{"Caller-Channel-Bridged-Time", "0"},
		header{"Caller-Channel-Last-Hold", "0"},
		header{"Caller-Channel-Hold-Accum", "0"},
		header{"Caller-Screen-Bit", "true"},
		header{"Caller-Privacy-Hide-Name", "false"},
		header{"Caller-Privacy-Hide-Number", "false"},
	)
	if !vars {
		return hs
	}
	for _, v := range ch.vars {
		hs = append(hs, header{"variable_" + v.k, v.v})
	}
	return hs
}

// connectReply is the outbound socket's answer to connect: the channel data as headers of a
// command/reply with no Content-Length (e_outbound_socket.raw).
func (ch *Channel) connectReply() []byte {
	s := ch.sim
	s.mu.Lock()
	s.seq++
	hs := s.baseHeaders("CHANNEL_DATA", s.seq)
	hs = append(hs, header{"Channel-Direction", "inbound"}, header{"Channel-Caller-ID-Number", ch.script.From},
		header{"Channel-Destination-Number", ch.script.To}, header{"Channel-Unique-ID", ch.uuid})
	hs = append(hs, ch.headersLocked(true)...)
	s.mu.Unlock()
	var b strings.Builder
	for _, h := range hs {
		b.WriteString(h.k + ": " + Encode(h.v) + "\n")
	}
	b.WriteString("Content-Type: command/reply\nReply-Text: %2BOK%0A\nSocket-Mode: async\nControl: full\n\n")
	return []byte(b.String())
}

func (ch *Channel) emit(name string, extra ...header) { ch.sim.emit(name, ch, extra, "") }

func (ch *Channel) queue(a appCall) {
	ch.mu.Lock()
	ch.apps = append(ch.apps, a)
	ch.mu.Unlock()
	select {
	case ch.appsCh <- struct{}{}:
	default:
	}
}

// run is the channel's session thread: the socket application parks the channel and runs
// the queued applications one at a time, in order, until hangup.
func (ch *Channel) run() {
	ch.mu.Lock()
	ch.setVarLocked("current_application_data", ch.socketArg)
	ch.setVarLocked("current_application", "socket")
	ch.mu.Unlock()
	if ch.script.HangupAt > 0 {
		// an unanswered call hangs up at HangupAt after arrival; answer re-arms it
		time.AfterFunc(ch.script.HangupAt, func() {
			ch.mu.Lock()
			answered := !ch.answered.IsZero()
			ch.mu.Unlock()
			if !answered {
				ch.CallerHangup("recv_cancel", "ORIGINATOR_CANCEL")
			}
		})
	}
	parkEmitted := false
	if ch.parked {
		// &park() runs as the channel's application: EXECUTE park, then CHANNEL_PARK; its
		// EXECUTE_COMPLETE comes at hangup (finish)
		parkEmitted = true
		ch.emit("CHANNEL_EXECUTE", header{"Application", "park"}, header{"Application-UUID", ch.parkUUID})
		ch.emit("CHANNEL_PARK")
	}
	for {
		ch.mu.Lock()
		var app *appCall
		if len(ch.apps) > 0 && ch.cause == "" {
			a := ch.apps[0]
			ch.apps = ch.apps[1:]
			app = &a
		}
		ch.mu.Unlock()
		if app == nil {
			select {
			case <-ch.appsCh:
				continue
			case <-ch.hungup:
			}
			break
		}
		if !parkEmitted {
			// the socket application parks the channel when the first command arrives
			parkEmitted = true
			ch.emit("CHANNEL_PARK")
		}
		ch.exec(*app)
		select {
		case <-ch.hungup:
		default:
			continue
		}
		break
	}
	ch.finish()
}

func (ch *Channel) exec(a appCall) {
	ch.mu.Lock()
	ch.setVarLocked("current_application_data", a.arg)
	ch.setVarLocked("current_application", a.name)
	ch.readingKeys = true
	ch.mu.Unlock()
	defer ch.parkDequeue()
	appHdr := []header{{"Application", a.name}}
	if a.arg != "" {
		appHdr = append(appHdr, header{"Application-Data", a.arg})
	}
	ch.emit("CHANNEL_EXECUTE", append(appHdr, header{"Application-UUID", a.uuid})...)
	resp := "_none_"
	switch a.name {
	case "answer", "pre_answer":
		ch.answer()
	case "set":
		k, v, _ := strings.Cut(a.arg, "=")
		ch.mu.Lock()
		if v == "" {
			ch.unsetVarLocked(k)
		} else {
			ch.setVarLocked(k, v)
		}
		ch.mu.Unlock()
	case "record":
		ch.recordApp(a.arg)
	case "bridge":
		ch.bridgeApp(a.arg)
	case "record_session":
		ch.answer()
		ch.startBug(a.arg, nil)
	case "stop_record_session":
		ch.stopBug(a.arg)
	case "playback":
		ch.answer()
		ch.playback(a.arg)
	case "displace_session":
		// plays into the write stream and returns at once; the simulated caller hears it
		// and the read stream (what record captures) is unchanged
		f := strings.Fields(a.arg)
		pcm, _ := mediaSamples(f[0])
		seg := ch.startWrite(pcm, len(f) > 1 && strings.Contains(f[1], "l"))
		ch.mu.Lock()
		ch.displacing, ch.displaceSeg = f[0], seg
		ch.mu.Unlock()
	case "sleep":
		ms, _ := strconv.Atoi(a.arg)
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-ch.hungup:
		}
	case "hangup":
		cause := a.arg
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		ch.Hangup(cause)
	case "respond":
		if strings.HasPrefix(a.arg, "486") {
			ch.Hangup("USER_BUSY")
		} else {
			ch.Hangup("CALL_REJECTED")
		}
	default:
		resp = "_none_"
	}
	ch.emit("CHANNEL_EXECUTE_COMPLETE", append(appHdr, header{"Application-Response", resp}, header{"Application-UUID", a.uuid})...)
	if ch.socketArg == "" {
		// a parked channel runs a sendmsg/uuid_broadcast application as a private event and
		// fires PRIVATE_COMMAND when done with it (b_record_session, c_record_app); an outbound
		// socket's channel does not (e_outbound_socket)
		ch.sim.emitLead(a.command, "PRIVATE_COMMAND", ch, nil, nil, "")
	}
}

func (ch *Channel) answer() {
	ch.mu.Lock()
	if !ch.answered.IsZero() || ch.cause != "" {
		ch.mu.Unlock()
		return
	}
	ch.answered = time.Now()
	ch.callState = "ACTIVE"
	ch.setVarLocked("endpoint_disposition", "ANSWER")
	ch.mu.Unlock()
	ch.emit("CHANNEL_ANSWER")
	for _, d := range ch.script.DTMF {
		d := d
		time.AfterFunc(d.At, func() { ch.receiveDTMF(d.Digit, "RTP") })
	}
	if ch.script.HangupAt > 0 {
		time.AfterFunc(ch.script.HangupAt, func() { ch.CallerHangup("recv_bye", "NORMAL_CLEARING") })
	}
}

// receiveDTMF queues a key received from the caller; its DTMF event fires when the running
// application dequeues it (switch_channel_dequeue_dtmf), when the application returns, or at
// once when the channel is parked with none running.
// src is the DTMF-Source header: RTP from a caller, UNKNOWN through loopback
// (uuid_send_dtmf on the peer), APP from uuid_recv_dtmf (d_record_dtmf).
func (ch *Channel) receiveDTMF(d byte, src string) {
	ch.mu.Lock()
	gone, reading := ch.cause != "", ch.readingKeys
	ch.mu.Unlock()
	if gone {
		return
	}
	if !reading {
		// the parked session thread dequeues it at once (the socket application's loop)
		ch.dtmfEvent(dtmfKey{d, src})
		return
	}
	select {
	case ch.dtmf <- dtmfKey{d, src}:
	default:
	}
}

// parkDequeue runs when an application returns: the park loop takes over, and dequeues the
// keys the application left (their DTMF events fire now).
func (ch *Channel) parkDequeue() {
	ch.mu.Lock()
	ch.readingKeys = false
	ch.mu.Unlock()
	for {
		select {
		case k := <-ch.dtmf:
			ch.dtmfEvent(k)
		default:
			return
		}
	}
}

type dtmfKey struct {
	d   byte
	src string
}

func (ch *Channel) dtmfEvent(k dtmfKey) {
	ch.emit("DTMF", header{"DTMF-Digit", string(k.d)}, header{"DTMF-Duration", "2000"}, header{"DTMF-Source", k.src})
}

// audioAt returns the caller's samples in [from, to) of the media timeline.
func (ch *Channel) audioAt(from, to int) []int16 {
	out := make([]int16, to-from)
	for i := from; i < to; i++ {
		if i >= 0 && i < len(ch.script.Audio) {
			out[i-from] = ch.script.Audio[i]
		}
	}
	return out
}

// mediaTime is the wall-clock time of media position pos.
func (ch *Channel) mediaTime(pos int) time.Time {
	ch.mu.Lock()
	a := ch.answered
	ch.mu.Unlock()
	return a.Add(time.Duration(pos) * time.Second / Rate)
}

// mediaPos is the media timeline position (samples since answer) at t.
func (ch *Channel) mediaPos(t time.Time) int {
	ch.mu.Lock()
	a := ch.answered
	ch.mu.Unlock()
	if a.IsZero() {
		return 0
	}
	return int(t.Sub(a) / (time.Second / Rate))
}

func terminatorSet(v string) string {
	switch v {
	case "":
		return "*" // FreeSWITCH's default when playback_terminators is unset
	case "none":
		return ""
	case "any":
		return "1234567890*#"
	}
	return v
}

// recordApp is mod_dptools' record: record <path> [<limit_s> [<thresh> [<silence_hits_s>]]].
func (ch *Channel) recordApp(arg string) {
	f := strings.Fields(arg)
	if len(f) == 0 {
		return
	}
	path := f[0]
	limit, thresh, hits := 0, 0, 0
	if len(f) > 1 {
		limit, _ = strconv.Atoi(f[1])
	}
	if len(f) > 2 {
		thresh, _ = strconv.Atoi(f[2])
	}
	if len(f) > 3 {
		hits, _ = strconv.Atoi(f[3])
	}
	if thresh > 0 && hits == 0 {
		hits = 3
	}
	ch.answer()
	ch.mu.Lock()
	ch.unsetVarLocked("playback_terminator_used")
	if thresh > 0 {
		// set before RECORD_START (c_record_app), the rest of the results only at the end
		ch.setVarLocked("silence_hits_exhausted", "false")
	}
	terms := terminatorSet(ch.getVarLocked("playback_terminators"))
	ch.mu.Unlock()
	if !ch.canOpen(path) {
		ch.Hangup("DESTINATION_OUT_OF_ORDER")
		return
	}
	ch.emit("RECORD_START", header{"Record-File-Path", path})
	start := time.Now()
	startSec := start.Unix()
	pos := ch.mediaPos(start)
	var samples []int16
	silentFrames, hitFrames := 0, hits*Rate/frameSamples
	exhausted := false
	used := ""
	tick := time.NewTicker(frameDur)
	defer tick.Stop()
loop:
	for {
		select {
		case k := <-ch.dtmf:
			ch.dtmfEvent(k)
			if strings.IndexByte(terms, k.d) >= 0 {
				used = string(k.d)
				break loop
			}
		case <-ch.hungup:
			break loop
		case <-ch.brk:
			break loop
		case now := <-tick.C:
			end := ch.mediaPos(now)
			for ; pos+frameSamples <= end && !ch.script.NoMedia; pos += frameSamples {
				// mod_dptools compares whole epoch seconds before each frame: elapsed >
				// limit ends it, so the file holds less than limit+1 s
				if limit > 0 && ch.mediaTime(pos).Unix()-startSec > int64(limit) {
					break loop
				}
				fr := ch.audioAt(pos, pos+frameSamples)
				samples = append(samples, fr...)
				if thresh > 0 {
					if energy(fr) < thresh {
						silentFrames++
						if silentFrames >= hitFrames {
							exhausted = true
							break loop
						}
					} else {
						silentFrames = 0
					}
				}
			}
			// mod_dptools compares whole epoch seconds: elapsed > limit ends it.
			if limit > 0 && now.Unix()-startSec > int64(limit) {
				break loop
			}
		}
	}
	ch.writeWAV(path, samples, 1)
	ms := len(samples) * 1000 / Rate
	ch.mu.Lock()
	ch.setVarLocked("silence_hits_exhausted", strconv.FormatBool(exhausted))
	if used != "" {
		ch.setVarLocked("playback_terminator_used", used)
	}
	size := fmt.Sprint(44 + 2*len(samples))
	ch.setVarLocked("record_record_file_size", size)
	ch.setVarLocked("record_file_size", size)
	ch.setVarLocked("record_seconds", fmt.Sprint(ms/1000))
	ch.setVarLocked("record_ms", fmt.Sprint(ms))
	ch.setVarLocked("record_samples", fmt.Sprint(len(samples)))
	ch.mu.Unlock()
	ch.emit("RECORD_STOP", header{"Record-File-Path", path})
}

// canOpen reports whether mod_sndfile (or mod_shout) could open path for writing. An
// http_cache:// path is recorded into mod_http_cache's local cache directory, named after
// the URL's extension, so only the extension matters.
func (ch *Channel) canOpen(path string) bool {
	if ch.sim.opts.NoRecordFile {
		return false
	}
	ext := strings.ToLower(filepath.Ext(path))
	if strings.HasPrefix(path, "http_cache://") {
		return !ch.sim.opts.NoHTTPCache && (ext == ".wav" || ext == ".ul" || ext == ".ulaw")
	}
	switch ext {
	case ".wav", ".ul", ".ulaw":
	case ".mp3":
		if !ch.sim.opts.ModShout {
			return false
		}
	default:
		return false
	}
	st, err := os.Stat(filepath.Dir(path))
	return err == nil && st.IsDir()
}

func energy(fr []int16) int {
	sum := 0
	for _, s := range fr {
		if s < 0 {
			sum -= int(s)
		} else {
			sum += int(s)
		}
	}
	return sum / len(fr)
}

// playback plays a file or tone_stream to the caller; the caller's keys in
// playback_terminators stop it. Length: tone_stream://%(on,off,freq) is on+off ms; silence_stream://N
// is N ms; http_cache://<loopback URL of a WAV> is the WAV's length, fetched as mod_http_cache
// would; anything else plays for 500 ms. What it plays goes to the write stream (write.go).
func (ch *Channel) playback(arg string) {
	d := 500 * time.Millisecond
	if rest, ok := strings.CutPrefix(arg, "tone_stream://%("); ok {
		p := strings.Split(strings.TrimSuffix(strings.SplitN(rest, ")", 2)[0], ")"), ",")
		if len(p) >= 2 {
			on, _ := strconv.Atoi(p[0])
			off, _ := strconv.Atoi(p[1])
			d = time.Duration(on+off) * time.Millisecond
		}
	} else if rest, ok := strings.CutPrefix(arg, "silence_stream://"); ok {
		ms, _ := strconv.Atoi(strings.Split(rest, ",")[0])
		d = time.Duration(ms) * time.Millisecond
	}
	pcm, known := mediaSamples(arg)
	if known && !strings.HasPrefix(arg, "tone_stream://") && !strings.HasPrefix(arg, "silence_stream://") {
		d = time.Duration(len(pcm)) * time.Second / Rate
	}
	ch.mu.Lock()
	terms := terminatorSet(ch.getVarLocked("playback_terminators"))
	ch.unsetVarLocked("playback_terminator_used")
	ch.mu.Unlock()
	ch.emit("PLAYBACK_START", header{"Playback-File-Path", arg})
	seg := ch.startWrite(pcm, false)
	defer ch.stopWrite(seg)
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case k := <-ch.dtmf:
			ch.dtmfEvent(k)
			if strings.IndexByte(terms, k.d) >= 0 {
				ch.setVar("playback_terminator_used", string(k.d))
				ch.emit("PLAYBACK_STOP", header{"Playback-File-Path", arg}, header{"Playback-Status", "break"})
				return
			}
		case <-t.C:
			ch.emit("PLAYBACK_STOP", header{"Playback-File-Path", arg}, header{"Playback-Status", "done"})
			return
		case <-ch.brk:
			ch.emit("PLAYBACK_STOP", header{"Playback-File-Path", arg}, header{"Playback-Status", "break"})
			return
		case <-ch.hungup:
			ch.emit("PLAYBACK_STOP", header{"Playback-File-Path", arg}, header{"Playback-Status", "break"})
			return
		}
	}
}

// startBug starts a media bug recording (record_session, uuid_record start). It records the
// read and write streams mixed: the caller and what the channel played to it (write.go).
// Returns false when the file cannot be opened.
func (ch *Channel) startBug(arg string, vars map[string]string) bool {
	f := strings.Fields(arg)
	if len(f) == 0 {
		return false
	}
	b := &mediaBug{path: f[0], start: time.Now(), vars: vars, done: make(chan struct{})}
	if len(f) > 1 {
		if n, err := strconv.Atoi(f[1]); err == nil {
			b.limit = time.Duration(n) * time.Second
		}
	}
	if !ch.canOpen(b.path) {
		return false
	}
	ch.mu.Lock()
	ch.bugs = append(ch.bugs, b)
	ch.mu.Unlock()
	ch.emit("RECORD_START", header{"Record-File-Path", b.path})
	ch.emitBug("MEDIA_BUG_START", b)
	if b.limit > 0 {
		// switch_ivr_async.c sets stop_time = epoch seconds now + limit and compares whole
		// epoch seconds, so the limit ends the bug after (limit-1, limit] s (a_uuid_record:
		// a 3 s limit stopped after 2.3 s, record_ms 1800)
		stopAt := time.Unix(b.start.Unix()+int64(b.limit/time.Second), 0)
		time.AfterFunc(time.Until(stopAt), func() { ch.stopBugWith(b, "success-maxtime") })
	}
	initial, _ := strconv.Atoi(ch.bugVar(b, "RECORD_INITIAL_TIMEOUT_MS"))
	final, _ := strconv.Atoi(ch.bugVar(b, "RECORD_FINAL_TIMEOUT_MS"))
	if initial > 0 || final > 0 {
		go ch.bugSilence(b, time.Duration(initial)*time.Millisecond, time.Duration(final)*time.Millisecond)
	}
	return true
}

// bugSilence is switch_ivr_async.c's silence detection on a recording media bug: no speech
// within initial ends it with no-input-timeout, final of silence after speech with
// success-silence. Energy is measured on the read stream against RECORD_SILENCE_THRESHOLD.
func (ch *Channel) bugSilence(b *mediaBug, initial, final time.Duration) {
	thresh, _ := strconv.Atoi(ch.bugVar(b, "RECORD_SILENCE_THRESHOLD"))
	if thresh <= 0 {
		thresh = 200
	}
	pos := ch.mediaPos(b.start)
	heard := false
	var quietSince time.Duration
	tick := time.NewTicker(frameDur)
	defer tick.Stop()
	for {
		select {
		case <-b.done:
			return
		case <-ch.hungup:
			return
		case now := <-tick.C:
			end := ch.mediaPos(now)
			for ; pos+frameSamples <= end; pos += frameSamples {
				at := time.Duration(pos-ch.mediaPos(b.start)) * time.Second / Rate
				if energy(ch.audioAt(pos, pos+frameSamples)) >= thresh {
					heard, quietSince = true, at+frameDur
					continue
				}
				if !heard && initial > 0 && at >= initial {
					ch.stopBugWith(b, "no-input-timeout")
					return
				}
				if heard && final > 0 && at-quietSince >= final {
					ch.stopBugWith(b, "success-silence")
					return
				}
			}
		}
	}
}

// stopBug stops the media bug recording path ("all" stops all).
func (ch *Channel) stopBug(path string) bool {
	ch.mu.Lock()
	var found []*mediaBug
	for _, b := range ch.bugs {
		if !b.stopped && (path == "all" || path == "" || b.path == path) {
			found = append(found, b)
		}
	}
	ch.mu.Unlock()
	for _, b := range found {
		// the cause is set once and falls back to success-maxtime on a manual stop
		ch.stopBugWith(b, "success-maxtime")
	}
	return len(found) > 0
}

func (ch *Channel) stopBugWith(b *mediaBug, cause string) {
	now := time.Now()
	ch.mu.Lock()
	if b.stopped {
		ch.mu.Unlock()
		return
	}
	b.stopped = true
	close(b.done)
	ch.mu.Unlock()
	from, to := ch.mediaPos(b.start), ch.mediaPos(now)
	// A bug that mixes or pairs both streams reports about half a second less than
	// wall-clock time (a_uuid_record, f, h: 2.0 s -> 1500 ms; rs_stereo 3.04 s -> 2540 ms); a
	// read-only one does not (b_record_session: rs_short 1.02 s -> 1020 ms, rs_hangup 1540 ms)
	if ch.bugVar(b, "RECORD_READ_ONLY") != "true" {
		to -= Rate / 2
	}
	if to < from {
		to = from
	}
	read, write := ch.audioAt(from, to), ch.writeAt(from, to)
	samples := mix(read, write)
	if ch.bugVar(b, "RECORD_WRITE_ONLY") == "true" {
		samples = write // what the caller hears
	} else if ch.bugVar(b, "RECORD_READ_ONLY") == "true" {
		samples = read // what the caller says (SMBF_READ_STREAM only)
	}
	ms := len(samples) * 1000 / Rate
	minSec, _ := strconv.Atoi(ch.Var("RECORD_MIN_SEC"))
	discarded := false
	switch {
	case len(samples) == 0:
		cause, discarded = "empty-file", true
	case minSec > 0 && ms < minSec*1000:
		cause, discarded = "input-too-short", true
	}
	// switch_ivr_async.c closes the file before it discards a short one: an http_cache://
	// file is uploaded then, and the discard (switch_file_remove of the URL) never reaches
	// the server
	if !discarded || strings.HasPrefix(b.path, "http_cache://") {
		if ch.bugVar(b, "RECORD_STEREO") == "true" {
			// left = read stream (the caller), right = write stream (what the caller hears)
			st := make([]int16, 2*len(samples))
			for i := range samples {
				st[2*i], st[2*i+1] = read[i], write[i]
			}
			ch.writeWAV(b.path, st, 2)
		} else {
			ch.writeWAV(b.path, samples, 1)
		}
	}
	channels := 1
	if ch.bugVar(b, "RECORD_STEREO") == "true" {
		channels = 2
	}
	ch.mu.Lock()
	if !strings.EqualFold(filepath.Ext(b.path), ".mp3") {
		// mod_shout reports no size: h_mp3_uuid_record's RECORD_STOP has no record_file_size
		ch.setVarLocked("record_file_size", fmt.Sprint(44+2*channels*len(samples)))
	}
	ch.setVarLocked("record_samples", fmt.Sprint(len(samples)))
	ch.setVarLocked("record_seconds", fmt.Sprint(ms/1000))
	ch.setVarLocked("record_ms", fmt.Sprint(ms))
	ch.setVarLocked("record_completion_cause", cause)
	if discarded {
		ch.setVarLocked("RECORD_DISCARDED", "true")
	}
	ch.mu.Unlock()
	extra := []header{{"Record-File-Path", b.path}, {"Record-Completion-Cause", cause}}
	for k, v := range b.vars {
		extra = append(extra, header{"Recording-Variable-" + k, v})
	}
	ch.emit("RECORD_STOP", extra...)
	ch.emitBug("MEDIA_BUG_STOP", b)
}

// emitBug fires MEDIA_BUG_START/STOP of a recording bug (a_uuid_record, b_record_session).
func (ch *Channel) emitBug(name string, b *mediaBug) {
	ch.sim.emitPre(name, ch, []header{{"Media-Bug-Function", "session_record"}, {"Media-Bug-Target", b.path}}, nil, "")
}

// CallerHangup is the caller's SIP side ending the call: a BYE (recv_bye) once answered, a
// CANCEL (recv_cancel) before. mod_sofia sets sip_hangup_disposition as the request arrives
// (sofia_handle_sip_i_bye), before the channel hangs up, so CHANNEL_HANGUP carries it; only
// sofia channels have it.
func (ch *Channel) CallerHangup(disposition, cause string) {
	ch.mu.Lock()
	if ch.cause == "" && strings.HasPrefix(ch.name, "sofia/") {
		ch.setVarLocked("sip_hangup_disposition", disposition)
	}
	ch.mu.Unlock()
	ch.Hangup(cause)
}

// Hangup hangs the channel up with cause (uuid_kill, sendmsg hangup, a failed application;
// CallerHangup for the caller).
func (ch *Channel) Hangup(cause string) {
	ch.mu.Lock()
	if ch.cause != "" {
		ch.mu.Unlock()
		return
	}
	ch.cause = cause
	ch.hangupAt = time.Now()
	ch.callState = "HANGUP"
	ch.setVarLocked("hangup_cause", cause)
	ch.mu.Unlock()
	ch.emit("CHANNEL_HANGUP", header{"Hangup-Cause", cause})
	close(ch.hungup)
}

// finish runs the hangup states after the running application returned:
// CHANNEL_UNPARK, the socket app's EXECUTE_COMPLETE, CS_HANGUP, media bugs' RECORD_STOP,
// CS_REPORTING, CHANNEL_HANGUP_COMPLETE, then the outbound socket's disconnect notice.
func (ch *Channel) finish() {
	ch.emit("CHANNEL_UNPARK")
	if ch.socketArg != "" {
		ch.emit("CHANNEL_EXECUTE_COMPLETE", header{"Application", "socket"}, header{"Application-Data", ch.socketArg},
			header{"Application-Response", "_none_"}, header{"Application-UUID", newUUID()})
	} else { // an originated channel parked by &park()
		ch.emit("CHANNEL_EXECUTE_COMPLETE", header{"Application", "park"}, header{"Application-Response", "_none_"},
			header{"Application-UUID", ch.parkUUID})
	}
	ch.mu.Lock()
	ch.state, ch.stateNum = "CS_HANGUP", 10
	bugs := append([]*mediaBug(nil), ch.bugs...)
	ch.mu.Unlock()
	speech := ch.mediaPos(time.Now()) > 0
	ch.emit("CHANNEL_STATE")
	for _, b := range bugs {
		cause := "success-silence"
		if !speech {
			cause = "no-input-timeout"
		}
		ch.stopBugWith(b, cause)
	}
	ch.mu.Lock()
	ch.state, ch.stateNum = "CS_REPORTING", 11
	ch.mu.Unlock()
	ch.emit("CHANNEL_STATE")
	ch.emit("CHANNEL_HANGUP_COMPLETE")
	ch.mu.Lock()
	c := ch.outbound
	ch.mu.Unlock()
	if c != nil {
		c.mu.Lock()
		linger := c.linger
		c.mu.Unlock()
		c.mu.Lock()
		c.lingering = true // the socket is detached from the session: no more events
		c.mu.Unlock()
		if linger != 0 {
			c.enqueue(lingerFrame(ch.uuid, ch.name, linger))
			if linger > 0 {
				time.AfterFunc(time.Duration(linger)*time.Second, func() {
					c.enqueue(disconnectFrame(ch.uuid))
					c.flushAndClose()
				})
			}
		} else {
			c.enqueue(disconnectFrame(ch.uuid))
			go c.flushAndClose()
		}
	}
	ch.mu.Lock()
	ch.state, ch.stateNum = "CS_DESTROY", 12
	ch.mu.Unlock()
	ch.emit("CHANNEL_DESTROY")
	ch.destroy()
}

func (ch *Channel) destroy() {
	ch.mu.Lock()
	if ch.gone {
		ch.mu.Unlock()
		return
	}
	ch.gone = true
	ch.mu.Unlock()
	ch.sim.mu.Lock()
	delete(ch.sim.channels, ch.uuid)
	ch.sim.mu.Unlock()
	close(ch.done)
}

// writeWAV writes 8 kHz 16-bit PCM with a RIFF header, samples interleaved when channels
// is 2: to the path, or, for http_cache://<url>, with mod_http_cache's PUT to <url> when the
// file is closed (put).
func (ch *Channel) writeWAV(path string, samples []int16, channels int) {
	buf := make([]byte, 44+2*len(samples))
	copy(buf[0:], "RIFF")
	binary.LittleEndian.PutUint32(buf[4:], uint32(36+2*len(samples)))
	copy(buf[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(buf[16:], 16)
	binary.LittleEndian.PutUint16(buf[20:], 1)
	binary.LittleEndian.PutUint16(buf[22:], uint16(channels))
	binary.LittleEndian.PutUint32(buf[24:], Rate)
	binary.LittleEndian.PutUint32(buf[28:], uint32(Rate*2*channels))
	binary.LittleEndian.PutUint16(buf[32:], uint16(2*channels))
	binary.LittleEndian.PutUint16(buf[34:], 16)
	copy(buf[36:], "data")
	binary.LittleEndian.PutUint32(buf[40:], uint32(2*len(samples)))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(buf[44+2*i:], uint16(s))
	}
	if url, ok := strings.CutPrefix(path, "http_cache://"); ok {
		ch.sim.put(url, buf)
		return
	}
	_ = os.WriteFile(path, buf, 0o644)
}

// apiCommandThen runs an api command and returns its api/response body, and what happens
// after the reply or BACKGROUND_JOB went out (an originated channel's session thread starts
// then: BACKGROUND_JOB comes before its CHANNEL_EXECUTE park, b_record_session).
func (s *Sim) apiCommandThen(line string) (string, func()) {
	var after func()
	body := s.apiRun(line, &after)
	return body, after
}

func (s *Sim) apiRun(line string, after *func()) string {
	name, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	arg = strings.TrimSpace(arg)
	f := strings.Fields(arg)
	chOf := func() *Channel {
		if len(f) == 0 {
			return nil
		}
		return s.Channel(f[0])
	}
	switch name {
	case "status":
		return "UP 0 years, 0 days, 0 hours, 0 minutes, 1 second, 0 milliseconds, 0 microseconds\nFreeSWITCH (Version 1.10.12-release eslsim 64bit) is ready\n"
	case "version":
		return "FreeSWITCH Version 1.10.12-release (eslsim)\n"
	case "module_exists":
		if arg == "mod_shout" {
			return strconv.FormatBool(s.opts.ModShout)
		}
		if arg == "mod_http_cache" {
			return strconv.FormatBool(!s.opts.NoHTTPCache)
		}
		return "true"
	case "uuid_getvar":
		ch := chOf()
		if ch == nil || len(f) < 2 {
			return "-ERR No such channel!\n"
		}
		if v := ch.Var(f[1]); v != "" {
			return v
		}
		return "_undef_"
	case "uuid_setvar":
		ch := chOf()
		if ch == nil || len(f) < 2 {
			return "-ERR No such channel!\n"
		}
		v := ""
		if len(f) > 2 {
			v = strings.Join(f[2:], " ")
		}
		ch.setVar(f[1], v)
		return "+OK\n"
	case "uuid_displace":
		ch := chOf()
		if ch == nil || len(f) < 3 {
			return "-ERR No such channel!\n"
		}
		ch.mu.Lock()
		seg := ch.displaceSeg
		ch.displacing, ch.displaceSeg = "", nil
		ch.mu.Unlock()
		ch.stopWrite(seg)
		return "+OK\n"
	case "uuid_exists":
		return strconv.FormatBool(chOf() != nil)
	case "uuid_break":
		ch := chOf()
		if ch == nil {
			return "-ERR No such channel!\n"
		}
		select {
		case ch.brk <- struct{}{}:
		default:
		}
		return "+OK\n"
	case "uuid_kill":
		ch := chOf()
		if ch == nil {
			return "-ERR No such channel!\n"
		}
		cause := "NORMAL_CLEARING"
		if len(f) > 1 {
			cause = f[1]
		}
		ch.Hangup(cause)
		return "+OK\n"
	case "uuid_recv_dtmf":
		ch := chOf()
		if ch == nil || len(f) < 2 {
			return "-ERR no such session\n"
		}
		for i := 0; i < len(f[1]); i++ {
			ch.receiveDTMF(f[1][i], "APP")
		}
		return "+OK " + f[0] + " received DTMF " + f[1] + ".\n"
	case "uuid_send_dtmf":
		// the keys go out of that leg: its loopback peer receives them, the leg itself not
		if len(f) < 2 {
			return "-ERR no such session\n"
		}
		ch, peer := chOf(), s.peerOf(f[0])
		if ch == nil && peer == nil {
			return "-ERR no such session\n"
		}
		if peer != nil {
			for i := 0; i < len(f[1]); i++ {
				peer.receiveDTMF(f[1][i], "UNKNOWN")
			}
		}
		return "+OK " + f[0] + " sent DTMF " + f[1] + ".\n"
	case "uuid_record":
		// uuid_record <uuid> start|stop <path> [<limit>] [{vars}]
		ch := chOf()
		if ch == nil || len(f) < 3 {
			return "-ERR Cannot locate session!\n"
		}
		switch f[1] {
		case "start":
			vars := map[string]string{}
			rest := f[2:]
			if last := rest[len(rest)-1]; strings.HasPrefix(last, "{") {
				for _, kv := range strings.Split(strings.Trim(last, "{}"), ",") {
					if k, v, ok := strings.Cut(kv, "="); ok {
						vars[k] = v
						ch.setVar(k, v)
					}
				}
				rest = rest[:len(rest)-1]
			}
			if !ch.startBug(strings.Join(rest, " "), vars) {
				return "-ERR Cannot record session!\n"
			}
			return "+OK Success\n"
		case "stop":
			if !ch.stopBug(f[2]) {
				return "-ERR Cannot stop record session!\n" // a_uuid_record: stop all, nothing recording
			}
			return "+OK Success\n"
		}
		return "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"
	case "originate":
		// originate [{k=v,..}]loopback/<exten>/<context> &park(): an answered, parked
		// channel whose caller is the dialplan's exten (Options.Dialplan); the originator is
		// the other loopback leg. origination_uuid and origination_caller_id_number are honoured.
		dial := f[0]
		vars := map[string]string{}
		if strings.HasPrefix(dial, "{") {
			if i := strings.IndexByte(dial, '}'); i > 0 {
				for _, kv := range strings.Split(dial[1:i], ",") {
					if k, v, ok := strings.Cut(kv, "="); ok {
						vars[k] = v
					}
				}
				dial = dial[i+1:]
			}
		}
		parts := strings.Split(dial, "/")
		if len(parts) < 2 || parts[0] != "loopback" {
			return "-ERR CHAN_NOT_IMPLEMENTED\n"
		}
		var sc Script
		if s.opts.Dialplan != nil {
			sc = s.opts.Dialplan(parts[1])
		}
		if sc.Socket != "" {
			return s.originateToSocket(parts[1], sc, f[1:], vars, after)
		}
		if n := vars["origination_caller_id_number"]; n != "" {
			sc.From = n
		}
		sc.To, sc.ChannelName, sc.PeerUUID = parts[1], "loopback/"+parts[1]+"-a", newUUID()
		ch := s.newChannelID(sc, vars["origination_uuid"])
		ch.setVar("other_loopback_leg_uuid", sc.PeerUUID)
		ch.socketArg = ""
		ch.parked = len(f) > 1 && f[1] == "&park()"
		ch.answer()
		*after = func() { go ch.run() }
		return "+OK " + ch.uuid + "\n"
	case "uuid_setvar_multi":
		// uuid_setvar_multi <uuid> k=v;k=v (b_record_session)
		ch := chOf()
		if ch == nil || len(f) < 2 {
			return "-ERR No such channel!\n"
		}
		for _, kv := range strings.Split(strings.Join(f[1:], " "), ";") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				ch.setVar(k, v)
			}
		}
		return "+OK\n"
	case "uuid_broadcast":
		// uuid_broadcast <uuid> <app>::<arg> [aleg|bleg|both]: the application runs on the
		// channel's session thread with a random Application-UUID (b_record_session)
		ch := chOf()
		if ch == nil || len(f) < 2 {
			return "-ERR Usage: uuid_broadcast <uuid> <path> [aleg|bleg|holdb|both]\n"
		}
		app, arg, _ := strings.Cut(f[1], "::")
		s.mu.Lock()
		s.seq++
		cmd := append(s.baseHeaders("COMMAND", s.seq), header{"call-command", "execute"}, header{"execute-app-name", app},
			header{"execute-app-arg", arg}, header{"event-lock", "true"}, header{"lead-frames", "5"})
		s.mu.Unlock()
		ch.queue(appCall{name: app, arg: arg, uuid: newUUID(), command: cmd})
		return "+OK Message sent\n"
	}
	return "-ERR " + name + " Command not found!\n"
}

// originateToSocket is `originate loopback/<exten> <app-exten> XML <ctx>` where exten's
// dialplan runs `socket <addr> async full` (e_outbound_trigger_inbound): the originated A leg
// runs app-exten (what it plays is the B leg's caller audio) and the B leg is handed to the
// outbound socket. When B is gone, loopback hangs A up.
func (s *Sim) originateToSocket(exten string, bsc Script, rest []string, vars map[string]string, after *func()) string {
	var asc Script
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "&") && s.opts.Dialplan != nil {
		asc = s.opts.Dialplan(rest[0])
	}
	a := s.newChannelID(Script{From: vars["origination_caller_id_number"], To: exten, ChannelName: "loopback/" + exten + "-a"},
		vars["origination_uuid"])
	a.socketArg = ""
	a.answer()
	bsc.Audio = asc.Audio
	bsc.ChannelName, bsc.PeerUUID = "loopback/"+exten+"-b", a.uuid
	if bsc.To == "" {
		bsc.To = exten
	}
	*after = func() {
		go a.run()
		b, err := s.Call(bsc.Socket, bsc)
		if err != nil {
			a.Hangup("DESTINATION_OUT_OF_ORDER")
			return
		}
		a.setVar("other_loopback_leg_uuid", b.uuid)
		go func() {
			<-b.Done()
			a.Hangup("NORMAL_CLEARING")
		}()
	}
	return "+OK " + a.uuid + "\n"
}

// peerOf returns the channel whose loopback peer is uuid.
func (s *Sim) peerOf(uuid string) *Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.channels {
		if ch.script.PeerUUID == uuid {
			return ch
		}
	}
	return nil
}
