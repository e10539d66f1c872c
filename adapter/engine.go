package adapter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/translate"
)

// Deps are the engine's collaborators, wired by cmd/pbxbridge.
type Deps struct {
	Config *config.Config
	Store  Store
	Outbox Outbox
	Blob   Blob
	Sender Sender
	Media  Media
	Links  Links
	Log    *slog.Logger
	// Transcriber turns recordings into text (transcribe/); nil = none configured, and every
	// transcription is reported as failed through the dialect's callback.
	Transcriber Transcriber
	// Jobs holds transcriptions durably until RunJobs's workers finish them (the stores
	// implement it). nil runs them in this process only: a restart loses them.
	Jobs Jobs
	// External opens the external stores Records name in their attributes (blob/external);
	// nil refuses such Records (their recording fails with ErrExternalDisabled).
	External ExternalStores
	// Seal encrypts the userinfo of callback URLs before they are written to the outbox
	// (seal.Box.Seal). nil keeps no credentials: a URL's userinfo is then dropped, with a
	// warning, rather than stored in clear.
	Seal func(plain []byte) []byte
	// Open reverses Seal (seal.Box.Open). Reconcile needs it to send the callbacks of a
	// recording another instance started to URLs with credentials; nil drops them, with a
	// warning.
	Open func(sealed []byte) ([]byte, error)
	// Wake, when set, is called after callbacks are queued so that delivery starts at once
	// instead of at the next poll (webhook.Worker.Wake).
	Wake func()
	// Observe, when set, is told of calls, verbs, recordings and store retries (metrics).
	Observe Observer
	// Trace, when set, is told each call's documents, verbs and recordings in detail
	// (`pbxbridge call`).
	Trace Tracer
	// Now and NewID are injectable for tests; defaults are time.Now and random UUIDs.
	Now   func() time.Time
	NewID func() string
}

// Engine runs applications on calls. Handle is the PBX's per-call handler; one goroutine per
// call runs it. The Engine itself holds no per-call state outside that goroutine except the
// WaitGroup of background recordings that must finish before shutdown.
type Engine struct {
	Deps
	owner string // outbox lease owner for requests the call goroutines send themselves
	bg    sync.WaitGroup
	// running maps the ids of the calls this process runs (Handle), which Reconcile leaves
	// alone, to the cancel function of each call's context (StopCalls).
	running sync.Map
	active  calls // how many calls Handle runs (WaitCalls)
	// jobWake nudges RunJobs when a job is added or a worker is free (buffered, 1).
	jobWake chan struct{}
}

