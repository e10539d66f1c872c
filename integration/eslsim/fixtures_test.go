package eslsim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The real FreeSWITCH 1.10.12 transcripts the simulator is checked against.
const fixtureDir = "../../../shared/fixtures/esl/freeswitch-1.10"

// wframe is one frame as it was on the wire: outer headers in order, the body, and for
// text/event-plain the event's own headers in order and its body.
type wframe struct {
	outer  []header
	body   []byte
	ev     []header
	evBody string
}

func (f wframe) get(hs []header, k string) (string, bool) {
	for _, h := range hs {
		if h.k == k {
			return h.v, true
		}
	}
	return "", false
}

func (f wframe) ctype() string { v, _ := f.get(f.outer, "Content-Type"); return v }
func (f wframe) isEvent() bool {
	return f.ctype() == "text/event-plain" || f.ctype() == "text/event-json"
}
func (f wframe) evName() string {
	v, _ := f.get(f.ev, "Event-Name")
	return v
}

func readHeaderBlock(r *bufio.Reader) ([]header, error) {
	var hs []header
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return hs, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if len(hs) == 0 {
				continue // a newline a capture inserted after a body with none
			}
			return hs, nil
		}
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			return hs, fmt.Errorf("bad header line %q", line)
		}
		hs = append(hs, header{k, v})
	}
}

// readFrame reads one frame with the framing rules of mod_event_socket.
func readFrame(r *bufio.Reader) (wframe, error) {
	var f wframe
	hs, err := readHeaderBlock(r)
	if err != nil {
		return f, err
	}
	f.outer = hs
	if n, ok := f.get(hs, "Content-Length"); ok {
		l, err := strconv.Atoi(n)
		if err != nil {
			return f, err
		}
		f.body = make([]byte, l)
		if _, err := readFull(r, f.body); err != nil {
			return f, err
		}
	}
	if f.ctype() == "text/event-json" {
		ev, body, err := jsonHeaders(f.body)
		if err != nil {
			return f, fmt.Errorf("json event: %w", err)
		}
		f.ev, f.evBody = ev, body
		return f, nil
	}
	if f.isEvent() {
		br := bufio.NewReader(bytes.NewReader(f.body))
		ev, err := readHeaderBlock(br)
		if err != nil {
			return f, fmt.Errorf("event body: %w", err)
		}
		f.ev = ev
		if n, ok := f.get(ev, "Content-Length"); ok {
			l, _ := strconv.Atoi(n)
			b := make([]byte, l)
			if _, err := readFull(br, b); err != nil {
				return f, err
			}
			f.evBody = string(b)
		}
	}
	return f, nil
}

// jsonHeaders reads a text/event-json body: one object of string values, in key order, the
// event body under "_body".
func jsonHeaders(b []byte) ([]header, string, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, "", fmt.Errorf("not an object: %v", err)
	}
	var hs []header
	body := ""
	for d.More() {
		kt, err := d.Token()
		if err != nil {
			return nil, "", err
		}
		var v string
		if err := d.Decode(&v); err != nil {
			return nil, "", fmt.Errorf("%v: %w", kt, err)
		}
		if kt.(string) == "_body" {
			body = v
			continue
		}
		hs = append(hs, header{kt.(string), v})
	}
	return hs, body, nil
}

func readFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// step is one command of a transcript and the frames that arrived before the next one.
type step struct {
	send string
	at   time.Duration // when the capture sent it, from the "### +N.NNNs sending" notes
	recv []wframe
}

// readTranscript splits an annotated .txt into steps. Step 0 has no command (what the server
// sent first, such as auth/request).
func readTranscript(t *testing.T, name string) []step {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtureDir, name+".txt"))
	if err != nil {
		t.Skipf("fixture %s: %v", name, err)
	}
	steps := []step{{}}
	var recv, send strings.Builder
	var at time.Duration
	// a frame can straddle a command (its headers came before the capture sent, its body
	// after): what does not parse yet stays for the next step, where it completes
	flush := func() {
		text := recv.String()
		sr := strings.NewReader(text)
		r := bufio.NewReader(sr)
		used := 0
		for {
			f, err := readFrame(r)
			if err != nil {
				break
			}
			used = len(text) - sr.Len() - r.Buffered()
			steps[len(steps)-1].recv = append(steps[len(steps)-1].recv, f)
		}
		recv.Reset()
		if rest := text[used:]; strings.TrimSpace(rest) != "" {
			recv.WriteString(rest)
		}
	}
	for _, line := range strings.SplitAfter(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "### +"):
			if sec, _, ok := strings.Cut(strings.TrimPrefix(line, "### +"), "s sending"); ok {
				if f, err := strconv.ParseFloat(sec, 64); err == nil {
					at = time.Duration(f * float64(time.Second))
				}
			}
		case strings.HasPrefix(line, "### "):
		case strings.HasPrefix(line, ">>> "):
			l := strings.TrimSuffix(strings.TrimPrefix(line, ">>> "), "\n")
			if send.Len() == 0 {
				flush()
			}
			send.WriteString(l + "\n")
			if l == "" {
				steps = append(steps, step{send: send.String(), at: at})
				send.Reset()
			}
		default:
			recv.WriteString(line)
		}
	}
	flush()
	return steps
}

