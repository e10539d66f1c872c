package config

//go:generate go run ./gen -out ../docs/config.md

import "time"

// Shutdown is what `pbxbridge serve` does on SIGTERM or SIGINT: it stops taking new calls
// (/readyz answers 503 "draining"), lets the calls in progress run to their end for up to
// drain_timeout, then stops the recordings of those still running (stored, their callbacks
// queued) and hangs them up; then it delivers queued callbacks for up to flush_timeout and
// exits 0. What is still queued stays in the store for the next start. A second signal
// exits at once (status 1). docs/operators.md, "Stopping".
type Shutdown struct {
	// DrainTimeout is how long calls in progress may go on after the signal. Default 30s;
	// 1ms–24h. Keep systemd's TimeoutStopSec above drain_timeout + flush_timeout.
	DrainTimeout Duration `yaml:"drain_timeout"`
	// FlushTimeout is how long queued callbacks are delivered after the calls have ended.
	// Default 10s; 1ms–10m.
	FlushTimeout Duration `yaml:"flush_timeout"`
}

// Log formats (Config.LogFormat).
const (
	LogText = "text"
	LogJSON = "json"
)

// Defaults of the shutdown bounds, exported for the systemd unit's test.
const (
	DefaultDrainTimeout = 30 * time.Second
	DefaultFlushTimeout = 10 * time.Second
)

func (s *Shutdown) applyDefaults() {
	if s.DrainTimeout == 0 {
		s.DrainTimeout = Duration(DefaultDrainTimeout)
	}
	if s.FlushTimeout == 0 {
		s.FlushTimeout = Duration(DefaultFlushTimeout)
	}
}

func (s Shutdown) validate(bad func(field, format string, args ...any) error) error {
	if s.DrainTimeout <= 0 || s.DrainTimeout > Duration(24*time.Hour) {
		return bad("shutdown.drain_timeout", "must be between 1ms and 24h, got %s", s.DrainTimeout)
	}
	if s.FlushTimeout <= 0 || s.FlushTimeout > Duration(10*time.Minute) {
		return bad("shutdown.flush_timeout", "must be between 1ms and 10m, got %s", s.FlushTimeout)
	}
	return nil
}
