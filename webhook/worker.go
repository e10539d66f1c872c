package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// MaxTotalTimeout is the largest tt (callbacks.md §3.7). The worker's lease must exceed it, so
// that a lease never runs out while its attempt is still going.
const MaxTotalTimeout = 55 * time.Second

// storeTimeout bounds each attempt of an Ack, Retry or Dead. They run even after Stop gave up
// waiting, so that a finished delivery is recorded, hence a bound of their own.
const storeTimeout = 10 * time.Second

// How the dispatcher claims (see dispatch) and how many outcomes may be being recorded at
// once, per delivery slot (Workers). In the delivery benchmark (8 workers, Redis) refilling a
// buffer of 2×Workers at Workers/2 took 0.27 store round trips per callback; refilling
// 4×Workers at Workers, with the Acks batched (ackLoop), 0.16, with a fifth less of
// redis-server's CPU per callback. 8×Workers at 4×Workers saved little more. The recorders
// record the outcomes that are not batched Acks: retries, dead letters, releases (and every
// outcome over an Outbox that is not an adapter.AckBatcher).
const (
	claimBuffer        = 4 // the buffer is filled up to claimBuffer×Workers entries...
	claimLow           = 1 // ...whenever it holds at most claimLow×Workers
	recordersPerWorker = 2
)

// While the outbox fails (a Redis restarting, failing over or out of reach), the worker tries
// its writes and its Claims again after a backoff that starts at storeRetryMin and doubles up
// to storeRetryMax: a short outage costs a few attempts and no lost outcome, a long one at
// most one attempt every storeRetryMax.
const (
	storeRetryMin = 50 * time.Millisecond
	storeRetryMax = 2 * time.Second
)

// errStopped is the cause of the deliveries' context when Stop stops waiting for them.
var errStopped = errors.New("webhook: worker stopped")

// Clock is the worker's time: lease and schedule times given to the Outbox, and the tt
// budget of entries. Tests inject one; it must be safe for concurrent use.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// WorkerOptions configures a Worker.
type WorkerOptions struct {
	// Outbox is the durable queue. Required.
	Outbox adapter.Outbox
	// Client sends the entries, signed with the credentials of its Options.Secrets. Required.
	Client *Client
	// Owner names this worker in leases. It must be unique among the processes that share
	// the outbox. Default: "webhook-" and a random id.
	Owner string
	// Workers is how many entries are delivered at once. Default 8 (config outbox.workers).
	Workers int
	// Lease is how long a claimed entry is reserved. Default 2m; it must exceed
	// MaxTotalTimeout. An entry whose worker died is delivered by another once it ends.
	Lease time.Duration
	// Poll is how often the outbox is asked for due entries when idle; Wake cuts the wait
	// short. Default 200ms.
	Poll time.Duration
	// Clock defaults to the system clock.
	Clock Clock
	// Logger defaults to discarding. Every line carries call_id and event_id.
	Logger *slog.Logger
	// Observer, when set, is told of attempts, retries and dead letters (metrics).
	Observer Observer
}

