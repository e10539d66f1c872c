// Package eslsim is a FreeSWITCH event-socket simulator for tests. It speaks the ESL wire
// protocol of FreeSWITCH 1.10 byte for byte (see ../../../shared/fixtures/esl/freeswitch-1.10)
// in both modes:
//
//   - inbound: ListenInbound serves mod_event_socket on a loopback port (auth, api, bgapi with
//     BACKGROUND_JOB, event plain, myevents, sendmsg, uuid_record, uuid_kill, originate);
//   - outbound: Call dials a listener the way `socket host:port async full` does and serves
//     connect, myevents, linger, divert_events, event, api and sendmsg on that socket.
//
// A simulated call follows a Script (caller audio, DTMF at given times, hangup at a given
// time). The bridge application rings called parties a test registers with AddCallee
// (bridge.go documents the API and what is modelled). The record application and media bugs (record_session, uuid_record) write real WAV
// files (8 kHz, 16-bit mono) at the path they are given, like FreeSWITCH writes into a
// directory shared with pbxbridge.
//
// It is not shipped in the binary.
package eslsim

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// Options tune the simulator, including its faults.
type Options struct {
	Password string // inbound auth password; "" means ClueCon
	Hostname string // FreeSWITCH-Hostname; "" means "sim"
	// ReplyDelay delays every command/reply and api/response (a slow FreeSWITCH).
	ReplyDelay time.Duration
	// SwapEvents delivers each pair of consecutive events to a socket in swapped order
	// (their Event-Sequence numbers keep the true order).
	SwapEvents bool
	// Dialplan gives the script of a channel that `originate ... loopback/<exten>/<context>`
	// creates (what the other loopback leg plays to it); nil = silence, no hangup.
	Dialplan func(exten string) Script
	// ModShout makes .mp3 recordings possible (module_exists mod_shout returns true). Off,
	// as in FreeSWITCH's default build: record to .mp3 then hangs up the channel.
	ModShout bool
	// NoRecordFile makes every recording file impossible to open, as a missing or unwritable
	// record directory does: record hangs the channel up with DESTINATION_OUT_OF_ORDER,
	// record_session and uuid_record fail.
	NoRecordFile bool
	// NoHTTPCache: mod_http_cache is not loaded (module_exists mod_http_cache is false).
	NoHTTPCache bool
	// UploadDelay holds back each http_cache:// upload; NoUpload makes none (pbxbridge
	// unreachable from FreeSWITCH): the recording's file never arrives.
	UploadDelay time.Duration
	NoUpload    bool
	// Callees answers for the endpoints no AddCallee registered (bridge.go): ok false makes
	// the leg fail with NO_ROUTE_DESTINATION. nil = none.
	Callees func(endpoint string) (c Callee, ok bool)
}

// Sim is one simulated FreeSWITCH process. Its methods are safe for concurrent use.
type Sim struct {
	opts     Options
	coreUUID string

	mu       sync.Mutex // guards everything below, and orders event emission
	seq      uint64
	conns    map[*conn]struct{}
	channels map[string]*Channel
	sessions uint64
	lns      []net.Listener
	closed   bool
	uploads  []Upload
	callees  map[string]Callee // bridge.go
	legs     []*Leg
}

// New returns a simulator; it listens on nothing until ListenInbound or Call.
func New(opts Options) *Sim {
	if opts.Password == "" {
		opts.Password = "ClueCon"
	}
	if opts.Hostname == "" {
		opts.Hostname = "sim"
	}
	return &Sim{opts: opts, coreUUID: newUUID(), conns: map[*conn]struct{}{}, channels: map[string]*Channel{}}
}

// Close stops the listeners, drops every socket and hangs up every channel.
func (s *Sim) Close() {
	s.mu.Lock()
	s.closed = true
	lns := s.lns
	var cs []*conn
	for c := range s.conns {
		cs = append(cs, c)
	}
	var chs []*Channel
	for _, ch := range s.channels {
		chs = append(chs, ch)
	}
	s.mu.Unlock()
	for _, ln := range lns {
		_ = ln.Close()
	}
	for _, ch := range chs {
		ch.Hangup("NORMAL_CLEARING")
	}
	for _, c := range cs {
		c.close()
	}
}

// ListenInbound serves mod_event_socket on addr (use "127.0.0.1:0") and returns the
// address it listens on.
func (s *Sim) ListenInbound(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c := s.newConn(nc, nil)
			c.enqueue([]byte("Content-Type: auth/request\n\n"))
			go c.serve()
		}
	}()
	return ln.Addr().String(), nil
}

