package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/translate"
)

// The records below are the stored form shared by store/local and store/redis (so a dump of
// either reads alike). They are owned here, not by adapter: adapter's types can gain, rename
// or reorder fields without silently changing what is stored, and a change of meaning here
// goes with a schema version bump in the stores. Times are stored in UTC. Each store embeds
// these records in its own when it keeps more beside them (a version, an entry's lease).

// CallRecord is a call's state, without its compare-and-set version.
type CallRecord struct {
	ID          string    `json:"id"`
	PBX         string    `json:"pbx,omitempty"`
	ChannelID   string    `json:"channel_id,omitempty"`
	App         string    `json:"app,omitempty"`
	Dialect     string    `json:"dialect,omitempty"`
	DocumentURL string    `json:"document_url,omitempty"`
	From        string    `json:"from,omitempty"`
	To          string    `json:"to,omitempty"`
	CallerName  string    `json:"caller_name,omitempty"`
	Direction   string    `json:"direction,omitempty"`
	Verb        int       `json:"verb"`
	VerbName    string    `json:"verb_name,omitempty"`
	Status      string    `json:"status,omitempty"`
	Started     time.Time `json:"started"`
	Updated     time.Time `json:"updated"`

	// Live came after schema 1 without a version bump: older records lack it (no live
	// recordings) and older binaries ignore it.
	Live []LiveRecord `json:"live,omitempty"`
}

// LiveRecord is a recording live on the PBX (adapter.LiveRecording).
type LiveRecord struct {
	Name    string    `json:"name"`
	Started time.Time `json:"started"`
	Spec    []byte    `json:"spec,omitempty"`
}

// CallRecordOf is the stored form of c (its Version is the store's business).
func CallRecordOf(c adapter.CallState) CallRecord {
	r := CallRecord{
		ID: c.ID, PBX: c.PBX, ChannelID: c.ChannelID, App: c.App, Dialect: string(c.Dialect),
		DocumentURL: c.DocumentURL, From: c.From, To: c.To, CallerName: c.CallerName,
		Direction: c.Direction, Verb: c.Verb, VerbName: c.VerbName, Status: c.Status,
		Started: c.Started.UTC(), Updated: c.Updated.UTC(),
	}
	for _, l := range c.Live {
		r.Live = append(r.Live, LiveRecord{Name: l.Name, Started: l.Started.UTC(), Spec: l.Spec})
	}
	return r
}

// State is the call state of r, with Version 0.
func (r CallRecord) State() adapter.CallState {
	c := adapter.CallState{
		ID: r.ID, PBX: r.PBX, ChannelID: r.ChannelID, App: r.App,
		Dialect: translate.Dialect(r.Dialect), DocumentURL: r.DocumentURL, From: r.From, To: r.To,
		CallerName: r.CallerName, Direction: r.Direction, Verb: r.Verb,
		VerbName: r.VerbName, Status: r.Status, Started: r.Started,
		Updated: r.Updated,
	}
	for _, l := range r.Live {
		c.Live = append(c.Live, adapter.LiveRecording{Name: l.Name, Started: l.Started, Spec: l.Spec})
	}
	return c
}

// FileRecord is a stored file's metadata.
type FileRecord struct {
	SID          string    `json:"sid"`
	ContainerSID string    `json:"container_sid"`
	Name         string    `json:"name,omitempty"`
	Format       string    `json:"format,omitempty"`
	MIMEType     string    `json:"mime_type,omitempty"`
	Bytes        int64     `json:"bytes"`
	Duration     int64     `json:"duration_ns"`
	Created      time.Time `json:"created"`
	Modified     time.Time `json:"modified"`
	IntegerKey1  *int64    `json:"integer_key_1,omitempty"`
	IntegerKey2  *int64    `json:"integer_key_2,omitempty"`
	StringKey1   *string   `json:"string_key_1,omitempty"`
	StringKey2   *string   `json:"string_key_2,omitempty"`
	Lifecycle    string    `json:"lifecycle_action,omitempty"`
	LifecycleTTL int64     `json:"lifecycle_ttl_ns,omitempty"`
	ExpiresAt    time.Time `json:"expires_at"`
	CallID       string    `json:"call_id,omitempty"`
	BlobKey      string    `json:"blob_key,omitempty"`
}

