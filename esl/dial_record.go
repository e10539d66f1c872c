package esl

import (
	"context"
	"fmt"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/config"
)

// dialRecording is DialSpec.Record on FreeSWITCH: each leg carries its own
// api_on_answer='uuid_record <caller> start <file>' with a file of its own, because two legs
// that answer at nearly the same moment both run it (FreeSWITCH hangs the loser up with
// LOSE_RACE afterwards, but the media bug it started is on the caller's channel and goes on).
// The winner's recording is the Dial's; a loser's is stopped and its file deleted. All methods
// run on the call's goroutine.
type dialRecording struct {
	c      *Call
	spec   adapter.RecordSpec
	legs   map[int]*legRecording // by target index
	byPath map[string]int
	winner int // -1 until CHANNEL_BRIDGE names it
	armed  bool
}

type legRecording struct {
	rec       *recording
	started   time.Time // its RECORD_START; zero until then
	discarded bool
}

func newDialRecording(c *Call, spec adapter.RecordSpec) *dialRecording {
	return &dialRecording{c: c, spec: spec, legs: map[int]*legRecording{}, byPath: map[string]int{}, winner: -1}
}

// leg prepares the recording of target i and returns the api_on_answer command that starts it.
func (d *dialRecording) leg(i int) (string, error) {
	t, err := d.c.recordPath(fmt.Sprintf("%s-%d", d.spec.Name, i))
	if err != nil {
		return "", err
	}
	d.legs[i] = &legRecording{rec: &recording{c: d.c, t: t, path: t.fs, done: make(chan struct{})}}
	d.byPath[t.fs] = i
	arg := fmt.Sprintf("uuid_record %s start %s %d", d.c.uuid, t.fs, bugLimit(d.spec.MaxDuration))
	if v := dialRecordVars(d.spec); v != "" {
		arg += " {" + v + "}"
	}
	return arg, nil
}

// watch starts watching every leg's recording (RECORD_START comes at the leg's answer).
func (d *dialRecording) watch() {
	for _, l := range d.legs {
		l.rec.unwatch = d.c.watch(l.rec.observe)
	}
}

// unwatchAll gives up on every recording that never started.
func (d *dialRecording) unwatchAll() {
	for _, l := range d.legs {
		if l.started.IsZero() {
			l.rec.unwatch()
		}
	}
}

// started handles a RECORD_START; it returns the time left before MaxDuration when the
// winner's recording is now armed (0: nothing to arm, or no MaxDuration).
func (d *dialRecording) started(path string, at time.Time) time.Duration {
	i, ok := d.byPath[path]
	if !ok || !d.legs[i].started.IsZero() {
		return 0
	}
	d.legs[i].started = at
	if d.winner >= 0 {
		if i != d.winner {
			d.discard(i)
			return 0
		}
		return d.arm()
	}
	return 0
}

// bridged names the winner: a loser's running recording is discarded, the winner's armed.
func (d *dialRecording) bridged(winner int) time.Duration {
	d.winner = winner
	for i, l := range d.legs {
		if i != winner && !l.started.IsZero() {
			d.discard(i)
		}
	}
	if l, ok := d.legs[winner]; ok && !l.started.IsZero() {
		return d.arm()
	}
	return 0
}

func (d *dialRecording) arm() time.Duration {
	if d.armed {
		return 0
	}
	d.armed = true
	l := d.legs[d.winner]
	go l.rec.guard()
	if d.spec.MaxDuration <= 0 {
		return 0
	}
	return max(d.spec.MaxDuration+bugLag-time.Since(l.started), time.Millisecond)
}

func (d *dialRecording) discard(i int) {
	l := d.legs[i]
	if l.discarded {
		return
	}
	l.discarded = true
	d.c.log.Info("dial recording of a leg that lost the race: stopped and dropped", "target", i)
	d.stopRec(l.rec, adapter.EndStopped)
	select {
	case <-l.rec.Done():
	case <-time.After(d.c.p.cmdTimeout):
		l.rec.finish() // takes and deletes the file
	}
}

func (d *dialRecording) stopRec(r *recording, why adapter.EndReason) {
	ctx, cancel := context.WithTimeout(d.c.p.runCtx, d.c.p.cmdTimeout*3)
	defer cancel()
	_ = r.stopFor(ctx, why)
}

// stop ends the winner's recording for why (the bridge ended, MaxDuration).
func (d *dialRecording) stop(why adapter.EndReason) {
	if d.winner < 0 {
		return
	}
	if l, ok := d.legs[d.winner]; ok && !l.started.IsZero() {
		d.stopRec(l.rec, why)
	}
}

// result finishes: the winner's recording, or nil when nobody answered; an answer whose
// recording never started is a failed recording. Losers still running are discarded.
func (d *dialRecording) result(answered, hungup bool) (*adapter.RecordResult, error) {
	for i, l := range d.legs {
		if i != d.winner && !l.started.IsZero() {
			d.discard(i)
		}
	}
	d.unwatchAll()
	l, ok := d.legs[d.winner]
	if !answered || !ok {
		return nil, nil
	}
	if l.started.IsZero() {
		return nil, fmt.Errorf("esl: dial recording %s: uuid_record never started: %w", d.spec.Name, adapter.ErrRecordingFailed)
	}
	if !hungup {
		d.stop(adapter.EndSessionEnd) // a no-op when already stopped
	}
	wait := d.c.p.cmdTimeout * 3
	if d.c.p.cfg.RecordTransfer == config.RecordHTTP {
		wait += d.c.p.cfg.UploadTimeout.D()
	}
	select {
	case <-l.rec.Done():
	case <-time.After(wait):
		l.rec.finish()
	}
	r, err := l.rec.Result()
	return &r, err
}
