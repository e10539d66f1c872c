package ari

import (
	"testing"

	"github.com/CyCoreSystems/ari/v6/stdbus"
)

// TestBusBuffer: a subscription of the library's bus gets the larger buffer.
func TestBusBuffer(t *testing.T) {
	sub := stdbus.New().Subscribe(nil, "StasisStart")
	defer sub.Cancel()
	if got := cap(sub.Events()); got != eventBuffer {
		t.Fatalf("subscription buffer holds %d events, want %d", got, eventBuffer)
	}
}