// Worker delivers outbox entries (callbacks.md §1.1, §3.7): it claims due entries with a
// lease, makes one attempt of each, and then acknowledges it (2xx), schedules a retry after
// Backoff(attempt), or moves it to the dead letters (a failure its policy does not retry, no
// retries left, or tt would run out). Retries live in the store, not in memory, so a restart
// loses none.
//
// tt is counted from the entry's Created. An entry claimed after its tt has run out (a backlog,
// a restart, or the lease of a dead worker ending) still gets one attempt, bounded by a fresh
// tt, so that nothing reaches the dead letters unsent; a failure of that attempt is final.
//
// The order of a call's entries is the Outbox's job: Claim hands out at most one entry per
// call, and the next only once that one is acknowledged or dead.
type Worker struct {
	ob    adapter.Outbox
	c     *Client
	owner string
	n     int
	lease time.Duration
	poll  time.Duration
	clock Clock
	log   *slog.Logger
	obs   Observer

	// jobs hands claimed entries to the Workers delivery goroutines, which hand each outcome
	// to one of recordersPerWorker×Workers recorder goroutines on outcomes (see run). They
	// live as long as the worker: a goroutine per delivery grew its stack anew every time (the
	// HTTP client's calls are deep), a few percent of a callback's CPU.
	jobs     chan claimed
	outcomes chan func()
	wake     chan struct{}
	// batcher is ob when it can acknowledge entries together (adapter.AckBatcher): the
	// delivery goroutines then queue each delivered entry on acks for the acker goroutine,
	// which acknowledges all that are waiting in one write, rather than hand each to a
	// recorder that acknowledges it alone (see ackLoop).
	batcher adapter.AckBatcher
	acksMu  sync.Mutex
	acks    []pendingAck
	ackSig  chan struct{} // a delivery queued an Ack (capacity 1)
	ackEnd  chan struct{} // closed once the deliveries have ended: the acker drains and returns
	// heeds is set while a Wake would change what the dispatcher does: while the outbox
	// looked drained or a Claim is on its way. A recorder wakes the dispatcher after an
	// outcome only then, rather than after every callback (a goroutine switch each).
	heeds atomic.Bool
	quit  chan struct{} // closed by Stop
	done  chan struct{} // closed when the dispatcher has returned
	wg    sync.WaitGroup
	// ctx is the deliveries' context; it is cancelled only when Stop stops waiting.
	ctx    context.Context
	cancel context.CancelCauseFunc

	startOnce, stopOnce sync.Once
	started             chan struct{} // closed by Start
}

