package store

import (
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// JobRecord is a background job (adapter.Job) without its lease, which each store keeps in
// its own way. Payload is the engine's own record, opaque here.
type JobRecord struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	CallID   string    `json:"call_id,omitempty"`
	Payload  []byte    `json:"payload"`
	Deadline time.Time `json:"deadline"`
	Created  time.Time `json:"created"`
}

// JobRecordOf is the stored form of j.
func JobRecordOf(j adapter.Job) JobRecord {
	return JobRecord{ID: j.ID, Kind: j.Kind, CallID: j.CallID, Payload: j.Payload,
		Deadline: j.Deadline.UTC(), Created: j.Created.UTC()}
}

// Job is the job of r, free.
func (r JobRecord) Job() adapter.Job {
	return adapter.Job{ID: r.ID, Kind: r.Kind, CallID: r.CallID, Payload: r.Payload,
		Deadline: r.Deadline, Created: r.Created}
}
