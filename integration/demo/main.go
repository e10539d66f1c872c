// Command demo is `make demo`: pbxbridge's main job, end to end, on this machine. It starts a
// small voicemail application (CarrierX FlexML: Say, then Record with action and
// callbackUrl), runs pbxbridge beside the project's Asterisk, places a real SIP call with
// SIPp (7 s of G.711 speech, then an RFC 4733 '#'), and prints every request the application
// received and where the recording is. It exits 0 only when the call was recorded and every
// callback arrived.
//
// It expects Asterisk to be running (make demo starts it: integration/asterisk/run.sh start)
// and a built pbxbridge binary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pbxbridge/pbxbridge/audio"
	"github.com/pbxbridge/pbxbridge/integration/apptest"
)

const number = "15550109999"

const voicemail = `<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Say voice="woman">Please leave a message after the tone, then press pound.</Say>
  <Record action="/after-record" callbackUrl="/recorded" playBeep="true" finishOnKey="#"
          maxLength="30" timeout="10" fileFormat="wav" trim="do-not-trim"/>
  <Say>We did not get a message. Goodbye.</Say>
</Response>`

const afterRecord = `<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Say>Thank you. Goodbye.</Say>
  <Hangup/>
</Response>`

func main() {
	bin := flag.String("pbxbridge", "bin/pbxbridge", "the pbxbridge binary")
	astDir := flag.String("asterisk", "integration/asterisk", "the project's Asterisk scripts")
	timeout := flag.Duration("timeout", 90*time.Second, "give up after this long")
	flag.Parse()
	if err := run(*bin, *astDir, *timeout); err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo FAILED: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("\ndemo OK: the call was recorded and every callback was delivered")
}

func run(bin, astDir string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	app, err := apptest.Start()
	if err != nil {
		return err
	}
	defer app.Close()
	app.Document("/voicemail", voicemail)
	app.Document("/after-record", afterRecord)
	app.Status("/recorded", http.StatusOK)
	app.Status("/status", http.StatusOK)
	fmt.Printf("application (voicemail, FlexML) at %s/voicemail\n", app.URL)

	dir, err := os.MkdirTemp("", "pbxbridge-demo-")
	if err != nil {
		return err
	}
	port, err := apptest.FreePort()
	if err != nil {
		return err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := fmt.Sprintf(`# written by the demo
listen: %s
data_dir: %s
asterisk:
  - password: ${PBX_ARI_PASSWORD}
apps:
  - name: voicemail
    dialect: flexml
    url: %s/voicemail
    status_url: %s/status
    numbers: ["%s"]
`, listen, filepath.Join(dir, "data"), app.URL, app.URL, number)
	cfgPath := filepath.Join(dir, "pbxbridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	if os.Getenv("PBX_ARI_PASSWORD") == "" {
		os.Setenv("PBX_ARI_PASSWORD", "pbxbridge-test")
	}

	logPath := filepath.Join(dir, "pbxbridge.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	srv := exec.Command(bin, "serve", "--config", cfgPath)
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", bin, err)
	}
	defer func() {
		_ = srv.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = srv.Process.Kill()
		}
	}()
	showLog := func() {
		b, _ := os.ReadFile(logPath)
		fmt.Fprintf(os.Stderr, "\n--- pbxbridge log (%s)\n%s", logPath, b)
	}
	if err := apptest.WaitOK(ctx, "http://"+listen+"/readyz"); err != nil {
		showLog()
		return fmt.Errorf("pbxbridge did not become ready: %w", err)
	}
	fmt.Printf("pbxbridge ready on %s (log: %s)\n", listen, logPath)

	fmt.Printf("calling %s with SIPp: 7 s of speech, then '#'\n", number)
	sipp := exec.CommandContext(ctx, filepath.Join(astDir, "run.sh"), "sipp",
		"-sf", filepath.Join(astDir, "sipp", "uac_pcap_dtmf_remote_bye.xml"), "-s", number,
		"-i", "127.0.0.1", "-p", "5070", "-mi", "127.0.0.1", "-mp", "6000",
		"-m", "1", "-timeout", "60", "-timeout_error", "-nostdin", "127.0.0.1:5060")
	out, err := sipp.CombinedOutput()
	if err != nil {
		showLog()
		return fmt.Errorf("SIPp call failed: %w\n%s", err, apptest.Tail(string(out), 30))
	}

	action, err := app.WaitPath(ctx, "/after-record")
	if err != nil {
		showLog()
		return fmt.Errorf("no action request: %w", err)
	}
	recorded, err := app.WaitPath(ctx, "/recorded")
	if err != nil {
		showLog()
		return fmt.Errorf("no callbackUrl request: %w", err)
	}
	if _, err := app.WaitPath(ctx, "/status"); err != nil {
		showLog()
		return fmt.Errorf("no status callback: %w", err)
	}
	fmt.Println("\nrequests the application received:")
	for _, r := range app.Requests() {
		fmt.Print(indent(r.Format()))
	}

	recURL := recorded.Get("RecordingUrl")
	fmt.Printf("\nRecordingUrl: %s\n", recURL)
	if action.Get("RecordingSid") != recorded.Get("RecordingSid") || recURL == "" {
		return errors.New("action and callbackUrl disagree on the recording")
	}
	resp, err := http.Get(recURL)
	if err != nil {
		return fmt.Errorf("fetching the recording: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching the recording: HTTP %d", resp.StatusCode)
	}
	pcm, err := audio.ParseWAV(data)
	if err != nil {
		return fmt.Errorf("the recording is not a WAV file: %w", err)
	}
	fmt.Printf("recording: %d bytes, %s of audio, %s (%s), Digits=%q\n", len(data), pcm.Duration().Round(10*time.Millisecond),
		resp.Header.Get("Content-Type"), action.Get("RecordingDuration")+" s reported", action.Get("Digits"))
	stored := filepath.Join(dir, "data", "containers", "default", recorded.Get("RecordingSid")+".wav")
	if _, err := os.Stat(stored); err != nil {
		return fmt.Errorf("the recording is not on disk where pbxbridge keeps it: %w", err)
	}
	fmt.Printf("stored at: %s (the link above works while pbxbridge runs; the file stays)\n", stored)
	if pcm.Duration() < time.Second {
		return fmt.Errorf("the recording holds only %s of audio", pcm.Duration())
	}
	return nil
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ") + "\n"
}