// NewWorker checks the options and returns a stopped Worker.
func NewWorker(o WorkerOptions) (*Worker, error) {
	if o.Outbox == nil || o.Client == nil {
		return nil, errors.New("webhook: worker: Outbox and Client are required")
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Lease == 0 {
		o.Lease = 2 * time.Minute
	}
	if o.Lease <= MaxTotalTimeout {
		return nil, fmt.Errorf("webhook: worker: lease %v must exceed the longest total timeout (%v)", o.Lease, MaxTotalTimeout)
	}
	if o.Poll <= 0 {
		o.Poll = 200 * time.Millisecond
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Owner == "" {
		id, err := newUUID(o.Client.rand)
		if err != nil {
			return nil, err
		}
		o.Owner = "webhook-" + id
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	batcher, _ := o.Outbox.(adapter.AckBatcher)
	return &Worker{obs: o.Observer, batcher: batcher,
		ob: o.Outbox, c: o.Client, owner: o.Owner, n: o.Workers, lease: o.Lease, poll: o.Poll,
		clock: o.Clock, log: o.Logger.With(slog.String("owner", o.Owner)),
		jobs: make(chan claimed), outcomes: make(chan func()),
		ackSig: make(chan struct{}, 1), ackEnd: make(chan struct{}), wake: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{}), started: make(chan struct{}),
		ctx: ctx, cancel: cancel,
	}, nil
}

// Owner is the name this worker leases entries under.
func (w *Worker) Owner() string { return w.owner }

// Start starts delivering. It returns at once; calling it again does nothing.
func (w *Worker) Start() {
	w.startOnce.Do(func() {
		close(w.started)
		var delivering sync.WaitGroup
		for range w.n {
			delivering.Go(w.deliverLoop)
		}
		for range recordersPerWorker * w.n {
			go w.recordLoop()
		}
		if w.batcher != nil {
			go w.ackLoop()
		}
		go func() {
			// The dispatcher closes jobs when it returns; the recorders and the acker end once
			// the deliveries have handed over their last outcomes.
			delivering.Wait()
			close(w.outcomes)
			close(w.ackEnd)
		}()
		go w.dispatch()
	})
}

// Wake makes the worker look for due entries now rather than at the next poll. The engine
// calls it after Enqueue; it never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Stop stops claiming, releases the entries claimed but not yet handed to a delivery (due
// now), and waits for the deliveries in flight to finish (each is bounded by its tt). If ctx ends first, they are cancelled, their entries released for another attempt, and
// Stop returns ctx's error once they have returned. A stopped Worker cannot be restarted.
func (w *Worker) Stop(ctx context.Context) error {
	w.stopOnce.Do(func() { close(w.quit) })
	select {
	case <-w.started:
		<-w.done
	default:
	}
	idle := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(idle)
	}()
	select {
	case <-idle:
		w.cancel(errStopped)
		return nil
	case <-ctx.Done():
		w.cancel(errStopped)
		<-idle
		return ctx.Err()
	}
}

// claimed is an entry in the dispatcher's buffer: claimed, not yet handed to a delivery.
type claimed struct {
	e  adapter.Entry
	at time.Time // when it was claimed, by the worker's clock
}

// leaseEnd is when the lease of c ends, by the worker's clock.
func (c claimed) leaseEnd(lease time.Duration) time.Time { return c.at.Add(lease) }

// dispatch claims entries ahead of the deliveries and hands them out as delivery goroutines
// free up. It keeps a local buffer: whenever it holds at most claimLow×Workers entries (and the
// last Claim did not find the outbox drained), it fills it up to claimBuffer×Workers in one
// Claim, so that a delivery seldom waits for a Claim round trip and a Claim's cost is shared
// by many entries. The Claim runs in a goroutine of its own (one at a time), so that the
// buffer is still handed out while it is on its way: a Claim's round trip, on a loaded
// machine, outlasts the few deliveries the rest of the buffer feeds. At most
// (claimBuffer+1)×Workers entries are leased to the worker at once. A buffered entry is handed
// out only if it waited less than maxWait (see run); when Stop is called the buffer, with what
// a Claim in flight returns, is released at once, and jobs is closed. It is the only caller of
// wg.Add, and it alone starts Claims.
func (w *Worker) dispatch() {
	var buf []claimed
	defer close(w.done)
	defer close(w.jobs) // after releaseBuffered (deferred below) has added to wg
	type claimResult struct {
		es   []adapter.Entry
		at   time.Time
		want int
		err  error
	}
	claims := make(chan claimResult, 1)
	claiming := false // a Claim is on its way; its result comes on claims
	defer func() {
		if claiming {
			r := <-claims
			for _, e := range r.es {
				buf = append(buf, claimed{e: e, at: r.at})
			}
		}
		w.releaseBuffered(buf)
	}()
	tick := time.NewTicker(w.poll)
	defer tick.Stop()
	low := claimLow * w.n
	drained := false // the last Claim found fewer due entries than it asked for, or failed
	again := false   // a Wake or poll came while a Claim was on its way: it may have missed work
	// After a failed Claim the next waits for a backoff (storeRetryMin doubling to
	// storeRetryMax), which neither Wake nor the poll cuts short: a store that is down is not
	// asked again after every delivery. Buffered entries are still handed out meanwhile.
	var (
		backoff  time.Duration
		failures int
		retry    *time.Timer
		retryC   <-chan time.Time // nil unless waiting for retry
	)
	defer func() {
		if retry != nil {
			retry.Stop()
		}
	}()
	for {
		select {
		case <-w.quit: // checked first: a select between two ready cases picks at random
			return
		default:
		}
		if !claiming && !drained && len(buf) <= low && retryC == nil {
			want := claimBuffer*w.n - len(buf)
			now := w.clock.Now()
			claiming, again = true, false
			w.heeds.Store(true) // before the Claim is sent: an outcome recorded after it is seen
			go func() {
				es, err := w.ob.Claim(w.ctx, w.owner, now, w.lease, want)
				claims <- claimResult{es: es, at: now, want: want, err: err}
			}()
		}
	handout:
		for len(buf) > 0 {
			w.wg.Add(1) // for the entry, if it is taken (Stop waits only once this has returned)
			select {
			case w.jobs <- buf[0]:
				buf = w.handedOut(buf)
			default:
				w.wg.Done()
				break handout
			}
		}
		w.heeds.Store(claiming || drained)
		var jobs chan claimed // nil, never ready, when there is nothing to hand out
		var next claimed
		if len(buf) > 0 {
			jobs, next = w.jobs, buf[0]
			w.wg.Add(1)
		}
		select {
		case <-w.quit:
			if jobs != nil {
				w.wg.Done()
			}
			return
		case jobs <- next:
			buf = w.handedOut(buf)
		case r := <-claims:
			w.untaken(jobs)
			claiming = false
			if r.err != nil {
				failures++
				backoff = min(max(2*backoff, storeRetryMin), storeRetryMax)
				w.log.Error("webhook: claiming outbox entries", slog.String("error", r.err.Error()),
					slog.Int("failures", failures), slog.Duration("retry_in", backoff))
				if retry == nil {
					retry = time.NewTimer(backoff)
				} else {
					retry.Reset(backoff)
				}
				retryC = retry.C
			} else if failures > 0 {
				w.log.Info("webhook: claiming outbox entries again", slog.Int("failures", failures))
				failures, backoff = 0, 0
			}
			for _, e := range r.es {
				buf = append(buf, claimed{e: e, at: r.at})
			}
			drained = r.err != nil || len(r.es) < r.want && !again
		case <-w.wake:
			w.untaken(jobs)
			drained, again = false, claiming
		case <-tick.C:
			w.untaken(jobs)
			drained, again = false, claiming
		case <-retryC:
			w.untaken(jobs)
			retryC = nil
			drained = false
		}
	}
}

// handedOut returns the rest of buf once a delivery goroutine has taken its first entry.
func (w *Worker) handedOut(buf []claimed) []claimed {
	buf[0] = claimed{}
	return buf[1:]
}

// untaken undoes the dispatcher's wg.Add for an entry it offered on jobs (non-nil) that no
// delivery goroutine took.
func (w *Worker) untaken(jobs chan claimed) {
	if jobs != nil {
		w.wg.Done()
	}
}

// releaseBuffered hands the entries that were claimed but not handed out back to the outbox,
// due now, so that Stop leaves nothing leased to this worker but what it was sending.
func (w *Worker) releaseBuffered(buf []claimed) {
	for _, c := range buf {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			log := w.entryLog(c.e)
			w.store(log, "release", c.leaseEnd(w.lease), func(ctx context.Context) error {
				return w.ob.Retry(ctx, c.e.ID, w.owner, w.clock.Now(), "released unsent: worker stopped")
			})
			log.get().Info("webhook: claimed entry released unsent by shutdown")
		}()
	}
}

