package webhook

import (
	"net/url"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/translate"
)

// BenchmarkTrace is what Options.Trace adds to each attempt on the sending goroutine before
// the tracer itself runs: the Exchange built from a Plivo recording callback, its form
// parsed into parameters and credential names redacted (eager), or only copied (lazy:
// Options.TraceLazy). The dashboard's journal adds its own
// cost on top (go test ./journal -bench Exchange); compare both with BenchmarkClientDo.
func BenchmarkTrace(b *testing.B) {
	params, err := translate.FileCallbackParams(translate.Plivo, translate.CallParams{
		CallID: "5c1e7f2a-0b3d-4e6f-8a9b-1c2d3e4f5a6b", From: "15550100001", To: "15550109999",
		Direction: "inbound", Status: translate.CallCompleted, HangupCause: "NORMAL_CLEARING", Duration: 95 * time.Second,
	}, translate.RecordingParams{ID: "d2c4e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f", URL: "https://bridge.example.net/f/d2c4.mp3",
		Duration: 93 * time.Second, Start: time.Unix(1795284977, 0), End: time.Unix(1795285070, 0)})
	if err != nil {
		b.Fatal(err)
	}
	ct, body := params.Body()
	u, _ := url.Parse("http://user:pw@app.example/cb?x=1")
	r := &Request{EventID: "ev-bench", CallID: "5c1e7f2a", Kind: "callback", Dialect: translate.Plivo, URL: u, Body: body, BodyType: ct}
	for _, lazy := range []bool{false, true} {
		name := "eager"
		if lazy {
			name = "lazy"
		}
		b.Run(name, func(b *testing.B) {
			var got Exchange
			c := &Client{tracer: func(ex Exchange) { got = ex }, traceLazy: lazy}
			resp := &Response{Status: 200}
			start := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				c.trace(r, 1, start, resp, nil)
			}
			if got.Param("RecordingID") == "" {
				b.Fatalf("traced %+v", got)
			}
		})
	}
}
