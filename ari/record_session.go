package ari

import (
	"context"
	"sync"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// StartRecording starts a background recording through a snoop (spy=both by default; two
// snoops, in and out, for stereo) and returns once Asterisk has accepted it. The recording
// then runs on its own goroutine, fed by its own watcher, until the call hangs up (the snoop
// goes with the call and its recording finishes), the limit, Stop, or the PBX stopping.
func (c *call) StartRecording(ctx context.Context, spec adapter.RecordSpec) (adapter.Recording, error) {
	r, err := c.newRecorder(spec, true, true)
	if err != nil {
		return nil, err
	}
	r.stopReq = make(chan struct{}, 1)
	if err := r.start(ctx); err != nil {
		r.close()
		return nil, err
	}
	return r.run(), nil
}

// armSession prepares a background recording without starting it (recorder.arm): the snoops
// are up, the record requests not sent. startArmed starts it; close drops it unstarted.
func (c *call) armSession(ctx context.Context, spec adapter.RecordSpec) (*recorder, error) {
	r, err := c.newRecorder(spec, true, true)
	if err != nil {
		return nil, err
	}
	r.stopReq = make(chan struct{}, 1)
	if err := r.arm(ctx); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// startArmed starts an armed background recording.
func (r *recorder) startArmed(ctx context.Context) (*session, error) {
	if err := r.begin(ctx); err != nil {
		r.close()
		return nil, err
	}
	return r.run(), nil
}

// run hands a started background recording to its own goroutine.
func (r *recorder) run() *session {
	s := &session{r: r, done: make(chan struct{})}
	r.c.p.wg.Add(1)
	go s.run()
	return s
}

// session is an adapter.Recording.
type session struct {
	r    *recorder
	done chan struct{}

	mu  sync.Mutex
	res adapter.RecordResult
	err error
}

var _ adapter.Recording = (*session)(nil)

func (s *session) run() {
	r := s.r
	defer r.c.p.wg.Done()
	defer close(s.done)
	defer r.close()
	// Not the call's context, which ends at hangup while the snoop's recording still has
	// its RecordingFinished to come: the PBX's call base, which ends only when Serve stops
	// (the recording is then stopped and kept).
	// At shutdown the recording is stopped (reason session-end) and what it captured is
	// still fetched: not an error.
	_ = r.wait(r.c.p.callBase, r.c.p.runCtx)
	res, err := r.result(context.Background())
	s.mu.Lock()
	s.res, s.err = res, err
	s.mu.Unlock()
}

// Stop ends the recording (reason EndStopped) and waits until its result is final or ctx
// is done.
func (s *session) Stop(ctx context.Context) error {
	select {
	case s.r.stopReq <- struct{}{}:
	default: // a stop is already pending
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// stopFor is Stop with the end reason the result reports (a Dial ending: session-end).
func (s *session) stopFor(ctx context.Context, why adapter.EndReason) error {
	s.r.stopWhy = why
	return s.Stop(ctx)
}

func (s *session) Done() <-chan struct{} { return s.done }

// Result is final once Done is closed.
func (s *session) Result() (adapter.RecordResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.res, s.err
}
