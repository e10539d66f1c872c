package integration

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/audio"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
)

// One behaviour suite for both PBXs: a scenario is written once and runs as a subtest per
// PBX (Test…/asterisk, Test…/freeswitch) against the same pbxbridge process and the same
// application, asserting the same callbacks. Calls come from named callers that mean the
// same on both PBXs: a Local channel or a SIPp scenario on the real Asterisk, an eslsim
// Script on the FreeSWITCH protocol simulator (FreeSWITCH cannot be installed here), which
// plays the same audio (Asterisk's sound files, SIPp's pcap) at the same times and records
// into pbxbridge's shared record_dir like a FreeSWITCH on the same host.

// pbx names a PBX the shared scenarios run on.
type pbx string

const (
	asterisk   pbx = "asterisk"   // the project's Asterisk 22, through ARI
	freeswitch pbx = "freeswitch" // the FreeSWITCH simulator, through the ESL outbound listener
)

var pbxs = []pbx{asterisk, freeswitch}

// Fault variants of FreeSWITCH (esl_test.go): the same scenarios with a misbehaving
// simulator.
const (
	// fsReordered delivers each pair of consecutive events in swapped order.
	fsReordered pbx = "freeswitch-reordered"
	// fsNoRecordFile cannot open any recording file: record and uuid_record fail as
	// FreeSWITCH's do when record_dir is missing or unwritable.
	fsNoRecordFile pbx = "freeswitch-no-record-file"
)

// kind is the PBX a variant runs on.
func (p pbx) kind() pbx {
	if strings.HasPrefix(string(p), string(freeswitch)) {
		return freeswitch
	}
	return asterisk
}

// sim is the simulator's options for a FreeSWITCH variant.
func (p pbx) sim() eslsim.Options {
	switch p {
	case fsReordered:
		return eslsim.Options{SwapEvents: true}
	case fsNoRecordFile:
		return eslsim.Options{NoRecordFile: true}
	}
	return eslsim.Options{}
}

// onPBXs runs a scenario as a parallel subtest per PBX; each holds a slot for its calls.
// Simulated FreeSWITCH calls share Asterisk's slots: they load no Asterisk, but the simulator,
// pbxbridge and the tests' audio checks take the same 2 cores a starved Asterisk needs.
func onPBXs(t *testing.T, body func(t *testing.T, p pbx)) {
	t.Helper()
	for _, p := range pbxs {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			slot(t)
			body(t, p)
		})
	}
}

// on sets the PBX a call is placed on.
func (c *call) on(p pbx) *call {
	c.pbx = p
	return c
}

// A caller is a named far end. Times are from the answer.
type caller struct {
	local  string                           // Asterisk: Local/<local>@play-test/n
	sipp   string                           // Asterisk: a SIPp scenario of asterisk/sipp
	script func(t *testing.T) eslsim.Script // FreeSWITCH: what the simulated caller does
}

// dtmfDuration is about how long Asterisk's SendDTMF takes per key (100 ms tone, 250 ms gap).
const dtmfDuration = 350 * time.Millisecond

// speechThenKey is an Asterisk extension of play-test: answer, 1 s, the sound, '#', 10 s,
// hang up.
func speechThenKey(name string) func(t *testing.T) eslsim.Script {
	return func(t *testing.T) eslsim.Script {
		speech := soundSamples(t, name)
		at := time.Second + time.Duration(len(speech))*time.Second/eslsim.Rate + 100*time.Millisecond
		return eslsim.Script{Audio: append(eslsim.Silence(time.Second), speech...),
			DTMF: []eslsim.DTMF{{At: at, Digit: '#'}}, HangupAt: at + dtmfDuration + 10*time.Second}
	}
}

// sippScript is what the SIPp scenarios send: g711a.pcap (7.05 s) from the answer and,
// with a key, an RFC 4733 '#' 7.5 s after the audio starts; SIPp never hangs up (the app
// does; 60 s is SIPp's timeout).
func sippScript(from string, key bool) func(t *testing.T) eslsim.Script {
	return func(t *testing.T) eslsim.Script {
		sc := eslsim.Script{From: from, CallerName: "sipp", Audio: sipAudio(t).Samples, HangupAt: 60 * time.Second}
		if key {
			sc.DTMF = []eslsim.DTMF{{At: 7500 * time.Millisecond, Digit: '#'}}
		}
		return sc
	}
}

// unanswered is a SIP caller that waits to be answered or refused (up to SIPp's 60 s).
func unanswered(*testing.T) eslsim.Script {
	return eslsim.Script{From: "sipp", CallerName: "sipp", HangupAt: 60 * time.Second}
}

