package adapter

import (
	"context"
	"errors"
	"time"
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
