// Package storetest is the conformance suite every store implementation passes: the same test
// bodies run against store/local and store/redis, so that the engine can rely on one set of
// semantics (style.md rule 12). It also holds the outbox benchmarks, so both implementations
// print comparable figures.
//
// Conventions an implementation may rely on: the suite's times are whole milliseconds and the
// times it orders by are at least a millisecond apart; it passes explicit times to Claim and
// Retry, and only Replay and Dead read the implementation's own clock.
package storetest

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// Backend is an implementation under test.
type Backend interface {
	adapter.Store
	adapter.Outbox
}

// Opener opens the backend over one test's data. Calling it again after the backend it returned
// was closed must see the same data: that is how the suite restarts a backend.
type Opener func() (Backend, error)

// Factory makes an Opener over new, empty data for one test or benchmark (a t.TempDir, a
// fresh Redis key prefix), and registers with tb.Cleanup whatever must be removed afterwards.
// The suite closes the backends it opens itself.
type Factory func(tb testing.TB) Opener

// Run runs the conformance suite, one subtest per behaviour; subtests run in parallel.
func Run(t *testing.T, f Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"CallCreateGet", testCallCreateGet},
		{"CallCompareAndSet", testCallCompareAndSet},
		{"CallConcurrentCompareAndSet", testCallConcurrentCompareAndSet},
		{"CallMissing", testCallMissing},
		{"CallListDelete", testCallListDelete},
		{"FileCRUD", testFileCRUD},
		{"FileFilters", testFileFilters},
		{"FilePagination", testFilePagination},
		{"FileQuota", testFileQuota},
		{"FileUsageAfterUpdateDelete", testFileUsageAfterUpdateDelete},
		{"FileExpiry", testFileExpiry},
		{"OutboxClaimAck", testOutboxClaimAck},
		{"OutboxRoundTrip", testOutboxRoundTrip},
		{"OutboxOwnerChecks", testOutboxOwnerChecks},
		{"OutboxRetry", testOutboxRetry},
		{"OutboxLeaseExpiry", testOutboxLeaseExpiry},
		{"OutboxPerCallOrder", testOutboxPerCallOrder},
		{"OutboxClaimLimitAndDueOrder", testOutboxClaimLimitAndDueOrder},
		{"OutboxDeadAndReplay", testOutboxDeadAndReplay},
		{"OutboxEnqueueConflict", testOutboxEnqueueConflict},
		{"OutboxEnqueueLeased", testOutboxEnqueueLeased},
		{"OutboxConcurrentClaimers", testOutboxConcurrentClaimers},
		{"OutboxConcurrentAcks", testOutboxConcurrentAcks},
		{"OutboxAckEach", testOutboxAckEach},
		{"OutboxOddStrings", testOutboxOddStrings},
		{"Restart", testRestart},
		{"ContextCancelled", testContextCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newHarness(t, f))
		})
	}
}

// harness holds one test's backend and can restart it.
type harness struct {
	t    testing.TB
	open Opener
	mu   sync.Mutex // guards b across restart and cleanup
	b    Backend
	ctx  context.Context
	base time.Time // a whole-millisecond "now" for the test
}

func newHarness(tb testing.TB, f Factory) *harness {
	h := &harness{
		t:    tb,
		open: f(tb),
		ctx:  tb.Context(),
		base: time.Now().UTC().Truncate(time.Millisecond),
	}
	b, err := h.open()
	if err != nil {
		tb.Fatalf("open backend: %v", err)
	}
	h.b = b
	tb.Cleanup(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.b != nil {
			if err := h.b.Close(); err != nil {
				tb.Errorf("close backend: %v", err)
			}
			h.b = nil
		}
	})
	return h
}

// restart closes the backend and opens it again over the same data.
func (h *harness) restart() {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.b.Close(); err != nil {
		h.t.Fatalf("close backend: %v", err)
	}
	h.b = nil
	b, err := h.open()
	if err != nil {
		h.t.Fatalf("reopen backend: %v", err)
	}
	h.b = b
}

// at is the test's base time plus d.
func (h *harness) at(d time.Duration) time.Time { return h.base.Add(d) }

// ok fails the test at once on err.
func ok(tb testing.TB, err error, what string) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

// isErr fails the test unless err wraps want.
func isErr(tb testing.TB, err, want error, what string) {
	tb.Helper()
	if !errors.Is(err, want) {
		tb.Fatalf("%s: error %v, want one wrapping %v", what, err, want)
	}
}

// equal compares after normalising what implementations may legitimately change: time
// locations and monotonic readings, and nil versus empty slices.
func equal[T any](tb testing.TB, got, want T, what string) {
	tb.Helper()
	g, w := normalize(reflect.ValueOf(&got).Elem()), normalize(reflect.ValueOf(&want).Elem())
	if !reflect.DeepEqual(g.Interface(), w.Interface()) {
		tb.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

var timeType = reflect.TypeFor[time.Time]()

// normalize returns a copy of v with times in UTC without monotonic readings and empty
// slices as nil.
func normalize(v reflect.Value) reflect.Value {
	out := reflect.New(v.Type()).Elem()
	switch {
	case v.Type() == timeType:
		out.Set(reflect.ValueOf(v.Interface().(time.Time).UTC().Round(0)))
	case v.Kind() == reflect.Struct:
		out.Set(v)
		for i := range v.NumField() {
			if out.Field(i).CanSet() {
				out.Field(i).Set(normalize(v.Field(i)))
			}
		}
	case v.Kind() == reflect.Slice:
		if v.Len() == 0 {
			return out // nil
		}
		out.Set(reflect.MakeSlice(v.Type(), v.Len(), v.Len()))
		for i := range v.Len() {
			out.Index(i).Set(normalize(v.Index(i)))
		}
	default:
		out.Set(v)
	}
	return out
}

// ids lists the IDs of entries, in order.
func ids(es []adapter.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func sids(fs []adapter.File) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.SID
	}
	return out
}

func sortedIDs(es []adapter.Entry) []string {
	out := ids(es)
	slices.Sort(out)
	return out
}

func ptr[T any](v T) *T { return &v }
