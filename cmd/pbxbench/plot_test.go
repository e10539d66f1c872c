package main

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// TestPlotLines: steep, shallow and flat segments all end (the line drawing terminates) and
// the result is a PNG of the documented size.
func TestPlotLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.png")
	ss := []series{
		{Name: "steep", Color: palette[0].C, Pts: [][2]float64{{10, 0}, {11, 400}, {100, 4}}},
		{Name: "flat", Color: palette[1].C, Pts: [][2]float64{{10, 0}, {50, 0}, {100, 0}}},
		{Name: "one", Color: palette[2].C, Pts: [][2]float64{{5, 7}}},
	}
	if err := plotLines(path, "test plot", ss); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != plotW || b.Dy() != plotH {
		t.Fatalf("size %v, want %dx%d", b, plotW, plotH)
	}
}

func TestLogFields(t *testing.T) {
	m := logFields(`time=2026-11-21T21:56:49.724Z level=INFO msg="call started" pbx=asterisk channel=1795.802 call_id=e33a app=bench-record`)
	if m["msg"] != "call started" || m["channel"] != "1795.802" || m["call_id"] != "e33a" {
		t.Fatalf("got %v", m)
	}
}

func TestParseBench(t *testing.T) {
	out := "BenchmarkDelivery/raw-client-2   \t    5000\t    123456 ns/op\t  8100 callbacks/s\t  512 B/op\t 7 allocs/op\nPASS\n"
	r := parseBench(out)
	if len(r) != 1 || r[0].Name != "Delivery/raw-client" || r[0].Metrics["callbacks/s"] != 8100 || r[0].N != 5000 {
		t.Fatalf("got %+v", r)
	}
}
