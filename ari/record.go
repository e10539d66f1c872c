package ari

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/CyCoreSystems/ari/v6"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/audio"
	"github.com/pbxbridge/pbxbridge/translate"
)

// How a Record runs on Asterisk (asterisk.md §1–2):
//
//   - direct: Tracks=in, mono, no background audio, channel not bridged. POST …/record on the
//     caller's channel, beep=true for the beep, terminateOn=# or * when that is the whole set
//     of finish keys.
//   - snoop: everything else. We beep on the caller's channel (a beep on a snoop reaches
//     nobody) before creating the snoop, whose audiohook would otherwise keep the beep's tail;
//     then one snoop channel (spy=in, out or both; two, in and out, for stereo) enters our
//     app, and on its StasisStart we record it. Background audio is played to the caller and
//     captured through spy=in, so it is never recorded.
//
// Finish keys other than a lone # or * are watched on the caller's channel (snoops carry no
// DTMF) and end the recording with POST …/stop. Every name and id is registered with the
// dispatcher before the command that creates it, so that no event is missed however fast it
// comes (RecordingStarted comes within a millisecond of the POST).

// errBridged: a direct recording failed because the channel is in a bridge; Record retries
// through a snoop.
var errBridged = errors.New("cannot record channel while in bridge")

// leg is one recording in Asterisk.
type leg struct {
	name    string
	spy     string // "" for a direct recording, else the snoop's spy direction
	snoopID string
	target  string // the channel recorded
	silence bool   // this leg runs silence detection

	snoopUp   bool
	snoopGone bool
	posted    bool
	started   time.Time
	finished  time.Time
	done      bool
	failed    string
	stopSent  bool
}

type recorder struct {
	c       *call
	w       *watcher
	spec    adapter.RecordSpec
	session bool
	legs    []*leg
	native  string // terminateOn for a direct recording: "#", "*" or "none"
	f       facts
	first   *leg // the leg whose end decides the reason
	bg      *player
	bgErr   error
	stopReq chan struct{} // Stop of a background recording, served by the recording's goroutine
	// stopWhy is the end reason a Stop gives (EndStopped when empty); written before the
	// stopReq send that the recording's goroutine receives.
	stopWhy adapter.EndReason
	grace   <-chan time.Time
	t0      time.Time // local clock at start, for results when events are missing
	closed  bool
}