var (
	portRE = regexp.MustCompile(`127\.0\.0\.1(%3A|:)[0-9]+`)
	uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
)

func norm(dir, v string) string {
	if dir != "" {
		v = strings.ReplaceAll(v, dir+"/", "/tmp/")
		v = strings.ReplaceAll(v, Encode(dir+"/"), "/tmp/")
	}
	v = portRE.ReplaceAllString(v, "127.0.0.1:<port>")
	return uuidRE.ReplaceAllString(v, "<uuid>")
}

// eventKeys are the event-specific headers compared value for value.
var eventKeys = []string{"Event-Name", "Application", "Application-Data", "Application-Response",
	"Application-UUID", "Record-File-Path", "Record-Completion-Cause", "DTMF-Digit", "DTMF-Duration",
	"DTMF-Source", "Hangup-Cause", "Media-Bug-Function", "Media-Bug-Target",
	"Job-Command", "Job-Command-Arg", "Job-UUID", "Unique-ID"}

// baseNames are the header names every event starts with, in FreeSWITCH's order.
var baseNames = []string{"Event-Name", "Core-UUID", "FreeSWITCH-Hostname", "FreeSWITCH-Switchname",
	"FreeSWITCH-IPv4", "FreeSWITCH-IPv6", "Event-Date-Local", "Event-Date-GMT", "Event-Date-Timestamp",
	"Event-Calling-File", "Event-Calling-Function", "Event-Calling-Line-Number", "Event-Sequence"}

func names(hs []header) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.k)
	}
	return out
}

// compareFrame checks got against want: the outer headers (names in order, normalised values),
// the body, and for events the base header order and the event-specific headers.
func compareFrame(t testing.TB, i int, dir string, want, got wframe, strictBody, replyBodies bool) {
	t.Helper()
	if want.ctype() == "command/reply" && len(want.outer) > 10 { // outbound connect reply
		if gv, _ := got.get(got.outer, "Event-Name"); gv != "CHANNEL_DATA" {
			t.Errorf("frame %d: connect reply Event-Name %q", i, gv)
		}
		if _, ok := got.get(got.outer, "Content-Length"); ok {
			t.Errorf("frame %d: connect reply has a Content-Length", i)
		}
		wt, gt := want.outer[len(want.outer)-4:], got.outer[len(got.outer)-4:]
		if fmt.Sprint(wt) != fmt.Sprint(gt) {
			t.Errorf("frame %d: connect reply tail %v, want %v", i, gt, wt)
		}
		return
	}
	if fmt.Sprint(names(want.outer)) != fmt.Sprint(names(got.outer)) {
		t.Errorf("frame %d: outer headers %v, want %v", i, names(got.outer), names(want.outer))
	}
	if !want.isEvent() {
		for _, h := range want.outer {
			g, _ := got.get(got.outer, h.k)
			if h.k == "Content-Length" && !strictBody && !replyBodies {
				continue
			}
			if norm(dir, g) != norm(dir, h.v) {
				t.Errorf("frame %d: %s = %q, want %q", i, h.k, g, h.v)
			}
		}
		if (strictBody || replyBodies) && norm(dir, string(got.body)) != norm(dir, string(want.body)) &&
			!timeDependent(string(want.body), string(got.body)) {
			t.Errorf("frame %d: body %q, want %q", i, got.body, want.body)
		}
		return
	}
	if gn := names(got.ev); len(gn) < len(baseNames) || fmt.Sprint(gn[:len(baseNames)]) != fmt.Sprint(baseNames) {
		t.Errorf("frame %d: event starts with %v, want %v", i, gn, baseNames)
	}
	for _, k := range eventKeys {
		wv, wok := want.get(want.ev, k)
		gv, gok := got.get(got.ev, k)
		if k == "Application-UUID" && wok && gok && uuidRE.MatchString(wv) {
			continue // random when the client gave none
		}
		if wok != gok || norm(dir, wv) != norm(dir, gv) {
			t.Errorf("frame %d (%s): %s = %q (%v), want %q (%v)", i, want.evName(), k, gv, gok, wv, wok)
		}
	}
	if strictBody && norm(dir, got.evBody) != norm(dir, want.evBody) {
		t.Errorf("frame %d: event body %q, want %q", i, got.evBody, want.evBody)
	}
	// the recording's channel variables ride on every event after they are set: the same
	// ones must be there (none more, none fewer), with the same values, except that the
	// lengths depend on time
	for _, v := range exactVars {
		wv, wok := want.get(want.ev, v)
		gv, gok := got.get(got.ev, v)
		if wok != gok || norm(dir, wv) != norm(dir, gv) {
			t.Errorf("frame %d (%s): %s = %q (%v), want %q (%v)", i, want.evName(), v, gv, gok, wv, wok)
		}
	}
	for _, v := range timeVars {
		wv, wok := want.get(want.ev, v)
		gv, gok := got.get(got.ev, v)
		if wok != gok || (wok && !timeVarOK(v, wv, gv)) {
			t.Errorf("frame %d (%s): %s = %q (%v), want about %q (%v)", i, want.evName(), v, gv, gok, wv, wok)
		}
	}
}

