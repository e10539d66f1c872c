package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sync"
	"time"

	"github.com/pbxbridge/pbxbridge/audio"
	"github.com/pbxbridge/pbxbridge/translate"
)

// This file runs Record's transcription (record.md §1.2, §2.2, §4; callbacks.md §2.5–2.7,
// §3.5) as a durable job, outside the call's goroutine: the call never waits for it. The
// job carries everything its callbacks need (their outbox entries are built, and their URLs'
// credentials sealed, when the job is made), so that any instance can finish it after this
// one has gone.

// JobTranscription is the Kind of transcription jobs.
const JobTranscription = "transcription"

// Plivo's transcription limits (record.md §2.2), enforced whatever the provider.
const (
	plivoMinTranscribe   = 500 * time.Millisecond // 500 ms or less: too short (Open)
	plivoMaxTranscribe   = 4 * time.Hour          // 4 hours or more: too long
	plivoMaxTranscribeSz = 2 << 30                // 2 GB or more: too large
)

// errTranscribeTimeout is the cause of a transcription's deadline.
var errTranscribeTimeout = errors.New("transcription timeout ran out")

// errLostLease cancels a job whose lease another worker has taken.
var errLostLease = errors.New("job lease lost")

// transcriptionJob is the payload of a transcription Job.
type transcriptionJob struct {
	App              string                    `json:"app"`
	Dialect          translate.Dialect         `json:"dialect"`
	Call             translate.CallParams      `json:"call"`
	Recording        translate.RecordingParams `json:"recording"` // Transcription.ID set
	BlobKey          string                    `json:"blob_key"`
	Format           string                    `json:"format"`
	Bytes            int64                     `json:"bytes"`
	Language         string                    `json:"language"`
	LowConfWord      string                    `json:"low_conf_word,omitempty"`
	LowConfThreshold float64                   `json:"low_conf_threshold,omitempty"`
	// FileCallback is CarrierX's callbackUrl, held back until the transcript is finished
	// (record.md §4, Open); Callback is transcribeCallback / transcriptionUrl. They are
	// outbox entries without their parameters; Auth is already sealed.
	FileCallback *Entry `json:"file_callback,omitempty"`
	Callback     *Entry `json:"callback,omitempty"`
}

// transcribe queues the transcription of a stored recording. The callbackUrl of a CarrierX
// Record goes with it (held back); Plivo's has already been queued.
func (s *session) transcribe(ctx context.Context, r *translate.Record, st stored) {
	t := r.Transcription
	now := s.e.Now()
	tj := transcriptionJob{
		App: s.app.Name, Dialect: s.app.Dialect, Call: s.paramsFor(r), Recording: st.params,
		BlobKey: st.file.BlobKey, Format: st.file.Format, Bytes: st.file.Bytes,
		Language: orDefault(t.Language, "en"),
	}
	tj.Recording.Transcription = translate.TranscriptionParams{ID: s.e.NewID()}
	if s.app.Dialect == translate.FlexML {
		tj.LowConfWord, tj.LowConfThreshold = t.LowConfWord, t.LowConfThreshold
		if r.FileCallback != nil {
			e := s.entry("callback", r.FileCallback, r.FileCallback.URL, nil, "")
			tj.FileCallback = &e
		}
	}
	if t.Callback != nil {
		e := s.entry("transcription", t.Callback, t.Callback.URL, nil, "")
		tj.Callback = &e
	}
	if tj.FileCallback == nil && tj.Callback == nil {
		s.log.Info("transcription not run: no callback would carry it", "recording", st.params.ID)
		return
	}
	payload, err := json.Marshal(tj)
	if err != nil {
		s.log.Error("transcription job could not be encoded and is lost", "err", err)
		return
	}
	j := Job{ID: s.e.NewID(), Kind: JobTranscription, CallID: s.id, Payload: payload, Deadline: now.Add(t.Timeout), Created: now}
	s.log.Info("transcription queued", "job", j.ID, "recording", st.params.ID, "deadline", t.Timeout)
	s.e.addJob(ctx, j)
}

// addJob stores a job for RunJobs, or runs it in this process when there is no job store (or
// it failed: running without durability beats losing the job).
func (e *Engine) addJob(ctx context.Context, j Job) {
	if e.Jobs != nil {
		err := e.Jobs.AddJob(context.WithoutCancel(ctx), j)
		if err == nil {
			e.wakeJobs()
			return
		}
		e.Log.Error("job could not be stored; running it in this process only", "call_id", j.CallID, "job", j.ID, "err", err)
	}
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		if err := e.runJob(context.WithoutCancel(ctx), j); err != nil {
			e.Log.Error("job failed", "call_id", j.CallID, "job", j.ID, "err", err)
		}
	}()
}