// validName keeps recording names to one safe path segment: Asterisk stores them as files
// under its spool, and a '/' would create directories (asterisk.md §3).
func validName(s string) bool {
	if s == "" || len(s) > 200 || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func (c *call) newRecorder(spec adapter.RecordSpec, session, forceSnoop bool) (*recorder, error) {
	if spec.Name == "" {
		spec.Name = "pbxb-" + newID()
	}
	if !validName(spec.Name) {
		return nil, fmt.Errorf("ari: record: name %q must be letters, digits, '-', '_' or '.' (no '/'): %w", spec.Name, adapter.ErrRecordingFailed)
	}
	if spec.Channels == 0 {
		spec.Channels = 1
	}
	if spec.Channels != 1 && spec.Channels != 2 {
		return nil, fmt.Errorf("ari: record %s: %d channels: %w", spec.Name, spec.Channels, adapter.ErrUnsupported)
	}
	if spec.Tracks == "" {
		spec.Tracks = translate.TracksIn
		if session {
			spec.Tracks = translate.TracksBoth
		}
	}
	if session {
		// Background recordings take no keys, beep or background audio (record.md §1.1 rule 8,
		// §2.1 rule 5); the engine never asks, and they could not be honoured without blocking.
		spec.FinishKeys, spec.Beep, spec.Background = 0, false, nil
	}
	if spec.Background != nil && (spec.Tracks != translate.TracksIn || spec.Channels != 1) {
		// Background audio is never captured: on a one-party call only the caller's side is
		// left (record.md §1.2, direction).
		c.log.Info("background audio: capturing the caller only", "recording", spec.Name, "tracks", spec.Tracks, "channels", spec.Channels)
		spec.Tracks, spec.Channels = translate.TracksIn, 1
	}
	r := &recorder{c: c, spec: spec, session: session, native: "none", t0: time.Now()}
	r.f = facts{
		maxDur:  ceilSeconds(spec.MaxDuration),
		silence: ceilSeconds(spec.SilenceTimeout) > 0,
		session: session,
	}
	direct := !session && !forceSnoop && spec.Tracks == translate.TracksIn && spec.Channels == 1 &&
		spec.Background == nil && !c.isBridged()
	switch {
	case direct:
		r.legs = []*leg{{name: spec.Name, target: c.id, silence: true}}
		switch spec.FinishKeys {
		case keySet('#'):
			r.native = "#"
		case keySet('*'):
			r.native = "*"
		}
	case spec.Channels == 2:
		// Silence is judged on the caller's side only: what the caller hears does not say
		// whether they are done.
		r.legs = []*leg{
			{name: spec.Name + "-in", spy: "in", silence: true},
			{name: spec.Name + "-out", spy: "out"},
		}
	default:
		r.legs = []*leg{{name: spec.Name, spy: string(spec.Tracks), silence: true}}
	}
	for _, l := range r.legs {
		if l.spy != "" {
			l.snoopID = "pbxb-snoop-" + newID()
			l.target = l.snoopID
		}
	}
	return r, nil
}

func keySet(k byte) translate.KeySet {
	for i := 0; i < 12; i++ {
		if s := translate.KeySet(1) << i; s.Has(k) {
			return s
		}
	}
	return 0
}

// ceilSeconds rounds up to whole seconds: ARI takes whole seconds only, and rounding down
// would turn 0.5 s into 0, which means no limit.
func ceilSeconds(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return (d + time.Second - 1) / time.Second * time.Second
}

func (r *recorder) direct() bool { return r.legs[0].spy == "" }

// Record captures audio until a finish key, silence, the length limit or hangup.
func (c *call) Record(ctx context.Context, spec adapter.RecordSpec) (adapter.RecordResult, error) {
	res, err := c.record(ctx, spec, false)
	if errors.Is(err, errBridged) {
		c.log.Info("direct recording refused in a bridge; recording through a snoop", "recording", spec.Name)
		spec.Name += "-s"
		res, err = c.record(ctx, spec, true)
	}
	return res, err
}

func (c *call) record(ctx context.Context, spec adapter.RecordSpec, forceSnoop bool) (adapter.RecordResult, error) {
	r, err := c.newRecorder(spec, false, forceSnoop)
	if err != nil {
		return adapter.RecordResult{}, err
	}
	defer r.close()
	if err := r.start(ctx); err != nil {
		return adapter.RecordResult{}, err
	}
	cause := r.wait(ctx, c.p.runCtx)
	res, err := r.result(ctx)
	if err == nil && cause != nil && !errors.Is(cause, adapter.ErrHangup) {
		err = cause
	}
	return res, err
}

// start answers if needed, creates the snoops, beeps, and starts every leg.
func (r *recorder) start(ctx context.Context) error {
	if err := r.arm(ctx); err != nil {
		return err
	}
	return r.begin(ctx)
}

// arm is start up to the recording itself: the watcher, the answer, the beep and the snoops,
// up. A Dial arms its recording while the targets ring, so that at the answer only the record
// requests remain (begin): the file then starts with the bridge, not a snoop's set-up later.
func (r *recorder) arm(ctx context.Context) error {
	c := r.c
	w, err := c.watch()
	if err != nil {
		return err
	}
	r.w = w
	c.log.Info("recording", "recording", r.spec.Name, "mode", r.mode(), "tracks", r.spec.Tracks,
		"channels", r.spec.Channels, "max", r.f.maxDur, "silence", ceilSeconds(r.spec.SilenceTimeout),
		"keys", r.spec.FinishKeys.String(), "terminate_on", r.native, "beep", r.spec.Beep, "background", r.spec.Background != nil)
	if !r.session && !c.isUp() {
		// Record would answer by itself; answering first keeps the beep's timing predictable.
		if err := c.Answer(ctx); err != nil {
			return err
		}
	}
	if !r.direct() {
		if r.spec.Beep {
			// Before the snoops exist. A snoop's audiohook keeps what is written to the channel
			// until the snoop's recording reads it, so a beep played once the snoop is up leaks
			// its last frames into the head of the file (observed: ~25 ms of beep with
			// spy=both), and the beep must never be recorded (record.md §1.2, playBeep).
			if err := r.beep(ctx); err != nil {
				return err
			}
		}
		for _, l := range r.legs {
			if err := r.snoop(ctx, l); err != nil {
				return err
			}
		}
		if err := r.until(ctx, r.cmdDeadline(), func() bool { return r.snoopsUp() }); err != nil {
			return err
		}
		if !r.snoopsUp() {
			// Lost, or slow: record anyway; a snoop not yet in Stasis answers 409.
			c.log.Warn("snoop StasisStart not seen in time; recording anyway", "recording", r.spec.Name)
		}
	}
	return nil
}

// begin starts every leg's recording and the background audio.
func (r *recorder) begin(ctx context.Context) error {
	c := r.c
	r.t0 = time.Now()
	for _, l := range r.legs {
		if err := r.post(ctx, l); err != nil {
			return err
		}
	}
	if bg := r.spec.Background; bg != nil {
		media, err := mediaURI(bg.URL)
		if err == nil {
			r.bg = &player{c: c, media: media, loops: bg.Loops}
			err = r.bg.start(ctx)
		}
		if err != nil {
			if errors.Is(err, adapter.ErrHangup) {
				return err
			}
			// The capture goes on; the caller just hears nothing.
			c.log.Warn("background audio not started", "recording", r.spec.Name, "err", err)
			r.bg, r.bgErr = nil, err
		}
	}
	return nil
}

func (r *recorder) mode() string {
	switch {
	case r.direct():
		return "direct"
	case len(r.legs) == 2:
		return "snoop-stereo"
	}
	return "snoop"
}

func (r *recorder) cmdDeadline() <-chan time.Time { return time.After(r.c.p.cmdTimeout) }

func (r *recorder) snoopsUp() bool {
	for _, l := range r.legs {
		if !l.snoopUp {
			return false
		}
	}
	return true
}

func (r *recorder) snoop(ctx context.Context, l *leg) error {
	c := r.c
	c.p.own(c, routeChannel, l.snoopID)
	err := c.chanCmd(ctx, "snoop spy="+l.spy, func(cl ari.Client, k *ari.Key) error {
		h, err := cl.Channel().StageSnoop(k, l.snoopID, &ari.SnoopOptions{
			App:     c.p.cfg.Application,
			AppArgs: snoopMarker + "," + r.spec.Name,
			Spy:     ari.Direction(l.spy),
		})
		if err != nil {
			return err
		}
		return h.Exec()
	})
	if err != nil {
		c.p.disown(routeChannel, l.snoopID)
		l.snoopGone = true
		return err
	}
	c.p.confirm(routeChannel, l.snoopID)
	return nil
}

// beep plays sound:beep on the caller's channel and waits for its PlaybackFinished.
func (r *recorder) beep(ctx context.Context) error {
	pl := &player{c: r.c, media: "sound:beep", loops: 1}
	if err := pl.start(ctx); err != nil {
		return err
	}
	done := false
	var perr error
	err := r.until(ctx, time.After(5*time.Second), func() bool { return done }, func(e *evt) {
		d, err := pl.observe(ctx, e)
		done, perr = done || d, err
	})
	pl.stop(context.WithoutCancel(ctx))
	if perr != nil {
		r.c.log.Warn("beep failed", "err", perr)
	}
	return err
}

// post starts one leg's recording.
func (r *recorder) post(ctx context.Context, l *leg) error {
	c := r.c
	opts := &ari.RecordingOptions{
		Format:      "wav",
		MaxDuration: r.f.maxDur,
		Exists:      "fail",
		Terminate:   "none",
	}
	if l.silence {
		opts.MaxSilence = ceilSeconds(r.spec.SilenceTimeout)
	}
	if l.spy == "" {
		opts.Beep = r.spec.Beep
		opts.Terminate = r.native
	}
	c.p.own(c, routeRecording, l.name)
	op := fmt.Sprintf("record %s on channel %s", l.name, l.target)
	key := ari.NewKey(ari.ChannelKey, l.target)
	err := c.p.cmd(ctx, op, adapter.ErrHangup, adapter.ErrRecordingFailed, func(cl ari.Client) error {
		h, err := cl.Channel().StageRecord(key, l.name, opts)
		if err != nil {
			return err
		}
		return h.Exec()
	})
	if err != nil {
		c.p.disown(routeRecording, l.name)
		if l.spy != "" && errors.Is(err, adapter.ErrHangup) && !r.callGone() {
			// The snoop vanished, not the call.
			return fmt.Errorf("ari: %s: snoop gone: %w", op, adapter.ErrRecordingFailed)
		}
		return err
	}
	c.p.confirm(routeRecording, l.name)
	l.posted = true
	return nil
}

func (r *recorder) callGone() bool {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	return r.c.gone
}

// until processes events until cond holds, the deadline passes (no error), the call hangs
// up (ErrHangup) or ctx is done. extra, if given, sees each event after observe.
func (r *recorder) until(ctx context.Context, deadline <-chan time.Time, cond func() bool, extra ...func(*evt)) error {
	for !cond() {
		select {
		case <-r.w.q.wake():
		case <-deadline:
			return nil
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), adapter.ErrHangup) {
				return r.c.hangupErr()
			}
			return context.Cause(ctx)
		case <-r.c.stopped():
			return r.c.stoppedErr()
		}
		for {
			e, ok := r.w.q.pop()
			if !ok {
				break
			}
			r.observe(ctx, &e)
			for _, f := range extra {
				f(&e)
			}
			if r.f.hangup || e.Channel == r.c.id && e.isHangup() {
				return r.c.hangupErr()
			}
		}
	}
	return nil
}

