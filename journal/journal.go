// Package journal keeps, in memory, the last steps of the calls this process handled: every
// attempt of every HTTP request (webhook.Exchange: document fetches, actions, callbacks,
// status callbacks, both the engine's own sends and the outbox worker's deliveries) and the
// engine's trace (adapter.TraceEvent: documents, verbs, recordings). The dashboard reads it
// to show each recording's callbacks with their answers, which the outbox forgets once they
// are delivered.
//
// It is bounded: a ring of Size entries, the oldest overwritten first, indexed by call id and
// by recording id (the RecordingID / RecordingSid parameter of an exchange, the RecordingID
// of a recording event). Each entry's size is bounded too: parsed parameter values are cut
// at MaxValue bytes, and the webhook (a body kept unparsed under webhook.Options.TraceLazy
// is at most 8 KB) and the engine already bound bodies and document excerpts.
//
// It is per process: with several instances sharing a store each keeps what it sent and
// traced. Nothing in it is secret: exchanges have their URL credentials removed and
// credential-named parameters redacted by the webhook client, and engine events are redacted
// by the engine, before they get here.
package journal

import (
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/webhook"
)

// DefaultSize is the number of entries kept when New is given 0.
const DefaultSize = 5000

// MaxValue bounds each parameter value kept (a long transcription text, say), in bytes.
const MaxValue = 1024

// Entry is one step of a call: an HTTP attempt (Exchange) or an engine step (Event); exactly
// one is set. Entries returned by the Journal are copies the caller owns, but Exchange.Params
// is shared: read it, do not change it.
type Entry struct {
	Seq         uint64 // position in the journal, increasing
	CallID      string
	RecordingID string // "" when the step names no recording
	Exchange    *webhook.Exchange
	Event       *adapter.TraceEvent
}

// Time is when the step happened.
func (e Entry) Time() time.Time {
	if e.Exchange != nil {
		return e.Exchange.Time
	}
	if e.Event != nil {
		return e.Event.Time
	}
	return time.Time{}
}

// slot is one place of the ring. It holds values, not pointers, so that recording a step
// allocates nothing but what the index needs.
type slot struct {
	seq  uint64 // 0: empty
	call string
	rec  string
	isEv bool
	ex   webhook.Exchange
	ev   adapter.TraceEvent
}

// Journal is the ring and its indexes. It is safe for concurrent use: Exchange and Trace are
// called from the outbox workers and the call goroutines, the readers from HTTP handlers.
// Every method holds one mutex for a few map operations, never while calling out, so the
// senders are never made to wait on a reader for long (readers copy only one call's entries).
type Journal struct {
	mu      sync.Mutex
	ring    []slot
	next    uint64 // seq of the next entry; the first is 1
	byCall  map[string][]uint64
	byRec   map[string][]uint64
	evicted uint64
}

var _ adapter.Tracer = (*Journal)(nil)

// New returns a journal of size entries (DefaultSize when size <= 0).
func New(size int) *Journal {
	if size <= 0 {
		size = DefaultSize
	}
	return &Journal{ring: make([]slot, size), next: 1, byCall: map[string][]uint64{}, byRec: map[string][]uint64{}}
}

// Exchange records one attempt of an HTTP request: it is webhook.Options.Trace (best with
// TraceLazy, which leaves the parsing of bodies to the readers). It takes ex.Params: the
// caller must not change it afterwards (the webhook client builds a fresh one per attempt).
func (j *Journal) Exchange(ex webhook.Exchange) {
	ex.Params = bounded(ex.Params)
	rec := ex.Param("RecordingID")
	if rec == "" {
		rec = ex.Param("RecordingSid")
	}
	j.mu.Lock()
	s := j.put(ex.CallID, rec)
	s.isEv, s.ex, s.ev = false, ex, adapter.TraceEvent{}
	j.mu.Unlock()
}