// Call starts a simulated call that the dialplan hands to addr with
// `socket addr async full`: it dials addr and serves the outbound socket protocol there.
// The call runs its script until it hangs up; Channel.Done says when it is over.
func (s *Sim) Call(addr string, sc Script) (*Channel, error) {
	ch := s.newChannel(sc)
	ch.socketArg = addr + " async full"
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		ch.destroy()
		return nil, err
	}
	c := s.newConn(nc, ch)
	ch.mu.Lock()
	ch.outbound = c
	ch.mu.Unlock()
	go c.serve()
	go ch.run()
	return ch, nil
}

// Channel returns a live channel by uuid.
func (s *Sim) Channel(uuid string) *Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.channels[uuid]
}

func (s *Sim) newConn(nc net.Conn, ch *Channel) *conn {
	c := &conn{sim: s, nc: nc, ch: ch, names: map[string]bool{}, linger: 0, out: make(chan []byte, 4096), done: make(chan struct{})}
	if ch != nil {
		c.filterUUID = ch.uuid
	}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	go c.writeLoop()
	return c
}

// emit builds an event, numbers it and hands it to every socket subscribed to it, all under
// s.mu, so every socket sees events in Event-Sequence order (unless SwapEvents).
func (s *Sim) emit(name string, ch *Channel, extra []header, body string) {
	s.emitPre(name, ch, nil, extra, body)
}

// emitPre is emit with headers that come before the channel block (MEDIA_BUG_* put theirs
// there).
func (s *Sim) emitPre(name string, ch *Channel, pre, extra []header, body string) {
	s.emitLead(nil, name, ch, pre, extra, body)
}

// emitLead is emitPre with a block of headers before the event's own: a PRIVATE_COMMAND that
// uuid_broadcast queued still carries its COMMAND event's headers first (b_record_session).
func (s *Sim) emitLead(lead []header, name string, ch *Channel, pre, extra []header, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	hs := append(append([]header(nil), lead...), s.baseHeaders(name, s.seq)...)
	hs = append(hs, pre...)
	if ch != nil {
		hs = append(hs, ch.headersLocked(!basicOnly[name])...)
	}
	hs = append(hs, extra...)
	var plain, json []byte
	uuid := ""
	if ch != nil {
		uuid = ch.uuid
	}
	for c := range s.conns {
		if !c.wants(name, uuid) {
			continue
		}
		c.mu.Lock()
		format := c.format
		c.mu.Unlock()
		if format == "json" {
			if json == nil {
				json = jsonEventFrame(hs, body)
			}
			c.enqueueEvent(json)
			continue
		}
		if plain == nil {
			plain = eventFrame(hs, body)
		}
		c.enqueueEvent(plain)
	}
}

// basicOnly events carry the channel's basic data but no variable_* headers (seen in every
// transcript: DTMF, CHANNEL_STATE, CHANNEL_CALLSTATE, CODEC, ...).
var basicOnly = map[string]bool{"DTMF": true, "CHANNEL_STATE": true, "CHANNEL_CALLSTATE": true, "CODEC": true,
	"CHANNEL_OUTGOING": true, "PRIVATE_COMMAND": true}

