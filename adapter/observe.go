package adapter

import "github.com/pbxbridge/pbxbridge/translate"

// Observer is told what the engine does, for metrics (metrics.Set implements it). Its
// methods are called from call goroutines and background recordings, concurrently; they must
// be quick and must not block. Deps.Observe nil observes nothing.
type Observer interface {
	// CallStarted and CallEnded bracket Handle for a routed call.
	CallStarted(pbx string, dialect translate.Dialect)
	CallEnded(pbx string, dialect translate.Dialect)
	// VerbDone: a verb of a document finished; outcome is VerbOK, VerbError or VerbHangup.
	VerbDone(verb, outcome string)
	// RecordingDone: a Record finished with outcome RecordingStored, RecordingEmpty or
	// RecordingFailed.
	RecordingDone(outcome string)
	// StoreRetry: a store write failed with ErrUnavailable (or timed out) and is tried again.
	StoreRetry(op string)
}

// Verb and recording outcomes reported to an Observer.
const (
	VerbOK     = "ok"
	VerbError  = "error"
	VerbHangup = "hangup"

	RecordingStored = "stored"
	RecordingEmpty  = "empty"
	RecordingFailed = "failed"
)

type nopObserver struct{}

func (nopObserver) CallStarted(string, translate.Dialect) {}
func (nopObserver) CallEnded(string, translate.Dialect)   {}
func (nopObserver) VerbDone(string, string)               {}
func (nopObserver) RecordingDone(string)                  {}
func (nopObserver) StoreRetry(string)                     {}
