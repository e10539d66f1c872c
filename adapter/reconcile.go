package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pbxbridge/pbxbridge/translate"
)

// Reconciler is what a PBX offers so that the instance taking it over can finish the calls
// another instance (or this one before a crash) was running: whether a channel is still up, to
// hang it up, and the recordings left on the PBX. Any goroutine may call it, while the PBX is
// served (its connection up).
type Reconciler interface {
	// ChannelLive reports whether the channel is still up on the PBX.
	ChannelLive(ctx context.Context, channelID string) (bool, error)
	// KillChannel hangs a channel up with a Q.850 cause; a channel already gone is not an error.
	KillChannel(ctx context.Context, channelID, cause string) error
	// RecordingWAV returns a finished recording by the name the engine gave it
	// (RecordSpec.Name), as RecordResult.WAV; an error wrapping ErrNotFound when there is none.
	RecordingWAV(ctx context.Context, name string) ([]byte, error)
	// DeleteRecording removes it from the PBX once it is stored.
	DeleteRecording(ctx context.Context, name string) error
}

// recoveredCause is the hangup cause reported for a call whose instance died: the PBX's own
// cause is not known.
const recoveredCause = "NORMAL_TEMPORARY_FAILURE"

// Reconcile finishes the calls the store holds for the PBX named pbx that no goroutine of this
// process runs: their instance died (or this process crashed), so nobody would ever store
// their recordings or send their callbacks. Call it when this instance starts serving the PBX
// (at start with the embedded store, on taking the PBX's lease with a shared one), once the PBX
// connection is up; calls that arrive meanwhile are this process's own and are left alone.
//
// For each such call: a channel still up on the PBX is hung up (adopting a call in the middle
// of a verb is not possible: its socket or Stasis session died with its instance), which ends
// its recordings; each recording the call had live is then taken from the PBX, stored, and
// gets the callbacks its Record asked for, as when a recording ends with the call (action as a
// notification, callbackUrl, recordingStatusCallback; a recording the PBX does not have gets
// recordingStatusCallback "failed"); then the call's status callback (completed, HangupCause
// NORMAL_TEMPORARY_FAILURE), and its state is removed. r may be nil (a PBX that cannot answer
// for its calls): the calls are then taken as gone and their recordings as lost.
//
// It returns how many calls it finished, and the errors of those it could not (the PBX or the
// store failing), which stay in the store: calling it again retries them.
func (e *Engine) Reconcile(ctx context.Context, pbx string, r Reconciler) (int, error) {
	calls, err := e.Store.ListCalls(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, st := range calls {
		if st.PBX != pbx {
			continue
		}
		if _, mine := e.running.Load(st.ID); mine {
			continue
		}
		// The list is a snapshot: a call of this process that ended since has left running,
		// and its state is gone by then (a call is in running before its state is first
		// written and leaves it after its state is deleted). Read the state again, after
		// running: finishing such a call would send its status callback a second time.
		cur, err := e.Store.GetCall(ctx, st.ID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return n, err
			}
			errs = append(errs, fmt.Errorf("call %s: %w", st.ID, err))
			continue
		}
		if err := e.finishCall(ctx, cur, r); err != nil {
			if ctx.Err() != nil {
				return n, err
			}
			errs = append(errs, fmt.Errorf("call %s: %w", st.ID, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

func (e *Engine) finishCall(ctx context.Context, st CallState, r Reconciler) error {
	app, ok := e.Config.App(st.App)
	if !ok {
		e.Log.Warn("call of an application no longer configured: state removed", "call_id", st.ID, "app", st.App)
		return e.deleteCall(ctx, e.Log.With("call_id", st.ID), st.ID)
	}
	s := &session{e: e, app: app, id: st.ID, docURL: st.DocumentURL, started: st.Started,
		announced: map[string]announcement{},
		log:       e.Log.With("call_id", st.ID, "app", st.App, "pbx", st.PBX, "channel", st.ChannelID)}
	s.params = translate.CallParams{
		CallID: st.ID, From: st.From, To: st.To, OriginalFrom: st.From, OriginalTo: st.To,
		CallerName: st.CallerName, Direction: orDefault(st.Direction, "inbound"),
		Status: translate.CallCompleted, HangupCause: recoveredCause,
		Duration: st.Updated.Sub(st.Started), BillDuration: st.Updated.Sub(st.Started),
	}
	s.seqN.Store(1 << 40) // after anything the dead process may have queued for the call
	if r != nil {
		live, err := r.ChannelLive(ctx, st.ChannelID)
		if err != nil {
			return err
		}
		if live {
			s.log.Warn("call still up on the PBX, but no instance runs it: hanging it up", "verb", st.VerbName)
			if err := r.KillChannel(ctx, st.ChannelID, recoveredCause); err != nil {
				return err
			}
			if err := waitGone(ctx, r, st.ChannelID); err != nil {
				return err
			}
			end := e.Now()
			s.params.Duration, s.params.BillDuration = end.Sub(st.Started), end.Sub(st.Started)
		}
	}
	s.log.Warn("finishing a call whose instance died", "verb", st.VerbName, "recordings", len(st.Live))
	for _, lr := range st.Live {
		if err := s.finishRecording(ctx, r, lr); err != nil {
			return err
		}
	}
	s.sendStatus(ctx)
	return e.deleteCall(ctx, s.log, st.ID)
}

// deleteCall removes a finished call's state, riding through a store outage like every write a
// call leaves behind (retryStore); a call already gone is not an error.
func (e *Engine) deleteCall(ctx context.Context, log *slog.Logger, id string) error {
	return e.retryStore(ctx, log, "delete call", func(ctx context.Context, _ bool) error {
		if err := e.Store.DeleteCall(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		return nil
	})
}

// waitGone waits until a channel that was hung up is gone: its recordings are then closed.
func waitGone(ctx context.Context, r Reconciler, channelID string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		live, err := r.ChannelLive(ctx, channelID)
		if err != nil || !live {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("channel %s still up 10s after it was hung up: %w", channelID, ErrPBXDown)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// finishRecording stores a recording that a dead instance had live and sends its callbacks.
// Only a failure of the store itself is returned: the recording's own fate goes to the
// application, as for a live call.
func (s *session) finishRecording(ctx context.Context, r Reconciler, lr LiveRecording) error {
	log := s.log.With("recording", lr.Name)
	rec, a, err := s.decodeLive(lr.Spec)
	if err != nil {
		log.Error("live recording cannot be read back: it is lost", "err", err)
		return nil
	}
	var wav []byte
	if r != nil {
		wav, err = r.RecordingWAV(ctx, lr.Name)
	} else {
		err = fmt.Errorf("no PBX to ask: %w", ErrNotFound)
	}
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		log.Error("recording of a call whose instance died is not on the PBX: lost", "err", err)
		if s.app.Dialect == translate.FlexML {
			s.statusCallback(ctx, rec, translate.RecordingParams{Status: translate.StatusFailed})
		}
		return nil
	}
	res := RecordResult{Reason: EndHangup, Started: lr.Started, Ended: s.e.Now(), WAV: wav}
	if rec.Mode == translate.ModeSession {
		res.Reason = EndSessionEnd
	}
	st, err := s.storeRecordingAs(ctx, rec, res, a)
	if err != nil {
		log.Error("storing the recording of a call whose instance died", "err", err)
		if s.app.Dialect == translate.FlexML {
			s.statusCallback(ctx, rec, translate.RecordingParams{Status: translate.StatusFailed})
		}
		return nil
	}
	log.Info("recording of a call whose instance died stored", "sid", st.params.ID, "duration", st.params.Duration)
	if s.app.Dialect == translate.FlexML && st.empty {
		s.statusCallback(ctx, rec, st.params)
	} else {
		// As when the recording ends with the call: a foreground Record's action (never
		// executed: the call is gone), a FlexML session's action; Plivo's background action
		// went at start.
		if rec.Action.Target != nil && (rec.Mode != translate.ModeSession || s.app.Dialect == translate.FlexML) {
			s.notifyAction(ctx, rec, st.params)
		}
		s.fileCallbacks(ctx, rec, st)
	}
	if err := r.DeleteRecording(ctx, lr.Name); err != nil {
		log.Warn("removing the stored recording from the PBX", "err", err)
	}
	return nil
}

// liveSpec is what a live recording's Record needs once its call is gone: how to store the
// file and where its callbacks go. Credentials in URLs are sealed; external storage
// credentials are not kept.
type liveSpec struct {
	Mode          translate.RecordMode        `json:"mode"`
	DocumentURL   string                      `json:"doc,omitempty"`
	Format        translate.AudioFormat       `json:"format"`
	Trim          translate.TrimMode          `json:"trim,omitempty"`
	Action        *liveTarget                 `json:"action,omitempty"`
	Disposition   translate.Disposition       `json:"disposition,omitempty"`
	ActionAtStart bool                        `json:"action_at_start,omitempty"`
	FileCallback  *liveTarget                 `json:"callback,omitempty"`
	Status        *liveTarget                 `json:"status,omitempty"`
	StatusEvents  []translate.RecordingStatus `json:"status_events,omitempty"`
	Storage       liveStorage                 `json:"storage"`
	AnnouncedSID  string                      `json:"announced_sid,omitempty"`
	AnnouncedURL  string                      `json:"announced_url,omitempty"`
}

type liveTarget struct {
	URL    string                `json:"url"`
	Auth   []byte                `json:"auth,omitempty"` // sealed userinfo
	Method translate.Method      `json:"method"`
	Retry  translate.RetryPolicy `json:"retry"`
}

type liveStorage struct {
	Kind        translate.StorageKind `json:"kind,omitempty"`
	ContainerID string                `json:"container,omitempty"`
	FileID      string                `json:"file,omitempty"`
	WriteMode   translate.WriteMode   `json:"write_mode,omitempty"`
	Invalid     string                `json:"invalid,omitempty"`
	Lifecycle   *translate.Lifecycle  `json:"lifecycle,omitempty"`
	Metadata    translate.Metadata    `json:"metadata"`
}

// addLive records a recording as live on the PBX, with what finishing it needs (upsert by
// name).
func (s *session) addLive(ctx context.Context, r *translate.Record, name string, a announcement) {
	spec, err := json.Marshal(s.encodeLive(r, a))
	if err != nil {
		s.log.Warn("encoding live recording", "err", err)
		return
	}
	started := s.e.Now()
	s.updateState(ctx, func(st *CallState) {
		st.Live = slices.DeleteFunc(st.Live, func(l LiveRecording) bool { return l.Name == name })
		st.Live = append(st.Live, LiveRecording{Name: name, Started: started, Spec: spec})
	})
}

// dropLive records that a recording is no longer live (stored, or failed).
func (s *session) dropLive(ctx context.Context, name string) {
	s.updateState(ctx, func(st *CallState) {
		st.Live = slices.DeleteFunc(st.Live, func(l LiveRecording) bool { return l.Name == name })
	})
}

func (s *session) encodeLive(r *translate.Record, a announcement) liveSpec {
	ls := liveSpec{Mode: r.Mode, DocumentURL: documentURL(r.DocumentURL), Format: r.Format, Trim: r.Trim,
		Disposition: r.Action.Disposition, ActionAtStart: r.ActionAtStart,
		Action: s.liveTarget(r.Action.Target), FileCallback: s.liveTarget(r.FileCallback),
		AnnouncedSID: a.sid, AnnouncedURL: a.url,
		Storage: liveStorage{Kind: r.Storage.Kind, ContainerID: r.Storage.ContainerID, FileID: r.Storage.FileID,
			WriteMode: r.Storage.WriteMode, Invalid: r.Storage.Invalid, Lifecycle: r.Storage.Lifecycle,
			Metadata: r.Storage.Metadata},
	}
	if r.Storage.Credentials != nil && ls.Storage.Invalid == "" {
		ls.Storage.Invalid = "external storage credentials are not kept for recovery"
	}
	if r.StatusCallback != nil {
		ls.Status = s.liveTarget(&r.StatusCallback.Target)
		ls.StatusEvents = r.StatusCallback.Events
	}
	return ls
}

func (s *session) liveTarget(t *translate.Target) *liveTarget {
	if t == nil || t.URL == nil {
		return nil
	}
	lt := &liveTarget{Method: t.Method, Retry: t.Retry}
	u := *t.URL
	if u.User != nil {
		if s.e.Seal != nil {
			lt.Auth = s.e.Seal([]byte(u.User.String()))
		}
		u.User = nil
	}
	lt.URL = u.String()
	return lt
}

func (s *session) decodeLive(b []byte) (*translate.Record, announcement, error) {
	var ls liveSpec
	if err := json.Unmarshal(b, &ls); err != nil {
		return nil, announcement{}, err
	}
	r := &translate.Record{Dialect: s.app.Dialect, Mode: ls.Mode, Format: ls.Format, Trim: ls.Trim,
		ActionAtStart: ls.ActionAtStart,
		Storage: translate.Storage{Kind: ls.Storage.Kind, ContainerID: ls.Storage.ContainerID, FileID: ls.Storage.FileID,
			WriteMode: ls.Storage.WriteMode, Invalid: ls.Storage.Invalid, Lifecycle: ls.Storage.Lifecycle,
			Metadata: ls.Storage.Metadata}}
	if ls.DocumentURL != "" {
		r.DocumentURL, _ = url.Parse(ls.DocumentURL)
	}
	var err error
	if r.Action.Target, err = s.target(ls.Action); err != nil {
		return nil, announcement{}, err
	}
	r.Action.Disposition = ls.Disposition
	if r.FileCallback, err = s.target(ls.FileCallback); err != nil {
		return nil, announcement{}, err
	}
	if ls.Status != nil {
		t, err := s.target(ls.Status)
		if err != nil {
			return nil, announcement{}, err
		}
		r.StatusCallback = &translate.StatusCallback{Target: *t, Events: ls.StatusEvents}
	}
	return r, announcement{sid: ls.AnnouncedSID, url: ls.AnnouncedURL}, nil
}

func (s *session) target(lt *liveTarget) (*translate.Target, error) {
	if lt == nil {
		return nil, nil
	}
	u, err := url.Parse(lt.URL)
	if err != nil {
		return nil, fmt.Errorf("stored URL: %w", err)
	}
	if len(lt.Auth) > 0 {
		var plain []byte
		if s.e.Open != nil {
			plain, err = s.e.Open(lt.Auth)
		}
		if s.e.Open == nil || err != nil {
			s.log.Warn("credentials of a callback URL cannot be unsealed: sent without them", "url", redacted(u), "err", err)
		} else {
			user, pass, hasPass := strings.Cut(string(plain), ":")
			user, _ = url.PathUnescape(user)
			if hasPass {
				pass, _ = url.PathUnescape(pass)
				u.User = url.UserPassword(user, pass)
			} else {
				u.User = url.User(user)
			}
		}
	}
	return &translate.Target{URL: u, Method: lt.Method, Retry: lt.Retry}, nil
}

// updateState applies change to the call's stored state, creating it when needed, with
// compare-and-set retries: the call's goroutine (saveState) and its background recordings
// write it concurrently.
func (s *session) updateState(ctx context.Context, change func(*CallState)) {
	ctx = context.WithoutCancel(ctx)
	for range 5 {
		st, err := s.e.Store.GetCall(ctx, s.id)
		if errors.Is(err, ErrNotFound) {
			info := s.call.Info()
			p := s.callParams()
			st = CallState{ID: s.id, PBX: info.PBX, ChannelID: info.ChannelID, App: s.app.Name,
				Dialect: s.app.Dialect, Started: s.started, Status: "in-progress",
				From: p.From, To: p.To, CallerName: p.CallerName, Direction: p.Direction}
		} else if err != nil {
			s.log.Warn("reading call state", "err", err)
			return
		}
		change(&st)
		st.Updated = s.e.Now()
		_, err = s.e.Store.PutCall(ctx, st)
		if err == nil || !errors.Is(err, ErrConflict) {
			if err != nil {
				s.log.Warn("saving call state", "err", err)
			}
			return
		}
	}
	s.log.Warn("saving call state: too many concurrent updates")
}
