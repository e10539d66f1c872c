package eslsim

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/audio"
)

func TestParseDialString(t *testing.T) {
	got := parseDialString("{originate_timeout=5,origination_caller_id_name='A, B'}[origination_uuid=u1,api_on_answer='uuid_record x start /r.wav 0 {RECORD_STEREO=true,RECORD_READ_ONLY=true}']sofia/gateway/pstn/1,sofia/external/sip:b@h|[leg_timeout=3]user/c")
	want := [][]dialLeg{
		{
			{"sofia/gateway/pstn/1", map[string]string{"originate_timeout": "5", "origination_caller_id_name": "A, B", "origination_uuid": "u1",
				"api_on_answer": "uuid_record x start /r.wav 0 {RECORD_STEREO=true,RECORD_READ_ONLY=true}"}},
			{"sofia/external/sip:b@h", map[string]string{"originate_timeout": "5", "origination_caller_id_name": "A, B"}},
		},
		{{"user/c", map[string]string{"originate_timeout": "5", "origination_caller_id_name": "A, B", "leg_timeout": "3"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// esl is a minimal inbound client for these tests.
type esl struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func inbound(t *testing.T, s *Sim) *esl {
	e := &esl{t: t, nc: dialInbound(t, s)}
	e.r = bufio.NewReader(e.nc)
	e.frame() // auth/request
	e.cmd("auth ClueCon")
	e.cmd("event plain ALL")
	return e
}

func (e *esl) frame() wframe {
	e.t.Helper()
	_ = e.nc.SetReadDeadline(time.Now().Add(15 * time.Second))
	f, err := readFrame(e.r)
	if err != nil {
		e.t.Fatalf("read: %v", err)
	}
	return f
}

// cmd sends a command and returns its reply (events before it are dropped).
func (e *esl) cmd(line string) wframe {
	e.t.Helper()
	if _, err := e.nc.Write([]byte(line + "\n\n")); err != nil {
		e.t.Fatal(err)
	}
	for {
		if f := e.frame(); !f.isEvent() {
			return f
		}
	}
}

// until reads events until one matches, and returns all of them.
func (e *esl) until(match func(wframe) bool) []wframe {
	e.t.Helper()
	var evs []wframe
	for {
		f := e.frame()
		if !f.isEvent() {
			continue
		}
		evs = append(evs, f)
		if match(f) {
			return evs
		}
	}
}

// h is an event header, URL-decoded.
func (f wframe) h(k string) string {
	v, _ := f.get(f.ev, k)
	if d, err := url.PathUnescape(v); err == nil {
		return d
	}
	return v
}

// bridge originates a parked caller that says audio and runs bridge with dial on it; it
// returns the caller's uuid and the events up to the bridge's CHANNEL_EXECUTE_COMPLETE.
func bridge(t *testing.T, s *Sim, e *esl, callerVars, dial string) (string, []wframe) {
	t.Helper()
	res := e.cmd("api originate loopback/caller/default &park()")
	a := strings.TrimSpace(strings.TrimPrefix(string(res.body), "+OK "))
	if len(a) != 36 {
		t.Fatalf("originate: %q", res.body)
	}
	if callerVars != "" {
		e.cmd("api uuid_setvar_multi " + a + " " + callerVars)
	}
	e.cmd(fmt.Sprintf("sendmsg %s\ncall-command: execute\nexecute-app-name: bridge\nexecute-app-arg: %s\nEvent-UUID: br-1", a, dial))
	evs := e.until(func(f wframe) bool {
		return f.evName() == "CHANNEL_EXECUTE_COMPLETE" && f.h("Application-UUID") == "br-1"
	})
	return a, evs
}

func names2(evs []wframe, uuid string) []string {
	var out []string
	for _, f := range evs {
		if f.h("Unique-ID") == uuid {
			out = append(out, f.evName())
		}
	}
	return out
}

func find(evs []wframe, uuid, name string) (wframe, bool) {
	for _, f := range evs {
		if f.h("Unique-ID") == uuid && f.evName() == name {
			return f, true
		}
	}
	return wframe{}, false
}

func TestBridgeAnswered(t *testing.T) {
	t.Parallel()
	caller, callee := Tone(10*time.Second, 3000), Silence(10*time.Second)
	for i := range callee {
		callee[i] = int16((i*37)%4000 - 2000) // a zero-mean sawtooth, unlike the caller's square wave
	}
	s := New(Options{Dialplan: func(string) Script { return Script{Audio: caller} }})
	defer s.Close()
	s.AddCallee("sofia/gateway/pstn/1555", Callee{Ring: 200 * time.Millisecond, Audio: callee, HangupAt: time.Second})
	e := inbound(t, s)
	const b = "0c1d2e3f-0000-4000-8000-000000000001"
	a, evs := bridge(t, s, e, "continue_on_fail=true;hangup_after_bridge=false",
		"{origination_caller_id_number=15559999}[origination_uuid="+b+",sip_h_X-Test=yes]sofia/gateway/pstn/1555")
	want := []string{"CHANNEL_CREATE", "CHANNEL_OUTGOING", "CHANNEL_PROGRESS", "CHANNEL_ANSWER", "CHANNEL_HANGUP"}
	if got := names2(evs, b); !reflect.DeepEqual(got[:min(len(got), len(want))], want) {
		t.Errorf("leg events %v, want %v first", got, want)
	}
	var parkless []wframe // &park() may still be starting when the bridge is queued
	for _, f := range evs {
		if f.evName() != "CHANNEL_PARK" && f.h("Application") != "park" {
			parkless = append(parkless, f)
		}
	}
	if got := names2(parkless, a); !reflect.DeepEqual(got, []string{"CHANNEL_EXECUTE", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_EXECUTE_COMPLETE"}) {
		t.Errorf("caller events %v", got)
	}
	create, _ := find(evs, b, "CHANNEL_CREATE")
	if create.h("Call-Direction") != "outbound" || create.h("Caller-Caller-ID-Number") != "15559999" || create.h("variable_sip_h_X-Test") != "yes" {
		t.Errorf("leg: direction %q, caller id %q, header %q", create.h("Call-Direction"), create.h("Caller-Caller-ID-Number"), create.h("variable_sip_h_X-Test"))
	}
	br, _ := find(evs, a, "CHANNEL_BRIDGE")
	if br.h("Bridge-A-Unique-ID") != a || br.h("Bridge-B-Unique-ID") != b || br.h("Other-Leg-Unique-ID") != b || br.h("Other-Leg-Channel-Answered-Time") == "0" {
		t.Errorf("CHANNEL_BRIDGE: A %q B %q other %q answered %q", br.h("Bridge-A-Unique-ID"), br.h("Bridge-B-Unique-ID"), br.h("Other-Leg-Unique-ID"),
			br.h("Other-Leg-Channel-Answered-Time"))
	}
	done := evs[len(evs)-1]
	for k, v := range map[string]string{"variable_originate_disposition": "SUCCESS", "variable_DIALSTATUS": "SUCCESS",
		"variable_last_bridge_hangup_cause": "NORMAL_CLEARING", "variable_bridge_uuid": b, "variable_last_bridge_to": b,
		"variable_originate_causes": "ARRAY::" + b + ";NONE"} {
		if got := done.h(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// the caller survives (hangup_after_bridge=false); the leg ends its life
	if _, ok := find(evs, b, "CHANNEL_DESTROY"); !ok {
		e.until(func(f wframe) bool { return f.evName() == "CHANNEL_DESTROY" && f.h("Unique-ID") == b })
	}
	if s.Channel(a) == nil {
		t.Error("the caller is gone")
	}
	// media: the called party heard the caller, and the caller heard the called party
	l := s.Legs()[0]
	heard := pcmOf(l.Channel.Heard())
	if c, _ := audio.Correlate(heard, pcmOf(caller), 10*time.Second); c < 0.9 {
		t.Errorf("the called party heard the caller at %.2f", c)
	}
	if c, _ := audio.Correlate(pcmOf(trimZeros(s.Channel(a).Heard())), pcmOf(callee), 10*time.Second); c < 0.9 {
		t.Errorf("the caller heard the called party at %.2f", c)
	}
}

func TestBridgeFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, callerVars, dial, disposition, dialstatus string
		callerUp                                        bool
	}{
		{"busy", "continue_on_fail=true", "sofia/gateway/pstn/busy", "USER_BUSY", "BUSY", true},
		{"busy-hangs-up-caller", "", "sofia/gateway/pstn/busy", "USER_BUSY", "BUSY", false},
		{"no-route", "continue_on_fail=true", "sofia/gateway/pstn/nobody", "NO_ROUTE_DESTINATION", "NO_ROUTE_DESTINATION", true},
		{"error-endpoint", "continue_on_fail=true", "error/call_rejected", "CALL_REJECTED", "DONTCALL", true},
		{"timeout", "continue_on_fail=true;call_timeout=1", "sofia/gateway/pstn/ringing", "NO_ANSWER", "NOANSWER", true},
		{"leg-timeout", "continue_on_fail=true", "[leg_timeout=1]sofia/gateway/pstn/ringing", "ALLOTTED_TIMEOUT", "ALLOTTED_TIMEOUT", true},
		{"failover", "continue_on_fail=true", "sofia/gateway/pstn/busy|sofia/gateway/pstn/ringing", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := New(Options{Callees: func(ep string) (Callee, bool) { // the rest
				return Callee{Ring: 100 * time.Millisecond, Refuse: "USER_BUSY"}, strings.HasSuffix(ep, "/busy")
			}})
			defer s.Close()
			s.AddCallee("sofia/gateway/pstn/ringing", Callee{NoAnswer: true})
			if tc.name == "failover" {
				s.AddCallee("sofia/gateway/pstn/ringing", Callee{Ring: 100 * time.Millisecond, HangupAt: 200 * time.Millisecond})
				tc.disposition, tc.dialstatus = "SUCCESS", "SUCCESS"
			}
			e := inbound(t, s)
			a, evs := bridge(t, s, e, tc.callerVars, tc.dial)
			done := evs[len(evs)-1]
			if got := done.h("variable_originate_disposition"); got != tc.disposition {
				t.Errorf("originate_disposition %q, want %q", got, tc.disposition)
			}
			if got := done.h("variable_DIALSTATUS"); got != tc.dialstatus {
				t.Errorf("DIALSTATUS %q, want %q", got, tc.dialstatus)
			}
			_, hung := find(evs, a, "CHANNEL_HANGUP")
			if hung == tc.callerUp {
				t.Errorf("caller hung up: %v, want %v", hung, !tc.callerUp)
			}
		})
	}
}

// TestBridgeCallerCancels: the caller hangs up while the legs ring: every leg ends with
// ORIGINATOR_CANCEL.
func TestBridgeCallerCancels(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	s.AddCallee("1", Callee{NoAnswer: true}) // by address
	s.AddCallee("sofia/gateway/pstn/2", Callee{NoAnswer: true})
	e := inbound(t, s)
	res := e.cmd("api originate loopback/caller/default &park()")
	a := strings.TrimSpace(strings.TrimPrefix(string(res.body), "+OK "))
	e.cmd("sendmsg " + a + "\ncall-command: execute\nexecute-app-name: bridge\nexecute-app-arg: sofia/gateway/pstn/1,sofia/gateway/pstn/2\nEvent-UUID: br-2")
	time.Sleep(300 * time.Millisecond)
	e.cmd("api uuid_kill " + a)
	evs := e.until(func(f wframe) bool {
		return f.evName() == "CHANNEL_EXECUTE_COMPLETE" && f.h("Application-UUID") == "br-2"
	})
	if got := evs[len(evs)-1].h("variable_originate_disposition"); got != "ORIGINATOR_CANCEL" {
		t.Errorf("originate_disposition %q", got)
	}
	for _, l := range s.Legs() {
		if l.Cause() != "ORIGINATOR_CANCEL" {
			t.Errorf("%s", l)
		}
	}
}

func pcmOf(s []int16) audio.PCM { return audio.PCM{Samples: s, Rate: Rate, Channels: 1} }

// trimZeros drops the silence around a signal (the caller heard nothing before and after the
// bridge), so that its mean is the signal's own.
func trimZeros(s []int16) []int16 {
	from, to := 0, len(s)
	for from < to && s[from] == 0 {
		from++
	}
	for to > from && s[to-1] == 0 {
		to--
	}
	return s[from:to]
}
