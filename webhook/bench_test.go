package webhook

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/translate"
)

// BenchmarkClientDo is the raw posting rate of one Client against a local app: the figure
// the outbox's delivery rate is compared with. Each request is a Plivo callback (form body),
// signed with both signatures or not signed at all.
func BenchmarkClientDo(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/cb?x=1")
	params, err := translate.FileCallbackParams(translate.Plivo, translate.CallParams{
		CallID: "5c1e7f2a-0b3d-4e6f-8a9b-1c2d3e4f5a6b", From: "15550100001", To: "15550109999",
		Direction: "inbound", Status: translate.CallCompleted, HangupCause: "NORMAL_CLEARING", Duration: 95 * time.Second,
	}, translate.RecordingParams{ID: "d2c4e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f", URL: "https://bridge.example.net/f/d2c4.mp3",
		Duration: 93 * time.Second, Start: time.Unix(1795284977, 0), End: time.Unix(1795285070, 0)})
	if err != nil {
		b.Fatal(err)
	}
	ct, body := params.Body()
	req := Request{EventID: "ev-bench", Dialect: translate.Plivo, URL: u, Body: body, BodyType: ct,
		Retry: policy(time.Second, 5*time.Second, 10*time.Second, 0, 0)}
	signed := req
	signed.AuthToken, signed.Secret = "bench-token", "bench-secret"

	// The floor: a bare net/http POST of the same body, no timeouts, headers or signing.
	b.Run("serial/net-http", func(b *testing.B) {
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		defer hc.CloseIdleConnections()
		b.ReportAllocs()
		for b.Loop() {
			res, err := hc.Post(u.String(), ct, bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
	for _, bc := range []struct {
		name     string
		r        Request
		parallel bool
	}{
		{"serial/signed", signed, false},
		{"serial/unsigned", req, false},
		{"parallel/signed", signed, true},
		{"parallel/unsigned", req, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := NewClient(Options{})
			defer c.Close()
			b.ReportAllocs()
			if bc.parallel {
				b.SetParallelism(8) // 8 × GOMAXPROCS senders, like a worker pool posting to one app
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := c.Do(b.Context(), bc.r); err != nil {
							b.Error(err)
							return
						}
					}
				})
			} else {
				for b.Loop() {
					if _, err := c.Do(b.Context(), bc.r); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
