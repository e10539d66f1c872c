package esl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/percipia/eslgo/command"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/translate"
)

// Recording parameters (freeswitch.md §2).
const (
	// silenceThresh is the record application's energy threshold (the Plivo framework's 500).
	silenceThresh = 500
	// beepTone is the tone the Plivo framework played before recording.
	beepTone = "tone_stream://%(300,200,700)"
)

// recTarget is where a recording goes: fs is the path FreeSWITCH records to (what its
// commands and Record-File-Path say), local the file pbxbridge takes afterwards.
type recTarget struct {
	fs, local, file string
}

// recordPath chooses a recording's target from a name we generated. Shared directory: the
// same path on both sides. HTTP upload: FreeSWITCH records to http_cache://<upload URL> and
// mod_http_cache PUTs the file to pbxbridge, which stores it as the local path (httpapi).
func (c *Call) recordPath(name string) (recTarget, error) {
	if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		return recTarget{}, fmt.Errorf("esl: recording name %q: only letters, digits, '-' and '_': %w", name, adapter.ErrUnsupported)
	}
	t := recTarget{file: name + ".wav"}
	t.local = filepath.Join(c.p.recordDir, t.file)
	t.fs = t.local
	if c.p.cfg.RecordTransfer == config.RecordHTTP {
		t.fs = "http_cache://" + c.p.cfg.UploadURL + c.p.cfg.UploadPath(t.file)
	}
	return t, nil
}

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// Record runs a foreground recording. Tracks=in on a mono leg uses the record application
// (what the caller says); other track choices use a media bug (uuid_record) that the bridge
// stops itself. A hangup is not an error: the audio captured so far is returned.
func (c *Call) Record(ctx context.Context, spec adapter.RecordSpec) (adapter.RecordResult, error) {
	t, err := c.recordPath(spec.Name)
	if err != nil {
		return adapter.RecordResult{}, err
	}
	path := t.fs
	if spec.Tracks == "" {
		spec.Tracks = translate.TracksIn
	}
	if c.isHungup() {
		return adapter.RecordResult{}, c.hangupErr()
	}
	// record only pre-answers; the caller must hear an answered call
	if err := c.Answer(ctx); err != nil {
		return adapter.RecordResult{}, err
	}
	if spec.Tracks != translate.TracksIn || spec.Channels == 2 {
		return c.recordBug(ctx, spec, t)
	}
	// playback_terminators always: unset, FreeSWITCH stops on '*'
	if err := c.setTerminators(ctx, spec.FinishKeys.String()); err != nil {
		return adapter.RecordResult{}, err
	}
	if spec.Beep {
		if _, err := c.execute(ctx, "playback", beepTone, c.p.cmdTimeout+5*time.Second, nil); err != nil {
			return adapter.RecordResult{}, err
		}
	}
	if bg := spec.Background; bg != nil {
		// displace_session replaces the write stream: the caller hears it, and the record
		// application (read stream only) never captures it. It returns at once.
		target := mediaTarget(bg.URL)
		flags := ""
		if bg.Loops == 0 {
			flags = " l"
		} else if bg.Loops > 1 {
			t := target
			for i := 1; i < bg.Loops; i++ {
				t += "!" + target
			}
			target = "file_string://" + t
		}
		if _, err := c.execute(ctx, "displace_session", target+flags, c.p.cmdTimeout*2, nil); err != nil {
			return adapter.RecordResult{}, err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(c.p.runCtx, c.p.cmdTimeout)
			defer cancel()
			if !c.isHungup() {
				_, _ = c.send(sctx, "uuid_displace stop", command.API{Command: "uuid_displace", Arguments: c.uuid + " stop " + target})
			}
		}()
	}
	limit := ceilSeconds(spec.MaxDuration)
	args := fmt.Sprintf("%s %d", path, limit)
	if spec.SilenceTimeout > 0 {
		args += fmt.Sprintf(" %d %d", silenceThresh, ceilSeconds(spec.SilenceTimeout))
	}
	c.log.Info("recording", "recording", spec.Name, "file", t.local, "max", limit, "silence", ceilSeconds(spec.SilenceTimeout),
		"keys", spec.FinishKeys.String(), "beep", spec.Beep)

	var started, stopped time.Time
	startSeen, hangupSeen := false, false
	var stopEv *event
	observe := func(e *event) {
		switch e.Name {
		case "RECORD_START":
			if e.get("Record-File-Path") == path {
				startSeen, started = true, e.At
			}
		case "RECORD_STOP":
			if e.get("Record-File-Path") == path {
				stopEv, stopped = e, e.At
			}
		case "CHANNEL_HANGUP":
			hangupSeen = true
		}
	}
	wait := 24 * time.Hour
	if spec.MaxDuration > 0 {
		wait = spec.MaxDuration + 2*time.Second + c.p.cmdTimeout*2
	}
	done, err := c.execute(ctx, "record", args, wait, observe)
	if err != nil && !errors.Is(err, adapter.ErrHangup) {
		return adapter.RecordResult{}, err
	}
	if !startSeen && c.hangupCause() == "DESTINATION_OUT_OF_ORDER" {
		// FreeSWITCH could not open the file and hung the call up (freeswitch.md §4)
		return adapter.RecordResult{}, fmt.Errorf("esl: record %s: FreeSWITCH could not open %s: %w", spec.Name, t.file, adapter.ErrRecordingFailed)
	}
	res := adapter.RecordResult{Started: started, Ended: stopped}
	if res.Started.IsZero() {
		res.Started = time.Now()
	}
	if res.Ended.IsZero() {
		res.Ended = time.Now()
	}
	// results only from events after this recording's RECORD_START: the variables stay on
	// the channel from the previous recording
	src := done
	if src == nil {
		src = stopEv
	}
	var used, exhausted string
	var ms int
	if src != nil && startSeen {
		used = src.get("variable_playback_terminator_used")
		exhausted = src.get("variable_silence_hits_exhausted")
		ms, _ = strconv.Atoi(src.get("variable_record_ms"))
	}
	switch {
	case used != "":
		res.Reason, res.Key = adapter.EndKey, used[0]
	case exhausted == "true":
		res.Reason = adapter.EndSilence
	case hangupSeen || src == nil || c.isHungup():
		res.Reason = adapter.EndHangup
	case limit > 0 && ms >= limit*1000:
		res.Reason = adapter.EndMaxLength
	default:
		res.Reason = adapter.EndMaxLength
	}
	if res.WAV, err = c.takeFile(t, err != nil); err != nil {
		return adapter.RecordResult{}, fmt.Errorf("esl: record %s: %w", spec.Name, err)
	}
	c.log.Info("recording ended", "recording", spec.Name, "reason", res.Reason, "record_ms", ms, "bytes", len(res.WAV))
	return res, nil
}

