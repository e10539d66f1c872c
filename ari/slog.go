package ari

import (
	"context"
	"log/slog"

	xslog "golang.org/x/exp/slog"
)

// The ari library logs through golang.org/x/exp/slog, a package distinct from log/slog, so
// its lines need a bridge into the project's handler. The bridge also listens for the two
// lines that are the library's only report of a lost websocket: it reconnects by itself and
// says so nowhere else, and every frame sent while it was away is lost (asterisk.md §4), so
// the PBX must reconcile once events flow again.

// Messages the library logs when its websocket breaks or cannot be re-established
// (client/native/client.go, listen and wsRead, at the pinned version).
const (
	libMsgReadFailure   = "read failure on websocket"
	libMsgConnectFailed = "failed to connect to Asterisk"
	libMsgInfoFailed    = "failed to get info from Asterisk"
)

// libHandler is an xslog.Handler writing into a log/slog.Handler.
type libHandler struct {
	h      slog.Handler
	attrs  []slog.Attr
	onLost func() // called for every lost-websocket line, from the library's goroutine
}

func newLibLogger(h slog.Handler, onLost func()) *xslog.Logger {
	return xslog.New(&libHandler{h: h, onLost: onLost})
}

// Enabled is always true: the lost-websocket lines must reach Handle whatever our level.
func (l *libHandler) Enabled(context.Context, xslog.Level) bool { return true }

func (l *libHandler) Handle(ctx context.Context, r xslog.Record) error {
	lvl := slog.Level(r.Level)
	switch r.Message {
	case libMsgReadFailure, libMsgConnectFailed, libMsgInfoFailed:
		if l.onLost != nil {
			l.onLost()
		}
		// Expected while Asterisk restarts, and repeated every second: a warning, not an error.
		lvl = slog.LevelWarn
	}
	if !l.h.Enabled(ctx, lvl) {
		return nil
	}
	nr := slog.NewRecord(r.Time, lvl, "ari library: "+r.Message, 0)
	nr.AddAttrs(l.attrs...)
	r.Attrs(func(a xslog.Attr) bool {
		nr.AddAttrs(slog.Any(a.Key, a.Value.Any()))
		return true
	})
	return l.h.Handle(ctx, nr)
}

func (l *libHandler) WithAttrs(as []xslog.Attr) xslog.Handler {
	n := *l
	n.attrs = append([]slog.Attr(nil), l.attrs...)
	for _, a := range as {
		n.attrs = append(n.attrs, slog.Any(a.Key, a.Value.Any()))
	}
	return &n
}

// WithGroup flattens: the library never groups its attributes.
func (l *libHandler) WithGroup(string) xslog.Handler { return l }
