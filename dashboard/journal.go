package dashboard

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/journal"
)

// Journal is what this instance recently sent and did for each call (package journal): the
// dashboard shows delivered callbacks and their answers from it, which the outbox forgets.
// Its methods are called from request goroutines, concurrently with the senders.
type Journal interface {
	// Call returns the steps of a call that are still kept, oldest first.
	Call(id string) []journal.Entry
	Stats() journal.Stats
}

// maxRequests bounds the requests listed under one recording; the call page lists them all.
const maxRequests = 50

// attempt is one try of a request and what came back.
type attempt struct {
	N      int
	Status int // 0: no answer
	Err    string
	Took   time.Duration
	Time   time.Time
	// Again: the attempts started over (a replayed dead letter, or a callback the engine sent
	// again after a restart).
	Again bool
}

// OK reports a 2xx answer.
func (a attempt) OK() bool { return a.Status >= 200 && a.Status < 300 && a.Err == "" }

// param is one request parameter, redacted by the webhook client already.
type param struct{ Name, Value string }

// request is one logical request (an event id) with its attempts, oldest first.
type request struct {
	EventID  string
	Kind     string
	Method   string
	URL      string
	Document bool
	Params   []param
	Body     string
	Attempts []attempt
	// Carries: the request names the recording it is listed under.
	Carries bool
}

// Last is the latest attempt.
func (r request) Last() attempt { return r.Attempts[len(r.Attempts)-1] }

// requests groups a call's exchanges by event id, newest request first (by its latest
// attempt), marking those that name recording sid.
func requests(es []journal.Entry, sid string) []request {
	var out []request
	at := map[string]int{}
	for _, e := range es {
		x := e.Exchange
		if x == nil {
			continue
		}
		a := attempt{N: x.Attempt, Status: x.Status, Err: x.Err, Took: x.Took, Time: x.Time}
		key := x.EventID
		if key == "" {
			key = "#" + strconv.FormatUint(e.Seq, 10)
		}
		if i, ok := at[key]; ok {
			a.Again = a.N <= out[i].Last().N
			out[i].Attempts = append(out[i].Attempts, a)
			continue
		}
		params, body := x.Parameters()
		r := request{EventID: x.EventID, Kind: x.Kind, Method: x.Method, URL: x.URL, Document: x.Document, Body: body,
			Attempts: []attempt{a}, Carries: sid != "" && e.RecordingID == sid}
		for k, vs := range params {
			for _, v := range vs {
				r.Params = append(r.Params, param{k, v})
			}
		}
		slices.SortStableFunc(r.Params, func(a, b param) int { return strings.Compare(a.Name, b.Name) })
		at[key] = len(out)
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(a, b request) int { return b.Last().Time.Compare(a.Last().Time) })
	return out
}

// journalNote describes the journal for a page: how far back it reaches.
type journalNote struct {
	journal.Stats
	On bool
}

func (db *Dashboard) journalNote() journalNote {
	if db.d.Journal == nil {
		return journalNote{}
	}
	return journalNote{Stats: db.d.Journal.Stats(), On: true}
}

// step is one line of a call's trace.
type step struct {
	Time    time.Time
	Offset  time.Duration // since the first step kept
	What    string        // call started, document, verb, recording, call ended, or the request's kind
	Detail  string
	Err     string
	Warn    []string
	Body    string // a document's excerpt, redacted
	Request *request
}

type callData struct {
	ID      string
	Live    bool
	State   adapter.CallState
	Steps   []step
	Journal journalNote
}

// call shows one call: its state while the store holds it as live, and every step this
// instance kept of it, oldest first.
func (db *Dashboard) call(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	data := callData{ID: id, Journal: db.journalNote()}
	st, err := db.d.Store.GetCall(r.Context(), id)
	switch {
	case err == nil:
		data.Live, data.State = true, st
	case errors.Is(err, adapter.ErrNotFound):
	default:
		db.fail(w, r, "reading call "+id, err)
		return
	}
	if db.d.Journal != nil {
		data.Steps = steps(db.d.Journal.Call(id))
	}
	if !data.Live && len(data.Steps) == 0 {
		text := "No call " + strconv.Quote(id) + " is live, and this instance keeps no step of it."
		if db.d.Journal != nil {
			text += " The journal keeps the last " + strconv.Itoa(data.Journal.Size) + " steps of this instance only."
		}
		db.message(w, r, http.StatusNotFound, "No such call", text)
		return
	}
	db.render(w, r, http.StatusOK, "call", page{Title: "Call " + id, Nav: "calls", CSRF: db.csrfFor(r), Data: data})
}

// steps turns a call's journal entries into the lines of its trace, in time order: engine
// steps as they are, and each request's attempts gathered on the line of its first.
func steps(es []journal.Entry) []step {
	if len(es) == 0 {
		return nil
	}
	first := es[0].Time()
	for _, e := range es {
		if e.Time().Before(first) {
			first = e.Time()
		}
	}
	reqs := requests(es, "")
	byID := map[string]*request{}
	for i := range reqs {
		if reqs[i].EventID != "" {
			byID[reqs[i].EventID] = &reqs[i]
		}
	}
	seen := map[string]bool{}
	var out []step
	for _, e := range es {
		s := step{Time: e.Time(), Offset: e.Time().Sub(first)}
		if x := e.Exchange; x != nil {
			if x.EventID != "" {
				if seen[x.EventID] {
					continue
				}
				seen[x.EventID] = true
			}
			rq := byID[x.EventID]
			if rq == nil {
				one := requests([]journal.Entry{e}, "")
				rq = &one[0]
			}
			s.What, s.Request = "HTTP "+x.Kind, rq
			out = append(out, s)
			continue
		}
		ev := e.Event
		s.Err = ev.Err
		switch ev.Kind {
		case adapter.TraceCallStarted:
			s.What, s.Detail = "call started", ev.From+" → "+ev.To+" · "+ev.App+" ("+string(ev.Dialect)+")"
		case adapter.TraceDocument:
			s.What = "document (" + ev.Request + ")"
			s.Detail = ev.URL
			if ev.Status != 0 {
				s.Detail += " → HTTP " + strconv.Itoa(ev.Status) + ", " + strconv.Itoa(ev.Bytes) + " bytes"
			}
			if len(ev.Verbs) > 0 {
				s.Detail += " · verbs: " + strings.Join(ev.Verbs, ", ")
			}
			s.Warn, s.Body = ev.Warnings, ev.Body
		case adapter.TraceVerbStarted:
			s.What, s.Detail = "verb", ev.Verb+" #"+strconv.Itoa(ev.Index)+" at "+ev.Pos+" started"
		case adapter.TraceVerbDone:
			s.What, s.Detail = "verb", ev.Verb+" #"+strconv.Itoa(ev.Index)+" at "+ev.Pos+": "+ev.Outcome
		case adapter.TraceRecording:
			s.What = "recording"
			s.Detail = ev.Outcome
			if ev.RecordingID != "" {
				s.Detail += " · " + ev.RecordingID + " · " + fmtDuration(ev.Duration)
			}
			if ev.Digits != "" {
				s.Detail += " · digits " + ev.Digits
			}
		case adapter.TraceCallEnded:
			s.What, s.Detail = "call ended", "after "+fmtDuration(ev.Duration)
		default:
			s.What = string(ev.Kind)
		}
		out = append(out, s)
	}
	// The journal has the order steps ended in; an exchange is stamped with its start, and
	// reads best where it began (the action sent before the verb after it started).
	slices.SortStableFunc(out, func(a, b step) int { return a.Time.Compare(b.Time) })
	return out
}