// maxWait is how long a claimed entry may wait in the buffer and still be sent under its lease:
// a tenth of the lease, and at most half of what the lease leaves beyond the longest attempt.
func (w *Worker) maxWait() time.Duration {
	return min(w.lease/10, (w.lease-MaxTotalTimeout)/2)
}

func (w *Worker) entryLog(e adapter.Entry) *entryLogger { return &entryLogger{w: w, e: e} }

// entryLogger is an entry's logger (call_id, event_id, kind, app, attempt), built the first
// time a line is written: a delivered entry writes none above debug, and building it cost a
// few microseconds per callback. It is used by one goroutine at a time.
type entryLogger struct {
	w *Worker
	e adapter.Entry
	l *slog.Logger
}

func (x *entryLogger) get() *slog.Logger {
	if x.l == nil {
		e := &x.e
		x.l = x.w.log.With(slog.String("call_id", e.CallID), slog.String("event_id", e.ID),
			slog.String("kind", e.Kind), slog.String("app", e.App), slog.Int("attempt", max(e.Attempts, 1)))
	}
	return x.l
}

// enabled reports whether lines of level are written at all.
func (x *entryLogger) enabled(level slog.Level) bool {
	return x.w.log.Enabled(context.Background(), level)
}

// deliverLoop is one of the Workers delivery goroutines: it runs each entry it takes from
// jobs, until the dispatcher closes it.
func (w *Worker) deliverLoop() {
	for c := range w.jobs {
		w.run(c)
	}
}

