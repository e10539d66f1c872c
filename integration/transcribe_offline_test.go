package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/integration/eslsim"
)

// TestTranscribeOffline: a pbxbridge of its own with the offline provider (Debian's
// pocketsphinx) transcribes a call's tt-weasels, recorded through the FreeSWITCH simulator,
// and sends the CarrierX callbacks with what pocketsphinx heard. Its accuracy is poor: the test
// checks the plumbing (a completed, non-empty transcript, the same in both callbacks).
func TestTranscribeOffline(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("pocketsphinx_continuous"); err != nil {
		if os.Getenv("PBXBRIDGE_INTEGRATION") == "1" {
			t.Fatal("pocketsphinx_continuous is not installed: run scripts/deps.sh")
		}
		t.Skip("pocketsphinx_continuous is not installed: run scripts/deps.sh to run this test")
	}
	slot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := newOwnBridge(t, ctx, "", fmt.Sprintf(`apps:
  - name: flexml
    dialect: flexml
    url: %s/answer/flexml
transcription:
  provider: pocketsphinx
  poll: 200ms
`, env.app.URL))
	c := newCall(t, "flexml")
	c.doc = `<Response><Record callbackUrl="` + c.path("cb") + `" transcribe="true" transcribeCallback="` + c.path("tr") + `"/></Response>`
	c.ok("cb", "tr")
	defer stop(b.start())

	sc := callers["s"].script(t)
	sc.From, sc.To = c.number, c.number
	sim := eslsim.New(eslsim.Options{})
	defer sim.Close()
	if _, err := sim.Call(b.fsAddr, sc); err != nil {
		t.Fatalf("simulated FreeSWITCH call: %v", err)
	}
	cb := c.wait(ctx, "cb")
	tr := c.wait(ctx, "tr")
	text := tr.Get("TranscriptionText")
	t.Logf("pocketsphinx heard tt-weasels (\"weasels have eaten our phone system\") as %q", text)
	for _, r := range []struct {
		what string
		got  string
	}{{"callbackUrl", cb.Get("TranscriptionStatus")}, {"transcribeCallback", tr.Get("TranscriptionStatus")}} {
		if r.got != "completed" {
			t.Errorf("%s: TranscriptionStatus %q, want completed", r.what, r.got)
		}
	}
	if strings.TrimSpace(text) == "" || cb.Get("TranscriptionText") != text || cb.Get("TranscriptionSid") != tr.Get("TranscriptionSid") {
		t.Errorf("transcripts: callbackUrl %q (%s), transcribeCallback %q (%s)", cb.Get("TranscriptionText"),
			cb.Get("TranscriptionSid"), text, tr.Get("TranscriptionSid"))
	}
}
