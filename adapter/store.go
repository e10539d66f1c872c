package adapter

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/pbxbridge/pbxbridge/translate"
)

// Store errors. Implementations wrap them; callers test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	// ErrConflict: a compare-and-set lost (the version moved), a lease is held by another
	// owner, or an id that must be new is taken.
	ErrConflict = errors.New("conflict")
	// ErrQuota: the container has no room for the file.
	ErrQuota = errors.New("container quota exceeded")
)

// CallState is what the store keeps about a live call, so that another instance, or this one
// after a restart or a PBX reconnect, can reconcile it (design.md "State and durability").
type CallState struct {
	ID          string // pbxbridge call id (CallSid / CallUUID)
	PBX         string
	ChannelID   string
	App         string
	Dialect     translate.Dialect
	DocumentURL string // without userinfo
	From        string // as received, for the status callback of a call recovered after a crash
	To          string
	CallerName  string
	Direction   string
	Verb        int // index of the verb being executed in the current document
	VerbName    string
	Status      string // in-progress, completed
	// Live are the recordings live on the PBX with what storing them needs, so that the
	// instance that takes the PBX over after this one dies can finish them (Reconcile).
	// Records written before it existed have none.
	Live    []LiveRecording
	Started time.Time
	Updated time.Time
	Version int64 // compare-and-set: PutCall succeeds only when this equals the stored version (0 = new)
}

// LiveRecording is a recording running on the PBX, as the call state keeps it.
type LiveRecording struct {
	Name    string    // the PBX recording name (RecordSpec.Name)
	Started time.Time // when the engine started it
	// Spec is the Record verb's parameters as the engine encodes them (opaque to stores): the
	// userinfo of its callback URLs sealed (Deps.Seal), external storage credentials never.
	Spec []byte
}

// File is a stored recording, in CarrierX's File shape (storage.md).
type File struct {
	SID          string
	ContainerSID string
	Name         string
	Format       string // wav, mp3, ul
	MIMEType     string
	Bytes        int64
	Duration     time.Duration
	Created      time.Time
	Modified     time.Time
	IntegerKey1  *int64
	IntegerKey2  *int64
	StringKey1   *string
	StringKey2   *string
	Lifecycle    translate.LifecycleAction
	LifecycleTTL time.Duration // 0 = never
	ExpiresAt    time.Time     // Created + LifecycleTTL when the action is delete; zero = never
	CallID       string
	BlobKey      string // where the bytes are in the Blob store
}

// FileQuery filters ListFiles. Zero fields do not filter.
type FileQuery struct {
	ContainerSID string
	IntegerKey1  *int64
	IntegerKey2  *int64
	StringKey1   *string
	StringKey2   *string
	Limit        int    // <= 0: no limit
	After        string // SID to continue after (pagination); it need not exist
}

// Store keeps call state and File metadata. Every method is safe for concurrent use. The
// conformance suite store/storetest pins down the behaviour described here.
type Store interface {
	// GetCall: ErrNotFound when the call is unknown.
	GetCall(ctx context.Context, id string) (CallState, error)
	// PutCall writes the state when its Version equals the stored one (0 = must not exist) and
	// returns it with the new version (stored + 1); otherwise ErrConflict.
	PutCall(ctx context.Context, c CallState) (CallState, error)
	// DeleteCall: ErrNotFound when the call is unknown.
	DeleteCall(ctx context.Context, id string) error
	ListCalls(ctx context.Context) ([]CallState, error)

	// CreateFile records a new file and charges its bytes to its container, atomically:
	// ErrQuota when the container would exceed quota (<= 0: no limit), ErrConflict when the SID
	// exists.
	CreateFile(ctx context.Context, f File, quota int64) error
	// UpdateFile replaces a file's metadata (append and overwrite; the container may change),
	// moving the charge atomically: ErrNotFound when the file is unknown, ErrQuota when the
	// update would grow its container past quota. An update that does not grow the container
	// always succeeds, so a container over a lowered quota can shrink.
	UpdateFile(ctx context.Context, f File, quota int64) error
	// GetFile: ErrNotFound when the file is unknown.
	GetFile(ctx context.Context, sid string) (File, error)
	// DeleteFile releases the file's bytes from its container. ErrNotFound when the file is
	// unknown: of several instances expiring the same file, exactly one deletes it.
	DeleteFile(ctx context.Context, sid string) error
	// ListFiles returns the matching files ordered by SID.
	ListFiles(ctx context.Context, q FileQuery) ([]File, error)
	// ContainerUsage is the bytes charged to a container (0 when it holds nothing).
	ContainerUsage(ctx context.Context, containerSID string) (int64, error)
	// ExpiredFiles lists files whose ExpiresAt is set and at or before now, oldest first, at
	// most limit (<= 0: all).
	ExpiredFiles(ctx context.Context, now time.Time, limit int) ([]File, error)

	Close() error
}

// Lease is an exclusive, time-limited claim on a named resource: one PBX connection is served
// by the instance holding its lease (design.md "Scaling out").
type Lease struct {
	Name  string
	Owner string
	// Epoch is the fencing token: it grows each time the lease passes to a new holder (after a
	// release or an expiry), never on a renewal, and survives the lease being free.
	Epoch   int64
	Expires time.Time // as the store's clock sees it, approximately
}

