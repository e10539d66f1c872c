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
	// CollectDigits plays the prompts in order and collects keys from the caller (Gather,
	// GetDigits, GetInput with digits). It returns when NumDigits keys arrived, a finish key
	// was pressed, or a timeout passed; the engine handles attempts and valid keys.
	CollectDigits(ctx context.Context, d DigitSpec) (DigitResult, error)
	// Dial rings the targets at once, bridges the caller with the first to answer, and blocks
	// until the bridge ends (either party hangs up, TimeLimit passes, or the caller presses *
	// with HangupOnStar), or no target answers within Timeout. A caller hangup during the Dial
	// returns the result so far with an error wrapping ErrHangup, as Record does.
	Dial(ctx context.Context, d DialSpec) (DialResult, error)
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

// Prompt is one step of a Gather's prompts: media to play, or silence (Wait).
type Prompt struct {
	Play    *PlaySpec     // nil for silence
	Silence time.Duration // with Play nil
}

// DigitSpec is a digit collection. A key pressed while a prompt plays stops the prompts
// (barge-in) and counts as input.
type DigitSpec struct {
	Prompts      []Prompt
	NumDigits    int              // 0 = no limit
	FinishKeys   translate.KeySet // end input; not part of Digits
	Timeout      time.Duration    // for the first key, counted from the end of the prompts
	DigitTimeout time.Duration    // between keys
	Beep         bool             // a beep after the prompts, before waiting
}

// DigitEnd is why a digit collection ended.
type DigitEnd string

const (
	DigitsComplete  DigitEnd = "num-digits"
	DigitsFinishKey DigitEnd = "finish-key"
	DigitsTimeout   DigitEnd = "timeout"
)

// DigitResult is what a digit collection got.
type DigitResult struct {
	Digits string // keys in order, finish key excluded
	Key    byte   // the finish key, when Reason is DigitsFinishKey
	Reason DigitEnd
}

// DialTarget is one party a Dial rings. The PBX turns Kind and Address into its own dial
// string from its configuration (an endpoint or trunk on Asterisk, a gateway on FreeSWITCH).
type DialTarget struct {
	Kind       translate.TargetKind
	Address    string
	SendDigits string                // sent once the party answers
	Headers    []translate.SIPHeader // custom SIP headers, names as the PBX should send them
}

// DialSpec is a Dial as the PBX runs it.
type DialSpec struct {
	Targets      []DialTarget
	CallerID     string        // "" = the caller's own number
	CallerName   string        // "" = the caller's own name
	Timeout      time.Duration // how long the targets ring
	TimeLimit    time.Duration // longest bridged call; 0 = none
	HangupOnStar bool
	// Ringback is played to the caller while the targets ring; nil = the PBX's ringing tone.
	Ringback *PlaySpec
	// Record, when set, starts a recording when the called party answers (Plivo
	// startOnDialAnswer). It covers the bridge: Tracks in = the caller, out = the called party;
	// Channels 2 puts the caller on the left, the called party on the right. It ends with the
	// bridge (EndSessionEnd) or at MaxDuration (EndMaxLength).
	Record *RecordSpec
	// Confirm, when set, makes a target that answers confirm first: Audio is played to it
	// (never to the caller) and it must press Key within Timeout; only then is it bridged.
	// Otherwise its leg is hung up and counts as not answered while the others ring on.
	Confirm *DialConfirm
	// OnAnswer, when set, is called once a target has answered (and confirmed) and is being
	// bridged, with its index in Targets, its leg id and the answer time; on the goroutine
	// that called Dial, before Dial returns.
	OnAnswer func(target int, calledID string, at time.Time)
}

// DialConfirm is the called party's confirmation before the bridge (confirmKey).
type DialConfirm struct {
	Key     byte      // one of 0-9, *, #
	Audio   *PlaySpec // played to the called party while it may press Key; nil = silence
	Timeout time.Duration
}

// DialStatus is the outcome of a Dial, in Plivo/CarrierX terms.
type DialStatus string

const (
	DialCompleted DialStatus = "completed" // answered and bridged
	DialBusy      DialStatus = "busy"
	DialNoAnswer  DialStatus = "no-answer"
	DialFailed    DialStatus = "failed"   // could not be placed (no route, refused)
	DialCanceled  DialStatus = "canceled" // the caller hung up while it rang
)

// DialResult is how a Dial ended.
type DialResult struct {
	Status      DialStatus
	Target      int    // index in DialSpec.Targets of the party that answered; -1 if none
	CalledID    string // the called leg's PBX id ("" if none was created)
	Answered    time.Time
	Ended       time.Time
	HungUpBy    string // "caller", "callee", "star", "time-limit" ("" when never answered)
	HangupCause string // the called leg's Q.850 cause name, when known
	// Recording is the capture DialSpec.Record asked for, final when Dial returns; nil when
	// Record was nil or nobody answered. RecordErr is set when it failed.
	Recording *RecordResult
	RecordErr error
}

// HangupSource says who ended a call, as far as the PBX can tell.
type HangupSource string

const (
	HangupByCaller HangupSource = "caller"    // the caller hung up (SIP BYE or CANCEL from them)
	HangupByBridge HangupSource = "pbxbridge" // we hung up (Hangup verb, end of document, Reject)
	HangupByCallee HangupSource = "callee"    // the called party of a Dial ended the call
	HangupByPBX    HangupSource = "pbx"       // the PBX ended it itself (a failed application)
)

// HangupInfo is how a call ended: the Q.850 cause by FreeSWITCH's name (the names Plivo's
// HangupCause uses, e.g. NORMAL_CLEARING, DESTINATION_OUT_OF_ORDER), the SIP status that
// ended it when the PBX reports one (0 if not), and who hung up.
type HangupInfo struct {
	Cause   string
	SIPCode int
	Source  HangupSource
}

// HangupReporter is a Call that can say how it ended. The engine asks once the call's context
// is done with ErrHangup; ok is false while the PBX has not reported the hangup. The PBX must
// record the information before it cancels the call's context.
type HangupReporter interface {
	HangupReport() (info HangupInfo, ok bool)
}
