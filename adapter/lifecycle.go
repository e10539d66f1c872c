package adapter

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/pbxbridge/pbxbridge/translate"
)

// SweepLifecycle deletes stored files whose lifecycle TTL has run out (record.md lifecycleTtl /
// lifecycleAction=delete), every interval until ctx is done. Deadlines live in the store, so
// files come due on time across restarts. With a shared store several instances may sweep at
// once: deleting a file that another instance just deleted is not an error.
func (e *Engine) SweepLifecycle(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		e.sweepOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (e *Engine) sweepOnce(ctx context.Context) {
	for {
		files, err := e.Store.ExpiredFiles(ctx, e.Now(), 100)
		if err != nil {
			if ctx.Err() == nil {
				e.Log.Warn("lifecycle: listing expired files", "err", err)
			}
			return
		}
		for _, f := range files {
			if err := e.Blob.Delete(ctx, f.BlobKey); err != nil && !errors.Is(err, ErrNotFound) {
				e.Log.Warn("lifecycle: deleting file bytes", "sid", f.SID, "err", err)
				continue
			}
			if err := e.Store.DeleteFile(ctx, f.SID); err != nil && !errors.Is(err, ErrNotFound) {
				e.Log.Warn("lifecycle: deleting file", "sid", f.SID, "err", err)
				continue
			}
			e.Log.Info("lifecycle: file deleted", "sid", f.SID, "call_id", f.CallID, "ttl", f.LifecycleTTL)
		}
		if len(files) < 100 {
			return
		}
	}
}

// Recover ends, in the store, the calls that were live when this process stopped: their
// goroutines are gone, so nobody would ever send their status callbacks. Each gets its status
// callback (completed, HangupCause NORMAL_TEMPORARY_FAILURE) and its state is removed. Only
// calls on the named PBXs are touched: with a shared store, other instances own the rest.
// Call it once at start, before the PBXs take calls.
func (e *Engine) Recover(ctx context.Context, pbxs []string) (int, error) {
	calls, err := e.Store.ListCalls(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, st := range calls {
		if !slices.Contains(pbxs, st.PBX) {
			continue
		}
		app, ok := e.Config.App(st.App)
		if ok {
			s := &session{e: e, app: app, id: st.ID, docURL: st.DocumentURL, started: st.Started,
				log: e.Log.With("call_id", st.ID, "app", st.App, "channel", st.ChannelID)}
			s.params = translate.CallParams{
				CallID: st.ID, From: st.From, To: st.To, OriginalFrom: st.From, OriginalTo: st.To,
				CallerName: st.CallerName, Direction: orDefault(st.Direction, "inbound"),
				Status: translate.CallCompleted, HangupCause: "NORMAL_TEMPORARY_FAILURE",
				Duration: st.Updated.Sub(st.Started), BillDuration: st.Updated.Sub(st.Started),
			}
			s.seqN.Store(1 << 40) // after anything the dead process may have queued for the call
			s.log.Warn("call was live when pbxbridge stopped; sending its status callback", "verb", st.VerbName)
			s.sendStatus(ctx)
		}
		if err := e.Store.DeleteCall(ctx, st.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return n, err
		}
		n++
	}
	return n, nil
}
