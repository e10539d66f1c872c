package adapter

import (
	"context"
	"time"
)

// Job is durable background work that outlives the call that caused it (a transcription): it
// is written to the store before the call moves on, claimed by a worker of any instance under
// a lease, and removed when its results are in the outbox. A worker that dies loses its lease
// and another instance (or this one after a restart) claims the job again.
type Job struct {
	ID       string
	Kind     string // "transcription"
	CallID   string // for logs
	Payload  []byte // the kind's own record (JSON), opaque to the store
	Deadline time.Time
	Created  time.Time // claim order: oldest first

	Owner    string // worker holding the lease, "" when free
	LeaseEnd time.Time
	Attempts int // claims so far
}

// Jobs is the durable queue of background jobs. Every method is safe for concurrent use, across
// processes when the implementation is shared (Redis). The conformance suite store/storetest
// (RunJobs) pins down the behaviour described here. Stores implement it alongside Store; the
// engine runs jobs in-process, without durability, when it is not given one.
type Jobs interface {
	// AddJob stores a new job, free (Owner and LeaseEnd are ignored). ErrConflict when the ID
	// is taken. Created defaults to now.
	AddJob(ctx context.Context, j Job) error
	// ClaimJobs leases up to max jobs that are free or whose lease ended at or before now to
	// owner until now+lease, oldest Created first, and counts an attempt on each.
	ClaimJobs(ctx context.Context, owner string, now time.Time, lease time.Duration, max int) ([]Job, error)
	// ExtendJob moves the lease end of a job owner holds to until. ErrNotFound when the job is
	// gone; ErrConflict when owner does not hold it (a lease that ran out but was not claimed
	// again still does).
	ExtendJob(ctx context.Context, id, owner string, until time.Time) error
	// FinishJob removes a job. Errors as ExtendJob.
	FinishJob(ctx context.Context, id, owner string) error
	// PendingJobs counts the jobs stored, leased or not (health and tests).
	PendingJobs(ctx context.Context) (int, error)
}
