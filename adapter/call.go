package adapter

import (
	"context"
	"errors"
	"time"

	"github.com/pbxbridge/pbxbridge/translate"
)

// Errors a PBX implementation returns, wrapped with its own context. The engine tests them
// with errors.Is and maps them to outcomes (record.md §4).
var (
	// ErrHangup: the call is gone. It is also the cause of a call's context after hangup.
	ErrHangup = errors.New("call hung up")
	// ErrPBXDown: the PBX connection failed or a PBX command did not answer in time.
	ErrPBXDown = errors.New("PBX unavailable")
	// ErrUnsupported: the PBX cannot do what was asked (say, a format it cannot capture).
	ErrUnsupported = errors.New("not supported by this PBX")
	// ErrRecordingFailed: the PBX refused or aborted a recording (RecordingFailed, -ERR).
	ErrRecordingFailed = errors.New("recording failed")
)

// PBX is one Asterisk or FreeSWITCH connection. Serve runs until ctx is cancelled or the
// connection fails for good, and calls h once per new call, each in its own goroutine: that
// goroutine owns the call until h returns. The Call's context is cancelled with cause
// ErrHangup when the caller hangs up; h must return soon after.
type PBX interface {
	Name() string
	Serve(ctx context.Context, h func(ctx context.Context, c Call)) error
	// Ready reports whether the PBX connection is up and the application registered.
	Ready() error
}

// CallInfo is what the PBX knows about a call when it arrives.
type CallInfo struct {
	ChannelID  string   // the PBX's own id (Asterisk channel id, FreeSWITCH uuid)
	PBX        string   // PBX name from config
	From       string   // calling number as received
	To         string   // called number as received
	CallerName string   // CNAM, "" if unknown
	Forwarded  string   // SIP Diversion number, "" if none
	Direction  string   // "inbound" or "outbound"
	AppArgs    []string // Stasis arguments / channel variable naming the application
	Answered   bool     // the channel was already up when it reached pbxbridge
	Arrived    time.Time
}

// Call is one live call. All methods are called from the call's own goroutine only, one at a
// time (no method is called while another is running), except Info, which may be called from
// any goroutine. Every blocking method returns when ctx is done or the call hangs up, with an
// error wrapping ErrHangup in the latter case.
type Call interface {
	Info() CallInfo
	Answer(ctx context.Context) error
	// PreAnswer opens early media without answering.
	PreAnswer(ctx context.Context) error
	// Play plays media to the caller (Loops times, 0 = until stopped) and stops early on a key
	// of StopKeys.
	Play(ctx context.Context, p PlaySpec) (PlayResult, error)
	// Record blocks until the recording ends by key, silence, max length or hangup, and returns
	// the captured audio. A hangup during capture is not an error: the result has EndReason
	// EndHangup and the audio captured so far.
	Record(ctx context.Context, r RecordSpec) (RecordResult, error)
	// StartRecording starts a background recording and returns at once.
	StartRecording(ctx context.Context, r RecordSpec) (Recording, error)
	SendDTMF(ctx context.Context, digits string) error
	// Hangup ends the call with a cause (Q.850 name such as NORMAL_CLEARING).
	Hangup(ctx context.Context, cause string) error
	// Reject refuses an unanswered call ("busy" or "rejected").
	Reject(ctx context.Context, reason string) error
}

// PlaySpec is media to play. URL is a media URL the PBX can fetch (the bridge's own /media
// endpoint for remote audio and speech), or a "tone:" / "sound:" URI the PBX understands.
type PlaySpec struct {
	URL      string
	Loops    int // 0 = until stopped
	StopKeys translate.KeySet
}

// PlayResult says how a Play ended.
type PlayResult struct {
	Key byte // the stop key pressed, 0 if the media ran out
}

// RecordSpec is the PBX-level recording request derived from translate.Record.
type RecordSpec struct {
	Name           string           // unique recording name (no '/'), chosen by the engine
	Tracks         translate.Tracks // in, out or both
	Channels       int              // 1, or 2: in on the left, out on the right
	MaxDuration    time.Duration    // 0 = engine safety cap only
	SilenceTimeout time.Duration    // 0 = none
	FinishKeys     translate.KeySet // empty = none
	Beep           bool
	Background     *PlaySpec // played to the caller during capture, never captured
}

// EndReason is why a recording ended, as the PBX layer decides it (asterisk.md §2).
type EndReason string

const (
	EndKey        EndReason = "key"
	EndSilence    EndReason = "silence"
	EndMaxLength  EndReason = "max-length"
	EndHangup     EndReason = "hangup"
	EndSessionEnd EndReason = "session-end"
	EndStopped    EndReason = "stopped" // stopped by the engine (Recording.Stop)
)

// RecordResult is a finished capture. WAV is RIFF 8 kHz 16-bit PCM (mono, or stereo when
// Channels was 2); it is empty when no audio frame arrived.
type RecordResult struct {
	Reason  EndReason
	Key     byte // the finish key, when Reason is EndKey
	Started time.Time
	Ended   time.Time
	WAV     []byte
}

// Recording is a background recording. Its methods may be called from the call's goroutine;
// Done is closed when the recording has ended and Result is final.
type Recording interface {
	Stop(ctx context.Context) error
	Done() <-chan struct{}
	Result() (RecordResult, error)
}
