package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// ErrUnavailable wraps every failure to reach Redis or to have it run a command now
// (connection refused, timeout, a failover or resharding in progress): the operation may be
// retried. go-redis errors do not
// cross this package's edge; their text is kept in the message. It wraps
// adapter.ErrUnavailable, which the engine retries on.
var ErrUnavailable = fmt.Errorf("redis %w", adapter.ErrUnavailable)

// ErrOldLayout is wrapped by Open when Redis holds outbox entries in the layout of an earlier
// pbxbridge (before the outbox's layout of doc.go), which this version does not read.
var ErrOldLayout = errors.New("outbox in an earlier layout")

// ErrOptions is wrapped by Open when the options name no server, or more than one topology.
var ErrOptions = errors.New("invalid redis options")

// Options chooses the server and the key space. Exactly one of URL, Sentinel.Master or
// Cluster is set.
type Options struct {
	// URL of a standalone server: redis://[user:password@]host:port/db or rediss://...
	URL string
	// Sentinel: the master's name and the Sentinels' addresses (host:port).
	SentinelMaster string
	Sentinels      []string
	// Cluster: seed addresses (host:port) of cluster nodes.
	Cluster []string
	// Username and Password authenticate to the data servers of a Sentinel or Cluster setup
	// (a URL carries its own). Never logged.
	Username, Password string
	// Prefix starts every key, so that several deployments (or tests) share one server.
	// Default "pbxbridge:".
	Prefix string
	// DialTimeout bounds each connection attempt. Default 5s.
	DialTimeout time.Duration
}

// Store implements adapter.Store and adapter.Outbox on Redis: standalone, Sentinel or
// Cluster. Every method is safe for concurrent use, by many goroutines and many processes
// sharing one Redis (the key layout and its atomicity are described in doc.go).
type Store struct {
	c goredis.UniversalClient
	k keys

	acks acker // Acks waiting to be sent in a group (outbox_ack.go)

	// Claims whose reply was lost, by owner (see Claim).
	tokenPrefix string
	claims      atomic.Uint64
	lostMu      sync.Mutex
	lost        map[string][]lostClaim
}

var (
	_ adapter.Store  = (*Store)(nil)
	_ adapter.Outbox = (*Store)(nil)
)

// Open connects to Redis and checks that it answers. The caller must Close the store.
func Open(ctx context.Context, opts Options) (*Store, error) {
	c, err := newClient(opts)
	if err != nil {
		return nil, fmt.Errorf("store: open redis: %w", err)
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = "pbxbridge:"
	}
	if strings.ContainsAny(prefix, "{}") {
		c.Close()
		return nil, fmt.Errorf("store: open redis: prefix %q has '{' or '}', which would change the keys' hash tags: %w", prefix, ErrOptions)
	}
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		c.Close()
		return nil, fmt.Errorf("store: open redis: %w", err)
	}
	s := &Store{c: c, k: keys{p: prefix}, tokenPrefix: hex.EncodeToString(r[:]) + "-"}
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("store: open redis: ping: %w", s.wrap(ctx, err))
	}
	if err := s.checkLayout(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("store: open redis: %w", err)
	}
	return s, nil
}

// checkLayout refuses an outbox kept in an earlier layout, which this one would neither
// deliver nor list, rather than strand its entries: the layout before the shared hashes kept
// each entry in a key of its own (e:<id>, x:<id>) under the same ready and dead-letter sets;
// the one before it had other sets (due, dead). A Redis whose outbox was drained with the
// earlier version (docs/operators.md) passes.
func (s *Store) checkLayout(ctx context.Context) error {
	n, err := s.c.Exists(ctx, s.k.oldDue(), s.k.oldDead()).Result()
	if err != nil {
		return s.wrap(ctx, err)
	}
	if n > 0 {
		return fmt.Errorf("%w: %s or %s exists: the outbox holds entries or dead letters of an earlier pbxbridge; "+
			"drain it (and replay or delete its dead letters) with that version first (docs/operators.md)", ErrOldLayout, s.k.oldDue(), s.k.oldDead())
	}
	// A queued entry puts its call's head in the ready set, a dead letter its id in the
	// dead-letter set: the first of each tells the layout.
	var ready, dead *goredis.StringSliceCmd
	if _, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		ready = p.ZRange(ctx, s.k.ready(), 0, 0)
		dead = p.ZRange(ctx, s.k.dead(), 0, 0)
		return nil
	}); err != nil {
		return s.wrap(ctx, err)
	}
	var old []string
	if ids := ready.Val(); len(ids) > 0 {
		old = append(old, s.k.oldEntry(ids[0]))
	}
	if ids := dead.Val(); len(ids) > 0 {
		old = append(old, s.k.oldDeadEntry(ids[0]))
	}
	if len(old) == 0 {
		return nil
	}
	if n, err = s.c.Exists(ctx, old...).Result(); err != nil {
		return s.wrap(ctx, err)
	}
	if n > 0 {
		return fmt.Errorf("%w: %s exists: the outbox holds entries or dead letters of an earlier pbxbridge (one key per entry); "+
			"drain it (and replay or delete its dead letters) with that version first (docs/operators.md)", ErrOldLayout, strings.Join(old, " or "))
	}
	return nil
}

// noRetries turns off go-redis's own retry of a command after a network error: a script
// whose reply was lost may have run, and running Enqueue or Claim again is not idempotent
// (a spurious conflict, an attempt counted twice). The callers retry at their own level: the
// outbox worker polls again, and an entry's lease brings a lost claim back.
const noRetries = -1