// recordLoop is one of the recorders goroutines: each records an outcome in the outbox at a
// time, so that a delivery goroutine need not wait for its Ack (see run).
func (w *Worker) recordLoop() {
	for record := range w.outcomes {
		record()
		w.wg.Done() // the entry's, added by the dispatcher
		if w.heeds.Load() {
			w.Wake() // the call's next entry may be due now
		}
	}
}

// run makes one attempt of c's entry in a delivery goroutine, then hands the recording of the
// outcome in the outbox to a recorder, so that the next delivery need not wait for this one's
// Ack. At most recordersPerWorker×Workers outcomes are being recorded at once (batched Acks
// aside): run waits for a free recorder when they are all busy, as with a store that is slow
// to answer.
func (w *Worker) run(c claimed) {
	var record func()
	if wait := w.clock.Now().Sub(c.at); wait > w.maxWait() {
		// Its lease may no longer cover a whole attempt: hand it back unsent, due now.
		log := w.entryLog(c.e)
		record = func() {
			w.store(log, "release", c.leaseEnd(w.lease), func(ctx context.Context) error {
				return w.ob.Retry(ctx, c.e.ID, w.owner, w.clock.Now(), "released unsent: waited too long in the worker's buffer")
			})
			log.get().Warn("webhook: claimed entry waited too long in the buffer; released unsent", slog.Duration("waited", wait))
		}
	} else {
		record = w.deliver(c.e, c.leaseEnd(w.lease))
	}
	if record == nil {
		return // queued for the acker
	}
	w.outcomes <- record
}

// deliver makes one attempt of e, leased until leaseEnd, and returns how to record the outcome
// in the outbox, or nil when it has queued the entry's Ack for the acker.
func (w *Worker) deliver(e adapter.Entry, leaseEnd time.Time) (record func()) {
	n := max(e.Attempts, 1) // Claim counts the attempt it hands out
	log := w.entryLog(e)

	r, err := w.c.EntryRequest(e)
	if err != nil {
		return func() { w.dead(log, e, leaseEnd, err, "cannot be sent") }
	}
	p := r.Retry // with defaults filled
	p.TotalTimeout = min(p.TotalTimeout, MaxTotalTimeout)
	now := w.clock.Now()
	end := e.Created.Add(p.TotalTimeout)
	late := !now.Before(end)
	if late {
		end = now.Add(p.TotalTimeout)
	}
	r.Retry = p
	r.Deadline = time.Now().Add(end.Sub(now)) // the clock may be a test's; deadlines are real

	start := time.Now()
	resp, err := w.c.Attempt(w.ctx, r, n)
	w.obs.Attempted(AttemptResult(resp, err), time.Since(start))
	if err == nil {
		if w.batcher != nil {
			w.queueAck(pendingAck{id: e.ID, leaseEnd: leaseEnd, log: log, status: resp.Status})
			return nil
		}
		return func() {
			w.store(log, "ack", leaseEnd, func(ctx context.Context) error { return w.ob.Ack(ctx, e.ID, w.owner) })
			if log.enabled(slog.LevelDebug) {
				log.get().Debug("webhook: delivered", slog.Int("status", resp.Status))
			}
		}
	}
	if w.ctx.Err() != nil && errors.Is(err, ErrCanceled) {
		// Stop gave up waiting: hand the entry back at once rather than at the lease's end.
		return func() {
			w.store(log, "release", leaseEnd, func(ctx context.Context) error {
				return w.ob.Retry(ctx, e.ID, w.owner, w.clock.Now(), "interrupted: worker stopped")
			})
			log.get().Info("webhook: delivery interrupted by shutdown; released")
		}
	}
	var reason string
	switch {
	case !Retryable(p, err):
		reason = "failure not retried by the policy"
		if errors.Is(err, ErrTotalTimeout) {
			reason = "total timeout ran out"
		}
	case n > p.Retries:
		reason = "no retries left"
	case late:
		reason = "total timeout ran out"
	default:
		next := w.clock.Now().Add(Backoff(n))
		if !next.Before(end) {
			reason = "total timeout ran out"
			break
		}
		w.obs.Retried()
		return func() {
			w.store(log, "retry", leaseEnd, func(ctx context.Context) error { return w.ob.Retry(ctx, e.ID, w.owner, next, err.Error()) })
			log.get().Warn("webhook: delivery failed; will retry", slog.Time("retry_at", next), slog.String("error", err.Error()))
		}
	}
	return func() { w.dead(log, e, leaseEnd, err, reason) }
}