var callingSite = map[string][3]string{
	"CHANNEL_EXECUTE":          {"switch_core_session.c", "switch_core_session_exec", "2942"},
	"CHANNEL_EXECUTE_COMPLETE": {"switch_core_session.c", "switch_core_session_exec", "2982"},
	"CHANNEL_ANSWER":           {"switch_channel.c", "switch_channel_perform_mark_answered", "3960"},
	"CHANNEL_PARK":             {"switch_ivr.c", "switch_ivr_park", "1002"},
	"CHANNEL_UNPARK":           {"switch_ivr.c", "switch_ivr_park", "1215"},
	"CHANNEL_HANGUP":           {"switch_channel.c", "switch_channel_perform_hangup", "3409"},
	"CHANNEL_HANGUP_COMPLETE":  {"switch_core_state_machine.c", "switch_core_session_reporting_state", "949"},
	"CHANNEL_STATE":            {"switch_channel.c", "switch_channel_perform_set_running_state", "2095"},
	"CHANNEL_DESTROY":          {"switch_core_session.c", "switch_core_session_perform_destroy", "1745"},
	"CHANNEL_CREATE":           {"switch_core_state_machine.c", "switch_core_session_run", "627"},
	"DTMF":                     {"switch_channel.c", "switch_channel_dequeue_dtmf", "677"},
	"RECORD_START":             {"switch_ivr_play_say.c", "switch_ivr_record_file_event", "1030"},
	"RECORD_STOP":              {"switch_ivr_play_say.c", "switch_ivr_record_file_event", "1030"},
	"BACKGROUND_JOB":           {"mod_event_socket.c", "api_exec", "1572"},
	"PLAYBACK_START":           {"switch_ivr_play_say.c", "switch_ivr_play_file", "1509"},
	"PLAYBACK_STOP":            {"switch_ivr_play_say.c", "switch_ivr_play_file", "2067"},
	"COMMAND":                  {"switch_ivr_async.c", "switch_ivr_broadcast", "5731"},
	"PRIVATE_COMMAND":          {"switch_ivr.c", "switch_ivr_parse_next_event", "804"},
	"MEDIA_BUG_START":          {"switch_core_media_bug.c", "switch_core_media_bug_add", "1014"},
	"MEDIA_BUG_STOP":           {"switch_core_media_bug.c", "switch_core_media_bug_destroy", "84"},
}

func (s *Sim) baseHeaders(name string, seq uint64) []header {
	now := time.Now()
	site, ok := callingSite[name]
	if !ok {
		site = [3]string{"eslsim.c", "eslsim_event", "1"}
	}
	return []header{
		{"Event-Name", name},
		{"Core-UUID", s.coreUUID},
		{"FreeSWITCH-Hostname", s.opts.Hostname},
		{"FreeSWITCH-Switchname", s.opts.Hostname},
		{"FreeSWITCH-IPv4", "127.0.0.1"},
		{"FreeSWITCH-IPv6", "::1"},
		{"Event-Date-Local", now.Format("2006-01-02 15:04:05")},
		{"Event-Date-GMT", now.UTC().Format(time.RFC1123)},
		{"Event-Date-Timestamp", fmt.Sprint(now.UnixMicro())},
		{"Event-Calling-File", site[0]},
		{"Event-Calling-Function", site[1]},
		{"Event-Calling-Line-Number", site[2]},
		{"Event-Sequence", fmt.Sprint(seq)},
	}
}

// conn is one event socket, inbound or outbound (ch != nil).
type conn struct {
	sim *Sim
	nc  net.Conn
	ch  *Channel // the controlled channel (outbound), nil for inbound

	mu         sync.Mutex
	authed     bool
	names      map[string]bool // subscribed event names; "ALL" for all
	myevents   bool
	format     string // the last `event <format>`: "plain" (also for xml, not simulated) or "json"
	filterUUID string
	linger     int      // 0 = no linger, -1 = until the client closes, n = seconds
	filters    []header // `filter <header> <value>`: an event passes if it matches any
	lingering  bool
	held       []byte // SwapEvents: the event waiting for its successor
	closed     bool

	out  chan []byte
	done chan struct{}
}

func (c *conn) enqueue(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	select {
	case c.out <- b:
	default: // a client that reads nothing for 4096 frames loses them, as FreeSWITCH drops
	}
}

func (c *conn) enqueueEvent(b []byte) {
	if !c.sim.opts.SwapEvents {
		c.enqueue(b)
		return
	}
	c.mu.Lock()
	held := c.held
	if held == nil {
		c.held = b
		c.mu.Unlock()
		// Flush a lone held event soon, so a quiet call does not keep it forever.
		time.AfterFunc(50*time.Millisecond, func() {
			c.mu.Lock()
			h := c.held
			c.held = nil
			c.mu.Unlock()
			if h != nil {
				c.enqueue(h)
			}
		})
		return
	}
	c.held = nil
	c.mu.Unlock()
	c.enqueue(b)
	c.enqueue(held)
}

func (c *conn) writeLoop() {
	for {
		select {
		case b := <-c.out:
			if _, err := c.nc.Write(b); err != nil {
				c.close()
				return
			}
		case <-c.done:
			return
		}
	}
}

// flushAndClose writes what is queued, then closes the socket.
func (c *conn) flushAndClose() {
	deadline := time.Now().Add(2 * time.Second)
	for len(c.out) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	c.close()
}

