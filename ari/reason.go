package ari

import (
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// RecordingFinished carries no reason (asterisk.md §2), so the adapter keeps the facts that
// explain an end as the events go by, and decides once the recording is over.
type facts struct {
	stopReason adapter.EndReason // set before we sent POST /recordings/live/{name}/stop
	key        byte              // a finish key seen on the caller's channel while live
	hangup     bool              // the caller's channel went before the recording finished
	started    time.Time         // RecordingStarted of the leg that finished first
	finished   time.Time         // its RecordingFinished
	maxDur     time.Duration     // maxDurationSeconds as sent, 0 = none
	silence    bool              // maxSilenceSeconds was set
	session    bool              // a background recording
}

// maxSlack allows for the event timestamps being taken a little apart from Asterisk's own
// clock readings: a recording stopped by its limit never runs short by more than this.
const maxSlack = 100 * time.Millisecond

// reason applies the order of asterisk.md §2: our own stop, then a key, then hangup, then
// the length limit by elapsed time, else silence. A background recording ended by hangup,
// or for no visible reason without silence detection, ended with the session.
func (f *facts) reason() adapter.EndReason {
	switch {
	case f.stopReason != "":
		return f.stopReason
	case f.key != 0:
		return adapter.EndKey
	case f.hangup && f.session:
		return adapter.EndSessionEnd
	case f.hangup:
		return adapter.EndHangup
	case f.maxDur > 0 && !f.started.IsZero() && !f.finished.IsZero() && f.finished.Sub(f.started) >= f.maxDur-maxSlack:
		return adapter.EndMaxLength
	case f.session && !f.silence:
		return adapter.EndSessionEnd
	default:
		return adapter.EndSilence
	}
}
