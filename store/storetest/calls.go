package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/translate"
)

func sampleCall(h *harness, id string) adapter.CallState {
	return adapter.CallState{
		ID:          id,
		PBX:         "asterisk-1",
		ChannelID:   "chan-" + id,
		App:         "voicemail",
		Dialect:     translate.FlexML,
		DocumentURL: "https://app.example.net/flexml?x=1",
		Verb:        2,
		VerbName:    "Record",
		Status:      "in-progress",
		Started:     h.at(0),
		Updated:     h.at(1500),
	}
}

func testCallCreateGet(t *testing.T, h *harness) {
	c := sampleCall(h, "call-1")
	got, err := h.b.PutCall(h.ctx, c)
	ok(t, err, "create call")
	if got.Version != 1 {
		t.Fatalf("version after create = %d, want 1", got.Version)
	}
	want := c
	want.Version = 1
	equal(t, got, want, "PutCall result")
	stored, err := h.b.GetCall(h.ctx, "call-1")
	ok(t, err, "get call")
	equal(t, stored, want, "stored call")
}

func testCallCompareAndSet(t *testing.T, h *harness) {
	c, err := h.b.PutCall(h.ctx, sampleCall(h, "call-1"))
	ok(t, err, "create call")

	_, err = h.b.PutCall(h.ctx, sampleCall(h, "call-1"))
	isErr(t, err, adapter.ErrConflict, "create over an existing call")

	c.Verb = 3
	c2, err := h.b.PutCall(h.ctx, c)
	ok(t, err, "update at version 1")
	if c2.Version != 2 {
		t.Fatalf("version after update = %d, want 2", c2.Version)
	}

	stale := c // still version 1
	stale.Verb = 99
	_, err = h.b.PutCall(h.ctx, stale)
	isErr(t, err, adapter.ErrConflict, "update at a stale version")

	got, err := h.b.GetCall(h.ctx, "call-1")
	ok(t, err, "get call")
	equal(t, got, c2, "call after a lost compare-and-set")

	ghost := sampleCall(h, "call-ghost")
	ghost.Version = 4
	_, err = h.b.PutCall(h.ctx, ghost)
	isErr(t, err, adapter.ErrConflict, "update of a missing call")
	_, err = h.b.GetCall(h.ctx, "call-ghost")
	isErr(t, err, adapter.ErrNotFound, "get after a failed update of a missing call")
}

// Read-modify-write loops that retry on ErrConflict lose no increment.
func testCallConcurrentCompareAndSet(t *testing.T, h *harness) {
	c := sampleCall(h, "call-1")
	c.Verb = 0
	_, err := h.b.PutCall(h.ctx, c)
	ok(t, err, "create call")

	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for n := 0; n < each; {
				cur, err := h.b.GetCall(h.ctx, "call-1")
				if err != nil {
					errs <- err
					return
				}
				cur.Verb++
				if _, err := h.b.PutCall(h.ctx, cur); errors.Is(err, adapter.ErrConflict) {
					continue
				} else if err != nil {
					errs <- err
					return
				}
				n++
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("increment: %v", err)
	}
	got, err := h.b.GetCall(h.ctx, "call-1")
	ok(t, err, "get call")
	if got.Verb != workers*each || got.Version != workers*each+1 {
		t.Fatalf("after %d increments: verb %d version %d, want %d and %d",
			workers*each, got.Verb, got.Version, workers*each, workers*each+1)
	}
}

func testCallMissing(t *testing.T, h *harness) {
	_, err := h.b.GetCall(h.ctx, "nope")
	isErr(t, err, adapter.ErrNotFound, "get missing call")
	isErr(t, h.b.DeleteCall(h.ctx, "nope"), adapter.ErrNotFound, "delete missing call")
}

func testCallListDelete(t *testing.T, h *harness) {
	calls, err := h.b.ListCalls(h.ctx)
	ok(t, err, "list empty")
	if len(calls) != 0 {
		t.Fatalf("list of an empty store: %d calls", len(calls))
	}
	for i := range 3 {
		_, err := h.b.PutCall(h.ctx, sampleCall(h, fmt.Sprintf("call-%d", i)))
		ok(t, err, "create call")
	}
	ok(t, h.b.DeleteCall(h.ctx, "call-1"), "delete call")
	_, err = h.b.GetCall(h.ctx, "call-1")
	isErr(t, err, adapter.ErrNotFound, "get deleted call")

	calls, err = h.b.ListCalls(h.ctx)
	ok(t, err, "list calls")
	var got []string
	for _, c := range calls {
		got = append(got, c.ID)
	}
	slices.Sort(got)
	equal(t, got, []string{"call-0", "call-2"}, "listed calls")

	// A deleted call can be created again from version 0.
	_, err = h.b.PutCall(h.ctx, sampleCall(h, "call-1"))
	ok(t, err, "re-create deleted call")
}