var callers = map[string]caller{
	// answer, 1 s, tt-weasels (~2.95 s), '#', 10 s, hang up
	"s": {local: "s", script: speechThenKey("tt-weasels")},
	// like s with tt-monkeys (~16 s)
	"long": {local: "long", script: speechThenKey("tt-monkeys")},
	// no audio (no media frames at all): 2 s, then 1, 2, #, 10 s, hang up
	"dtmf": {local: "dtmf", script: func(*testing.T) eslsim.Script {
		return eslsim.Script{NoMedia: true, DTMF: []eslsim.DTMF{{At: 2 * time.Second, Digit: '1'}, {At: 2*time.Second + dtmfDuration, Digit: '2'},
			{At: 2*time.Second + 2*dtmfDuration, Digit: '#'}}, HangupAt: 2*time.Second + 3*dtmfDuration + 10*time.Second}
	}},
	// 1 s, tt-weasels, hang up (no DTMF)
	"hang": {local: "hang", script: func(t *testing.T) eslsim.Script {
		speech := soundSamples(t, "tt-weasels")
		return eslsim.Script{Audio: append(eslsim.Silence(time.Second), speech...),
			HangupAt: time.Second + time.Duration(len(speech))*time.Second/eslsim.Rate}
	}},
	// SIP from 15550100001 ("sipp"): 7.05 s of speech, then '#' at 7.5 s
	"sip-key": {sipp: "uac_pcap_dtmf_remote_bye.xml", script: sippScript("15550100001", true)},
	// SIP from sipp: 7.05 s of speech, no key
	"sip": {sipp: "uac_pcap_remote_bye.xml", script: sippScript("sipp", false)},
	// SIP from sipp, never answered: the call must be refused as busy (486), within 60 s
	"sip-busy": {sipp: "uac_busy.xml", script: unanswered},
	// SIP from sipp, never answered: the call must be refused (403), within 60 s
	"sip-rejected": {sipp: "uac_rejected.xml", script: unanswered},
}

// dial places the call from the named caller on the call's PBX. A SIPp call returns when
// SIPp is done; the others at once.
func (c *call) dial(ctx context.Context, name string) {
	c.t.Helper()
	cl, ok := callers[name]
	if !ok {
		c.t.Fatalf("no caller %q", name)
	}
	switch c.pbx.kind() {
	case freeswitch:
		sc := cl.script(c.t)
		if sc.From == "" {
			sc.From = c.number
		}
		sc.To = c.number
		if c.app != "" {
			sc.Vars = map[string]string{"pbxbridge_app": c.app}
		}
		sim := eslsim.New(c.pbx.sim())
		c.t.Cleanup(sim.Close)
		for ep, ce := range c.callees {
			sim.AddCallee(ep, ce)
		}
		ch, err := sim.Call(env.fsAddr, sc)
		if err != nil {
			c.t.Fatalf("simulated FreeSWITCH call: %v", err)
		}
		c.fs = ch
	default:
		if cl.sipp != "" {
			c.sip(ctx, cl.sipp)
			return
		}
		c.local(cl.local)
	}
}

// dialHeard is dial with an ear on what the caller hears: on Asterisk a snoop records it
// (localHeard); the FreeSWITCH simulator has no ear, the ear lists what the channel played.
func (c *call) dialHeard(ctx context.Context, name string) *heard {
	c.t.Helper()
	if c.pbx.kind() == freeswitch {
		c.dial(ctx, name)
		return &heard{t: c.t, fs: c.fs}
	}
	return c.localHeard(callers[name].local)
}

// fsHeard is what the simulated caller heard (the channel's write stream), once the call is
// over.
func (h *heard) fsHeard(ctx context.Context) audio.PCM {
	h.t.Helper()
	select {
	case <-h.fs.Done():
	case <-ctx.Done():
		h.t.Fatalf("the simulated call is still up")
	}
	p := audio.PCM{Rate: eslsim.Rate, Channels: 1, Samples: h.fs.Heard()}
	if b, err := audio.EncodeWAV(p); err == nil {
		keep(h.t, "heard.wav", b)
	}
	return p
}

// beepOf is the beep a PBX plays before a recording: Asterisk's beep sound; on FreeSWITCH
// the tone pbxbridge plays (the Plivo framework's tone_stream://%(300,200,700)), 300 ms of
// 700 Hz.
func beepOf(t *testing.T, p pbx) audio.PCM {
	t.Helper()
	if p.kind() == asterisk {
		return sound(t, "beep")
	}
	b := audio.PCM{Rate: 8000, Channels: 1, Samples: make([]int16, 2400)}
	for i := range b.Samples {
		b.Samples[i] = int16(8000 * math.Sin(2*math.Pi*700*float64(i)/8000))
	}
	return b
}

var sounds sync.Map // name -> []int16 at 8 kHz mono

// soundSamples is a sound of the project's Asterisk at 8 kHz mono, what the simulated caller
// says in place of a Local channel's Playback.
func soundSamples(t *testing.T, name string) []int16 {
	t.Helper()
	if v, ok := sounds.Load(name); ok {
		return v.([]int16)
	}
	p, err := audio.Conform(sound(t, name), eslsim.Rate, 1)
	if err != nil {
		t.Fatalf("sound %s: %v", name, err)
	}
	sounds.Store(name, p.Samples)
	return p.Samples
}
