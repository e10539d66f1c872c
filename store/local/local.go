package local

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("store closed")

var (
	_ adapter.Store  = (*Store)(nil)
	_ adapter.Outbox = (*Store)(nil)
)

// FileName is the name of the database file inside the directory given to Open.
const FileName = "pbxbridge.db"

// schemaVersion is written in the meta bucket. Open refuses a database written by a newer
// schema, so that an old binary never misreads (and then rewrites) data it does not understand.
const schemaVersion = 1

// maxBatch bounds how many writes share one transaction (see Store.update).
const maxBatch = 256

// Options tunes Open. The zero value is the production setting.
type Options struct {
	// LockTimeout bounds the wait for the database file's lock when another process holds it
	// (two pbxbridge instances on one directory). Default 2s; the lock is never shared.
	LockTimeout time.Duration
	// NoSync skips fsync on commit. A process crash loses nothing, but a power loss can lose
	// or corrupt recent transactions: for tests and benchmarks only.
	NoSync bool
}

// Store is the embedded store: call state, File metadata and the outbox in one bbolt file.
// Every method is safe for concurrent use by many goroutines of one process. The file is
// locked: a second process (or a second Open in this one) waits LockTimeout and fails.
//
// Reads run in their own read-only transactions, concurrently with each other and with the
// writer. Writes go through one writer goroutine that commits concurrent writes together (group
// commit), so that N goroutines acking entries at once pay for one fsync, not N.
type Store struct {
	db     *bolt.DB
	writes chan *write
	closed chan struct{} // closed by Close: no new writes are accepted
	done   chan struct{} // closed when the writer goroutine has returned
	once   sync.Once
}

// write is one write transaction body queued for the writer goroutine.
type write struct {
	fn  func(tx *bolt.Tx) error
	err chan error // buffered(1): the writer never blocks on a caller that went away
}

// Bucket names. The layout is described in doc.go.
var (
	bMeta = []byte("meta")

	bCalls = []byte("calls")

	bFiles          = []byte("files")
	bFilesContainer = []byte("files_by_container")
	bFilesExpiry    = []byte("files_by_expiry")
	bContainers     = []byte("containers")

	bEntries    = []byte("outbox")
	bCallSeq    = []byte("outbox_by_call")
	bCallHead   = []byte("outbox_head")
	bDue        = []byte("outbox_due")
	bLeased     = []byte("outbox_leased")
	bDead       = []byte("outbox_dead")
	bDeadByTime = []byte("outbox_dead_by_time")

	allBuckets = [][]byte{bMeta, bCalls, bFiles, bFilesContainer, bFilesExpiry, bContainers,
		bEntries, bCallSeq, bCallHead, bDue, bLeased, bDead, bDeadByTime}

	keySchema  = []byte("schema")
	keyPending = []byte("pending")
)

// Open opens (creating when needed) the store in dir. The caller must Close it.
func Open(dir string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 2 * time.Second
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: opts.LockTimeout,
		NoSync:  opts.NoSync,
		// The hashmap freelist stays fast when a long backlog has fragmented the file, and not
		// syncing the freelist saves a page write per commit; bbolt rebuilds it on open.
		FreelistType:   bolt.FreelistMapType,
		NoFreelistSync: true,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store: open %s: locked by another process after %v: %w", path, opts.LockTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := db.Update(initSchema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Store{
		db:     db,
		writes: make(chan *write),
		closed: make(chan struct{}),
		done:   make(chan struct{}),
	}
	go s.writer()
	return s, nil
}

func initSchema(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bMeta)
	if v := meta.Get(keySchema); v != nil {
		if len(v) != 8 {
			return fmt.Errorf("corrupt schema version %x", v)
		}
		if got := binary.BigEndian.Uint64(v); got > schemaVersion {
			return fmt.Errorf("schema version %d is newer than this binary's %d", got, schemaVersion)
		}
		return nil
	}
	return meta.Put(keySchema, binary.BigEndian.AppendUint64(nil, schemaVersion))
}

// Close waits for queued writes, then closes the database. Methods called afterwards return
// ErrClosed. Close is idempotent.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		close(s.closed)
		<-s.done
		if cerr := s.db.Close(); cerr != nil {
			err = fmt.Errorf("store: close: %w", cerr)
		}
	})
	return err
}

// view runs a read-only transaction.
func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-s.closed:
		return ErrClosed
	default:
	}
	// Close waits for the writer only, not for readers: bbolt's Close itself waits for open
	// read transactions, and a View begun after Close fails with ErrDatabaseNotOpen.
	err := s.db.View(fn)
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// update runs fn in a write transaction, possibly together with other goroutines' writes. fn
// may be called more than once (when another write of its batch fails, the batch is rolled back
// and run again without it), so it must reset whatever it captures for its caller each time it
// runs. fn's error rolls back fn's writes only and is returned as is.
//
// Once fn is queued, update waits for its outcome even when ctx is cancelled: returning early
// would report a failure for a write that may still commit.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &write{fn: fn, err: make(chan error, 1)}
	select {
	case s.writes <- w:
	case <-s.closed:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-w.err
}

// writer is the only goroutine that begins write transactions. It takes one queued write, adds
// whatever else is queued at that moment (up to maxBatch), and commits them together: a lone
// write is committed at once (no batching delay), and writes that arrive during a commit share
// the next one.
func (s *Store) writer() {
	defer close(s.done)
	batch := make([]*write, 0, maxBatch)
	for {
		select {
		case w := <-s.writes:
			batch = append(batch[:0], w)
		case <-s.closed:
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case w := <-s.writes:
				batch = append(batch, w)
			default:
				break fill
			}
		}
		s.commit(batch)
	}
}

// failedWrite marks which write of a batch failed, so commit can answer it and retry the rest.
type failedWrite struct {
	index int
	err   error
}

func (f *failedWrite) Error() string { return f.err.Error() }

// commit runs a batch in one transaction. When a write fails, the transaction is rolled back,
// that write gets its error and the others are run again in a new transaction (bbolt has no
// savepoints). A rollback costs CPU, not an fsync, so failures that are part of normal work (a
// lost compare-and-set, a lost lease) stay cheap.
func (s *Store) commit(batch []*write) {
	for len(batch) > 0 {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for i, w := range batch {
				if err := w.fn(tx); err != nil {
					return &failedWrite{index: i, err: err}
				}
			}
			return nil
		})
		var f *failedWrite
		if errors.As(err, &f) {
			batch[f.index].err <- f.err
			batch = append(batch[:f.index], batch[f.index+1:]...)
			continue
		}
		if err != nil {
			err = fmt.Errorf("store: commit: %w", err)
		}
		for _, w := range batch {
			w.err <- err
		}
		return
	}
}
