package eslsim

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Replays of the transcripts not covered in fixtures_test.go. Each drives the simulator with
// the capture's commands, at the capture's pace, and compares every reply frame by frame
// (bodies too, lengths within timing) and the controlled channel's events in order, with
// their event headers and the recording's channel variables (compareFrame). What FreeSWITCH
// sends that the simulator does not model is left out by each test's keep and named there.

// audioOf returns the length of the audio in a WAV file the simulator wrote.
func audioOf(t *testing.T, path string, channels int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 44 || string(b[:4]) != "RIFF" {
		t.Errorf("%s: %d bytes, %v", filepath.Base(path), len(b), err)
		return 0
	}
	return time.Duration(len(b)-44) / time.Duration(2*channels) * time.Second / Rate
}

func wantAudio(t *testing.T, path string, channels int, lo, hi time.Duration) {
	t.Helper()
	if d := audioOf(t, path, channels); d < lo || d > hi {
		t.Errorf("%s: %v of audio, want [%v, %v]", filepath.Base(path), d, lo, hi)
	}
}

// tone plays a continuous tone to the originated leg (the esllab dialplan's esltone).
func tone(string) Script { return Script{Audio: Tone(60*time.Second, 3000)} }

// ofChannel keeps the events of one channel whose names are in names.
func ofChannel(uuid string, names ...string) func(wframe) bool {
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	return func(f wframe) bool {
		u, _ := f.get(f.ev, "Unique-ID")
		return u == uuid && set[f.evName()]
	}
}

// TestUUIDRecordReplay: a_uuid_record. uuid_record start/stop, a 3 s limit that expires on
// its own (after 2.3 s: whole epoch seconds), stop with nothing recording, an unknown uuid,
// uuid_kill. The stream is event plain ALL with no filter; compared are the A leg's events
// (park, RECORD_*, MEDIA_BUG_*, hangup). Not simulated: the loopback B leg's own events and
// CHANNEL_CREATE/ORIGINATE/UUID, CODEC, CALL_UPDATE, CHANNEL_STATE, PRESENCE_IN, API.
func TestUUIDRecordReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time recordings (about 5 s)")
	}
	t.Parallel()
	steps := readTranscript(t, "a_uuid_record")
	dir := t.TempDir()
	s := New(Options{Dialplan: tone})
	defer s.Close()
	const a = "49a2b9b4-3fe2-43b8-904a-3283740890f1"
	keep := ofChannel(a, "CHANNEL_ANSWER", "CHANNEL_EXECUTE", "CHANNEL_PARK", "RECORD_START", "RECORD_STOP",
		"MEDIA_BUG_START", "MEDIA_BUG_STOP", "CHANNEL_HANGUP", "CHANNEL_UNPARK", "CHANNEL_EXECUTE_COMPLETE",
		"CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY")
	subst := func(cmd string) string { return strings.ReplaceAll(cmd, "/tmp/", dir+"/") }
	replayWith(t, steps, dialInbound(t, s), replayOpts{dir: dir, subst: subst, keep: keep, replyBodies: true, eof: true, alignPhase: true})
	// real: 1500 ms (stopped after 2.0 s) and 1800 ms (the 3 s limit after 2.3 s)
	wantAudio(t, filepath.Join(dir, "x.wav"), 1, 1300*time.Millisecond, 1800*time.Millisecond)
	wantAudio(t, filepath.Join(dir, "x2.wav"), 1, 1500*time.Millisecond, 2500*time.Millisecond)
}

// TestRecordSessionReplay: b_record_session. bgapi originate with a Job-UUID; sendmsg set
// RECORD_STEREO / RECORD_MIN_SEC, record_session and stop_record_session; uuid_setvar_multi
// and a record_session through uuid_broadcast; one shorter than RECORD_MIN_SEC (discarded,
// RECORD_DISCARDED stays set); one still running at hangup (success-silence). The stream is
// filtered to the A leg and BACKGROUND_JOB; compared: all of it but CHANNEL_STATE,
// CHANNEL_CALLSTATE, CALL_UPDATE and the creation events (CHANNEL_UUID/CREATE/OUTGOING/
// ORIGINATE), which the simulator does not model.
func TestRecordSessionReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time recordings (about 11 s)")
	}
	t.Parallel()
	steps := readTranscript(t, "b_record_session")
	dir := t.TempDir()
	s := New(Options{Dialplan: tone})
	defer s.Close()
	skip := map[string]bool{"CHANNEL_STATE": true, "CHANNEL_CALLSTATE": true, "CALL_UPDATE": true, "CHANNEL_UUID": true,
		"CHANNEL_CREATE": true, "CHANNEL_OUTGOING": true, "CHANNEL_ORIGINATE": true}
	keep := func(f wframe) bool { return !skip[f.evName()] }
	subst := func(cmd string) string { return strings.ReplaceAll(cmd, "/tmp/", dir+"/") }
	replayWith(t, steps, dialInbound(t, s), replayOpts{dir: dir, subst: subst, keep: keep, strict: true, replyBodies: true, eof: true})
	// real: 2540 ms stereo, 2520 ms read-only, 1020 ms discarded, 1540 ms at hangup
	wantAudio(t, filepath.Join(dir, "rs_stereo.wav"), 2, 2200*time.Millisecond, 2900*time.Millisecond)
	wantAudio(t, filepath.Join(dir, "rs_readonly.wav"), 1, 2200*time.Millisecond, 2900*time.Millisecond)
	wantAudio(t, filepath.Join(dir, "rs_hangup.wav"), 1, 1200*time.Millisecond, 1900*time.Millisecond)
	if _, err := os.Stat(filepath.Join(dir, "rs_short.wav")); !os.IsNotExist(err) {
		t.Errorf("rs_short.wav (shorter than RECORD_MIN_SEC) exists: %v", err)
	}
}