func (e *Engine) wakeJobs() {
	select {
	case e.jobWake <- struct{}{}:
	default:
	}
}

// RunJobs claims jobs from Deps.Jobs and runs them, at most Config.Transcription.Workers at
// once, until ctx ends; then it waits for the running ones to stop (they are cancelled with
// ctx and keep their jobs for the next claim). cmd/pbxbridge runs it once per process.
// Without Deps.Jobs it just waits for ctx.
func (e *Engine) RunJobs(ctx context.Context) error {
	if e.Jobs == nil {
		<-ctx.Done()
		return nil
	}
	tc := e.Config.Transcription
	workers, lease := max(tc.Workers, 1), tc.Lease.D()
	if lease <= 0 {
		lease = 30 * time.Second
	}
	poll := tc.Poll.D()
	if poll <= 0 {
		poll = 2 * time.Second
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	busy := make(chan struct{}, workers)
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		if free := workers - len(busy); free > 0 {
			jobs, err := e.Jobs.ClaimJobs(ctx, e.owner, e.Now(), lease, free)
			if err != nil && ctx.Err() == nil {
				e.Log.Warn("claiming jobs", "err", err)
			}
			for _, j := range jobs {
				busy <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					e.work(ctx, j, lease)
					<-busy
					e.wakeJobs()
				}()
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-e.jobWake:
		}
	}
}

// work runs one claimed job, renewing its lease, and removes it once its callbacks are queued.
func (e *Engine) work(ctx context.Context, j Job, lease time.Duration) {
	log := e.Log.With("call_id", j.CallID, "job", j.ID, "kind", j.Kind, "attempt", j.Attempts)
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(lease / 3)
		defer t.Stop()
		for {
			select {
			case <-jctx.Done():
				return
			case <-t.C:
				if err := e.Jobs.ExtendJob(jctx, j.ID, e.owner, e.Now().Add(lease)); err != nil && jctx.Err() == nil {
					if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
						cancel(fmt.Errorf("%w: %w", errLostLease, err))
						return
					}
					log.Warn("renewing job lease", "err", err)
				}
			}
		}
	}()
	err := e.runJob(jctx, j)
	cancel(nil)
	<-renewed
	var later retryAfter
	if errors.As(err, &later) {
		// Hold the job for its backoff: no worker claims it before its lease ends. Done
		// after the renewals stop, which would otherwise shorten it (upload.go).
		if xerr := e.Jobs.ExtendJob(context.WithoutCancel(ctx), j.ID, e.owner, later.at); xerr != nil {
			log.Warn("holding the job for its backoff", "err", xerr)
		}
	}
	if err != nil {
		log.Warn("job not finished; it stays queued for the next claim", "err", err)
		return
	}
	if err := e.Jobs.FinishJob(context.WithoutCancel(ctx), j.ID, e.owner); err != nil {
		// Its callbacks are queued under stable ids: a worker that runs it again is
		// refused by the outbox and just removes it.
		log.Warn("removing finished job", "err", err)
	}
}

// runJob runs one job to its callbacks. An error means it was interrupted (shutdown, lost
// lease, the store failing) and must run again; an outcome the application must hear about,
// failure included, is a nil error.
func (e *Engine) runJob(ctx context.Context, j Job) error {
	switch j.Kind {
	case JobTranscription:
		return e.runTranscription(ctx, j)
	case JobUpload:
		return e.runUpload(ctx, j)
	}
	return fmt.Errorf("unknown job kind %q (written by a newer pbxbridge?)", j.Kind)
}

