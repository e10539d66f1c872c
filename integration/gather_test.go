package integration

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/integration/apptest"
	"github.com/pbxbridge/pbxbridge/integration/eslsim"
)

// Digit collection (FlexML <Gather>, Plivo <GetDigits> and <GetInput inputType="dtmf">) on
// both PBXs. On Asterisk the caller is SIPp, whose keys are RFC 4733 telephone-events in its
// RTP stream (uac_pcap_keys_remote_bye.xml with a generated pcap, rtppcap_test.go); on the
// FreeSWITCH simulator the channel receives the same keys at the same times. Times are from
// the answer; the prompts are WAVs the app serves, so their length is known.

// dialKeys places a SIP call from 15550100001 that presses keys and says g711a.pcap's
// speech at the given times, then waits for the far end to hang up (up to 60 s). On Asterisk
// it returns when SIPp is done; on FreeSWITCH at once.
func (c *call) dialKeys(ctx context.Context, says []speechAt, keys ...keyPress) {
	c.t.Helper()
	if c.pbx.kind() == freeswitch {
		sc := eslsim.Script{From: "15550100001", CallerName: "sipp", To: c.number, HangupAt: 60 * time.Second}
		if len(says) > 0 {
			speech := sipAudio(c.t).Samples
			for _, s := range says {
				at := int(s.at * eslsim.Rate / time.Second)
				if n := at + len(speech); n > len(sc.Audio) {
					sc.Audio = append(sc.Audio, make([]int16, n-len(sc.Audio))...)
				}
				copy(sc.Audio[at:], speech)
			}
		}
		for _, k := range keys {
			sc.DTMF = append(sc.DTMF, eslsim.DTMF{At: k.at, Digit: k.digit})
		}
		sim := eslsim.New(c.pbx.sim())
		c.t.Cleanup(sim.Close)
		ch, err := sim.Call(env.fsAddr, sc)
		if err != nil {
			c.t.Fatalf("simulated FreeSWITCH call: %v", err)
		}
		c.fs = ch
		return
	}
	speech, err := alawPayload("/usr/share/sip-tester/g711a.pcap")
	if err != nil {
		c.t.Fatal(err)
	}
	pcap, err := keysPcap(speech, says, keys)
	if err != nil {
		c.t.Fatal(err)
	}
	keep(c.t, "keys.pcap", pcap)
	dir := c.t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keys.pcap"), pcap, 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.sipIn(ctx, dir, "uac_pcap_keys_remote_bye.xml")
}

func keysAt(spec ...any) []keyPress {
	var out []keyPress
	for i := 0; i+1 < len(spec); i += 2 {
		out = append(out, keyPress{at: spec[i].(time.Duration), digit: spec[i+1].(byte)})
	}
	return out
}

// sinceAnswer is how long after the answer request r came.
func (c *call) sinceAnswer(ctx context.Context, r apptest.Request) time.Duration {
	return r.At.Sub(c.answered(ctx).At)
}

