package integration

import (
	"context"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/audio"
	"github.com/pbxbridge/pbxbridge/integration/apptest"
)

// TestVerbsAroundRecord runs the verbs real documents put around Record, in both dialects:
// speech, a prompt fetched from the app, a pause, a redirect, and a hangup. pbxbridge must
// fetch the prompt itself (Asterisk plays it from pbxbridge; FreeSWITCH through
// http_cache) so that the caller hears it, honour the pause, follow the redirect, and end the
// call with its status callback, on both PBXs.
func TestVerbsAroundRecord(t *testing.T) {
	t.Parallel()
	promptPCM := tone(16000, 1, 0.5)
	prompt, err := audio.EncodeWAV(promptPCM)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dialect, say, pause, hangup string }{
		{"flexml", `<Say voice="woman">Hello from pbxbridge.</Say>`, `<Pause length="1"/>`, `<Hangup/>`},
		{"plivo", `<Speak voice="WOMAN">Hello from pbxbridge.</Speak>`, `<Wait length="1"/>`, `<Hangup/>`},
	} {
		t.Run(tc.dialect, func(t *testing.T) {
			t.Parallel()
			onPBXs(t, func(t *testing.T, p pbx) {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				c := newCall(t, tc.dialect).on(p)
				env.app.Handle(c.path("prompt.wav"), func(apptest.Request) (int, string) { return http.StatusOK, string(prompt) })
				c.doc = `<Response>` + tc.say + `<Play>` + c.url("prompt.wav") + `</Play>` + tc.pause +
					`<Redirect>` + c.url("next") + `</Redirect><Hangup/></Response>`
				env.app.Document(c.path("next"), `<Response>`+tc.pause+tc.hangup+`</Response>`)
				start := time.Now()
				ear := c.dialHeard(ctx, "long")
				get := c.wait(ctx, "prompt.wav")
				if get.Method != http.MethodGet {
					t.Errorf("prompt fetched with %s", get.Method)
				}
				next := c.wait(ctx, "next")
				st := c.waitStatus(ctx)
				if d := next.At.Sub(get.At); d < time.Second {
					t.Errorf("redirect %s after the prompt fetch; the prompt and a 1 s pause come between", d)
				}
				if d := st.At.Sub(next.At); d < time.Second {
					t.Errorf("hung up %s after the redirect; the next document pauses 1 s first", d)
				}
				if tc.dialect == "plivo" && st.Get("HangupCause") != "NORMAL_CLEARING" {
					t.Errorf("HangupCause = %q, want NORMAL_CLEARING", st.Get("HangupCause"))
				}
				t.Logf("call took %s", time.Since(start).Round(time.Millisecond))
				if coef := correlation(promptPCM, ear.audio(ctx)); coef < 0.8 {
					t.Errorf("the caller did not hear the prompt: correlation %.3f", coef)
				}
			})
		})
	}
}

// tone is a 440 Hz sine at about -12 dBFS.
func tone(rate, channels int, secs float64) audio.PCM {
	n := int(float64(rate) * secs)
	p := audio.PCM{Rate: rate, Channels: channels, Samples: make([]int16, n*channels)}
	for i := 0; i < n; i++ {
		v := int16(8000 * math.Sin(2*math.Pi*440*float64(i)/float64(rate)))
		for ch := 0; ch < channels; ch++ {
			p.Samples[i*channels+ch] = v
		}
	}
	return p
}

// TestVerbsReject: refusing a call before it is answered, in both dialects and on both PBXs.
// FlexML's <Reject/> (reason rejected) is CALL_REJECTED, a SIP 403; Plivo's
// <Hangup reason="busy"/> is USER_BUSY, a SIP 486 (translate.RejectReason.SIPStatus). The
// SIP caller requires that response; the simulated channel must end with that cause. The
// status callback reports the call ended (Plivo: with its HangupCause), and nothing after
// the refusal runs.
func TestVerbsReject(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ dialect, refuse, caller, cause string }{
		{"flexml", `<Reject/>`, "sip-rejected", "CALL_REJECTED"},
		{"plivo", `<Hangup reason="busy"/>`, "sip-busy", "USER_BUSY"},
	} {
		t.Run(tc.dialect, func(t *testing.T) {
			t.Parallel()
			onPBXs(t, func(t *testing.T, p pbx) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				c := newCall(t, tc.dialect).on(p)
				c.doc = `<Response>` + tc.refuse + `<Redirect>` + c.url("never") + `</Redirect></Response>`
				c.dial(ctx, tc.caller)
				st := c.waitStatus(ctx)
				wantValues(t, "status callback", st, map[string]string{"CallStatus": "completed"})
				if tc.dialect == "plivo" {
					wantValues(t, "status callback", st, map[string]string{"HangupCause": tc.cause})
				}
				if p.kind() == freeswitch {
					<-c.fs.Done()
					if cause := c.fs.HangupCause(); cause != tc.cause {
						t.Errorf("FreeSWITCH hung the channel up with %q, want %s", cause, tc.cause)
					}
				}
				c.notRequested("never")
			})
		})
	}
}

// TestVerbsPreAnswer: <PreAnswer> plays a prompt before the call is answered (early media),
// then the document goes on: a pause, then hang up. The caller hears the prompt on both PBXs.
func TestVerbsPreAnswer(t *testing.T) {
	t.Parallel()
	prompt := tone(8000, 1, 1)
	for _, tc := range []struct{ dialect, pause string }{
		{"flexml", `<Pause length="1"/>`},
		{"plivo", `<Wait length="1"/>`},
	} {
		t.Run(tc.dialect, func(t *testing.T) {
			t.Parallel()
			onPBXs(t, func(t *testing.T, p pbx) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				c := newCall(t, tc.dialect).on(p)
				c.serveAudio("prompt.wav", prompt)
				c.doc = `<Response><PreAnswer><Play>` + c.url("prompt.wav") + `</Play></PreAnswer>` + tc.pause + `<Hangup/></Response>`
				ear := c.dialHeard(ctx, "s")
				c.wait(ctx, "prompt.wav")
				st := c.waitStatus(ctx)
				wantValues(t, "status callback", st, map[string]string{"CallStatus": "completed"})
				heard := ear.audio(ctx)
				coef := correlation(prompt, heard)
				t.Logf("heard %.2f s, loud %s; prompt correlation %.3f", heard.Duration().Seconds(), loud(heard, 300), coef)
				if coef < 0.8 {
					t.Errorf("the caller did not hear the prompt: correlation %.3f", coef)
				}
			})
		})
	}
}