func (c *conn) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.done)
	c.mu.Unlock()
	_ = c.nc.Close()
	c.sim.mu.Lock()
	delete(c.sim.conns, c)
	c.sim.mu.Unlock()
	if c.ch != nil {
		// FreeSWITCH hangs up a channel whose outbound socket went away
		go c.ch.Hangup("NORMAL_CLEARING")
	}
}

// Drop closes the socket abruptly, as a crashed FreeSWITCH or a broken network would.
func (c *conn) Drop() { c.close() }

// recordEvents are not part of myevents: they come only when named (observed in
// e_outbound_socket: myevents alone delivers no RECORD_START/STOP, PLAYBACK_* or, around its
// record_session, MEDIA_BUG_*).
var recordEvents = map[string]bool{"RECORD_START": true, "RECORD_STOP": true, "PLAYBACK_START": true, "PLAYBACK_STOP": true,
	"MEDIA_BUG_START": true, "MEDIA_BUG_STOP": true}

// wants reports whether an event goes to this socket; called with sim.mu held.
func (c *conn) wants(name, uuid string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	if c.lingering {
		return false
	}
	if c.filterUUID != "" && name != "BACKGROUND_JOB" && uuid != c.filterUUID {
		return false
	}
	if len(c.filters) > 0 {
		pass := false
		for _, f := range c.filters {
			pass = pass || (f.k == "Unique-ID" && f.v == uuid) || (f.k == "Event-Name" && f.v == name)
		}
		if !pass {
			return false
		}
	}
	if c.names["ALL"] || c.names[name] {
		return true
	}
	if c.myevents && uuid != "" && !recordEvents[name] {
		return true
	}
	return false
}

func (c *conn) reply(text string) {
	if d := c.sim.opts.ReplyDelay; d > 0 {
		time.Sleep(d)
	}
	c.enqueue(replyFrame(text))
}

func (c *conn) api(body string) {
	if d := c.sim.opts.ReplyDelay; d > 0 {
		time.Sleep(d)
	}
	c.enqueue(apiFrame(body))
}

// serve reads commands and answers them strictly in order.
func (c *conn) serve() {
	defer c.close()
	r := bufio.NewReader(c.nc)
	for {
		cmd, err := readCommand(r)
		if err != nil {
			return
		}
		if !c.handle(cmd) {
			c.flushAndClose()
			return
		}
	}
}