// Trace records one engine step: the Journal is an adapter.Tracer.
func (j *Journal) Trace(ev adapter.TraceEvent) {
	j.mu.Lock()
	s := j.put(ev.CallID, ev.RecordingID)
	s.isEv, s.ev, s.ex = true, ev, webhook.Exchange{}
	j.mu.Unlock()
}

// put takes the next slot, evicting what it held, and indexes it. j.mu is held.
func (j *Journal) put(call, rec string) *slot {
	seq := j.next
	j.next++
	s := &j.ring[seq%uint64(len(j.ring))]
	if s.seq != 0 {
		j.evicted++
		unindex(j.byCall, s.call, s.seq)
		unindex(j.byRec, s.rec, s.seq)
	}
	s.seq, s.call, s.rec = seq, call, rec
	if call != "" {
		j.byCall[call] = append(j.byCall[call], seq)
	}
	if rec != "" {
		j.byRec[rec] = append(j.byRec[rec], seq)
	}
	return s
}

// unindex removes seq, the oldest entry of key (entries are evicted in the order they came),
// and the key with it when it was the last.
func unindex(m map[string][]uint64, key string, seq uint64) {
	if key == "" {
		return
	}
	seqs := m[key]
	if len(seqs) == 0 || seqs[0] != seq {
		return // cannot happen: the ring evicts oldest first
	}
	if len(seqs) == 1 {
		delete(m, key)
		return
	}
	m[key] = seqs[1:]
}

// Call returns the steps of a call that are still kept, oldest first.
func (j *Journal) Call(id string) []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.entries(j.byCall[id])
}

// Recording returns the steps that name a recording, oldest first.
func (j *Journal) Recording(id string) []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.entries(j.byRec[id])
}

// entries copies the slots of seqs. j.mu is held.
func (j *Journal) entries(seqs []uint64) []Entry {
	if len(seqs) == 0 {
		return nil
	}
	out := make([]Entry, 0, len(seqs))
	for _, seq := range seqs {
		s := &j.ring[seq%uint64(len(j.ring))]
		if s.seq != seq {
			continue
		}
		e := Entry{Seq: seq, CallID: s.call, RecordingID: s.rec}
		if s.isEv {
			ev := s.ev
			e.Event = &ev
		} else {
			ex := s.ex
			e.Exchange = &ex
		}
		out = append(out, e)
	}
	return out
}

// Stats describes what the journal holds.
type Stats struct {
	Size    int       // entries it can hold
	Kept    int       // entries it holds
	Evicted uint64    // entries overwritten since the start
	Oldest  time.Time // time of the oldest entry kept; zero when empty
	Calls   int       // calls with entries kept
}

// Stats tells how full the journal is and how far back it reaches.
func (j *Journal) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := Stats{Size: len(j.ring), Kept: int(j.next - 1 - j.evicted), Evicted: j.evicted, Calls: len(j.byCall)}
	if st.Kept > 0 {
		s := &j.ring[(j.evicted+1)%uint64(len(j.ring))]
		if s.isEv {
			st.Oldest = s.ev.Time
		} else {
			st.Oldest = s.ex.Time
		}
	}
	return st
}

// bounded returns params with every value cut to MaxValue bytes, copying only when one is
// longer.
func bounded(params map[string][]string) map[string][]string {
	long := false
	for _, vs := range params {
		for _, v := range vs {
			if len(v) > MaxValue {
				long = true
			}
		}
	}
	if !long {
		return params
	}
	out := make(map[string][]string, len(params))
	for k, vs := range params {
		cp := make([]string, len(vs))
		for i, v := range vs {
			cp[i] = cut(v)
		}
		out[k] = cp
	}
	return out
}

// cut shortens v to at most MaxValue bytes, on a character boundary, marking the cut.
func cut(v string) string {
	if len(v) <= MaxValue {
		return v
	}
	n := MaxValue
	for n > 0 && !utf8.RuneStart(v[n]) {
		n--
	}
	return v[:n] + "…"
}