func (c *Call) hangupCause() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// takeFile takes a finished recording and deletes it. Shared directory: after a lost socket
// FreeSWITCH may still be closing the file, so settle waits until its size holds still.
// HTTP upload: mod_http_cache PUTs the file when FreeSWITCH closes it, so it is waited for
// until upload_timeout; a file that never arrives (pbxbridge unreachable, the upload
// refused) is ErrUploadMissing, and the recording fails (ErrRecordingFailed). A missing
// file in the shared directory is an empty recording, as before.
func (c *Call) takeFile(t recTarget, settle bool) ([]byte, error) {
	if c.p.cfg.RecordTransfer == config.RecordHTTP {
		if err := c.p.waitUpload(t); err != nil {
			c.log.Warn("recording upload did not arrive", "file", t.file, "timeout", c.p.cfg.UploadTimeout.D())
			return nil, err
		}
	} else if settle {
		var last int64 = -1
		for i := 0; i < 20; i++ {
			st, err := os.Stat(t.local)
			if err == nil && st.Size() == last {
				break
			}
			if err == nil {
				last = st.Size()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	b, err := os.ReadFile(t.local)
	if err != nil {
		return nil, nil
	}
	_ = os.Remove(t.local)
	if len(b) <= 44 { // a header and no audio
		return nil, nil
	}
	return b, nil
}

// ErrUploadMissing is a recording whose HTTP upload did not arrive in time.
var ErrUploadMissing = errors.New("recording upload did not arrive")

// waitUpload waits until the upload of t is stored (httpapi links it into place whole), for
// upload_timeout at most.
func (p *PBX) waitUpload(t recTarget) error {
	deadline := time.NewTimer(p.cfg.UploadTimeout.D())
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(t.local); err == nil {
			return nil
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return fmt.Errorf("%s not uploaded within upload_timeout %v: %w: %w", t.file, p.cfg.UploadTimeout.D(), ErrUploadMissing, adapter.ErrRecordingFailed)
		case <-p.runCtx.Done():
			return fmt.Errorf("%s: stopped waiting for its upload: %w: %w", t.file, ErrUploadMissing, adapter.ErrRecordingFailed)
		}
	}
}

// StartRecording starts a background recording of the call (both parties mixed, or stereo
// with Channels=2) with uuid_record, and returns at once.
func (c *Call) StartRecording(ctx context.Context, spec adapter.RecordSpec) (adapter.Recording, error) {
	t, err := c.recordPath(spec.Name)
	if err != nil {
		return nil, err
	}
	path := t.fs
	if c.isHungup() {
		return nil, c.hangupErr()
	}
	var vars []string
	switch spec.Tracks {
	case translate.TracksIn:
		vars = append(vars, "RECORD_READ_ONLY=true")
	case translate.TracksOut:
		vars = append(vars, "RECORD_WRITE_ONLY=true")
	}
	if spec.Channels == 2 {
		vars = append(vars, "RECORD_STEREO=true")
	}
	r := &recording{c: c, t: t, path: path, done: make(chan struct{}), started: time.Now()}
	r.unwatch = c.watch(r.observe)
	arg := fmt.Sprintf("%s start %s %d", c.uuid, path, bugLimit(spec.MaxDuration))
	if len(vars) > 0 {
		arg += " {" + strings.Join(vars, ",") + "}"
	}
	if _, err := c.send(ctx, "uuid_record start", command.API{Command: "uuid_record", Arguments: arg}); err != nil {
		r.unwatch()
		if errors.Is(err, ErrRefused) {
			return nil, fmt.Errorf("%w: %w", err, adapter.ErrRecordingFailed)
		}
		return nil, err
	}
	go r.guard()
	return r, nil
}

// recording is a uuid_record media bug. It ends at its RECORD_STOP (our stop, the limit, or
// hangup), or when the call is gone without one.
type recording struct {
	c       *Call
	t       recTarget
	path    string // t.fs
	started time.Time
	unwatch func()

	mu      sync.Mutex
	stopped bool              // we sent stop: the cause (success-maxtime) cannot tell us from the limit
	why     adapter.EndReason // the reason we stopped for; "" = EndStopped
	ended   bool
	res     adapter.RecordResult
	err     error
	done    chan struct{}
}

var _ adapter.Recording = (*recording)(nil)

// observe runs in the call's event order (Call.apply); it must not block.
func (r *recording) observe(e *event) {
	switch e.Name {
	case "RECORD_START":
		if e.get("Record-File-Path") == r.path && !e.At.IsZero() {
			r.mu.Lock()
			r.started = e.At
			r.mu.Unlock()
		}
	case "RECORD_STOP":
		if e.get("Record-File-Path") != r.path {
			return
		}
		cause := e.get("Record-Completion-Cause")
		r.mu.Lock()
		var reason adapter.EndReason
		switch {
		case r.stopped && r.why != "":
			reason = r.why
		case r.stopped:
			reason = adapter.EndStopped
		case r.c.isHungupLocked():
			reason = adapter.EndSessionEnd
		case cause == "success-maxtime":
			reason = adapter.EndMaxLength
		default:
			reason = adapter.EndSessionEnd
		}
		r.res = adapter.RecordResult{Reason: reason, Started: r.started, Ended: e.At}
		if cause == "uri-failure" {
			r.err = fmt.Errorf("esl: uuid_record %s: uri-failure: %w", r.path, adapter.ErrRecordingFailed)
		}
		r.mu.Unlock()
		go r.finish()
	}
}

// guard ends the recording if the call is gone and no RECORD_STOP came (a lost socket).
func (r *recording) guard() {
	select {
	case <-r.done:
		return
	case <-r.c.complete:
	}
	select {
	case <-r.done:
	case <-time.After(2 * time.Second):
		r.mu.Lock()
		r.res = adapter.RecordResult{Reason: adapter.EndSessionEnd, Started: r.started, Ended: time.Now()}
		r.mu.Unlock()
		r.finish()
	}
}

func (r *recording) finish() {
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		return
	}
	r.ended = true
	r.mu.Unlock()
	r.unwatch()
	wav, err := r.c.takeFile(r.t, false)
	r.mu.Lock()
	r.res.WAV = wav
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("esl: uuid_record: %w", err)
	}
	if r.res.Ended.IsZero() {
		r.res.Ended = time.Now()
	}
	r.mu.Unlock()
	close(r.done)
}

