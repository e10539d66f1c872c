package translate

import (
	"net/url"
	"time"
)

// This file is the dialect-neutral Record model of record.md §3. Both parsers produce a
// *Record; engines and callbacks read only this, plus Dialect for payload shapes.

// RecordMode says whether a Record blocks the document.
type RecordMode string

const (
	ModeForeground RecordMode = "foreground" // blocks until key, silence, max length or hangup
	ModeSession    RecordMode = "session"    // whole call, in the background
	ModeDial       RecordMode = "dial"       // the next Dial, from answer, in the background
)

// Tracks is the audio captured, seen from the call's own leg.
type Tracks string

const (
	TracksIn   Tracks = "in"   // what the caller says
	TracksOut  Tracks = "out"  // what the caller hears (the called party during a Dial)
	TracksBoth Tracks = "both" // both, mixed (or stereo with Channels=2)
)

// AudioFormat is the format of a stored recording.
type AudioFormat string

const (
	FormatWAV  AudioFormat = "wav"  // RIFF, 8 kHz, 16-bit PCM
	FormatMP3  AudioFormat = "mp3"  // MPEG-1 Layer III
	FormatULaw AudioFormat = "ulaw" // headerless G.711 µ-law, 8 kHz, extension .ul
)

// Extension is the file name extension of the format.
func (f AudioFormat) Extension() string {
	if f == FormatULaw {
		return "ul"
	}
	return string(f)
}

// TrimMode is the silence trimming applied after capture.
type TrimMode string

const (
	TrimNone          TrimMode = "none"
	TrimEdges         TrimMode = "edges"           // cut leading and trailing silence
	TrimTailOnSilence TrimMode = "tail-on-silence" // cut trailing silence (keep 200 ms) after a silence stop
)

// Disposition is what the answer to a Record's action request does.
type Disposition string

const (
	DispositionNone    Disposition = "none"    // no action URL
	DispositionExecute Disposition = "execute" // the returned document replaces the rest
	DispositionNotify  Disposition = "notify"  // sent through the outbox, answer ignored, flow continues
)

// WhenEmpty says whether an empty recording still requests the action URL.
type WhenEmpty string

const (
	EmptySkip WhenEmpty = "skip" // CarrierX: no action, next verb
	EmptySend WhenEmpty = "send" // Plivo: action with zero durations
)

// RecordingStatus is a terminal status of a recording.
type RecordingStatus string

const (
	StatusCompleted RecordingStatus = "completed"
	StatusFailed    RecordingStatus = "failed"
	StatusAbsent    RecordingStatus = "absent"
)

// StorageKind is where the stored file goes.
type StorageKind string

const (
	StorageManaged StorageKind = "managed" // a bridge container
	StorageS3      StorageKind = "s3"
	StorageGCS     StorageKind = "gcs"
	StorageAzure   StorageKind = "azure"
)

// WriteMode is how the recording is written into managed storage.
type WriteMode string

const (
	WriteNew       WriteMode = "new"
	WriteAppend    WriteMode = "append"
	WriteOverwrite WriteMode = "overwrite"
)

// LifecycleAction is what happens to a stored file when its TTL runs out.
type LifecycleAction string

const (
	LifecycleDelete   LifecycleAction = "delete"
	LifecycleNoAction LifecycleAction = "no_action"
)

// Record is the dialect-neutral <Record> (record.md §3).
type Record struct {
	VerbBase
	Dialect     Dialect
	DocumentURL *url.URL

	Mode            RecordMode
	Tracks          Tracks
	Channels        int // 1, or 2 for stereo (in on the left, out on the right)
	Format          AudioFormat
	MaxDuration     time.Duration // 0 = no limit (the bridge's safety cap still applies)
	SilenceTimeout  time.Duration // 0 = no silence detection
	FinishKeys      KeySet        // empty = no key termination
	Beep            bool
	Trim            TrimMode
	BackgroundAudio *BackgroundAudio // nil = none

	Action          Action
	ActionWhenEmpty WhenEmpty
	ActionAtStart   bool    // Plivo background modes: action sent at start with -1 values
	ErrorAction     *Target // CarrierX only
	FileCallback    *Target // sent when the file is stored
	StatusCallback  *StatusCallback

	Transcription Transcription
	Storage       Storage
}

// BackgroundAudio is played to the caller during capture and never captured.
type BackgroundAudio struct {
	URL   *url.URL
	Loops int // 0 = repeat until the recording ends
}

// Action is the Record's action URL and what its answer does.
type Action struct {
	*Target     // nil when there is no action URL
	Disposition Disposition
}

// StatusCallback is CarrierX's recordingStatusCallback.
type StatusCallback struct {
	Target
	Events []RecordingStatus // the terminal statuses that are sent
}

// Wants reports whether the status is subscribed.
func (s *StatusCallback) Wants(st RecordingStatus) bool {
	if s == nil {
		return false
	}
	for _, e := range s.Events {
		if e == st {
			return true
		}
	}
	return false
}

// Transcription is the Record's transcription request. When Enabled is false the other
// fields are zero: the parser ignores transcription attributes that would have no effect.
type Transcription struct {
	Enabled          bool
	Type             string // "auto" for Plivo; "" for CarrierX
	Callback         *Target
	LowConfWord      string  // CarrierX replacement for low-confidence words
	LowConfThreshold float64 // 0–1; words below it are replaced
	Timeout          time.Duration
	Language         string // "en"
}

// Storage is where and how the recording is stored.
type Storage struct {
	Kind        StorageKind
	ContainerID string // "" = the application's default container
	FileID      string // write into this existing file
	WriteMode   WriteMode
	Credentials *Credentials // external storage only
	// Invalid explains why the external-storage attributes cannot be used (several providers,
	// a required attribute missing). It is not a document error: the recording fails at run
	// time and errorAction runs (record.md §1.3).
	Invalid string
	// Lifecycle is nil when the file is kept for good: lifecycleTtl absent (the action never
	// runs, whatever lifecycleAction says), external storage, or Plivo.
	Lifecycle *Lifecycle
	Metadata  Metadata
}

// Lifecycle is the managed file's lifecycle rule.
type Lifecycle struct {
	Action LifecycleAction
	TTL    time.Duration // always > 0: without a TTL there is no rule (Storage.Lifecycle is nil)
}

// Metadata is stored on the File (integer_key_1/2, string_key_1/2).
type Metadata struct {
	IntegerKey1 *int64
	IntegerKey2 *int64
	StringKey1  *string
	StringKey2  *string
}

// Credentials are the external-storage attributes of one provider. Secret fields never print.
type Credentials struct {
	AWSAccessKey Secret
	AWSSecretKey Secret
	AWSBucket    string

	GCPBucket       string
	GCPProject      string
	GCPAccessToken  Secret
	GCPRefreshToken Secret
	GCPClientID     Secret
	GCPClientSecret Secret

	AzureAccountName   string
	AzureContainerName string
	AzureAccountKey    Secret
	AzureSASToken      Secret
}