// SetLogger sends go-redis's own log lines (failed dials, cluster reloads) to l instead of
// standard error. go-redis keeps its logger in a process-wide variable: call this once, from
// main, before Open.
func SetLogger(l *slog.Logger) { goredis.SetLogger(slogLogger{l}) }

type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Printf(ctx context.Context, format string, v ...any) {
	s.l.WarnContext(ctx, fmt.Sprintf(format, v...), slog.String("component", "redis"))
}

func newClient(o Options) (goredis.UniversalClient, error) {
	n := 0
	for _, set := range []bool{o.URL != "", o.SentinelMaster != "" || len(o.Sentinels) > 0, len(o.Cluster) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("set exactly one of url, sentinel and cluster (%d set): %w", n, ErrOptions)
	}
	dial := o.DialTimeout
	if dial <= 0 {
		dial = 5 * time.Second
	}
	switch {
	case o.URL != "":
		po, err := goredis.ParseURL(o.URL)
		if err != nil {
			// The URL may hold a password: do not repeat it.
			return nil, fmt.Errorf("url: not a redis:// or rediss:// URL: %w", ErrOptions)
		}
		po.DialTimeout, po.MaxRetries = dial, noRetries
		return goredis.NewClient(po), nil
	case len(o.Cluster) > 0:
		return goredis.NewClusterClient(&goredis.ClusterOptions{
			Addrs: o.Cluster, Username: o.Username, Password: o.Password, DialTimeout: dial,
			MaxRetries: noRetries,
		}), nil
	default:
		if o.SentinelMaster == "" || len(o.Sentinels) == 0 {
			return nil, fmt.Errorf("sentinel: needs both a master name and addresses: %w", ErrOptions)
		}
		return goredis.NewFailoverClient(&goredis.FailoverOptions{
			MasterName: o.SentinelMaster, SentinelAddrs: o.Sentinels,
			Username: o.Username, Password: o.Password, DialTimeout: dial, MaxRetries: noRetries,
		}), nil
	}
}

// Close closes the connections. Calls made after Close fail with ErrUnavailable.
func (s *Store) Close() error {
	if err := s.c.Close(); err != nil {
		return fmt.Errorf("store: close redis: %w", s.wrap(context.Background(), err))
	}
	return nil
}

// wrap translates a go-redis error: the context's own error stays itself (errors.Is works),
// anything else wraps ErrUnavailable with the library's text.
func (s *Store) wrap(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var reply goredis.Error
	if errors.As(err, &reply) && !transient(reply.Error()) {
		// Redis answered, with an error that trying again will not cure (a script error, a
		// key of the wrong type): a bug or foreign data under our prefix, not an outage.
		return fmt.Errorf("redis replied: %s", reply.Error())
	}
	if ne := new(strconv.NumError); errors.As(err, &ne) {
		return fmt.Errorf("redis holds a value that is not a number: %w", err)
	}
	return fmt.Errorf("%w: %s", ErrUnavailable, err.Error())
}

// transient reports whether a Redis error reply is one that passes: a server loading its
// data, a replica or a master without replicas refusing writes, a cluster resharding or
// failing over, a busy script.
func transient(reply string) bool {
	for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY", "NOREPLICAS"} {
		if strings.HasPrefix(reply, p) {
			return true
		}
	}
	return false
}

// keys builds the key names of doc.go.
type keys struct{ p string }

func (k keys) call(id string) string           { return k.p + "{call:" + id + "}:state" }
func (k keys) callPattern() string             { return globEscape(k.p) + "{call:*}:state" }
func (k keys) file(sid string) string          { return k.p + "{files}:f:" + sid }
func (k keys) filesAll() string                { return k.p + "{files}:all" }
func (k keys) filesIn(container string) string { return k.p + "{files}:c:" + container }
func (k keys) usage() string                   { return k.p + "{files}:usage" }
func (k keys) expiry() string                  { return k.p + "{files}:expiry" }
func (k keys) filesPrefix() string             { return k.p + "{files}:" }
func (k keys) outboxPrefix() string            { return k.p + "{outbox}:" }
func (k keys) ready() string                   { return k.p + "{outbox}:ready" }
func (k keys) dead() string                    { return k.p + "{outbox}:dl" }
func (k keys) pending() string                 { return k.p + "{outbox}:n" }
func (k keys) deadRecords() string             { return k.p + "{outbox}:x" }
func (k keys) deadStates() string              { return k.p + "{outbox}:xm" }

// The keys of the outbox's earlier layouts (see Open).
func (k keys) oldDue() string  { return k.p + "{outbox}:due" }
func (k keys) oldDead() string { return k.p + "{outbox}:dead" }

// A queued entry and a dead letter of the layout before the shared hashes.
func (k keys) oldEntry(id string) string     { return k.p + "{outbox}:e:" + id }
func (k keys) oldDeadEntry(id string) string { return k.p + "{outbox}:x:" + id }

func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Times are kept two ways: as RFC 3339 text with nanoseconds, which round-trips exactly, and
// as Unix microseconds in scores and in the fields Lua compares (a double holds microseconds
// exactly until the year 2255). Times before 1970, and the zero time, score 0.

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	b, _ := t.UTC().MarshalText()
	return string(b)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	var t time.Time
	if err := t.UnmarshalText([]byte(s)); err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t, nil
}

func micros(t time.Time) int64 {
	if t.IsZero() || t.Unix() < 0 {
		return 0
	}
	return t.UnixMicro()
}
