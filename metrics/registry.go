// Package metrics is pbxbridge's Prometheus exposition: counters, gauges and histograms with
// labels, written in the Prometheus text format (version 0.0.4), and the families pbxbridge
// exports (Set). It is hand-written rather than github.com/prometheus/client_golang: pbxbridge
// needs three metric kinds and one output format, and the client library would bring
// protobuf, procfs and four other modules into the binary for them.
//
// Every type here is safe for concurrent use: the engine's call goroutines, the outbox
// workers and the store record while the HTTP server scrapes.
package metrics

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Registry holds metric families in registration order and writes them out.
type Registry struct {
	mu         sync.Mutex
	fams       []family
	names      map[string]bool
	collectors []func(ctx context.Context)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{names: map[string]bool{}} }

type family interface {
	write(w *bufio.Writer)
}

// meta is what every family has: its name, help text, type and label names.
type meta struct {
	name, help, kind string
	labels           []string
}

func (r *Registry) add(f family, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names[name] {
		panic("metrics: " + name + " registered twice") // a wiring bug, found by the first test
	}
	r.names[name] = true
	r.fams = append(r.fams, f)
}

// OnScrape registers f to run before each scrape, to set gauges that are read, not counted
// (the outbox depth). f gets the scrape's context and must honour its deadline.
func (r *Registry) OnScrape(f func(ctx context.Context)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collectors = append(r.collectors, f)
}

// Write runs the scrape hooks, then writes every family in the text format.
func (r *Registry) Write(ctx context.Context, w io.Writer) error {
	r.mu.Lock()
	fams, cols := slices.Clone(r.fams), slices.Clone(r.collectors)
	r.mu.Unlock()
	for _, c := range cols {
		c(ctx)
	}
	bw := bufio.NewWriter(w)
	for _, f := range fams {
		f.write(bw)
	}
	return bw.Flush()
}

// vec is the per-label-values state of a family, keyed by the joined label values.
type vec[T any] struct {
	meta
	mu   sync.Mutex
	vals map[string]*T
	keys [][]string // label values in first-seen order, for stable output
	make func() *T
}

func (v *vec[T]) get(lvs []string) *T {
	if len(lvs) != len(v.labels) {
		panic(fmt.Sprintf("metrics: %s takes %d label values, got %d", v.name, len(v.labels), len(lvs)))
	}
	k := strings.Join(lvs, "\xff")
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.vals[k]
	if !ok {
		t = v.make()
		v.vals[k] = t
		v.keys = append(v.keys, slices.Clone(lvs))
	}
	return t
}

// each calls f for every series, in first-seen order, holding the family's lock.
func (v *vec[T]) each(f func(lvs []string, t *T)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, lvs := range v.keys {
		f(lvs, v.vals[strings.Join(lvs, "\xff")])
	}
}

func (m *meta) header(w *bufio.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", m.name, escHelp(m.help), m.name, m.kind)
}

