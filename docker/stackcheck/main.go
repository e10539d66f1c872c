// Command stackcheck is the assertion half of docker/test.sh: after SIPp has called the
// Docker stack's voicemail number, it waits until the example application (docker/exampleapp)
// has received the action, the recording callback and the status callback, checks that they
// agree on the recording, downloads RecordingUrl through pbxbridge's published port and checks
// that it is a WAV file of plausible duration. It prints what arrived and the recording's
// sid (last line: "sid=<RecordingSid>"), and exits 0 only when everything holds.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pbxbridge/pbxbridge/audio"
)

type request struct {
	Time   time.Time           `json:"time"`
	Method string              `json:"method"`
	Path   string              `json:"path"`
	Form   map[string][]string `json:"form"`
}

func (r request) get(k string) string {
	if v := r.Form[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func main() {
	app := flag.String("app", "", "the example application's published base URL, e.g. http://127.0.0.1:18090")
	pbx := flag.String("pbxbridge", "", "pbxbridge's published base URL, e.g. http://127.0.0.1:18080")
	timeout := flag.Duration("timeout", 60*time.Second, "how long to wait for the callbacks")
	minDur := flag.Duration("min", time.Second, "shortest plausible recording")
	maxDur := flag.Duration("max", 15*time.Second, "longest plausible recording")
	flag.Parse()
	if *app == "" || *pbx == "" {
		fmt.Fprintln(os.Stderr, "usage: stackcheck -app URL -pbxbridge URL [-timeout D] [-min D] [-max D]")
		os.Exit(2)
	}
	sid, err := check(*app, *pbx, *timeout, *minDur, *maxDur)
	if err != nil {
		fmt.Fprintf(os.Stderr, "stackcheck: FAILED: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("sid=%s\n", sid)
}

func check(appURL, pbxURL string, timeout, minDur, maxDur time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	// The three requests pbxbridge makes after the recording, in any order.
	want := []string{"/after-record", "/recorded", "/status"}
	var got map[string]request
	var all []request
	for {
		var err error
		all, err = requests(ctx, appURL)
		if err == nil {
			got = map[string]request{}
			for _, r := range all {
				got[r.Path] = r
			}
			if missing := absent(got, want); len(missing) == 0 {
				break
			}
		}
		select {
		case <-ctx.Done():
			printRequests(all)
			return "", fmt.Errorf("after %s the application has not received %v (last error: %v)", timeout, absent(got, want), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
	printRequests(all)

	action, recorded := got["/after-record"], got["/recorded"]
	sid, recURL := recorded.get("RecordingSid"), recorded.get("RecordingUrl")
	if sid == "" || recURL == "" {
		return "", errors.New("the recording callback has no RecordingSid or RecordingUrl")
	}
	if action.get("RecordingSid") != sid || action.get("RecordingUrl") != recURL {
		return "", fmt.Errorf("action (%s %s) and callbackUrl (%s %s) disagree on the recording",
			action.get("RecordingSid"), action.get("RecordingUrl"), sid, recURL)
	}

	// RecordingUrl names pbxbridge as the application sees it (http://pbxbridge:8080/...);
	// from the host the same path and signed query are on the published port.
	u, err := url.Parse(recURL)
	if err != nil {
		return "", fmt.Errorf("RecordingUrl %q: %w", recURL, err)
	}
	base, err := url.Parse(pbxURL)
	if err != nil {
		return "", fmt.Errorf("-pbxbridge %q: %w", pbxURL, err)
	}
	u.Scheme, u.Host = base.Scheme, base.Host
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("downloading the recording: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("downloading the recording: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("downloading the recording: HTTP %d: %.200s", resp.StatusCode, data)
	}
	pcm, err := audio.ParseWAV(data)
	if err != nil {
		return "", fmt.Errorf("the recording (%s, %d bytes) is not a WAV file: %w", resp.Header.Get("Content-Type"), len(data), err)
	}
	dur := pcm.Duration()
	fmt.Printf("recording %s: %d bytes, %s, %s of audio at %d Hz; RecordingDuration=%s s, Digits=%q\n",
		sid, len(data), resp.Header.Get("Content-Type"), dur.Round(10*time.Millisecond), pcm.Rate,
		action.get("RecordingDuration"), action.get("Digits"))
	if dur < minDur || dur > maxDur {
		return "", fmt.Errorf("the recording holds %s of audio, outside %s–%s", dur, minDur, maxDur)
	}
	if reported, err := strconv.ParseFloat(action.get("RecordingDuration"), 64); err != nil {
		return "", fmt.Errorf("RecordingDuration %q: %w", action.get("RecordingDuration"), err)
	} else if math.Abs(reported-dur.Seconds()) > 1.5 {
		return "", fmt.Errorf("RecordingDuration says %g s, the file holds %s", reported, dur)
	}
	if peak(pcm.Samples) < 500 {
		return "", fmt.Errorf("the recording is silent (peak %d)", peak(pcm.Samples))
	}
	return sid, nil
}

func requests(ctx context.Context, appURL string) ([]request, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(appURL, "/")+"/requests", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /requests: HTTP %d", resp.StatusCode)
	}
	var out []request
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

func absent(got map[string]request, want []string) []string {
	var out []string
	for _, p := range want {
		if _, ok := got[p]; !ok {
			out = append(out, p)
		}
	}
	return out
}

func printRequests(all []request) {
	fmt.Println("requests the application received:")
	for _, r := range all {
		keys := make([]string, 0, len(r.Form))
		for k := range r.Form {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+strings.Join(r.Form[k], ","))
		}
		fmt.Printf("  %s %s %s  %s\n", r.Time.Format("15:04:05.000"), r.Method, r.Path, strings.Join(kv, " "))
	}
}

func peak(s []int16) int {
	m := 0
	for _, v := range s {
		a := int(v)
		if a < 0 {
			a = -a
		}
		m = max(m, a)
	}
	return m
}