// Stop stops the recording and waits for its end.
func (r *recording) Stop(ctx context.Context) error { return r.stopFor(ctx, adapter.EndStopped) }

// stopFor stops the recording, which then ends with reason why, and waits for its end.
func (r *recording) stopFor(ctx context.Context, why adapter.EndReason) error {
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		return nil
	}
	first := !r.stopped
	if first { // the first stop's reason holds
		r.stopped, r.why = true, why
	}
	r.mu.Unlock()
	if first {
		_, err := r.c.send(ctx, "uuid_record stop", command.API{Command: "uuid_record", Arguments: r.c.uuid + " stop " + r.path})
		if err != nil && !errors.Is(err, ErrRefused) && !errors.Is(err, adapter.ErrHangup) {
			return err
		}
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-time.After(r.c.p.cmdTimeout * 2):
		r.finish()
		return nil
	}
}

func (r *recording) Done() <-chan struct{} { return r.done }

func (r *recording) Result() (adapter.RecordResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.res, r.err
}

// bugSilenceThresh is the media bug's RECORD_SILENCE_THRESHOLD (FreeSWITCH's default 200).
const bugSilenceThresh = 200

// bugLag is how much shorter a media bug's file is than the time the bug ran: uuid_record's
// RECORD_STOP reports about 0.5 s less than wall-clock time (freeswitch.md, "Observed on a
// real FreeSWITCH 1.10.12").
const bugLag = 500 * time.Millisecond