// TestGatherDigits: input that ends by numDigits, by the finish key, by the inter-key
// timeout, and a key that barges in on a long prompt; the action gets the keys in the
// dialect's shape (Digits, with InputType for GetInput), the finish key excluded, and its
// document replaces the rest.
func TestGatherDigits(t *testing.T) {
	const ms = time.Millisecond
	t.Parallel()
	for _, tc := range []struct {
		name, dialect, gather string
		prompt                time.Duration
		keys                  []keyPress
		want                  map[string]string
		// within is the latest the action may come after the answer: before the prompt or a
		// first-key timeout would have ended the input.
		within time.Duration
	}{
		{"numDigits", "flexml", `<Gather numDigits="3" timeout="6" action="{menu}">{prompt}</Gather>`, 2 * time.Second,
			keysAt(3000*ms, byte('1'), 3600*ms, byte('2'), 4200*ms, byte('3'), 4800*ms, byte('4')),
			map[string]string{"Digits": "123"}, 7 * time.Second},
		{"finishOnKey", "plivo", `<GetDigits action="{menu}" timeout="6" digitTimeout="4">{prompt}</GetDigits>`, 2 * time.Second,
			keysAt(3000*ms, byte('4'), 3600*ms, byte('2'), 4200*ms, byte('#')),
			map[string]string{"Digits": "42"}, 7 * time.Second},
		{"interDigitTimeout", "plivo", `<GetDigits action="{menu}" timeout="10" digitTimeout="1" finishOnKey="none">{prompt}</GetDigits>`, 2 * time.Second,
			keysAt(3000*ms, byte('7'), 3600*ms, byte('8')),
			map[string]string{"Digits": "78"}, 8 * time.Second},
		{"bargeIn", "flexml", `<Gather numDigits="1" action="{menu}">{prompt}</Gather>`, 10 * time.Second,
			keysAt(2000*ms, byte('5')),
			map[string]string{"Digits": "5"}, 6 * time.Second},
		{"getInput", "plivo", `<GetInput action="{menu}" inputType="dtmf" finishOnKey="*" executionTimeout="6">{prompt}</GetInput>`, 2 * time.Second,
			keysAt(3000*ms, byte('9'), 3600*ms, byte('*')),
			map[string]string{"InputType": "dtmf", "Digits": "9"}, 7 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			onPBXs(t, func(t *testing.T, p pbx) {
				ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
				defer cancel()
				c := newCall(t, tc.dialect).on(p)
				c.serveAudio("prompt.wav", tone(8000, 1, tc.prompt.Seconds()))
				c.serve("menu", `<Response><Hangup/></Response>`)
				c.doc = `<Response>` + fillDoc(tc.gather, "{menu}", c.url("menu"), "{prompt}", `<Play>`+c.url("prompt.wav")+`</Play>`) +
					`<Redirect>` + c.url("never") + `</Redirect></Response>`
				c.dialKeys(ctx, nil, tc.keys...)
				menu := c.wait(ctx, "menu")
				wantValues(t, "action", menu, tc.want)
				if tc.dialect == "flexml" {
					wantValues(t, "action", menu, map[string]string{"CallStatus": "in-progress", "From": "15550100001"})
				}
				if d := c.sinceAnswer(ctx, menu); d > tc.within {
					t.Errorf("action %s after the answer, want within %s", d, tc.within)
				} else {
					t.Logf("action %s after the answer", d.Round(ms))
				}
				c.waitStatus(ctx)
				c.notRequested("never")
			})
		})
	}
}

// TestGatherNoInput: no key before the first-key timeout, counted from the end of the prompt:
// the next verb runs and the action is not requested, in both dialects; with FlexML's
// actionOnEmptyResult the action is requested with empty Digits instead.
func TestGatherNoInput(t *testing.T) {
	const ms = time.Millisecond
	t.Parallel()
	for _, tc := range []struct {
		name, dialect, gather string
		action                bool
	}{
		{"flexml", "flexml", `<Gather timeout="2" action="{menu}">{prompt}</Gather>`, false},
		{"flexmlActionOnEmpty", "flexml", `<Gather timeout="2" action="{menu}" actionOnEmptyResult="true">{prompt}</Gather>`, true},
		{"plivo", "plivo", `<GetDigits timeout="2" action="{menu}">{prompt}</GetDigits>`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			onPBXs(t, func(t *testing.T, p pbx) {
				ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
				defer cancel()
				c := newCall(t, tc.dialect).on(p)
				c.serveAudio("prompt.wav", tone(8000, 1, 1.5))
				c.serve("menu", `<Response><Hangup/></Response>`)
				c.serve("next", `<Response><Hangup/></Response>`)
				c.doc = `<Response>` + fillDoc(tc.gather, "{menu}", c.url("menu"), "{prompt}", `<Play>`+c.url("prompt.wav")+`</Play>`) +
					`<Redirect>` + c.url("next") + `</Redirect></Response>`
				c.dialKeys(ctx, nil)
				then := "next"
				if tc.action {
					then = "menu"
				}
				r := c.wait(ctx, then)
				// 1.5 s of prompt, then 2 s of waiting for the first key
				if d := c.sinceAnswer(ctx, r); d < 3500*ms {
					t.Errorf("%s requested %s after the answer: the first-key timeout must run from the end of the prompt", then, d)
				} else {
					t.Logf("%s requested %s after the answer", then, d.Round(ms))
				}
				if tc.action {
					wantValues(t, "action", r, map[string]string{"Digits": ""})
				}
				c.waitStatus(ctx)
				if tc.action {
					c.notRequested("next")
				} else {
					c.notRequested("menu")
				}
			})
		})
	}
}