func (r *recorder) allDone() bool {
	for _, l := range r.legs {
		if !l.done {
			return false
		}
	}
	return true
}

func (r *recorder) live() bool {
	started := false
	for _, l := range r.legs {
		if l.done {
			return false
		}
		started = started || !l.started.IsZero()
	}
	return started
}

func (r *recorder) leg(name, channel string) *leg {
	for _, l := range r.legs {
		if name != "" && l.name == name || channel != "" && l.snoopID == channel {
			return l
		}
	}
	return nil
}

// observe applies one event to the recording's facts. It runs on the goroutine that owns
// the recorder and may send commands (stop, replay the background audio).
func (r *recorder) observe(ctx context.Context, e *evt) {
	c := r.c
	switch {
	case e.Channel == c.id && e.isHangup():
		if !r.allDone() && !r.f.hangup {
			r.f.hangup = true
			r.armGrace()
		}
	case e.Type == evChannelDtmfReceived && e.Channel == c.id:
		if r.live() && r.spec.FinishKeys.Has(e.Digit) && r.f.key == 0 && r.f.stopReason == "" {
			r.f.key = e.Digit
			c.log.Info("finish key", "recording", r.spec.Name, "key", string(e.Digit))
			if !(r.direct() && r.native != "none") {
				r.stopAll(ctx, adapter.EndKey)
			}
			// Native terminateOn: Asterisk ends it in the same millisecond.
		}
	case e.Type == evStasisStart:
		if l := r.leg("", e.Channel); l != nil {
			l.snoopUp = true
		}
	case e.Channel != "" && e.isHangup():
		if l := r.leg("", e.Channel); l != nil && !l.snoopGone {
			l.snoopGone = true
			r.c.p.disown(routeChannel, l.snoopID)
			if !l.done {
				r.armGrace() // its recording finishes with it
			}
		}
	case e.Recording != "":
		l := r.leg(e.Recording, "")
		if l == nil || l.done {
			return
		}
		switch e.Type {
		case evRecordingStarted:
			l.started = e.At
		case evRecordingFinished, synRecordingGone:
			r.legDone(ctx, l, e.At, "")
		case evRecordingFailed:
			r.legDone(ctx, l, e.At, orDefault(e.RecCause, "RecordingFailed"))
		}
	case e.Playback != "" && r.bg != nil:
		if _, err := r.bg.observe(ctx, e); err != nil && r.bgErr == nil {
			r.bgErr = err
			c.log.Warn("background audio failed", "recording", r.spec.Name, "err", err)
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (r *recorder) legDone(ctx context.Context, l *leg, at time.Time, failed string) {
	l.done, l.finished, l.failed = true, at, failed
	r.c.p.disown(routeRecording, l.name)
	if r.first == nil {
		r.first = l
		r.f.started, r.f.finished = l.started, l.finished
		// Stereo: the legs end together; the other one's stop is not a reason of ours.
		for _, o := range r.legs {
			if o != l && !o.done {
				r.stopLeg(ctx, o)
			}
		}
	}
	if r.allDone() && r.bg != nil {
		r.bg.stop(context.WithoutCancel(ctx))
	}
}

// stopAll ends the recording for a reason of ours, stored first (asterisk.md §2 rule 1).
func (r *recorder) stopAll(ctx context.Context, why adapter.EndReason) {
	if r.f.stopReason == "" && !r.allDone() {
		r.f.stopReason = why
	}
	for _, l := range r.legs {
		r.stopLeg(ctx, l)
	}
}

func (r *recorder) stopLeg(ctx context.Context, l *leg) {
	if l.done || l.stopSent || !l.posted {
		return
	}
	l.stopSent = true
	ctx = context.WithoutCancel(ctx)
	err := r.c.p.cmd(ctx, "stop recording "+l.name, nil, ErrCommand, func(cl ari.Client) error {
		return cl.LiveRecording().Stop(ari.NewKey(ari.LiveRecordingKey, l.name))
	})
	if err != nil && statusOfErr(err) != 404 {
		r.c.log.Warn("stopping recording", "recording", l.name, "err", err)
	}
}

func (r *recorder) armGrace() {
	if r.grace == nil {
		r.grace = time.After(r.c.p.hangupGrace)
	}
}

// wait runs until every leg has finished. ctx done means: for a hangup, wait for
// RecordingFinished, which keeps the audio; otherwise stop the recording and keep what was
// captured. run done means the dispatcher stopped and no event will come. A recording whose
// RecordingFinished never comes is checked against Asterisk from time to time. It returns
// ctx's cause if ctx ended it.
func (r *recorder) wait(ctx, run context.Context) error {
	var cause error
	done := ctx.Done()
	check := time.NewTicker(10 * time.Second)
	defer check.Stop()
	bctx := context.WithoutCancel(ctx)
	for !r.allDone() {
		select {
		case <-r.w.q.wake():
			for {
				e, ok := r.w.q.pop()
				if !ok {
					break
				}
				r.observe(bctx, &e)
			}
		case <-done:
			done = nil
			cause = context.Cause(ctx)
			if !errors.Is(cause, adapter.ErrHangup) {
				r.c.log.Info("recording stopped: context done", "recording", r.spec.Name, "cause", cause)
				why := adapter.EndStopped
				if r.session {
					why = adapter.EndSessionEnd
				}
				r.stopAll(bctx, why)
			}
			r.armGrace()
		case <-r.stopReq:
			why := r.stopWhy
			if why == "" {
				why = adapter.EndStopped
			}
			r.stopAll(bctx, why)
			r.armGrace()
		case <-r.grace:
			r.c.log.Warn("no RecordingFinished after hangup or stop; taking what is stored", "recording", r.spec.Name)
			r.finishAll(bctx)
		case <-run.Done():
			r.finishAll(bctx)
		case <-check.C:
			r.checkLive(bctx)
		}
	}
	return cause
}

// finishAll marks every open leg finished now.
func (r *recorder) finishAll(ctx context.Context) {
	now := time.Now()
	for _, l := range r.legs {
		if !l.done {
			r.legDone(ctx, l, now, "")
		}
	}
}

// checkLive asks Asterisk about each open leg: a 404 means its end event was lost.
func (r *recorder) checkLive(ctx context.Context) {
	for _, l := range r.legs {
		if l.posted && !l.done && r.c.p.missing(ctx, "/recordings/live/"+l.name) {
			r.c.log.Warn("recording ended without an event", "recording", l.name)
			r.legDone(ctx, l, time.Now(), "")
		}
	}
}

// result fetches the files, deletes them from Asterisk, and decides the end reason.
func (r *recorder) result(ctx context.Context) (adapter.RecordResult, error) {
	ctx = context.WithoutCancel(ctx)
	for _, l := range r.legs {
		if l.failed != "" {
			if l.spy == "" && strings.Contains(l.failed, "bridge") {
				return adapter.RecordResult{}, errBridged
			}
			return adapter.RecordResult{}, fmt.Errorf("ari: recording %s: %s: %w", l.name, l.failed, adapter.ErrRecordingFailed)
		}
	}
	res := adapter.RecordResult{Reason: r.f.reason(), Key: r.f.key}
	if res.Reason != adapter.EndKey {
		res.Key = 0
	}
	tracks := make([]audio.PCM, len(r.legs))
	for i, l := range r.legs {
		b, err := r.c.p.fetchRecording(ctx, l.name)
		if err != nil {
			if r.f.hangup || r.callGone() {
				// Asterisk went away with the call (a restart): the file went with it.
				return res, fmt.Errorf("ari: recording %s lost with the call: %w", l.name, err)
			}
			return res, err
		}
		p, err := audio.ParseWAV(b)
		if err != nil {
			return res, fmt.Errorf("ari: recording %s: %v: %w", l.name, err, adapter.ErrRecordingFailed)
		}
		tracks[i] = p
		if l.started.IsZero() {
			l.started = r.t0
		}
		if res.Started.IsZero() || l.started.Before(res.Started) {
			res.Started = l.started
		}
	}
	res.Ended = r.f.finished
	if r.first != nil && res.Ended.IsZero() {
		res.Ended = r.first.finished
	}
	var out audio.PCM
	switch len(tracks) {
	case 1:
		out = tracks[0]
	case 2:
		if tracks[0].Empty() && tracks[1].Empty() {
			break
		}
		left, right := alignStart(audio.Mono(tracks[0]), audio.Mono(tracks[1]), r.legs[1].started.Sub(r.legs[0].started))
		var err error
		if out, err = audio.Stereo(left, right); err != nil {
			return res, fmt.Errorf("ari: recording %s: stereo merge: %v: %w", r.spec.Name, err, adapter.ErrRecordingFailed)
		}
	}
	if !out.Empty() {
		var err error
		if res.WAV, err = audio.EncodeWAV(out); err != nil {
			return res, fmt.Errorf("ari: recording %s: %v: %w", r.spec.Name, err, adapter.ErrRecordingFailed)
		}
	}
	r.c.log.Info("recording finished", "recording", r.spec.Name, "reason", res.Reason, "key", keyStr(res.Key),
		"elapsed", res.Ended.Sub(res.Started).Round(time.Millisecond), "audio", wavDuration(res.WAV))
	return res, nil
}

func keyStr(k byte) string {
	if k == 0 {
		return ""
	}
	return string(k)
}

// close releases everything the recording created: the background playback, any leg still
// running (the engine gave up), the snoops, the routes and the watcher.
func (r *recorder) close() {
	if r.closed {
		return
	}
	r.closed = true
	ctx := context.Background()
	if r.bg != nil {
		r.bg.stop(ctx)
	}
	for _, l := range r.legs {
		if !l.done {
			r.stopLeg(ctx, l)
		}
		r.c.p.disown(routeRecording, l.name)
		if l.snoopID != "" {
			if !l.snoopGone {
				if err := r.c.p.hangupChannel(ctx, l.snoopID, causeNormal); err != nil && !errors.Is(err, adapter.ErrHangup) {
					r.c.log.Warn("hanging up snoop", "snoop_id", l.snoopID, "err", err)
				}
			}
			r.c.p.disown(routeChannel, l.snoopID)
		}
	}
	if r.w != nil {
		r.c.unwatch(r.w)
	}
}
