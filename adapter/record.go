package adapter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/pbxbridge/pbxbridge/translate"
)

// This file runs <Record> (record.md §1.1, §2.1 and the outcome table of §4) on any PBX.
// The PBX captures WAV; the engine decides the outcome, stores the file, and sends the
// callbacks in the order the dialect implies: action first, then callbackUrl and status.

// ErrStorage: the recording could not be stored (container missing or full, file missing,
// external storage misconfigured, blob store failing). The outcome is "failed".
var ErrStorage = errors.New("recording storage failed")

// stored is the result of storing one recording.
type stored struct {
	params translate.RecordingParams // for the callbacks
	empty  bool                      // nothing captured, or nothing left after trimming
	file   File                      // the stored file (zero for CarrierX's empty recordings)
}

// record executes one Record verb.
func (s *session) record(ctx context.Context, log *slog.Logger, r *translate.Record) (*translate.Program, bool, error) {
	if err := s.checkStorage(ctx, r); err != nil {
		return s.recordFailed(ctx, log, r, err)
	}
	if err := s.ensureAnswered(ctx); err != nil {
		return nil, false, err
	}
	spec, err := s.recordSpec(ctx, r)
	if err != nil {
		return s.recordFailed(ctx, log, r, err)
	}
	switch r.Mode {
	case translate.ModeSession:
		s.addLive(ctx, r, spec.Name, announcement{})
		rec, err := s.call.StartRecording(ctx, spec)
		if err != nil {
			s.dropLive(ctx, spec.Name)
			if errors.Is(err, ErrHangup) {
				return nil, false, err
			}
			return s.recordFailed(ctx, log, r, err)
		}
		log.Info("background recording started", "name", spec.Name)
		next, err := s.actionAtStart(ctx, r, spec.Name)
		s.background(ctx, log, r, spec.Name, rec)
		return next, false, err
	case translate.ModeDial:
		// Plivo startOnDialAnswer arms the next Dial (dial.go), which records from answer to
		// its end; no Dial, or no answer, records nothing (record.md §2.1 rule 4, Open).
		if s.armed != nil {
			log.Warn("startOnDialAnswer armed again before a Dial: the earlier one is dropped", "name", s.armed.spec.Name)
		}
		s.armed = &armedDial{r: r, spec: spec}
		log.Info("startOnDialAnswer armed", "name", spec.Name)
		next, err := s.actionAtStart(ctx, r, spec.Name)
		return next, false, err
	}
	s.addLive(ctx, r, spec.Name, announcement{})
	res, err := s.call.Record(ctx, spec)
	if err != nil {
		if !errors.Is(err, ErrHangup) || len(res.WAV) == 0 {
			s.dropLive(ctx, spec.Name)
		}
		if errors.Is(err, ErrHangup) && len(res.WAV) == 0 {
			// The call went before capture started: nothing to keep.
			return nil, false, err
		}
		if !errors.Is(err, ErrHangup) {
			return s.recordFailed(ctx, log, r, err)
		}
	}
	log.Info("recording ended", "reason", res.Reason, "key", string(keyString(res.Key)), "bytes", len(res.WAV))
	return s.recordFinished(ctx, log, r, spec.Name, res)
}

func keyString(k byte) []byte {
	if k == 0 {
		return nil
	}
	return []byte{k}
}

// recordSpec turns the neutral Record into the PBX request.
func (s *session) recordSpec(ctx context.Context, r *translate.Record) (RecordSpec, error) {
	spec := RecordSpec{
		Name:           "pbxb-" + s.e.NewID(),
		Tracks:         r.Tracks,
		Channels:       r.Channels,
		MaxDuration:    r.MaxDuration,
		SilenceTimeout: r.SilenceTimeout,
		FinishKeys:     r.FinishKeys,
		Beep:           r.Beep,
	}
	if spec.Channels == 0 {
		spec.Channels = 1
	}
	if limit := s.e.Config.Recording.SessionCap.D(); spec.MaxDuration <= 0 || spec.MaxDuration > limit {
		spec.MaxDuration = limit
	}
	if r.BackgroundAudio != nil {
		u, err := s.e.Media.Audio(ctx, r.BackgroundAudio.URL)
		if err != nil {
			// The recording itself can go on: the caller just hears nothing.
			s.log.Warn("background audio unavailable", "url", redacted(r.BackgroundAudio.URL), "err", err)
		} else {
			spec.Background = &PlaySpec{URL: u, Loops: r.BackgroundAudio.Loops}
		}
	}
	return spec, nil
}

