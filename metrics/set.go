package metrics

import (
	"context"
	"time"

	"github.com/pbxbridge/pbxbridge/translate"
)

// Set is pbxbridge's metrics: what the engine, the outbox worker and the store report, and
// what a scrape reads from the outbox. It implements adapter.Observer and webhook.Observer.
type Set struct {
	Registry *Registry

	CallsStarted     *Counter
	CallsEnded       *Counter
	Verbs            *Counter
	Recordings       *Counter
	StoreRetries     *Counter
	Attempts         *Counter
	AttemptSeconds   *Histogram
	Retries          *Counter
	DeadLetters      *Counter
	OutboxDepth      *Gauge
	OutboxOldest     *Gauge
	OutboxScrapeErrs *Counter
	StoreSeconds     *Histogram
}

// Latency buckets, in seconds: store operations are sub-millisecond to a few seconds (an
// outage), deliveries milliseconds to the 55 s total timeout.
var (
	storeBuckets    = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}
	deliveryBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
)

// NewSet registers pbxbridge's families in a new registry.
func NewSet() *Set {
	r := NewRegistry()
	return &Set{
		Registry:       r,
		CallsStarted:   r.NewCounter("pbxbridge_calls_started_total", "Calls routed to an application, by PBX and dialect.", "pbx", "dialect"),
		CallsEnded:     r.NewCounter("pbxbridge_calls_ended_total", "Calls whose handling ended, by PBX and dialect.", "pbx", "dialect"),
		Verbs:          r.NewCounter("pbxbridge_verbs_total", "Verbs executed, by element name and outcome (ok, error, hangup).", "verb", "outcome"),
		Recordings:     r.NewCounter("pbxbridge_recordings_total", "Recordings finished, by outcome (stored, empty, failed).", "outcome"),
		StoreRetries:   r.NewCounter("pbxbridge_store_retries_total", "Store writes of calls tried again because the store was unavailable, by operation.", "op"),
		Attempts:       r.NewCounter("pbxbridge_callback_attempts_total", "Outbox delivery attempts, by result (2xx, 3xx, 4xx, 5xx, network, canceled, invalid).", "result"),
		AttemptSeconds: r.NewHistogram("pbxbridge_callback_attempt_seconds", "Duration of outbox delivery attempts.", deliveryBuckets),
		Retries:        r.NewCounter("pbxbridge_callback_retries_total", "Failed outbox entries scheduled for another attempt."),
		DeadLetters:    r.NewCounter("pbxbridge_callback_dead_letters_total", "Outbox entries moved to the dead letters."),
		OutboxDepth:    r.NewGauge("pbxbridge_outbox_depth", "Queued outbox entries (leased or not; dead letters excluded), read at scrape."),
		OutboxOldest:   r.NewGauge("pbxbridge_outbox_oldest_age_seconds", "Age of the oldest queued outbox entry (0 when none), read at scrape."),
		OutboxScrapeErrs: r.NewCounter("pbxbridge_outbox_scrape_errors_total",
			"Scrapes that could not read the outbox depth or age (the gauges keep their last values)."),
		StoreSeconds: r.NewHistogram("pbxbridge_store_operation_seconds", "Duration of store operations, by operation and result (ok, error).", storeBuckets, "op", "result"),
	}
}

// CallStarted implements adapter.Observer.
func (s *Set) CallStarted(pbx string, d translate.Dialect) { s.CallsStarted.Inc(pbx, string(d)) }

// CallEnded implements adapter.Observer.
func (s *Set) CallEnded(pbx string, d translate.Dialect) { s.CallsEnded.Inc(pbx, string(d)) }

// VerbDone implements adapter.Observer.
func (s *Set) VerbDone(verb, outcome string) { s.Verbs.Inc(verb, outcome) }

// RecordingDone implements adapter.Observer.
func (s *Set) RecordingDone(outcome string) { s.Recordings.Inc(outcome) }

// StoreRetry implements adapter.Observer.
func (s *Set) StoreRetry(op string) { s.StoreRetries.Inc(op) }

// Attempted implements webhook.Observer.
func (s *Set) Attempted(result string, took time.Duration) {
	s.Attempts.Inc(result)
	s.AttemptSeconds.Observe(took.Seconds())
}

// Retried implements webhook.Observer.
func (s *Set) Retried() { s.Retries.Inc() }

// DeadLettered implements webhook.Observer.
func (s *Set) DeadLettered() { s.DeadLetters.Inc() }

// OutboxReader is what a scrape reads: the depth, and the oldest entry's Created among the
// heads of the first scan calls (store/local and store/redis implement it).
type OutboxReader interface {
	Pending(ctx context.Context) (int, error)
	OldestQueued(ctx context.Context, scan int) (time.Time, error)
}

// oldestScan bounds the outbox age's cost per scrape (see OldestQueued).
const oldestScan = 1000

// WatchOutbox reads the outbox's depth and age at every scrape, within timeout (a store
// that does not answer leaves the gauges at their last values and counts an error).
func (s *Set) WatchOutbox(ob OutboxReader, timeout time.Duration, now func() time.Time) {
	s.Registry.OnScrape(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		n, err := ob.Pending(ctx)
		if err != nil {
			s.OutboxScrapeErrs.Inc()
			return
		}
		s.OutboxDepth.Set(float64(n))
		oldest, err := ob.OldestQueued(ctx, oldestScan)
		if err != nil {
			s.OutboxScrapeErrs.Inc()
			return
		}
		age := 0.0
		if !oldest.IsZero() {
			age = max(now().Sub(oldest).Seconds(), 0)
		}
		s.OutboxOldest.Set(age)
	})
}