// Leases keeps leases. Every method is safe for concurrent use, across processes when the
// implementation is shared (Redis). A lease that runs out is free: its holder can no longer
// renew or release it (it must acquire it again, and may lose it to another owner), so an
// owner that cannot renew in time knows another may act for the resource. The conformance
// suite store/storetest (RunLeases) pins down the behaviour described here.
type Leases interface {
	// AcquireLease gives name to owner until now+ttl when it is free, has run out, or is
	// already owner's (then it is renewed with the same Epoch). ErrConflict while another
	// owner holds it.
	AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (Lease, error)
	// RenewLease extends owner's hold to now+ttl. ErrConflict when owner does not hold it
	// (it ran out, was released, or another owner took it).
	RenewLease(ctx context.Context, name, owner string, ttl time.Duration) (Lease, error)
	// ReleaseLease frees owner's lease, so that a standby can take it at once. ErrConflict
	// when owner does not hold it.
	ReleaseLease(ctx context.Context, name, owner string) error
	// GetLease returns the live lease on name: ErrNotFound when it is free.
	GetLease(ctx context.Context, name string) (Lease, error)
}

// Entry is one outbound HTTP request in the outbox (callbacks.md §1.1). It is written before it
// is sent and removed (acknowledged) only after a 2xx or a final failure.
type Entry struct {
	ID      string // idempotency key, sent as X-Pbxbridge-Event-Id on every attempt
	CallID  string // entries of one call are delivered in Seq order
	Seq     int64
	App     string // application name: its signing secret comes from config
	Dialect translate.Dialect
	Kind    string // action, callback, status, transcription, hangup (for logs and the dashboard)
	Method  translate.Method
	URL     string // final URL, fragment and userinfo removed
	// Auth is the URL's userinfo ("user:password", sent as Basic auth), sealed by the engine
	// (Deps.Seal) so that the store never holds it in clear; nil when the URL had none.
	Auth     []byte
	Body     []byte // POST body (already rendered); for GET the query is already in URL
	BodyType string // Content-Type of Body
	Retry    translate.RetryPolicy

	Attempts  int       // claims so far: Claim adds one, Replay resets to 0
	NextAt    time.Time // not before
	Owner     string    // worker holding the lease, "" when free
	LeaseEnd  time.Time
	LastError string
	Created   time.Time
	DeadAt    time.Time // set when moved to the dead letters
}

// Outbox is the durable queue of callbacks. Every method is safe for concurrent use, across
// processes when the implementation is shared (Redis). The conformance suite store/storetest
// pins down the behaviour described here.
//
// Order: the entries of one call (CallID, required) are delivered in Seq order, one at a time:
// only a call's oldest queued entry is claimable, and only while no entry of that call holds a
// live lease (LeaseEnd after now). A lease that runs out makes its entry claimable again, so a
// crashed worker's entries come back.
type Outbox interface {
	// Enqueue stores entries, all or none: ErrConflict when an ID is already queued or dead.
	// An entry with Owner set is created already leased to that owner until its LeaseEnd (which
	// must be set): the call's goroutine sends "call waits" requests itself, and a crash hands
	// them to a worker. Created defaults to now.
	Enqueue(ctx context.Context, es ...Entry) error
	// Claim leases up to max entries claimable at now to owner until now+lease, oldest
	// claimable first, and counts an attempt on each. An implementation may also hand out
	// again, first and under the new lease, the entries an earlier Claim of the same owner
	// leased before failing (its reply lost), without counting another attempt (store/redis
	// does), so that they wait neither for their lease's end nor count an attempt unsent.
	Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, max int) ([]Entry, error)
	// Ack removes a delivered entry. ErrNotFound when it is not queued; ErrConflict when owner
	// does not hold its lease (a lease that ran out but was not claimed again still does).
	Ack(ctx context.Context, id, owner string) error
	// Retry releases the lease and makes the entry due at next; it keeps its Seq place.
	// Errors as Ack.
	Retry(ctx context.Context, id, owner string, next time.Time, lastErr string) error
	// Dead moves an entry to the dead letters (DeadAt set), letting its call's next entry go.
	// Errors as Ack.
	Dead(ctx context.Context, id, owner string, lastErr string) error
	// ListDead lists dead letters, oldest DeadAt first, at most limit (<= 0: all).
	ListDead(ctx context.Context, limit int) ([]Entry, error)
	// Replay moves a dead letter back to the queue, due now, with its attempts reset; it takes
	// its Seq place in its call again. ErrNotFound when id is not a dead letter.
	Replay(ctx context.Context, id string) error
	// Pending counts queued entries, leased or not, dead letters excluded (health and tests).
	Pending(ctx context.Context) (int, error)
}

// AckBatcher is an Outbox that acknowledges several entries of one owner in one write: the
// worker acknowledges the callbacks it delivered together, as they come, rather than each
// in a write (and a goroutine) of its own.
type AckBatcher interface {
	// AckEach acknowledges each of ids as Ack(ctx, id, owner) would, in one write, and
	// returns each one's answer in order (nil when acknowledged; ErrNotFound, ErrConflict as
	// Ack). err is set when the write failed: no answer is known then, and some may have
	// been recorded.
	AckEach(ctx context.Context, owner string, ids []string) (answers []error, err error)
}

// Blob stores recording bytes.
type Blob interface {
	Put(ctx context.Context, key string, data io.Reader, contentType string) (int64, error)
	// Get opens bytes [offset, offset+length) of the object; length < 0 means to the end.
	Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	Size(ctx context.Context, key string) (int64, error)
	Delete(ctx context.Context, key string) error
}

// Speaker renders text to speech as 8 kHz 16-bit mono WAV.
type Speaker interface {
	Speak(ctx context.Context, text, voice, language string) ([]byte, error)
}