// checkStorage refuses a Record whose target cannot hold a file, before anything is captured.
func (s *session) checkStorage(ctx context.Context, r *translate.Record) error {
	st := r.Storage
	if st.Invalid != "" {
		return fmt.Errorf("%w: %s", ErrStorage, st.Invalid)
	}
	if err := s.checkExternal(ctx, r); err != nil {
		return err // upload.go
	}
	if st.FileID != "" {
		err := s.e.retryStore(ctx, s.log, "get file", func(ctx context.Context, _ bool) error {
			_, err := s.e.Store.GetFile(ctx, st.FileID)
			return err
		})
		if err != nil {
			return fmt.Errorf("%w: fileSid %q: %w", ErrStorage, st.FileID, err)
		}
		return nil
	}
	sid := s.containerFor(r)
	c, ok := s.e.Config.Container(sid)
	if !ok {
		return fmt.Errorf("%w: containerSid %q does not exist", ErrStorage, sid)
	}
	var used int64
	err := s.e.retryStore(ctx, s.log, "container usage", func(ctx context.Context, _ bool) error {
		var err error
		used, err = s.e.Store.ContainerUsage(ctx, sid)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: container %q: %w", ErrStorage, sid, err)
	}
	if used >= c.QuotaBytes {
		return fmt.Errorf("%w: container %q is full (%d of %d bytes)", ErrStorage, sid, used, c.QuotaBytes)
	}
	return nil
}

func (s *session) containerFor(r *translate.Record) string {
	if r.Storage.ContainerID != "" {
		return r.Storage.ContainerID
	}
	return s.app.Container
}

// recordFinished stores a capture and sends what the outcome table says.
func (s *session) recordFinished(ctx context.Context, log *slog.Logger, r *translate.Record, name string, res RecordResult) (*translate.Program, bool, error) {
	st, err := s.storeRecording(context.WithoutCancel(ctx), r, res)
	s.dropLive(ctx, name)
	if err != nil {
		return s.recordFailed(ctx, log, r, err)
	}
	s.e.observe().RecordingDone(storedOutcome(st))
	s.traceRecording(st, nil)
	hungUp := res.Reason == EndHangup || context.Cause(ctx) != nil
	if hungUp {
		s.markEnded()
	}
	rp := st.params
	if s.app.Dialect == translate.FlexML && st.empty {
		log.Info("recording empty: no action, next verb", "status", "absent")
		s.statusCallback(ctx, r, rp)
		return nil, false, nil
	}
	if r.Action.Target != nil {
		if r.Action.Disposition == translate.DispositionExecute && !hungUp {
			// The action request goes first and the call waits for it; callbackUrl and the
			// status callback are queued after it, whatever its fate, so they are never lost.
			defer s.fileCallbacks(ctx, r, st)
			next, err := s.fetch(ctx, "action", r.Action.Target, rp, true)
			if err != nil {
				return nil, false, err
			}
			return next, next == nil, nil
		}
		s.notifyAction(ctx, r, rp)
	}
	s.fileCallbacks(ctx, r, st)
	return nil, false, nil
}

// notifyAction queues the action request as a notification (its answer is ignored).
func (s *session) notifyAction(ctx context.Context, r *translate.Record, rp translate.RecordingParams) {
	params, err := translate.ActionParams(s.app.Dialect, s.paramsFor(r), rp)
	if err != nil {
		s.log.Error("rendering action", "err", err)
		return
	}
	s.enqueue(ctx, "action", r.Action.Target, params)
}

// fileCallbacks queues callbackUrl, the transcription and (CarrierX) the status callback for a
// stored file. CarrierX's callbackUrl waits for the transcript when transcribe is on
// (record.md §4, Open): the transcription job sends it.
func (s *session) fileCallbacks(ctx context.Context, r *translate.Record, st stored) {
	rp := st.params
	if isExternal(r) && s.e.External != nil {
		// The upload job sends callbackUrl and the status once the object is there, unless
		// the transcription holds callbackUrl: then only a final failure (upload.go).
		hold := !r.Transcription.Enabled
		s.upload(ctx, r, st, hold)
		if hold {
			return
		}
	}
	if s.app.Dialect == translate.FlexML && r.Transcription.Enabled {
		// The status callback does not wait for the transcript (callbacks.md §2.6): it takes
		// its place in the call's order before the held-back callbacks, so it always goes first.
		s.statusCallback(ctx, r, rp)
		s.transcribe(ctx, r, st)
		return
	}
	if r.FileCallback != nil {
		params, err := translate.FileCallbackParams(s.app.Dialect, s.paramsFor(r), rp)
		if err != nil {
			s.log.Error("rendering callbackUrl", "err", err)
		} else {
			s.enqueue(ctx, "callback", r.FileCallback, params)
		}
	}
	if r.Transcription.Enabled {
		s.transcribe(ctx, r, st)
	}
	s.statusCallback(ctx, r, rp)
}

// statusCallback queues CarrierX's recordingStatusCallback when the status is subscribed.
func (s *session) statusCallback(ctx context.Context, r *translate.Record, rp translate.RecordingParams) {
	if !r.StatusCallback.Wants(rp.Status) {
		return
	}
	s.enqueue(ctx, "status", &r.StatusCallback.Target, translate.StatusCallbackParams(s.paramsFor(r), rp))
}

// paramsFor is the call as the requests of a Record report it: RequestUrl is the document that
// held the Record, which caused them, even when a background recording ends after the call
// has moved on to other documents (callbacks.md §2.1).
func (s *session) paramsFor(r *translate.Record) translate.CallParams {
	p := s.callParams()
	if r.DocumentURL != nil {
		p.DocumentURL = documentURL(r.DocumentURL)
	}
	return p
}

// recordFailed handles the "failed" outcome: CarrierX runs errorAction (else the next verb);
// Plivo logs and goes on (record.md §4).
func (s *session) recordFailed(ctx context.Context, log *slog.Logger, r *translate.Record, cause error) (*translate.Program, bool, error) {
	log.Error("recording failed", "err", cause)
	if errors.Is(context.Cause(ctx), ErrHangup) {
		// The PBX ended the call with the failure (FreeSWITCH's record application hangs up
		// when it cannot open its file): the callbacks report the call as ended.
		s.markEnded()
	}
	s.e.observe().RecordingDone(RecordingFailed)
	s.traceRecording(stored{}, cause)
	rp := translate.RecordingParams{Status: translate.StatusFailed}
	if s.app.Dialect != translate.FlexML {
		return nil, false, nil
	}
	s.statusCallback(ctx, r, rp)
	if r.ErrorAction == nil || context.Cause(ctx) != nil {
		return nil, false, nil
	}
	next, err := s.fetch(ctx, "errorAction", r.ErrorAction, rp, false)
	if err != nil {
		return nil, false, err
	}
	return next, next == nil, nil
}

// actionAtStart sends Plivo's background-mode action with -1 values as soon as the recording
// starts (record.md §2.1 rule 6). RecordUrl and RecordingID already hold their final values.
func (s *session) actionAtStart(ctx context.Context, r *translate.Record, name string) (*translate.Program, error) {
	if !r.ActionAtStart || r.Action.Target == nil {
		return nil, nil
	}
	a := announcement{sid: s.e.NewID()}
	a.url = s.e.Links.FileURL(a.sid, r.Format.Extension())
	s.announced[name] = a
	rp := translate.RecordingParams{ID: a.sid, URL: a.url, Status: translate.StatusCompleted, Pending: true}
	if r.Action.Disposition == translate.DispositionExecute {
		return s.fetch(ctx, "action", r.Action.Target, rp, true)
	}
	s.notifyAction(ctx, r, rp)
	return nil, nil
}

// background waits for a background recording to end, off the call's goroutine, then stores
// it and sends its callbacks. The engine's Wait and the call's end both wait for it.
func (s *session) background(ctx context.Context, log *slog.Logger, r *translate.Record, name string, rec Recording) {
	s.bgWG.Add(1)
	s.e.bg.Add(1)
	a := s.announced[name]
	if a.sid != "" {
		s.addLive(ctx, r, name, a) // the stored file must carry the announced SID and URL
	}
	go func() {
		defer s.e.bg.Done()
		defer s.bgWG.Done()
		<-rec.Done()
		if context.Cause(ctx) != nil {
			// It ended with the call (the call's context is cancelled before the recording
			// sees its end): its callbacks, failed ones included, report the call as ended
			// (CallStatus completed; Plivo's HangupCause and Duration), whether or not the
			// call's own goroutine has got there yet.
			s.markEnded()
		}
		res, err := rec.Result()
		bctx := context.WithoutCancel(ctx)
		if err != nil {
			s.dropLive(bctx, name)
			log.Error("background recording failed", "name", name, "err", err)
			s.e.observe().RecordingDone(RecordingFailed)
			s.traceRecording(stored{}, err)
			if s.app.Dialect == translate.FlexML {
				s.statusCallback(bctx, r, translate.RecordingParams{Status: translate.StatusFailed})
			}
			return
		}
		st, err := s.storeRecordingAs(bctx, r, res, a)
		s.e.observe().RecordingDone(storedOutcome(st))
		s.traceRecording(st, err)
		if err != nil {
			log.Error("storing background recording", "name", name, "err", err)
			if s.app.Dialect == translate.FlexML {
				s.statusCallback(bctx, r, translate.RecordingParams{Status: translate.StatusFailed})
			}
			return
		}
		s.dropLive(bctx, name)
		log.Info("background recording stored", "name", name, "sid", st.params.ID, "duration", st.params.Duration)
		if s.app.Dialect == translate.FlexML {
			if st.empty {
				s.statusCallback(bctx, r, st.params)
				return
			}
			if r.Action.Target != nil {
				s.notifyAction(bctx, r, st.params) // session-mode action is a notification
			}
		}
		s.fileCallbacks(bctx, r, st)
	}()
}

// storedOutcome is the Observer's outcome of storeRecording's answer, err nil or not: a
// zero stored is a failure.
func storedOutcome(st stored) string {
	switch {
	case st.empty:
		return RecordingEmpty
	case st.params.ID == "":
		return RecordingFailed
	}
	return RecordingStored
}

// storeRecording post-processes a capture and stores it.
func (s *session) storeRecording(ctx context.Context, r *translate.Record, res RecordResult) (stored, error) {
	return s.storeRecordingAs(ctx, r, res, announcement{})
}

// announcement is what Plivo's background-mode action at start told the application: the
// RecordingID and the RecordUrl that the stored file and its callbackUrl must carry.
type announcement struct{ sid, url string }

// storeRecordingAs is storeRecording with a SID and URL chosen in advance (Plivo background
// modes announce them at start). A zero announcement picks a new SID.
func (s *session) storeRecordingAs(ctx context.Context, r *translate.Record, res RecordResult, a announcement) (stored, error) {
	pcm, err := decodeCapture(res.WAV)
	if err != nil {
		return stored{}, fmt.Errorf("%w: decoding the capture: %w", ErrStorage, err)
	}
	switch r.Trim {
	case translate.TrimEdges:
		pcm = trimEdges(pcm, s.e.Config.Recording.TrimThreshold, s.e.Config.Recording.TrimMargin.D())
	case translate.TrimTailOnSilence:
		if res.Reason == EndSilence {
			pcm = trimTail(pcm, s.e.Config.Recording.TrimThreshold, 200*time.Millisecond)
		}
	}
	dur := pcmDuration(pcm)
	rp := translate.RecordingParams{Status: translate.StatusCompleted, Duration: dur, Start: res.Started, End: res.Ended, Digits: string(keyString(res.Key))}
	if dur == 0 {
		rp.Status = translate.StatusAbsent
		if s.app.Dialect == translate.FlexML {
			// CarrierX: an empty recording is not stored and has no SID (record.md §4).
			return stored{params: rp, empty: true}, nil
		}
	}
	if err := s.checkStorage(ctx, r); err != nil {
		return stored{}, err
	}
	f, err := s.writeFile(ctx, r, pcm, a.sid)
	if err != nil {
		return stored{}, err
	}
	ext := ""
	if s.app.Dialect == translate.Plivo {
		ext = f.Format
	}
	rp.ID, rp.URL = f.SID, s.e.Links.FileURL(f.SID, ext)
	if u := s.externalURL(ctx, r, f); u != "" {
		rp.URL = u // the object it becomes (upload.go)
	}
	if a.url != "" && a.sid == f.SID {
		// The link announced at start: the same RecordUrl string, not a re-signed one.
		rp.URL = a.url
	}
	if dur == 0 {
		// Plivo: an empty recording is a normal end with zero durations (record.md §4, Open).
		rp.Status = translate.StatusCompleted
	}
	return stored{params: rp, empty: dur == 0, file: f}, nil
}

// writeFile encodes the audio in its format and writes it as a new file, or into the
// existing file of fileSid (append or overwrite). Appending keeps the existing file's format.
func (s *session) writeFile(ctx context.Context, r *translate.Record, pcm pcmAudio, sid string) (File, error) {
	now := s.e.Now()
	st := r.Storage
	var f File
	quota := int64(0)
	if st.FileID != "" {
		var old File
		err := s.e.retryStore(ctx, s.log, "get file", func(ctx context.Context, _ bool) error {
			var err error
			old, err = s.e.Store.GetFile(ctx, st.FileID)
			return err
		})
		if err != nil {
			return File{}, fmt.Errorf("%w: fileSid %q: %w", ErrStorage, st.FileID, err)
		}
		f = old
		if st.WriteMode == translate.WriteAppend {
			prev, err := s.readFile(ctx, old)
			if err != nil {
				return File{}, fmt.Errorf("%w: appending to %s: %w", ErrStorage, old.SID, err)
			}
			if pcm, err = concatPCM(prev, pcm); err != nil {
				return File{}, fmt.Errorf("%w: appending to %s: %w", ErrStorage, old.SID, err)
			}
		} else {
			f.Format = formatName(r.Format)
		}
	} else {
		if sid == "" {
			sid = s.e.NewID()
		}
		f = File{SID: sid, ContainerSID: s.containerFor(r), Format: formatName(r.Format), Created: now, CallID: s.id}
		f.Name = f.SID + "." + f.Format
	}
	if c, ok := s.e.Config.Container(f.ContainerSID); ok {
		quota = c.QuotaBytes
	}
	data, mime, err := encodePCM(pcm, f.Format)
	if err != nil {
		return File{}, fmt.Errorf("%w: encoding %s: %w", ErrStorage, f.Format, err)
	}
	oldKey := f.BlobKey
	f.BlobKey = f.ContainerSID + "/" + f.SID + "." + f.Format
	f.MIMEType, f.Bytes, f.Duration, f.Modified = mime, int64(len(data)), pcmDuration(pcm), now
	meta := st.Metadata
	if meta.IntegerKey1 != nil || meta.IntegerKey2 != nil || meta.StringKey1 != nil || meta.StringKey2 != nil || st.FileID == "" {
		f.IntegerKey1, f.IntegerKey2, f.StringKey1, f.StringKey2 = meta.IntegerKey1, meta.IntegerKey2, meta.StringKey1, meta.StringKey2
	}
	if lc := st.Lifecycle; lc != nil {
		f.Lifecycle, f.LifecycleTTL = lc.Action, lc.TTL
		f.ExpiresAt = time.Time{}
		if lc.Action == translate.LifecycleDelete && lc.TTL > 0 {
			f.ExpiresAt = now.Add(lc.TTL)
		}
	}
	if _, err := s.e.Blob.Put(ctx, f.BlobKey, bytes.NewReader(data), mime); err != nil {
		return File{}, fmt.Errorf("%w: writing %s: %w", ErrStorage, f.BlobKey, err)
	}
	// A store outage must not lose a recording that was made: the write is retried; a SID
	// conflict after an attempt that may have landed is that attempt (SIDs are new UUIDs).
	err = s.e.retryStore(context.WithoutCancel(ctx), s.log, "write file", func(ctx context.Context, retried bool) error {
		if st.FileID != "" {
			return s.e.Store.UpdateFile(ctx, f, quota)
		}
		err := s.e.Store.CreateFile(ctx, f, quota)
		if retried && errors.Is(err, ErrConflict) {
			return nil
		}
		return err
	})
	if err != nil {
		if oldKey != f.BlobKey {
			_ = s.e.Blob.Delete(ctx, f.BlobKey)
		}
		return File{}, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if oldKey != "" && oldKey != f.BlobKey {
		_ = s.e.Blob.Delete(ctx, oldKey)
	}
	return f, nil
}

// readFile decodes a stored file's audio.
func (s *session) readFile(ctx context.Context, f File) (pcmAudio, error) {
	rc, err := s.e.Blob.Get(ctx, f.BlobKey, 0, -1)
	if err != nil {
		return pcmAudio{}, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return pcmAudio{}, err
	}
	return decodeFile(data, f.Format)
}

func formatName(f translate.AudioFormat) string { return f.Extension() }