func (e *Engine) runTranscription(ctx context.Context, j Job) error {
	var tj transcriptionJob
	if err := json.Unmarshal(j.Payload, &tj); err != nil {
		// Not retryable: nothing can make it readable. Dropping it is all there is to do.
		e.Log.Error("transcription job is unreadable and is dropped", "call_id", j.CallID, "job", j.ID, "err", err)
		return nil
	}
	log := e.Log.With("call_id", j.CallID, "job", j.ID, "app", tj.App, "recording", tj.Recording.ID)
	tr := &tj.Recording.Transcription
	start := e.Now()
	dur := tj.Recording.Duration
	switch {
	case tj.Dialect == translate.Plivo && dur <= plivoMinTranscribe:
		tr.Status, tr.Failure = translate.TranscriptionFailed, translate.TranscriptionTooShort
	case tj.Dialect == translate.Plivo && dur >= plivoMaxTranscribe:
		tr.Status, tr.Failure = translate.TranscriptionFailed, translate.TranscriptionTooLong
	case tj.Dialect == translate.Plivo && tj.Bytes >= plivoMaxTranscribeSz:
		tr.Status, tr.Failure = translate.TranscriptionFailed, translate.TranscriptionTooLarge
	case !start.Before(j.Deadline):
		tr.Status = translate.TranscriptionTimeout
	case e.Transcriber == nil:
		log.Warn("transcription failed", "err", ErrNoTranscriber)
		tr.Status = translate.TranscriptionFailed
	default:
		text, err := e.transcribeFile(ctx, j, tj)
		switch {
		case err == nil:
			tr.Status, tr.Text = translate.TranscriptionCompleted, text
		case errors.Is(err, errTranscribeTimeout):
			tr.Status = translate.TranscriptionTimeout
		case context.Cause(ctx) != nil:
			return context.Cause(ctx) // shutdown or lost lease: run again
		default:
			log.Warn("transcription failed", "err", err)
			tr.Status = translate.TranscriptionFailed
		}
	}
	log.Info("transcription finished", "status", string(tr.Status), "failure", string(tr.Failure),
		"took", e.Now().Sub(start).Round(time.Millisecond), "chars", len(tr.Text))

	call := tj.Call
	if _, err := e.Store.GetCall(ctx, j.CallID); errors.Is(err, ErrNotFound) {
		call.Status = translate.CallCompleted // the call has ended since the recording
	}
	var entries []Entry
	if tj.FileCallback != nil {
		p, err := translate.FileCallbackParams(tj.Dialect, call, tj.Recording)
		if err != nil {
			return err
		}
		entries = append(entries, filled(*tj.FileCallback, p, e.Now()))
	}
	if tj.Callback != nil {
		p, err := translate.TranscriptionCallbackParams(tj.Dialect, call, tj.Recording)
		if err != nil {
			return err
		}
		entries = append(entries, filled(*tj.Callback, p, e.Now()))
	}
	if err := e.Outbox.Enqueue(context.WithoutCancel(ctx), entries...); err != nil {
		if !errors.Is(err, ErrConflict) {
			return fmt.Errorf("queueing transcription callbacks: %w", err)
		}
		log.Info("transcription callbacks were already queued by an earlier attempt")
	}
	if e.Wake != nil {
		e.Wake()
	}
	return nil
}

// transcribeFile reads the stored recording and transcribes it before the job's deadline. The
// text has CarrierX's low-confidence words replaced; Plivo has no such setting.
func (e *Engine) transcribeFile(ctx context.Context, j Job, tj transcriptionJob) (string, error) {
	rc, err := e.Blob.Get(ctx, tj.BlobKey, 0, -1)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", tj.BlobKey, err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", tj.BlobKey, err)
	}
	pcm, err := decodeFile(data, tj.Format)
	if err != nil {
		return "", fmt.Errorf("decoding %s: %w", tj.BlobKey, err)
	}
	wav, err := audio.EncodeWAV(pcm)
	if err != nil {
		return "", err
	}
	tctx, cancel := context.WithDeadlineCause(ctx, j.Deadline, errTranscribeTimeout)
	defer cancel()
	t, err := e.Transcriber.Transcribe(tctx, wav, tj.Language)
	if err != nil {
		if errors.Is(context.Cause(tctx), errTranscribeTimeout) {
			return "", errTranscribeTimeout
		}
		return "", err
	}
	if tj.Dialect == translate.FlexML {
		return t.Replaced(tj.LowConfThreshold, tj.LowConfWord), nil
	}
	return t.Replaced(0, ""), nil
}

// filled is an entry template with its parameters, due now.
func filled(e Entry, p translate.Params, now time.Time) Entry {
	u, err := url.Parse(e.URL)
	if err != nil {
		u = &url.URL{} // unreachable: the URL was made by url.URL.String
	}
	u, e.Body, e.BodyType = request(&translate.Target{URL: u, Method: e.Method}, p)
	e.URL = u.String()
	e.Created, e.NextAt = now, now
	return e
}