// series writes name{labels,extra} value.
func (m *meta) series(w *bufio.Writer, name string, lvs []string, extraK, extraV string, v float64) {
	w.WriteString(name)
	n := 0
	for i, l := range m.labels {
		w.WriteByte("{,"[min(n, 1)])
		fmt.Fprintf(w, `%s="%s"`, l, escLabel(lvs[i]))
		n++
	}
	if extraK != "" {
		w.WriteByte("{,"[min(n, 1)])
		fmt.Fprintf(w, `%s="%s"`, extraK, escLabel(extraV))
		n++
	}
	if n > 0 {
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(formatFloat(v))
	w.WriteByte('\n')
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escHelp(s string) string  { return helpEscaper.Replace(s) }
func escLabel(s string) string { return labelEscaper.Replace(s) }

// value is a float64 a counter or gauge holds.
type value struct {
	mu sync.Mutex
	v  float64
}

func (x *value) add(d float64) {
	x.mu.Lock()
	x.v += d
	x.mu.Unlock()
}

func (x *value) set(v float64) {
	x.mu.Lock()
	x.v = v
	x.mu.Unlock()
}

func (x *value) load() float64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.v
}

// Counter is a family of monotonically increasing counts, one per combination of label values.
type Counter struct{ v *vec[value] }

// NewCounter registers a counter family. By convention its name ends in _total.
func (r *Registry) NewCounter(name, help string, labels ...string) *Counter {
	c := &Counter{v: &vec[value]{meta: meta{name, help, "counter", labels}, vals: map[string]*value{}, make: func() *value { return &value{} }}}
	r.add(c, name)
	return c
}

// Inc adds one to the series of the label values.
func (c *Counter) Inc(lvs ...string) { c.v.get(lvs).add(1) }

// Add adds d (>= 0) to the series of the label values.
func (c *Counter) Add(d float64, lvs ...string) {
	if d < 0 {
		panic("metrics: counter " + c.v.name + " decreased")
	}
	c.v.get(lvs).add(d)
}

// Value is the current count of the label values (tests).
func (c *Counter) Value(lvs ...string) float64 { return c.v.get(lvs).load() }

func (c *Counter) write(w *bufio.Writer) {
	c.v.header(w)
	c.v.each(func(lvs []string, x *value) { c.v.series(w, c.v.name, lvs, "", "", x.load()) })
}

// Gauge is a family of values that go up and down.
type Gauge struct{ v *vec[value] }

// NewGauge registers a gauge family.
func (r *Registry) NewGauge(name, help string, labels ...string) *Gauge {
	g := &Gauge{v: &vec[value]{meta: meta{name, help, "gauge", labels}, vals: map[string]*value{}, make: func() *value { return &value{} }}}
	r.add(g, name)
	return g
}

// Set sets the series of the label values.
func (g *Gauge) Set(v float64, lvs ...string) { g.v.get(lvs).set(v) }

// Add adds d (may be negative).
func (g *Gauge) Add(d float64, lvs ...string) { g.v.get(lvs).add(d) }

// Value is the current value of the label values (tests).
func (g *Gauge) Value(lvs ...string) float64 { return g.v.get(lvs).load() }

func (g *Gauge) write(w *bufio.Writer) {
	g.v.header(w)
	g.v.each(func(lvs []string, x *value) { g.v.series(w, g.v.name, lvs, "", "", x.load()) })
}

// Histogram is a family of distributions: counts of observations at or below each bucket's
// upper bound, their sum and their count.
type Histogram struct {
	v       *vec[hist]
	buckets []float64
}

type hist struct {
	mu     sync.Mutex
	counts []uint64 // per bucket, not cumulative
	sum    float64
	n      uint64
}

// NewHistogram registers a histogram family with the given upper bounds (ascending; +Inf is
// implied).
func (r *Registry) NewHistogram(name, help string, buckets []float64, labels ...string) *Histogram {
	if !slices.IsSorted(buckets) {
		panic("metrics: " + name + " buckets are not sorted")
	}
	b := slices.Clone(buckets)
	h := &Histogram{buckets: b, v: &vec[hist]{meta: meta{name, help, "histogram", labels}, vals: map[string]*hist{},
		make: func() *hist { return &hist{counts: make([]uint64, len(b)+1)} }}}
	r.add(h, name)
	return h
}

// Observe records one observation (seconds, for durations) in the series of the label values.
func (h *Histogram) Observe(v float64, lvs ...string) {
	x := h.v.get(lvs)
	i, _ := slices.BinarySearch(h.buckets, v) // first bucket whose bound is >= v
	x.mu.Lock()
	x.counts[i]++
	x.sum += v
	x.n++
	x.mu.Unlock()
}

// Count is how many observations the series of the label values has (tests).
func (h *Histogram) Count(lvs ...string) uint64 {
	x := h.v.get(lvs)
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.n
}

func (h *Histogram) write(w *bufio.Writer) {
	h.v.header(w)
	h.v.each(func(lvs []string, x *hist) {
		x.mu.Lock()
		defer x.mu.Unlock()
		var cum uint64
		for i, b := range h.buckets {
			cum += x.counts[i]
			h.v.series(w, h.v.name+"_bucket", lvs, "le", formatFloat(b), float64(cum))
		}
		h.v.series(w, h.v.name+"_bucket", lvs, "le", "+Inf", float64(x.n))
		h.v.series(w, h.v.name+"_sum", lvs, "", "", x.sum)
		h.v.series(w, h.v.name+"_count", lvs, "", "", float64(x.n))
	})
}