// exactVars are the channel variables of a recording compared value for value.
var exactVars = []string{"variable_record_completion_cause", "variable_silence_hits_exhausted",
	"variable_playback_terminator_used", "variable_playback_terminators", "variable_RECORD_DISCARDED",
	"variable_RECORD_STEREO", "variable_RECORD_READ_ONLY", "variable_RECORD_WRITE_ONLY", "variable_RECORD_MIN_SEC"}

// timeVars are the lengths of a recording: present where FreeSWITCH has them, with a value
// that depends on the replay's timing (see timeDependent).
var timeVars = []string{"variable_record_ms", "variable_record_samples", "variable_record_seconds",
	"variable_record_file_size", "variable_record_record_file_size"}

// timeVarOK compares a recording length: record_ms and record_samples within 300 ms of the
// capture (the replay keeps its pace, so a real divergence such as a missing half-second lag
// shows), the others as timeDependent.
func timeVarOK(name, want, got string) bool {
	w, err1 := strconv.Atoi(want)
	g, err2 := strconv.Atoi(got)
	if err1 != nil || err2 != nil {
		return false
	}
	switch name {
	case "variable_record_ms":
		return abs(g-w) <= 300
	case "variable_record_samples":
		return abs(g-w) <= 300*Rate/1000
	}
	return timeDependent(want, got)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// timeDependent reports whether got and want are both counts and got is within what timing
// explains: 30% of want, plus one (whole seconds round).
func timeDependent(want, got string) bool {
	w, err1 := strconv.Atoi(strings.TrimSpace(want))
	g, err2 := strconv.Atoi(strings.TrimSpace(got))
	if err1 != nil || err2 != nil {
		return false
	}
	d := g - w
	if d < 0 {
		d = -d
	}
	return float64(d) <= 0.3*float64(w)+1
}

// replay drives the simulator with a transcript's commands and checks what comes back: the
// replies in order and frame by frame, the events (those keep() selects) in order. uuids
// maps the transcript's uuids to the simulator's.
// strict compares event bodies too; replyBodies compares the bodies of replies.
func replay(t *testing.T, steps []step, nc net.Conn, dir string, subst func(string) string, keep func(wframe) bool, strict, replyBodies bool) {
	t.Helper()
	replayWith(t, steps, nc, replayOpts{dir: dir, subst: subst, keep: keep, strict: strict, replyBodies: replyBodies, paceCap: paceCap})
}

// replayOpts: dir is the recordings directory (shown as /tmp/ in the transcripts); subst
// rewrites a command before it is sent; keep selects the events compared; strict compares
// event bodies, replyBodies the bodies of replies; paceCap bounds the pauses kept from the
// capture (0: all kept); eof expects the simulator to close the socket after the last frame.
// capturePhase estimates where within its second the capture started: the first event's
// Event-Date-Timestamp less the time its step was sent.
func capturePhase(steps []step) (time.Duration, bool) {
	for _, st := range steps {
		for _, f := range st.recv {
			if !f.isEvent() {
				continue
			}
			v, _ := f.get(f.ev, "Event-Date-Timestamp")
			us, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			start := time.Duration(us)*time.Microsecond - st.at
			return (start%time.Second + time.Second) % time.Second, true
		}
	}
	return 0, false
}

type replayOpts struct {
	dir                 string
	subst               func(string) string
	keep                func(wframe) bool
	strict, replyBodies bool
	paceCap             time.Duration
	eof                 bool
	alignPhase          bool // start at the capture's sub-second phase and keep its clock (implies no paceCap)
}

func replayWith(t testing.TB, steps []step, nc net.Conn, o replayOpts) {
	t.Helper()
	dir, subst, keep, strict, replyBodies := o.dir, o.subst, o.keep, o.strict, o.replyBodies
	if subst == nil {
		subst = identity
	}
	r := bufio.NewReader(nc)
	var wantR, wantE, gotR, gotE []wframe
	var prevAt time.Duration
	prevSend := time.Now()
	if o.alignPhase {
		// start at the capture's phase within the second, then keep to its clock: whole
		// epoch-second limits then expire as they did on the real FreeSWITCH
		if phase, ok := capturePhase(steps); ok {
			now := time.Now()
			wait := (phase - time.Duration(now.UnixNano())%time.Second + time.Second) % time.Second
			time.Sleep(wait)
			prevSend = now.Add(wait)
		}
	}
	origin := prevSend
	for si, st := range steps {
		if st.send != "" {
			// keep the capture's pacing (a DTMF 1.5 s into a recording must come 1.5 s in),
			// but not its idle pauses longer than paceCap
			pause := st.at - prevAt
			if o.paceCap > 0 {
				pause = min(pause, o.paceCap)
			}
			if o.alignPhase {
				time.Sleep(time.Until(origin.Add(st.at)))
			} else {
				time.Sleep(time.Until(prevSend.Add(pause)))
			}
			prevAt, prevSend = st.at, time.Now()
			if _, err := nc.Write([]byte(subst(st.send))); err != nil {
				t.Fatalf("step %d: send: %v", si, err)
			}
		}
		for _, f := range st.recv {
			if f.isEvent() {
				if keep(f) {
					wantE = append(wantE, f)
				}
			} else {
				wantR = append(wantR, f)
			}
		}
		for len(gotR) < len(wantR) || len(gotE) < len(wantE) {
			// an outbound call runs for up to 10 s before its trigger sees its hangup
			_ = nc.SetReadDeadline(time.Now().Add(15 * time.Second))
			f, err := readFrame(r)
			if err != nil {
				t.Fatalf("step %d (%q): after %d replies and %d events: %v\nwant replies %v\ngot replies  %v\nwant events %v\ngot events  %v",
					si, st.send, len(gotR), len(gotE), err, replies(wantR), replies(gotR), evNames(wantE), evNames(gotE))
			}
			if f.isEvent() {
				if keep(f) {
					gotE = append(gotE, f)
				}
			} else {
				gotR = append(gotR, f)
			}
		}
	}
	if o.eof {
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if f, err := readFrame(r); err != io.EOF {
			t.Errorf("after the last frame: %v (%s), want the socket closed", err, f.ctype())
		}
	}
	if len(gotE) != len(wantE) {
		t.Errorf("%d events, want %d", len(gotE), len(wantE))
	}
	for i := range wantR {
		compareFrame(t, i, dir, wantR[i], gotR[i], strict, replyBodies)
	}
	var seq int
	for i := range wantE {
		if i >= len(gotE) {
			break
		}
		if wantE[i].evName() != gotE[i].evName() {
			t.Errorf("event %d is %s, want %s", i, gotE[i].evName(), wantE[i].evName())
			continue
		}
		compareFrame(t, i, dir, wantE[i], gotE[i], strict, false)
		// the event's own number is its last Event-Sequence: a PRIVATE_COMMAND from
		// uuid_broadcast carries its (earlier) COMMAND event's headers first
		var n int
		for _, h := range gotE[i].ev {
			if h.k == "Event-Sequence" {
				n, _ = strconv.Atoi(h.v)
			}
		}
		if n <= seq {
			t.Errorf("event %d: Event-Sequence %d after %d", i, n, seq)
		}
		seq = n
	}
}

func identity(s string) string { return s }

func replies(fs []wframe) []string {
	var out []string
	for _, f := range fs {
		r, _ := f.get(f.outer, "Reply-Text")
		out = append(out, f.ctype()+" "+r+strings.TrimSpace(string(f.body)))
	}
	return out
}

func evNames(fs []wframe) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.evName())
	}
	return out
}