func (w *Worker) dead(log *entryLogger, e adapter.Entry, leaseEnd time.Time, err error, reason string) {
	w.obs.DeadLettered()
	w.store(log, "dead", leaseEnd, func(ctx context.Context) error { return w.ob.Dead(ctx, e.ID, w.owner, err.Error()) })
	log.get().Error("webhook: delivery failed; moved to dead letters", slog.String("reason", reason), slog.String("error", err.Error()))
}

// store records an outcome in the outbox (op names it in the logs): it runs the write f, each
// attempt with its own deadline, detached from Stop's cancellation. While the write fails it
// tries again after a backoff (storeRetryMin doubling to storeRetryMax), for as long as the
// entry's lease, ending at leaseEnd by the worker's clock, keeps it this worker's and Stop has
// not given up waiting: an outcome is not lost to a store that is down for a moment. Once
// the lease has ended the entry is another worker's to deliver again, so store gives up.
//
// Only Claim counts attempts, so trying a write again never counts one twice. A write whose
// reply was lost may have run: when a later attempt finds the entry gone (ErrNotFound) or
// no longer leased to this worker (ErrConflict), the outcome was most likely recorded by the
// earlier attempt, and that is logged as such. A first attempt answered ErrConflict means the
// lease was lost: another worker owns the entry now and may send it again, since delivery is
// at least once and the event id lets the app drop the duplicate.
func (w *Worker) store(log *entryLogger, op string, leaseEnd time.Time, f func(ctx context.Context) error) {
	backoff := storeRetryMin
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), storeTimeout)
		err := f(ctx)
		cancel()
		if w.settled(log, op, attempt, err) || !w.tryAgain(log, op, attempt, err, leaseEnd, backoff) {
			return
		}
		if !w.pause(backoff) {
			continue // Stop gave up waiting: the next attempt is the last (tryAgain)
		}
		backoff = min(2*backoff, storeRetryMax)
	}
}

// settled reports whether the answer err to a write of an outcome (attempt attempt of it)
// ends the matter, and logs what it means (see store).
func (w *Worker) settled(log *entryLogger, op string, attempt int, err error) bool {
	answered := errors.Is(err, adapter.ErrNotFound) || errors.Is(err, adapter.ErrConflict)
	switch {
	case err == nil && attempt == 1:
		return true
	case err == nil || answered && attempt > 1:
		log.get().Info("webhook: outbox "+op+" recorded after the store failed", slog.Int("store_attempts", attempt),
			slog.String("answer", errText(err)))
		return true
	case answered:
		level := slog.LevelError
		if errors.Is(err, adapter.ErrConflict) {
			level = slog.LevelWarn
		}
		log.get().LogAttrs(w.ctx, level, "webhook: outbox "+op+" failed", slog.String("error", err.Error()))
		return true
	}
	return false
}

// tryAgain reports whether a write that failed with err (the store's failure, not an answer)
// is to be tried again after backoff: not once Stop has given up waiting, nor once the
// entry's lease, ending at leaseEnd, would have ended. It logs the failure.
func (w *Worker) tryAgain(log *entryLogger, op string, attempt int, err error, leaseEnd time.Time, backoff time.Duration) bool {
	if cause := context.Cause(w.ctx); cause != nil {
		log.get().Error("webhook: outbox "+op+" failed", slog.String("error", err.Error()), slog.Int("store_attempts", attempt),
			slog.String("gave_up", cause.Error()))
		return false
	}
	if !w.clock.Now().Add(backoff).Before(leaseEnd) {
		log.get().Error("webhook: outbox "+op+" failed", slog.String("error", err.Error()), slog.Int("store_attempts", attempt),
			slog.String("gave_up", "the lease ends: the entry will be delivered again"))
		return false
	}
	if attempt == 1 {
		log.get().Warn("webhook: outbox "+op+" failed; will try again", slog.String("error", err.Error()))
	}
	return true
}

