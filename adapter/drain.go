package adapter

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
)

// ErrShutdown is the cause of a call's context when pbxbridge stops the call at the end of a
// drain (StopCalls). Verbs treat it like any cancellation: a recording is stopped and keeps
// what it captured, is stored, and its callbacks are queued as for a hangup; then the engine
// hangs the call up.
var ErrShutdown = errors.New("pbxbridge is shutting down")

// Drainer is a PBX that can stop taking new calls while the calls it has go on. Drain is
// called once, from any goroutine, while Serve runs; Serve's context is cancelled later, once
// the calls have ended. What a refused call becomes is the PBX's choice, documented on its
// implementation (Asterisk: back to the dialplan; FreeSWITCH: the listener closes).
type Drainer interface {
	Drain()
}

// Labeler is a Call whose own log lines can carry the engine's labels (call_id, app) once
// Handle has chosen them. LabelLog is called once, from the call's goroutine, before any
// other method but Info.
type Labeler interface {
	LabelLog(attrs ...slog.Attr)
}

// calls counts the calls Handle runs and wakes WaitCalls when none is left.
type calls struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed while n == 0; replaced when a call starts
}

func (c *calls) add(d int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle == nil {
		c.idle = make(chan struct{})
		close(c.idle)
	}
	if c.n == 0 && d > 0 {
		c.idle = make(chan struct{})
	}
	c.n += d
	if c.n == 0 {
		close(c.idle)
	}
}

func (c *calls) state() (int, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle == nil {
		c.idle = make(chan struct{})
		close(c.idle)
	}
	return c.n, c.idle
}

// Running is the number of calls in progress.
func (e *Engine) Running() int {
	n, _ := e.active.state()
	return n
}

// WaitCalls blocks until no call is in progress, or ctx is done (then it returns ctx's
// cause). New calls may start meanwhile: stop them first (Drainer).
func (e *Engine) WaitCalls(ctx context.Context) error {
	for {
		n, idle := e.active.state()
		if n == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// StopCalls ends every call in progress: each call's context is cancelled with cause
// ErrShutdown, so its verb returns (a recording stops and is stored, its callbacks queued),
// and the engine hangs it up and sends its status callback. It returns at once; WaitCalls
// says when they are over. It returns how many calls it stopped.
func (e *Engine) StopCalls() int {
	n := 0
	e.running.Range(func(_, v any) bool {
		if stop, ok := v.(context.CancelCauseFunc); ok {
			stop(ErrShutdown)
			n++
		}
		return true
	})
	return n
}

// callLabels is a slog.Handler for a PBX backend's per-call logger: the engine labels it
// (LabelLog) once it has chosen the call's id and application, and every line logged after,
// from any goroutine, carries them.
type callLabels struct {
	h     slog.Handler
	attrs *atomic.Pointer[[]slog.Attr]
}

// NewCallLog returns a logger for one call's lines in a PBX backend, and the function that
// labels it (a backend's LabelLog).
func NewCallLog(base *slog.Logger) (*slog.Logger, func(attrs ...slog.Attr)) {
	l := &callLabels{h: base.Handler(), attrs: &atomic.Pointer[[]slog.Attr]{}}
	return slog.New(l), func(attrs ...slog.Attr) { l.attrs.Store(&attrs) }
}

func (l *callLabels) Enabled(ctx context.Context, lv slog.Level) bool { return l.h.Enabled(ctx, lv) }

func (l *callLabels) Handle(ctx context.Context, r slog.Record) error {
	if a := l.attrs.Load(); a != nil {
		r = r.Clone()
		r.AddAttrs(*a...)
	}
	return l.h.Handle(ctx, r)
}

func (l *callLabels) WithAttrs(as []slog.Attr) slog.Handler {
	return &callLabels{h: l.h.WithAttrs(as), attrs: l.attrs}
}

func (l *callLabels) WithGroup(name string) slog.Handler {
	return &callLabels{h: l.h.WithGroup(name), attrs: l.attrs}
}