// handle answers one command; false means close the socket.
func (c *conn) handle(cmd command) bool {
	verb, rest, _ := strings.Cut(cmd.line, " ")
	rest = strings.TrimSpace(rest)
	if c.ch == nil && !c.authed {
		if verb != "auth" {
			c.reply("-ERR command not found")
			return true
		}
		if rest != c.sim.opts.Password {
			c.reply("-ERR invalid")
			c.enqueue(disconnectFrame(""))
			return false
		}
		c.mu.Lock()
		c.authed = true
		c.mu.Unlock()
		c.reply("+OK accepted")
		return true
	}
	switch verb {
	case "connect":
		if c.ch == nil {
			c.reply("-ERR command not found")
			return true
		}
		c.enqueue(c.ch.connectReply())
	case "exit":
		c.reply("+OK bye")
		uuid := ""
		if c.ch != nil {
			uuid = c.ch.uuid
		}
		c.enqueue(disconnectFrame(uuid))
		return false
	case "myevents":
		c.mu.Lock()
		c.myevents = true
		if c.ch == nil {
			f := strings.Fields(rest)
			if len(f) > 0 {
				c.filterUUID = f[len(f)-1]
			}
		}
		c.mu.Unlock()
		c.reply("+OK Events Enabled")
	case "event":
		f := strings.Fields(rest)
		if len(f) == 0 || (f[0] != "plain" && f[0] != "json" && f[0] != "xml") {
			c.reply("-ERR no keywords supplied")
			return true
		}
		known := 0
		c.mu.Lock()
		if f[0] == "json" {
			c.format = "json"
		} else {
			c.format = "plain"
		}
		for _, n := range f[1:] {
			if n == "ALL" || knownEvents[n] {
				c.names[n] = true
				known++
			}
		}
		c.mu.Unlock()
		if known == 0 {
			c.reply("-ERR no keywords supplied")
			return true
		}
		c.reply("+OK event listener enabled " + f[0])
	case "nixevent":
		c.mu.Lock()
		for _, n := range strings.Fields(rest) {
			delete(c.names, n)
		}
		c.mu.Unlock()
		c.reply("+OK events nixed")
	case "noevents":
		c.mu.Lock()
		c.names = map[string]bool{}
		c.myevents = false
		c.mu.Unlock()
		c.reply("+OK no longer listening for events")
	case "divert_events":
		if rest == "on" {
			c.reply("+OK events diverted")
		} else {
			c.reply("+OK events not diverted")
		}
	case "linger":
		if c.ch == nil {
			c.reply("-ERR not controlling a session")
			return true
		}
		n := -1
		if rest != "" {
			if _, err := fmt.Sscan(rest, &n); err != nil || n <= 0 {
				n = -1
			}
		}
		c.mu.Lock()
		c.linger = n
		c.mu.Unlock()
		if n > 0 {
			c.reply(fmt.Sprintf("+OK will linger %d seconds", n)) // e_outbound_socket_linger5
		} else {
			c.reply("+OK will linger")
		}
	case "nolinger":
		c.mu.Lock()
		c.linger = 0
		c.mu.Unlock()
		c.reply("+OK will not linger")
	case "api":
		body, after := c.sim.apiCommandThen(rest)
		c.api(body)
		if after != nil {
			after()
		}
	case "bgapi":
		job := cmd.headers.Get("Job-UUID")
		if job == "" {
			job = newUUID()
		}
		c.enqueue([]byte("Content-Type: command/reply\nReply-Text: +OK Job-UUID: " + job + "\nJob-UUID: " + job + "\n\n"))
		go func() {
			name, arg, _ := strings.Cut(rest, " ")
			res, after := c.sim.apiCommandThen(rest)
			c.sim.emit("BACKGROUND_JOB", nil, []header{{"Job-UUID", job}, {"Job-Command", name}, {"Job-Command-Arg", arg}}, res)
			if after != nil {
				after()
			}
		}()
	case "sendmsg":
		c.sendmsg(rest, cmd)
	case "filter":
		k, v, ok := strings.Cut(rest, " ")
		if !ok {
			c.reply("-ERR invalid syntax")
			return true
		}
		c.mu.Lock()
		c.filters = append(c.filters, header{k, strings.TrimSpace(v)})
		c.mu.Unlock()
		c.reply("+OK filter added. [" + k + "]=[" + strings.TrimSpace(v) + "]")
	default:
		c.reply("-ERR command not found")
	}
	return true
}

func (c *conn) sendmsg(uuid string, cmd command) {
	ch := c.ch
	if uuid != "" {
		ch = c.sim.Channel(uuid)
	}
	if ch == nil || ch.isGone() {
		c.reply("-ERR invalid session id [" + uuid + "]")
		return
	}
	h := cmd.headers
	switch strings.ToLower(h.Get("call-command")) {
	case "execute":
		arg := h.Get("execute-app-arg")
		if cmd.body != "" {
			arg = strings.TrimRight(cmd.body, "\r\n")
		}
		app := appCall{name: h.Get("execute-app-name"), arg: arg, uuid: h.Get("Event-UUID")}
		if app.uuid == "" {
			app.uuid = newUUID()
		}
		c.reply("+OK")
		ch.queue(app)
	case "hangup":
		cause := h.Get("hangup-cause")
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		c.reply("+OK")
		ch.Hangup(cause)
	case "unicast", "nomedia":
		c.reply("+OK")
	default:
		c.reply("-ERR invalid command")
	}
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// knownEvents are the event names `event` accepts; others are ignored, and a command naming
// none of them is refused with "-ERR no keywords supplied" (g_errors).
var knownEvents = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`CUSTOM CLONE CHANNEL_CREATE CHANNEL_DESTROY CHANNEL_STATE
		CHANNEL_CALLSTATE CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_EXECUTE
		CHANNEL_EXECUTE_COMPLETE CHANNEL_HOLD CHANNEL_UNHOLD CHANNEL_BRIDGE CHANNEL_UNBRIDGE
		CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_OUTGOING CHANNEL_PARK CHANNEL_UNPARK
		CHANNEL_APPLICATION CHANNEL_ORIGINATE CHANNEL_UUID CHANNEL_DATA API BACKGROUND_JOB DTMF
		HEARTBEAT RE_SCHEDULE RECORD_START RECORD_STOP PLAYBACK_START PLAYBACK_STOP
		MEDIA_BUG_START MEDIA_BUG_STOP CODEC CALL_UPDATE PRESENCE_IN PRIVATE_COMMAND
		DETECTED_SPEECH SHUTDOWN`) {
		knownEvents[n] = true
	}
}