// New checks the dependencies and returns an engine.
func New(d Deps) (*Engine, error) {
	switch {
	case d.Config == nil:
		return nil, errors.New("adapter: Deps.Config is nil")
	case d.Store == nil || d.Outbox == nil || d.Blob == nil:
		return nil, errors.New("adapter: Deps.Store, Outbox and Blob are required")
	case d.Sender == nil || d.Media == nil || d.Links == nil:
		return nil, errors.New("adapter: Deps.Sender, Media and Links are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.NewID == nil {
		d.NewID = NewUUID
	}
	return &Engine{Deps: d, owner: "engine-" + d.NewID(), jobWake: make(chan struct{}, 1)}, nil
}

// Wait blocks until every background recording has been processed and its callbacks are in
// the outbox, or ctx is done. Call it after the PBX has stopped, before closing the store.
func (e *Engine) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { e.bg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// NewUUID returns a random RFC 4122 version 4 UUID.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// session is the state of one call, owned by its goroutine.
type session struct {
	e    *Engine
	call Call
	app  *config.App
	id   string // CallSid / CallUUID
	log  *slog.Logger
	// pmu guards params, docURL and ended against background recordings, whose goroutines
	// render callbacks from them (callParams, markEnded). The call's goroutine is the only
	// other writer; it takes pmu to write and reads without it.
	pmu    sync.Mutex
	params translate.CallParams
	docURL string       // URL of the document being run, for RequestUrl
	seqN   atomic.Int64 // outbox order within the call (background recordings add too)
	answer bool         // the call has been answered
	// hungUp: a verb (Hangup, Reject) has hung the call up; the engine must not hang it up
	// again with another cause. Only the call's goroutine touches it.
	hungUp bool
	// hangupSource is who ended the call, set with the cause by markEnded (under pmu).
	hangupSource HangupSource
	bgWG         sync.WaitGroup
	// announced maps a background recording's name to the SID and URL its start announced
	// (Plivo's action at start): the file and its callbacks must use those very values.
	announced map[string]announcement
	// armed is a startOnDialAnswer Record waiting for the next Dial (dial.go).
	armed   *armedDial
	ended   time.Time
	started time.Time
	flowErr string // why the call flow failed, for the trace; only the call's goroutine
}

// Handle runs one call to its end. It is the handler given to PBX.Serve.
func (e *Engine) Handle(ctx context.Context, c Call) {
	e.active.add(1)
	defer e.active.add(-1)
	info := c.Info()
	named := ""
	if len(info.AppArgs) > 0 {
		named = info.AppArgs[0]
	}
	app, ok := e.Config.Route(named, info.To)
	log := e.Log.With("pbx", info.PBX, "channel", info.ChannelID)
	if !ok {
		log.Error("no application for call: configure apps, or name one in the Stasis arguments", "to", info.To, "named", named)
		_ = c.Hangup(context.WithoutCancel(ctx), "CALL_REJECTED")
		return
	}
	s := &session{e: e, call: c, app: app, answer: info.Answered, started: e.Now(), announced: map[string]announcement{}}
	s.id = e.NewID()
	if app.Dialect == translate.FlexML {
		s.id = strings.ReplaceAll(s.id, "-", "") // CarrierX CallSids are 32 hex characters
	}
	s.log = log.With("call_id", s.id, "app", app.Name)
	if l, ok := c.(Labeler); ok {
		l.LabelLog(slog.String("call_id", s.id), slog.String("app", app.Name))
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	e.running.Store(s.id, stop)
	defer e.running.Delete(s.id)
	s.params = translate.CallParams{
		CallID:        s.id,
		From:          info.From,
		To:            info.To,
		OriginalFrom:  info.From,
		OriginalTo:    info.To,
		CallerName:    info.CallerName,
		ForwardedFrom: info.Forwarded,
		Direction:     orDefault(info.Direction, "inbound"),
		Status:        translate.CallInProgress,
	}
	if !info.Answered {
		s.params.Status = translate.CallRinging
	}
	s.log.Info("call started", "from", info.From, "to", info.To)
	e.observe().CallStarted(info.PBX, app.Dialect)
	defer e.observe().CallEnded(info.PBX, app.Dialect)
	s.saveState(ctx, "", 0)
	s.trace(TraceEvent{Kind: TraceCallStarted, From: info.From, To: info.To})

	s.run(ctx)

	// The call is over (hung up by either side). Background recordings finish on their own
	// once the channel is gone; their callbacks must still go out, so wait for them. They
	// report the call as ended, as the status callback does.
	s.markEnded()
	s.bgWG.Wait()
	s.sendStatus(context.WithoutCancel(ctx))
	err := e.retryStore(context.WithoutCancel(ctx), s.log, "delete call", func(ctx context.Context, retried bool) error {
		err := e.Store.DeleteCall(ctx, s.id)
		if retried && errors.Is(err, ErrNotFound) {
			return nil // an earlier attempt deleted it
		}
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.log.Warn("removing call state", "err", err)
	}
	p := s.callParams()
	s.pmu.Lock()
	src := s.hangupSource
	s.pmu.Unlock()
	s.log.Info("call ended", "duration", p.Duration.Round(time.Millisecond), "hangup_cause", p.HangupCause, "hangup_source", src)
	s.trace(TraceEvent{Kind: TraceCallEnded, Duration: s.callParams().Duration, Err: s.flowErr})
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// run fetches the first document and executes documents until the call ends.
func (s *session) run(ctx context.Context) {
	prog, err := s.fetchFirst(ctx)
	for err == nil && prog != nil {
		prog, err = s.execute(ctx, prog)
	}
	if errors.Is(err, ErrHangup) || context.Cause(ctx) != nil && errors.Is(context.Cause(ctx), ErrHangup) {
		return
	}
	if err == nil && s.hungUp {
		// The document hung up itself: a second hangup, racing the first before the PBX has
		// torn the call down, would replace its cause (a busy Reject's 486 became a 603).
		return
	}
	switch {
	case errors.Is(err, ErrShutdown) || errors.Is(context.Cause(ctx), ErrShutdown):
		s.log.Warn("drain timeout: the call is hung up", "err", err)
	case err != nil:
		s.log.Error("call flow failed; hanging up", "err", err)
		s.flowErr = err.Error()
	}
	// A document that runs out of verbs ends the call, in both dialects: pbxbridge hangs up,
	// with normal clearing, whatever the PBX later reports.
	s.setHangupCause("NORMAL_CLEARING")
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if herr := s.call.Hangup(hctx, "NORMAL_CLEARING"); herr != nil && !errors.Is(herr, ErrHangup) {
		s.log.Warn("hangup", "err", herr)
	}
}

// execute runs the verbs of prog in order. It returns the next program when a verb replaces
// the document (Redirect, Record action, errorAction), nil when the document ends or the call
// is over.
func (s *session) execute(ctx context.Context, prog *translate.Program) (*translate.Program, error) {
	if prog.DocumentURL != nil {
		s.pmu.Lock()
		s.docURL = documentURL(prog.DocumentURL)
		s.pmu.Unlock()
	}
	for i, v := range prog.Verbs {
		if err := context.Cause(ctx); err != nil {
			return nil, err
		}
		s.saveState(ctx, v.Element(), i)
		vlog := s.log.With("verb", v.Element(), "pos", v.Position().String())
		vlog.Debug("verb")
		s.trace(TraceEvent{Kind: TraceVerbStarted, Verb: v.Element(), Pos: v.Position().String(), Index: i})
		next, done, err := s.verb(ctx, vlog, prog, v)
		s.e.observe().VerbDone(v.Element(), verbOutcome(err))
		s.traceVerb(v, i, err)
		if err != nil {
			if errors.Is(err, ErrHangup) {
				return nil, err
			}
			return nil, fmt.Errorf("%s at %s: %w", v.Element(), v.Position(), err)
		}
		if done || next != nil {
			return next, nil
		}
	}
	return nil, nil
}

// saveState records where the call is, for reconciliation after a restart or reconnect. It
// rides through a store outage (retryStore): read and compare-and-set are retried together,
// and a conflict after an attempt that may have landed is our own write, so it reads again.
func (s *session) saveState(ctx context.Context, verb string, idx int) {
	ctx = context.WithoutCancel(ctx)
	err := s.e.retryStore(ctx, s.log, "save call state", func(ctx context.Context, retried bool) error {
		st, err := s.e.Store.GetCall(ctx, s.id)
		if errors.Is(err, ErrNotFound) {
			info := s.call.Info()
			st = CallState{ID: s.id, PBX: info.PBX, ChannelID: info.ChannelID, App: s.app.Name,
				Dialect: s.app.Dialect, Started: s.started, Status: "in-progress",
				From: s.params.From, To: s.params.To, CallerName: s.params.CallerName, Direction: s.params.Direction}
		} else if err != nil {
			return fmt.Errorf("reading call state: %w", err)
		}
		st.DocumentURL, st.Verb, st.VerbName, st.Updated = s.docURL, idx, verb, s.e.Now()
		_, err = s.e.Store.PutCall(ctx, st)
		if retried && errors.Is(err, ErrConflict) {
			// The call has one writer, this goroutine: the version moved under an earlier
			// attempt of ours that landed. Mark it retryable so that the loop reads again.
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return err
	})
	if err != nil {
		s.log.Warn("saving call state", "err", err)
	}
}

// verbOutcome is the Observer's outcome of a verb's error.
func verbOutcome(err error) string {
	switch {
	case err == nil:
		return VerbOK
	case errors.Is(err, ErrHangup):
		return VerbHangup
	}
	return VerbError
}

func (s *session) ensureAnswered(ctx context.Context) error {
	if s.answer {
		return nil
	}
	if err := s.call.Answer(ctx); err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	s.answer = true
	s.pmu.Lock()
	s.params.Status = translate.CallInProgress
	s.pmu.Unlock()
	return nil
}

// markEnded records that the call is over: from then on every request reports it completed,
// with its hangup cause and its length, as Plivo's parameters "after hangup" and CarrierX's
// CallStatus say (callbacks.md §2.1, §3.1). The cause is the one pbxbridge hung up with when
// it ended the call (a Hangup or Reject verb, the end of the document: setHangupCause), else
// the one the PBX reports (HangupReporter: the caller's BYE, the PBX's own failure), else
// NORMAL_CLEARING. The first call wins; it is safe from any goroutine (a background recording
// may notice the hangup before the call's goroutine does).
func (s *session) markEnded() {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if !s.ended.IsZero() {
		return
	}
	s.ended = s.e.Now()
	s.params.Status = translate.CallCompleted
	s.params.HangupCause, s.hangupSource = endCause(s.params.HangupCause, s.call)
	s.params.Duration = s.ended.Sub(s.started)
	s.params.BillDuration = s.params.Duration
}

// endCause is the cause and source of a call's end: ours (the cause pbxbridge hung up with),
// else what the PBX reports, else NORMAL_CLEARING from an unknown source.
func endCause(ours string, c Call) (string, HangupSource) {
	if ours != "" {
		return ours, HangupByBridge
	}
	if r, ok := c.(HangupReporter); ok {
		if info, ok := r.HangupReport(); ok && info.Cause != "" {
			return info.Cause, info.Source
		}
	}
	return "NORMAL_CLEARING", ""
}
