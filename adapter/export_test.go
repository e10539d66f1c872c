package adapter

import (
	"context"

	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/translate"
)

// FileStoredForTest does what a call does once a Record's file f is stored with outcome rp:
// queue callbackUrl, the transcription and the status callback, as fileCallbacks does. The
// call is callID of app, as call describes it.
func (e *Engine) FileStoredForTest(ctx context.Context, app *config.App, callID string, call translate.CallParams, r *translate.Record, rp translate.RecordingParams, f File) {
	s := &session{e: e, app: app, id: callID, log: e.Log.With("call_id", callID), params: call, announced: map[string]announcement{}}
	s.fileCallbacks(ctx, r, stored{params: rp, file: f})
}
