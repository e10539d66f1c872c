package sipcall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrNotConnected: the call was not answered (SIPp failed before the 200 OK, or the PBX
// refused the call).
var ErrNotConnected = errors.New("the call was not answered")

// ErrSIPp: SIPp could not run, or the call failed after it was answered.
var ErrSIPp = errors.New("sipp failed")

// Call is one call to place.
type Call struct {
	// SIPp is the sipp program; "" = "sipp" from PATH.
	SIPp string
	// PBX is the PBX's SIP address, host:port (UDP). Required.
	PBX string
	// To is the dialled number (the Request-URI user); From is the caller's number.
	To, From string
	// ULaw is the caller's audio: 8 kHz G.711 µ-law samples, sent from the answer.
	ULaw []byte
	// Digits are sent as RFC 4733 events at their times from the answer.
	Digits []Digit
	// Hold is how long after the answer the caller waits for the far end to hang up before
	// hanging up itself. Default 30s.
	Hold time.Duration
	// Dir receives the scenario, the pcap and SIPp's logs. Required.
	Dir string
}

// Result is how the call went.
type Result struct {
	Answered bool          // the PBX answered (200 OK to the INVITE)
	FarEnd   bool          // the far end (the application) hung up, not the caller
	Stream   Stream        // what was sent
	Took     time.Duration // SIPp's run
	Output   string        // the end of SIPp's output and its error log, for failures
}

// Run places the call and returns when it is over. The error wraps ErrNotConnected or ErrSIPp
// (with SIPp's complaint) when the call did not go through; Result is filled as far as known.
func Run(ctx context.Context, c Call) (Result, error) {
	if c.Hold <= 0 {
		c.Hold = 30 * time.Second
	}
	if c.SIPp == "" {
		c.SIPp = "sipp"
	}
	if c.PBX == "" || c.To == "" || c.Dir == "" {
		return Result{}, errors.New("sipcall: PBX, To and Dir are required")
	}
	if c.From == "" {
		c.From = "15550100001"
	}
	for _, f := range []struct{ name, v string }{{"To", c.To}, {"From", c.From}} {
		if !sipUser.MatchString(f.v) {
			return Result{}, fmt.Errorf("sipcall: %s %q: a number or SIP user part of letters, digits and + * # . _ - only", f.name, f.v)
		}
	}
	var res Result
	pcap, stream := BuildPCAP(c.ULaw, c.Digits)
	res.Stream = stream
	pcapPath := filepath.Join(c.Dir, "caller.pcap")
	sfPath := filepath.Join(c.Dir, "call.xml")
	logPath := filepath.Join(c.Dir, "sipp-log.txt")
	errPath := filepath.Join(c.Dir, "sipp-errors.txt")
	if err := os.WriteFile(pcapPath, pcap, 0o600); err != nil {
		return res, err
	}
	if err := os.WriteFile(sfPath, []byte(scenario(c.From, pcapPath, c.Hold)), 0o600); err != nil {
		return res, err
	}
	sipPort, err := freeUDPPorts(1)
	if err != nil {
		return res, err
	}
	mediaPort, err := freeUDPPorts(3) // SIPp binds the audio port and audio+2 (video)
	if err != nil {
		return res, err
	}
	limit := c.Hold + stream.Audio + 30*time.Second
	args := []string{"-sf", sfPath, "-s", c.To,
		"-i", "127.0.0.1", "-p", strconv.Itoa(sipPort), "-mi", "127.0.0.1", "-mp", strconv.Itoa(mediaPort),
		"-m", "1", "-timeout", strconv.Itoa(int(limit.Seconds())), "-timeout_error", "-nostdin",
		"-trace_logs", "-log_file", logPath, "-trace_err", "-error_file", errPath, c.PBX}
	cmd := exec.CommandContext(ctx, c.SIPp, args...)
	cmd.Dir = c.Dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	runErr := cmd.Run()
	res.Took = time.Since(start)
	log, _ := os.ReadFile(logPath)
	res.Answered = bytes.Contains(log, []byte(logAnswered))
	res.FarEnd = bytes.Contains(log, []byte(logFarBye))
	if runErr == nil {
		return res, nil
	}
	errs, _ := os.ReadFile(errPath)
	res.Output = strings.TrimSpace(tail(out.String(), 15) + "\n" + tail(string(errs), 15))
	if errors.Is(runErr, exec.ErrNotFound) || errors.Is(runErr, os.ErrNotExist) {
		return res, fmt.Errorf("%w: %s not found (Debian: apt-get install sip-tester): %w", ErrSIPp, c.SIPp, runErr)
	}
	if !res.Answered {
		return res, fmt.Errorf("%w: %s did not answer %s: %s", ErrNotConnected, c.PBX, c.To, lastLine(res.Output))
	}
	return res, fmt.Errorf("%w: %w: %s", ErrSIPp, runErr, lastLine(res.Output))
}

// sipUser is what To and From may hold: they go into SIP headers and SIPp's command line.
var sipUser = regexp.MustCompile(`^[A-Za-z0-9+*#._-]{1,64}$`)

// freeUDPPorts finds a port p such that p..p+n-1 are all free for UDP on 127.0.0.1.
func freeUDPPorts(n int) (int, error) {
	for range 50 {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		ok := p+n-1 <= 65535
		var held []net.PacketConn
		for i := 1; ok && i < n; i++ {
			h, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p+i))
			if err != nil {
				ok = false
				break
			}
			held = append(held, h)
		}
		c.Close()
		for _, h := range held {
			h.Close()
		}
		if ok {
			return p, nil
		}
	}
	return 0, errors.New("sipcall: no free UDP ports on 127.0.0.1")
}

func tail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// lastLine is the last line of s that says something.
func lastLine(s string) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(ls) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(ls[i]); l != "" {
			return l
		}
	}
	return "no output"
}