// paceCap bounds the pauses a replay keeps from a capture.
const paceCap = 2500 * time.Millisecond

func TestBadAuthByteForByte(t *testing.T) {
	want, err := os.ReadFile(filepath.Join(fixtureDir, "g_errors_badauth.raw"))
	if err != nil {
		t.Skip(err)
	}
	s := New(Options{})
	defer s.Close()
	addr, err := s.ListenInbound("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sent, _ := os.ReadFile(filepath.Join(fixtureDir, "g_errors_badauth.sent"))
	_, _ = nc.Write(sent)
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got bytes.Buffer
	_, _ = got.ReadFrom(nc) // the simulator closes the socket, as FreeSWITCH does
	if got.String() != string(want) {
		t.Errorf("got\n%q\nwant\n%q", got.String(), want)
	}
}

func dialInbound(t *testing.T, s *Sim) net.Conn {
	t.Helper()
	addr, err := s.ListenInbound("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// TestErrorsReplay: g_errors, every frame compared after normalising uuids, dates, host and
// sequence (the BACKGROUND_JOB body too).
func TestErrorsReplay(t *testing.T) {
	steps := readTranscript(t, "g_errors")
	s := New(Options{})
	defer s.Close()
	replay(t, steps, dialInbound(t, s), "", identity, func(wframe) bool { return true }, true, true)
}

// TestInboundStatusReplay: 00_connect_status_eventplainall. Idle HEARTBEAT/RE_SCHEDULE
// traffic is not simulated; replies are compared frame by frame (status/version bodies differ).
func TestInboundStatusReplay(t *testing.T) {
	steps := readTranscript(t, "00_connect_status_eventplainall")
	for i := range steps {
		steps[i].at = 0 // only the idle traffic we do not simulate depended on the pacing
	}
	s := New(Options{})
	defer s.Close()
	replay(t, steps, dialInbound(t, s), "", identity, func(wframe) bool { return false }, false, false)
}

// TestOutboundSocketReplay: e_outbound_socket, the outbound mode pbxbridge uses: connect,
// myevents, linger, api, sendmsg answer/record/set/record_session/hangup, the DTMF that stops
// a record, the linger notice and exit. Every event and reply in FreeSWITCH's order.
func TestOutboundSocketReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time recordings (about 8 s)")
	}
	t.Parallel()
	steps := readTranscript(t, "e_outbound_socket")
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := New(Options{})
	defer s.Close()
	const peer = "5320823d-ea38-494c-a68f-0c07c75040e2" // the loopback A leg playing a tone
	ch, err := s.Call(ln.Addr().String(), Script{Audio: Tone(60*time.Second, 3000), ChannelName: "loopback/eslsocket-b", PeerUUID: peer})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	subst := func(cmd string) string {
		cmd = strings.ReplaceAll(cmd, "fbf87275-52fa-4064-aac2-642e80ede210", ch.UUID())
		return strings.ReplaceAll(cmd, "/tmp/", dir+"/")
	}
	// the capture's clock and phase: its 3 s record limit expires at a whole epoch second
	replayWith(t, steps, nc, replayOpts{dir: dir, subst: subst, keep: func(wframe) bool { return true }, alignPhase: true})
	// the files, with FreeSWITCH's lengths: the 3 s limit in whole epoch seconds (real: 3620 ms),
	// the # after 1.5 s (real: 1500 ms), record_session until hangup less 0.5 s (real: 1040 ms)
	for _, c := range []struct {
		f        string
		min, max time.Duration
	}{{"o.wav", 3 * time.Second, 4 * time.Second}, {"o2.wav", 1300 * time.Millisecond, 1800 * time.Millisecond}, {"o_rs.wav", 800 * time.Millisecond, 1300 * time.Millisecond}} {
		b, err := os.ReadFile(filepath.Join(dir, c.f))
		if err != nil || len(b) <= 44 || string(b[:4]) != "RIFF" {
			t.Errorf("%s: %d bytes, %v", c.f, len(b), err)
			continue
		}
		if d := time.Duration(len(b)-44) / 2 * time.Second / Rate; d < c.min || d >= c.max {
			t.Errorf("%s: %v of audio, want [%v, %v)", c.f, d, c.min, c.max)
		}
	}
}

// TestRecordAppReplay: c_record_app on the inbound socket (event plain ALL, filters,
// originate, sendmsg <uuid>): the record application ended by 3 s of silence after 2 s of
// tone, by its 3 s limit, and by a hangup after 2 s. Compared: every reply frame by frame, and
// the recording's events of the controlled channel (EXECUTE/EXECUTE_COMPLETE of record,
// RECORD_START/STOP, CHANNEL_HANGUP, CHANNEL_HANGUP_COMPLETE) in order, with their variables.
// The rest of the ALL stream (loopback's second leg, CODEC, CALL_UPDATE, ...) is not simulated.
func TestRecordAppReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time recordings (about 15 s)")
	}
	t.Parallel()
	steps := readTranscript(t, "c_record_app")
	dir := t.TempDir()
	s := New(Options{Dialplan: func(exten string) Script {
		switch exten {
		case "esltonesil": // playback 2 s of tone, then silence
			return Script{Audio: Tone(2*time.Second, 3000)}
		default: // esltone: a continuous tone
			return Script{Audio: Tone(60*time.Second, 3000)}
		}
	}})
	defer s.Close()
	legs := map[string]bool{"1c1a8d90-66aa-4910-9f23-df4e4eefa787": true, "6d1947c6-9e87-468c-affa-6930c5b6e6f9": true}
	keep := func(f wframe) bool {
		uuid, _ := f.get(f.ev, "Unique-ID")
		app, _ := f.get(f.ev, "Application")
		switch f.evName() {
		case "RECORD_START", "RECORD_STOP", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE":
			return legs[uuid]
		case "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE":
			return legs[uuid] && app == "record"
		}
		return false
	}
	subst := func(cmd string) string { return strings.ReplaceAll(cmd, "/tmp/", dir+"/") }
	replayWith(t, steps, dialInbound(t, s), replayOpts{dir: dir, subst: subst, keep: keep, replyBodies: true, alignPhase: true})
	for _, c := range []struct {
		f        string
		min, max time.Duration
	}{{"y.wav", 4500 * time.Millisecond, 5200 * time.Millisecond}, {"y2.wav", 3 * time.Second, 4 * time.Second}, {"y3.wav", 1500 * time.Millisecond, 2500 * time.Millisecond}} {
		b, err := os.ReadFile(filepath.Join(dir, c.f))
		if err != nil || len(b) <= 44 {
			t.Errorf("%s: %d bytes, %v", c.f, len(b), err)
			continue
		}
		if d := time.Duration(len(b)-44) / 2 * time.Second / Rate; d < c.min || d >= c.max {
			t.Errorf("%s: %v of audio, want [%v, %v) (real: 4920, 3220, 2000 ms)", c.f, d, c.min, c.max)
		}
	}
}