// bugLimit is uuid_record's own limit for a maximum length, a backstop only: the bridge
// stops the bug itself at the maximum length plus bugLag (recordBug), because FreeSWITCH
// counts this limit in whole epoch seconds (a limit of 3 stopped after 2.32 s in
// a_uuid_record), so it ends anywhere in (limit-1, limit] s after the start. One second more
// than the maximum plus bugLag keeps it from ever cutting the file short. 0 = none.
func bugLimit(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return ceilSeconds(d+bugLag) + 1
}

// recordBug is a foreground recording of the write stream (Tracks=out), both streams mixed
// (both) or in stereo (Channels=2): a uuid_record media bug that the bridge stops itself on
// a finish key (DTMF events), with FreeSWITCH's own limit and silence timeouts
// (freeswitch.md §2). The bridge records its stop reason before it sends stop: the cause
// (success-maxtime) cannot tell our stop from the limit.
func (c *Call) recordBug(ctx context.Context, spec adapter.RecordSpec, t recTarget) (adapter.RecordResult, error) {
	path := t.fs
	if spec.Beep {
		if _, err := c.execute(ctx, "playback", beepTone, c.p.cmdTimeout+5*time.Second, nil); err != nil {
			return adapter.RecordResult{}, err
		}
	}
	var vars []string
	if spec.Tracks == translate.TracksOut {
		vars = append(vars, "RECORD_WRITE_ONLY=true")
	}
	if spec.Channels == 2 {
		vars = append(vars, "RECORD_STEREO=true")
	}
	if spec.SilenceTimeout > 0 {
		ms := spec.SilenceTimeout.Milliseconds()
		vars = append(vars, fmt.Sprintf("RECORD_SILENCE_THRESHOLD=%d", bugSilenceThresh),
			fmt.Sprintf("RECORD_INITIAL_TIMEOUT_MS=%d", ms), fmt.Sprintf("RECORD_FINAL_TIMEOUT_MS=%d", ms))
	}
	arg := fmt.Sprintf("%s start %s %d", c.uuid, path, bugLimit(spec.MaxDuration))
	if len(vars) > 0 {
		arg += " {" + strings.Join(vars, ",") + "}"
	}
	c.log.Info("recording", "recording", spec.Name, "file", t.local, "mode", "uuid_record", "tracks", spec.Tracks,
		"channels", spec.Channels, "max", bugLimit(spec.MaxDuration), "silence", ceilSeconds(spec.SilenceTimeout),
		"keys", spec.FinishKeys.String(), "beep", spec.Beep)
	c.clearMailbox()
	if _, err := c.send(ctx, "uuid_record start", command.API{Command: "uuid_record", Arguments: arg}); err != nil {
		if errors.Is(err, ErrRefused) {
			return adapter.RecordResult{}, fmt.Errorf("%w: %w", err, adapter.ErrRecordingFailed)
		}
		return adapter.RecordResult{}, err
	}
	res := adapter.RecordResult{Started: time.Now()}
	var maxLen <-chan time.Time // the bridge's own stop at the maximum length (bugLimit)
	if spec.MaxDuration > 0 {
		tm := time.NewTimer(spec.MaxDuration + bugLag)
		defer tm.Stop()
		maxLen = tm.C
	}
	var ours adapter.EndReason // set before we send stop
	var key byte
	hangupSeen := false
	stop := func(why adapter.EndReason) {
		if ours != "" {
			return
		}
		ours = why
		sctx, cancel := context.WithTimeout(c.p.runCtx, c.p.cmdTimeout)
		defer cancel()
		_, _ = c.send(sctx, "uuid_record stop", command.API{Command: "uuid_record", Arguments: c.uuid + " stop " + path})
	}
	wait := 24 * time.Hour
	if spec.MaxDuration > 0 {
		wait = spec.MaxDuration + 2*time.Second + c.p.cmdTimeout*2
	}
	wctx, cancel := context.WithTimeout(c.p.runCtx, wait)
	defer cancel()
	probe := time.NewTicker(c.p.probeEvery)
	defer probe.Stop()
	callDone := ctx.Done()
	var cause string
	lost := false
wait:
	for {
		for e := c.pop(); e != nil; e = c.pop() {
			switch e.Name {
			case "RECORD_START":
				if e.get("Record-File-Path") == path && !e.At.IsZero() {
					res.Started = e.At
				}
			case "DTMF":
				if d := e.get("DTMF-Digit"); len(d) == 1 && spec.FinishKeys.Has(d[0]) && key == 0 && !hangupSeen {
					key = d[0]
					stop(adapter.EndKey)
				}
			case "CHANNEL_HANGUP":
				hangupSeen = true
			case "RECORD_STOP":
				if e.get("Record-File-Path") == path {
					cause, res.Ended = e.get("Record-Completion-Cause"), e.At
					break wait
				}
			}
		}
		select {
		case <-c.wake:
		case <-callDone:
			callDone = nil
			if !c.isHungup() {
				stop(adapter.EndStopped)
			}
		case <-maxLen:
			maxLen = nil
			if !c.isHungup() {
				stop(adapter.EndMaxLength)
			}
		case <-probe.C:
			if err := c.probe(wctx); err != nil {
				lost = true
				break wait
			}
		case <-wctx.Done():
			if !c.isHungup() {
				return adapter.RecordResult{}, fmt.Errorf("esl: record %s: no RECORD_STOP in %v: %w", spec.Name, wait, adapter.ErrPBXDown)
			}
			lost = true
			break wait
		}
	}
	switch {
	case cause == "uri-failure":
		return adapter.RecordResult{}, fmt.Errorf("esl: record %s: uri-failure: %w", spec.Name, adapter.ErrRecordingFailed)
	case ours != "":
		res.Reason, res.Key = ours, key
	case hangupSeen || lost:
		res.Reason = adapter.EndHangup
	case cause == "success-silence" || cause == "no-input-timeout":
		res.Reason = adapter.EndSilence
	default: // success-maxtime, or the file was empty
		res.Reason = adapter.EndMaxLength
	}
	if res.Ended.IsZero() {
		res.Ended = time.Now()
	}
	var err error
	if res.WAV, err = c.takeFile(t, lost); err != nil {
		return adapter.RecordResult{}, fmt.Errorf("esl: record %s: %w", spec.Name, err)
	}
	c.log.Info("recording ended", "recording", spec.Name, "reason", res.Reason, "cause", cause, "bytes", len(res.WAV))
	return res, nil
}