// pause waits for backoff, or until Stop gives up waiting (false).
func (w *Worker) pause(backoff time.Duration) bool {
	t := time.NewTimer(backoff)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.ctx.Done():
		return false
	}
}

// pendingAck is a delivered entry whose Ack is queued for the acker.
type pendingAck struct {
	id       string
	leaseEnd time.Time
	log      *entryLogger
	status   int
	attempt  int // writes of it tried so far
}

// maxAckBatch bounds the entries of one AckEach.
const maxAckBatch = 256

// queueAck queues a delivered entry's Ack for the acker (it never blocks).
func (w *Worker) queueAck(p pendingAck) {
	w.acksMu.Lock()
	w.acks = append(w.acks, p)
	w.acksMu.Unlock()
	select {
	case w.ackSig <- struct{}{}:
	default:
	}
}

// takeAcks removes up to maxAckBatch queued Acks.
func (w *Worker) takeAcks() []pendingAck {
	w.acksMu.Lock()
	defer w.acksMu.Unlock()
	n := min(len(w.acks), maxAckBatch)
	if n == 0 {
		return nil
	}
	b := make([]pendingAck, n)
	copy(b, w.acks)
	w.acks = append(w.acks[:0], w.acks[n:]...)
	return b
}

// ackLoop is the acker: it acknowledges the delivered entries that are waiting, all in one
// AckEach, then those that came meanwhile, and so on: as an Ack group of the store's, but with
// no goroutine, channel and wake-up per Ack. Each entry's answer is handled as store handles a
// lone Ack's; a failed write is tried again for the entries whose lease still allows it. It
// returns once the deliveries have ended and nothing is left to acknowledge.
func (w *Worker) ackLoop() {
	for {
		end := false
		select {
		case <-w.ackSig:
		case <-w.ackEnd:
			end = true
		}
		for b := w.takeAcks(); b != nil; b = w.takeAcks() {
			w.ackBatch(b)
		}
		if end {
			return
		}
	}
}

// ackBatch acknowledges b in one write, trying again (as store does) while the write fails;
// the Acks queued meanwhile join each new attempt, so that none waits out an outage behind
// the others' backoff.
func (w *Worker) ackBatch(b []pendingAck) {
	backoff := storeRetryMin
	var ids []string
	for round := 1; len(b) > 0; round++ {
		if round > 1 {
			b = append(b, w.takeAcks()...)
		}
		ids = ids[:0]
		for i := range b {
			b[i].attempt++
			ids = append(ids, b[i].id)
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), storeTimeout)
		answers, err := w.batcher.AckEach(ctx, w.owner, ids)
		cancel()
		if err == nil && len(answers) != len(ids) {
			err = fmt.Errorf("store: ack: %d answers for %d entries", len(answers), len(ids))
		}
		keep := b[:0]
		for i, p := range b {
			perr := err
			if err == nil {
				perr = answers[i]
			}
			if w.settled(p.log, "ack", p.attempt, perr) || !w.tryAgain(p.log, "ack", p.attempt, perr, p.leaseEnd, backoff) {
				w.acked(p)
				continue
			}
			keep = append(keep, p)
		}
		b = keep
		if len(b) > 0 && w.pause(backoff) {
			backoff = min(2*backoff, storeRetryMax)
		}
	}
}

// acked ends a delivered entry's handling once its Ack is recorded (or given up).
func (w *Worker) acked(p pendingAck) {
	if p.log.enabled(slog.LevelDebug) {
		p.log.get().Debug("webhook: delivered", slog.Int("status", p.status))
	}
	w.wg.Done() // the entry's, added by the dispatcher
	if w.heeds.Load() {
		w.Wake() // the call's next entry may be due now
	}
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