// TestMP3UUIDRecordReplay: h_mp3_uuid_record, uuid_record to .mp3 with mod_shout loaded. The
// event list is explicit and filtered to the A leg: every event and reply is compared. The
// simulator writes PCM into the .mp3 (pbxbridge never records mp3; the file is not compared).
func TestMP3UUIDRecordReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time recordings (about 3 s)")
	}
	t.Parallel()
	steps := readTranscript(t, "h_mp3_uuid_record")
	dir := t.TempDir()
	s := New(Options{Dialplan: tone, ModShout: true})
	defer s.Close()
	subst := func(cmd string) string { return strings.ReplaceAll(cmd, "/tmp/", dir+"/") }
	replayWith(t, steps, dialInbound(t, s), replayOpts{dir: dir, subst: subst, keep: func(wframe) bool { return true },
		strict: true, replyBodies: true, eof: true})
}

// TestJSONRecordDTMFReplay: f_json_record_dtmf, `event json` with an explicit event list: the
// events come as text/event-json (values not URL-encoded, the body under _body) and are
// compared like plain ones, every one of them: park, the record application stopped by a '#'
// that arrives through loopback, a uuid_record stopped with stop all, and the hangup.
func TestJSONRecordDTMFReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time recordings (about 4 s)")
	}
	t.Parallel()
	steps := readTranscript(t, "f_json_record_dtmf")
	dir := t.TempDir()
	s := New(Options{Dialplan: tone})
	defer s.Close()
	const a, b = "fa26e175-d926-4b90-bc9d-b8ad6deb6a18", "9a4b3d3f-abb2-4ae4-be5b-41cda7d7cf8a"
	subst := func(cmd string) string {
		if ch := s.Channel(a); ch != nil {
			cmd = strings.ReplaceAll(cmd, b, ch.Var("other_loopback_leg_uuid"))
		}
		return strings.ReplaceAll(cmd, "/tmp/", dir+"/")
	}
	replayWith(t, steps, dialInbound(t, s), replayOpts{dir: dir, subst: subst, keep: func(wframe) bool { return true },
		strict: true, replyBodies: true, eof: true})
	// real: the '#' after 1.5 s; j2 stopped after 1.5 s (1000 ms)
	wantAudio(t, filepath.Join(dir, "j.wav"), 1, 1200*time.Millisecond, 1800*time.Millisecond)
	wantAudio(t, filepath.Join(dir, "j2.wav"), 1, 700*time.Millisecond, 1300*time.Millisecond)
}

// outboundWithTrigger replays an outbound-socket transcript together with its companion: the
// inbound connection whose bgapi originate makes FreeSWITCH hand the loopback B leg to the
// socket (`socket 127.0.0.1:<port> async full`). Both sides are compared frame by frame; the
// trigger sees BACKGROUND_JOB and both legs' CHANNEL_HANGUP_COMPLETE, B's first.
func outboundWithTrigger(t *testing.T, socketName, triggerName, aUUID, bUUID string) {
	t.Helper()
	sockSteps := readTranscript(t, socketName)
	trigSteps := readTranscript(t, triggerName)
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := New(Options{Dialplan: func(exten string) Script {
		if exten == "eslsocket" {
			return Script{Socket: ln.Addr().String()}
		}
		return tone(exten)
	}})
	t.Cleanup(s.Close)
	in := dialInbound(t, s)
	// both sides at once (not as parallel subtests: with -parallel slots taken, one could wait
	// for the other forever)
	trigger := make(chan struct{})
	go func() {
		defer close(trigger)
		replayWith(goT{t}, trigSteps, in, replayOpts{keep: func(wframe) bool { return true }, strict: true, replyBodies: true, eof: true})
	}()
	defer func() { <-trigger }()
	_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	subst := func(cmd string) string {
		if b := s.peerOf(aUUID); b != nil {
			cmd = strings.ReplaceAll(cmd, bUUID, b.UUID())
		}
		return strings.ReplaceAll(cmd, "/tmp/", dir+"/")
	}
	replayWith(t, sockSteps, nc, replayOpts{dir: dir, subst: subst, keep: func(wframe) bool { return true }, eof: true, alignPhase: true})
}

// goT lets a goroutine other than the test's run a replay: Fatalf reports and ends that
// goroutine only.
type goT struct{ *testing.T }

func (g goT) Fatalf(format string, args ...any) {
	g.T.Helper()
	g.T.Errorf(format, args...)
	runtime.Goexit()
}

// TestOutboundTriggerReplay: e_outbound_socket driven by e_outbound_trigger_inbound, as on the
// real FreeSWITCH: the call reaches the socket through originate and the dialplan.
func TestOutboundTriggerReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time recordings (about 9 s)")
	}
	t.Parallel()
	outboundWithTrigger(t, "e_outbound_socket", "e_outbound_trigger_inbound",
		"5320823d-ea38-494c-a68f-0c07c75040e2", "fbf87275-52fa-4064-aac2-642e80ede210")
}

// TestOutboundLinger5Replay: e_outbound_socket_linger5 with its trigger: `linger 5` makes
// FreeSWITCH send the linger notice at hangup, then the disconnect notice and close the
// socket itself about 5 s later, with no command from the client.
func TestOutboundLinger5Replay(t *testing.T) {
	if testing.Short() {
		t.Skip("a 5 s linger")
	}
	t.Parallel()
	outboundWithTrigger(t, "e_outbound_socket_linger5", "e_outbound_trigger_inbound_linger5",
		"95b39042-6e77-48ab-9c39-d43d86ddd321", "56868ac8-d79a-4977-8615-fafc0ba58917")
}