// EncodeFile is the stored form of f.
func EncodeFile(f adapter.File) ([]byte, error) {
	return Marshal("file "+f.SID, FileRecord{
		SID: f.SID, ContainerSID: f.ContainerSID, Name: f.Name, Format: f.Format,
		MIMEType: f.MIMEType, Bytes: f.Bytes, Duration: int64(f.Duration),
		Created: f.Created.UTC(), Modified: f.Modified.UTC(),
		IntegerKey1: f.IntegerKey1, IntegerKey2: f.IntegerKey2,
		StringKey1: f.StringKey1, StringKey2: f.StringKey2,
		Lifecycle: string(f.Lifecycle), LifecycleTTL: int64(f.LifecycleTTL),
		ExpiresAt: f.ExpiresAt.UTC(), CallID: f.CallID, BlobKey: f.BlobKey,
	})
}

// DecodeFile reads a file record.
func DecodeFile(b []byte) (adapter.File, error) {
	var r FileRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return adapter.File{}, fmt.Errorf("decode file: %w", err)
	}
	return adapter.File{
		SID: r.SID, ContainerSID: r.ContainerSID, Name: r.Name, Format: r.Format,
		MIMEType: r.MIMEType, Bytes: r.Bytes, Duration: time.Duration(r.Duration),
		Created: r.Created, Modified: r.Modified,
		IntegerKey1: r.IntegerKey1, IntegerKey2: r.IntegerKey2,
		StringKey1: r.StringKey1, StringKey2: r.StringKey2,
		Lifecycle: translate.LifecycleAction(r.Lifecycle), LifecycleTTL: time.Duration(r.LifecycleTTL),
		ExpiresAt: r.ExpiresAt, CallID: r.CallID, BlobKey: r.BlobKey,
	}, nil
}

// RetryRecord is an entry's retry policy.
type RetryRecord struct {
	ConnectTimeout int64  `json:"ct_ns"`
	ReadTimeout    int64  `json:"rt_ns"`
	TotalTimeout   int64  `json:"tt_ns"`
	Retries        int    `json:"rc"`
	RetryOn        uint8  `json:"rp"`
	Region         string `json:"er,omitempty"`
	FromFragment   bool   `json:"from_fragment,omitempty"`
}

// EntryRecord is the immutable part of an outbox entry; each store keeps the mutable part
// (attempts, due time, lease, last error, death) its own way.
type EntryRecord struct {
	ID       string      `json:"id"`
	CallID   string      `json:"call_id"`
	Seq      int64       `json:"seq"`
	App      string      `json:"app,omitempty"`
	Dialect  string      `json:"dialect,omitempty"`
	Kind     string      `json:"kind,omitempty"`
	Method   string      `json:"method,omitempty"`
	URL      string      `json:"url"`
	Auth     []byte      `json:"auth,omitempty"` // sealed by the engine, never clear
	Body     []byte      `json:"body,omitempty"`
	BodyType string      `json:"body_type,omitempty"`
	Retry    RetryRecord `json:"retry"`
	Created  time.Time   `json:"created"`
}

// EntryRecordOf is the immutable part of e.
func EntryRecordOf(e adapter.Entry) EntryRecord {
	p := e.Retry
	return EntryRecord{
		ID: e.ID, CallID: e.CallID, Seq: e.Seq, App: e.App, Dialect: string(e.Dialect),
		Kind: e.Kind, Method: string(e.Method), URL: e.URL, Auth: e.Auth, Body: e.Body, BodyType: e.BodyType,
		Retry: RetryRecord{
			ConnectTimeout: int64(p.ConnectTimeout), ReadTimeout: int64(p.ReadTimeout),
			TotalTimeout: int64(p.TotalTimeout), Retries: p.Retries, RetryOn: uint8(p.RetryOn),
			Region: p.Region, FromFragment: p.FromFragment,
		},
		Created: e.Created.UTC(),
	}
}

// Entry is the entry of r, with its mutable state zero.
func (r EntryRecord) Entry() adapter.Entry {
	p := r.Retry
	return adapter.Entry{
		ID: r.ID, CallID: r.CallID, Seq: r.Seq, App: r.App, Dialect: translate.Dialect(r.Dialect),
		Kind: r.Kind, Method: translate.Method(r.Method), URL: r.URL, Auth: r.Auth, Body: r.Body,
		BodyType: r.BodyType,
		Retry: translate.RetryPolicy{
			ConnectTimeout: time.Duration(p.ConnectTimeout), ReadTimeout: time.Duration(p.ReadTimeout),
			TotalTimeout: time.Duration(p.TotalTimeout), Retries: p.Retries,
			RetryOn: translate.RetryClass(p.RetryOn), Region: p.Region, FromFragment: p.FromFragment,
		},
		Created: r.Created,
	}
}

// Marshal is json.Marshal with an error that names what was being encoded.
func Marshal(what string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", what, err)
	}
	return b, nil
}
