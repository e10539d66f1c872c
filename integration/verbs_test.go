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
// fetch the prompt itself (Asterisk plays it from pbxbridge), honour the pause, follow the
// redirect, and end the call with its status callback.
func TestVerbsAroundRecord(t *testing.T) {
	t.Parallel()
	prompt, err := audio.EncodeWAV(tone(16000, 1, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dialect, say, pause, hangup string }{
		{"flexml", `<Say voice="woman">Hello from pbxbridge.</Say>`, `<Pause length="1"/>`, `<Hangup/>`},
		{"plivo", `<Speak voice="WOMAN">Hello from pbxbridge.</Speak>`, `<Wait length="1"/>`, `<Hangup/>`},
	} {
		t.Run(tc.dialect, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c := newCall(t, tc.dialect)
			env.app.Handle(c.path("prompt.wav"), func(apptest.Request) (int, string) { return http.StatusOK, string(prompt) })
			c.doc = `<Response>` + tc.say + `<Play>` + c.url("prompt.wav") + `</Play>` + tc.pause +
				`<Redirect>` + c.url("next") + `</Redirect><Hangup/></Response>`
			env.app.Document(c.path("next"), `<Response>`+tc.pause+tc.hangup+`</Response>`)
			start := time.Now()
			c.local("long")
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