// TestGatherPlivoRetries: GetDigits with retries="3" and validDigits: the first attempt gets
// no key, the second a key outside validDigits (invalidDigitsSound plays), the third a valid
// key, which the action gets. Each attempt plays the prompt again.
func TestGatherPlivoRetries(t *testing.T) {
	const ms = time.Millisecond
	t.Parallel()
	onPBXs(t, func(t *testing.T, p pbx) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		c := newCall(t, "plivo").on(p)
		c.serveAudio("prompt.wav", tone(8000, 1, 1))
		c.serveAudio("invalid.wav", tone(8000, 1, 0.5))
		c.serve("menu", `<Response><Hangup/></Response>`)
		c.doc = `<Response><GetDigits action="` + c.url("menu") + `" retries="3" timeout="2" numDigits="1" validDigits="12"
			invalidDigitsSound="` + c.url("invalid.wav") + `"><Play>` + c.url("prompt.wav") + `</Play></GetDigits>
			<Redirect>` + c.url("never") + `</Redirect></Response>`
		// attempt 1: 0-3 s (prompt 1 s + 2 s); attempt 2: 3-6 s, '9' at 5 s, then the 0.5 s
		// invalid sound; attempt 3 from about 5.5 s: '2' at 7.5 s
		c.dialKeys(ctx, nil, keysAt(5000*ms, byte('9'), 7500*ms, byte('2'))...)
		menu := c.wait(ctx, "menu")
		wantValues(t, "action", menu, map[string]string{"Digits": "2"})
		if d := c.sinceAnswer(ctx, menu); d < 7*time.Second {
			t.Errorf("action %s after the answer, before the third attempt's key", d)
		}
		if n := c.count("invalid.wav"); n < 1 {
			t.Error("invalidDigitsSound was never fetched")
		}
		c.waitStatus(ctx)
		c.notRequested("never")
	})
}

// TestGatherThenRecord is a voicemail with a "press 1 to re-record" menu: the caller speaks,
// ends the message with #, the action's document asks with a Gather, the caller presses 1,
// and the menu's document records again; the second message (spoken again) is stored whole.
func TestGatherThenRecord(t *testing.T) {
	const ms = time.Millisecond
	t.Parallel()
	for _, tc := range []struct{ dialect, record, gather string }{
		{"flexml", `<Record action="{next}" finishOnKey="#" maxLength="30" playBeep="false"/>`,
			`<Gather numDigits="1" timeout="4" action="{menu}">{prompt}</Gather><Hangup/>`},
		{"plivo", `<Record action="{next}" finishOnKey="#" maxLength="30" playBeep="false"/>`,
			`<GetDigits numDigits="1" timeout="4" action="{menu}">{prompt}</GetDigits><Hangup/>`},
	} {
		t.Run(tc.dialect, func(t *testing.T) {
			t.Parallel()
			onPBXs(t, func(t *testing.T, p pbx) {
				ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
				defer cancel()
				c := newCall(t, tc.dialect).on(p)
				c.serveAudio("prompt.wav", tone(8000, 1, 1))
				c.doc = `<Response>` + fillDoc(tc.record, "{next}", c.url("recorded")) + `</Response>`
				c.serve("recorded", `<Response>`+fillDoc(tc.gather, "{menu}", c.url("menu"), "{prompt}", `<Play>`+c.url("prompt.wav")+`</Play>`)+`</Response>`)
				c.serve("menu", `<Response>`+fillDoc(tc.record, "{next}", c.url("recorded2"))+`</Response>`)
				c.serve("recorded2", `<Response><Hangup/></Response>`)
				// speech 0-7.05 s, '#' at 7.5 s; the menu from about 8 s; '1' at 10 s; the second
				// Record from about 10.3 s: speech 11-18.05 s, '#' at 18.5 s
				c.dialKeys(ctx, []speechAt{{0}, {11 * time.Second}},
					keysAt(7500*ms, byte('#'), 10000*ms, byte('1'), 18500*ms, byte('#'))...)
				first := c.wait(ctx, "recorded")
				menu := c.wait(ctx, "menu")
				second := c.wait(ctx, "recorded2")
				wantValues(t, "menu action", menu, map[string]string{"Digits": "1"})
				for name, r := range map[string]apptest.Request{"first": first, "second": second} {
					d, err := strconv.Atoi(r.Get("RecordingDuration"))
					if err != nil || d < 6 || d > 10 {
						t.Errorf("%s recording: RecordingDuration %q, want the 7 s message and its tail", name, r.Get("RecordingDuration"))
					}
					wantValues(t, name+" recording", r, map[string]string{"Digits": "#"})
				}
				c.waitStatus(ctx)
			})
		})
	}
}

// fillDoc replaces placeholders in a document template: fillDoc(s, "{a}", x, "{b}", y).
func fillDoc(s string, kv ...string) string {
	for i := 0; i+1 < len(kv); i += 2 {
		s = strings.ReplaceAll(s, kv[i], kv[i+1])
	}
	return s
}
