package ari

import (
	_ "unsafe" // go:linkname

	_ "github.com/CyCoreSystems/ari/v6/stdbus" // the bus whose buffer busBuffer sizes
)

// busBuffer is the library's per-subscription event buffer, stdbus.subscriptionEventBufferSize
// (100, unexported, no setter). The bus drops an event when that buffer is full ("never
// block"). pbxbridge has a single subscription and drain empties it at once, but on a saturated
// machine the drain goroutine can go unscheduled for the few milliseconds in which 100 events
// arrive: make bench counted 4–13 drops a run at 1,500 set-ups a second, each a call that then
// ends only at the next reconcile. 8,192 events (128 KiB, once) cover seconds of that. The
// library is pinned; if it renames the variable, the build fails here rather than the buffer
// silently shrinking.
//
//go:linkname busBuffer github.com/CyCoreSystems/ari/v6/stdbus.subscriptionEventBufferSize
var busBuffer int

const eventBuffer = 8192

func init() { busBuffer = eventBuffer }