// TestRecordDTMFReplay: d_record_dtmf: playback_terminators=#, then a record that a '#' sent
// out of the recorded leg does not stop, and a '#' sent out of its loopback peer does; then a
// record stopped by uuid_recv_dtmf 5#. Compared as in TestRecordAppReplay, DTMF events too.
func TestRecordDTMFReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time recordings (about 6 s)")
	}
	t.Parallel()
	steps := readTranscript(t, "d_record_dtmf")
	dir := t.TempDir()
	s := New(Options{Dialplan: func(string) Script { return Script{Audio: Tone(60*time.Second, 3000)} }})
	defer s.Close()
	const a, b = "ea3f5a0f-ec2c-403c-b07f-bda074cf3005", "126c7d6c-228c-48bd-8675-2078ffed1fe7"
	keep := func(f wframe) bool {
		uuid, _ := f.get(f.ev, "Unique-ID")
		app, _ := f.get(f.ev, "Application")
		switch f.evName() {
		case "RECORD_START", "RECORD_STOP", "DTMF", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE":
			return uuid == a
		case "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE":
			return uuid == a && app == "record"
		}
		return false
	}
	subst := func(cmd string) string {
		if strings.Contains(cmd, b) { // the B leg's uuid, as the capture learnt it with uuid_getvar
			if ch := s.Channel(a); ch != nil {
				cmd = strings.ReplaceAll(cmd, b, ch.Var("other_loopback_leg_uuid"))
			}
		}
		return strings.ReplaceAll(cmd, "/tmp/", dir+"/")
	}
	replayWith(t, steps, dialInbound(t, s), replayOpts{dir: dir, subst: subst, keep: keep, replyBodies: true, alignPhase: true})
}
