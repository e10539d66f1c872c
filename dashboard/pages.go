package dashboard

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// Limits of what one page reads from the store.
const (
	// recentFiles is how many recordings the Recordings page shows by default (?limit=, up to
	// maxRecent).
	recentFiles = 50
	maxRecent   = 500
	// scanFiles bounds how many file records the Recordings page reads to find the newest:
	// the stores list files by SID, not by time.
	scanFiles = 20000
	filePage  = 1000
	// maxDead is how many dead letters the Outbox page lists (oldest first), and how many the
	// Recordings page matches against its recordings.
	maxDead = 500
	// oldestScan is how many calls' queue heads the oldest-callback age looks at (as metrics).
	oldestScan = 1000
)

// refresh is the page's reload period: ?refresh=N seconds (0 = off, at most an hour), else def.
func refresh(r *http.Request, def int) int {
	if v := r.URL.Query().Get("refresh"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 3600 {
			return n
		}
	}
	return def
}

// callRow is one live call on the Calls page.
type callRow struct {
	adapter.CallState
	Duration time.Duration
	// Verb is the verb being run, "" while the first document is fetched.
	Verb string
	// Recordings counts the recordings live on the PBX (Record in the background included).
	Recordings int
}

type callsData struct {
	Calls   []callRow
	Refresh int
}

// calls lists the calls the store holds as live: every instance's, when the store is shared.
func (db *Dashboard) calls(w http.ResponseWriter, r *http.Request) {
	cs, err := db.d.Store.ListCalls(r.Context())
	if err != nil {
		db.fail(w, r, "listing calls", err)
		return
	}
	now := db.d.Now()
	rows := make([]callRow, 0, len(cs))
	for _, c := range cs {
		rows = append(rows, callRow{CallState: c, Duration: now.Sub(c.Started), Verb: c.VerbName, Recordings: len(c.Live)})
	}
	slices.SortFunc(rows, func(a, b callRow) int { return b.Started.Compare(a.Started) })
	ref := refresh(r, 5)
	db.render(w, r, http.StatusOK, "calls", page{Title: "Calls", Nav: "calls", CSRF: db.csrfFor(r), Refresh: ref, Now: now,
		Data: callsData{Calls: rows, Refresh: ref}})
}

// recordingRow is one recording on the Recordings page.
type recordingRow struct {
	adapter.File
	Audio string // URL the player fetches
	Keys  []string
	// Dead are the dead letters that carry this recording (its action, callbackUrl or
	// transcription callback that failed for good).
	Dead []adapter.Entry
	// Requests are the requests this instance sent for the recording's call (the journal),
	// newest first, at most maxRequests; More counts those left off.
	Requests []request
	More     int
}

type recordingsData struct {
	Files     []recordingRow
	Total     int  // files read
	Truncated bool // the scan stopped at scanFiles
	Container string
	Limit     int
	Outbox    bool
	Journal   journalNote
}

// recordings shows the newest recordings: the store lists files by SID, so the page reads
// them in pages (up to scanFiles) and keeps the newest.
func (db *Dashboard) recordings(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	limit := recentFiles
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxRecent {
			db.message(w, r, http.StatusBadRequest, "Bad request", "limit: must be an integer from 1 to 500, got "+strconv.Quote(v))
			return
		}
		limit = n
	}
	data := recordingsData{Container: q.Get("container"), Limit: limit, Outbox: db.d.Outbox != nil, Journal: db.journalNote()}
	var newest []adapter.File
	after := ""
	for data.Total < scanFiles {
		fs, err := db.d.Store.ListFiles(ctx, adapter.FileQuery{ContainerSID: data.Container, Limit: filePage, After: after})
		if err != nil {
			db.fail(w, r, "listing recordings", err)
			return
		}
		data.Total += len(fs)
		newest = append(newest, fs...)
		slices.SortFunc(newest, func(a, b adapter.File) int {
			if c := b.Created.Compare(a.Created); c != 0 {
				return c
			}
			return strings.Compare(a.SID, b.SID)
		})
		if len(newest) > limit {
			newest = newest[:limit]
		}
		if len(fs) < filePage {
			break
		}
		after = fs[len(fs)-1].SID
		data.Truncated = data.Total >= scanFiles
	}
	var dead []adapter.Entry
	if db.d.Outbox != nil {
		var err error
		if dead, err = db.d.Outbox.ListDead(ctx, maxDead); err != nil {
			db.fail(w, r, "listing dead letters", err)
			return
		}
	}
	for _, f := range newest {
		row := recordingRow{File: f, Audio: db.d.FileLink(f.SID, f.Format), Keys: fileKeys(f)}
		for _, e := range dead {
			if e.CallID == f.CallID && carries(e, f.SID) {
				row.Dead = append(row.Dead, e)
			}
		}
		if db.d.Journal != nil && f.CallID != "" {
			row.Requests = requests(db.d.Journal.Call(f.CallID), f.SID)
			if len(row.Requests) > maxRequests {
				row.Requests, row.More = row.Requests[:maxRequests], len(row.Requests)-maxRequests
			}
		}
		data.Files = append(data.Files, row)
	}
	db.render(w, r, http.StatusOK, "recordings", page{Title: "Recordings", Nav: "recordings", CSRF: db.csrfFor(r), Data: data})
}

// carries reports whether a callback names the recording: its parameters (in the body, or
// in the query of a GET) hold the SID as RecordingSid, RecordUrl or RecordingUrl.
func carries(e adapter.Entry, sid string) bool {
	if strings.Contains(string(e.Body), sid) {
		return true
	}
	if u, err := url.Parse(e.URL); err == nil {
		return strings.Contains(u.RawQuery, sid)
	}
	return false
}

func fileKeys(f adapter.File) []string {
	var ks []string
	if f.IntegerKey1 != nil {
		ks = append(ks, "integer_key_1="+strconv.FormatInt(*f.IntegerKey1, 10))
	}
	if f.IntegerKey2 != nil {
		ks = append(ks, "integer_key_2="+strconv.FormatInt(*f.IntegerKey2, 10))
	}
	if f.StringKey1 != nil {
		ks = append(ks, "string_key_1="+*f.StringKey1)
	}
	if f.StringKey2 != nil {
		ks = append(ks, "string_key_2="+*f.StringKey2)
	}
	return ks
}

type outboxData struct {
	Available bool
	Pending   int
	Oldest    time.Time // zero: nothing queued, or the outbox cannot tell
	Dead      []adapter.Entry
	More      bool // more dead letters than listed
}

// outbox shows the queue's depth and age and the dead letters, each with a Replay button.
func (db *Dashboard) outbox(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	data := outboxData{Available: db.d.Outbox != nil}
	p := page{Title: "Outbox", Nav: "outbox", CSRF: db.csrfFor(r), Data: &data}
	if id := r.URL.Query().Get("replayed"); id != "" {
		p.Flash = "Replayed " + id + ": it is queued for delivery again."
	}
	if !data.Available {
		db.render(w, r, http.StatusOK, "outbox", p)
		return
	}
	var err error
	if data.Pending, err = db.d.Outbox.Pending(ctx); err != nil {
		db.fail(w, r, "counting queued callbacks", err)
		return
	}
	if o, ok := db.d.Outbox.(oldestQueued); ok && data.Pending > 0 {
		if data.Oldest, err = o.OldestQueued(ctx, oldestScan); err != nil {
			db.fail(w, r, "finding the oldest queued callback", err)
			return
		}
	}
	if data.Dead, err = db.d.Outbox.ListDead(ctx, maxDead+1); err != nil {
		db.fail(w, r, "listing dead letters", err)
		return
	}
	if len(data.Dead) > maxDead {
		data.Dead, data.More = data.Dead[:maxDead], true
	}
	db.render(w, r, http.StatusOK, "outbox", p)
}

// replay puts a dead letter back in the queue, as POST /v1/outbox/dead/{id}/replay does.
func (db *Dashboard) replay(w http.ResponseWriter, r *http.Request) {
	if db.d.Outbox == nil {
		db.message(w, r, http.StatusNotFound, "No outbox", "This pbxbridge has no outbox to replay from.")
		return
	}
	id := r.PostFormValue("id")
	if id == "" {
		db.message(w, r, http.StatusBadRequest, "Bad request", "id: the dead letter to replay is required")
		return
	}
	if err := db.d.Outbox.Replay(r.Context(), id); err != nil {
		if errors.Is(err, adapter.ErrNotFound) {
			db.message(w, r, http.StatusNotFound, "Not a dead letter",
				"No dead letter has the id "+strconv.Quote(id)+": it may have been replayed already.")
			return
		}
		db.fail(w, r, "replaying "+id, err)
		return
	}
	if db.d.Wake != nil {
		db.d.Wake()
	}
	db.d.Log.Info("dashboard: dead letter replayed", "event_id", id, "remote", r.RemoteAddr)
	http.Redirect(w, r, Prefix+"/outbox?replayed="+url.QueryEscape(id), http.StatusSeeOther)
}

// checkRow is one health check's result.
type checkRow struct {
	Name  string
	Err   string
	OK    bool
	Took  time.Duration
	Timed bool // it ran out of time
}

type healthData struct {
	OK     bool
	Checks []checkRow
}

// health runs the checks /readyz runs, at once, each with its own deadline.
func (db *Dashboard) health(w http.ResponseWriter, r *http.Request) {
	rows := make([]checkRow, len(db.d.Checks))
	var wg sync.WaitGroup
	for i, ch := range db.d.Checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), db.d.CheckTimeout)
			defer cancel()
			start := time.Now()
			err := ch.Check(ctx)
			rows[i] = checkRow{Name: ch.Name, OK: err == nil, Took: time.Since(start)}
			if err != nil {
				rows[i].Err = err.Error()
				rows[i].Timed = errors.Is(err, context.DeadlineExceeded)
			}
		})
	}
	wg.Wait()
	data := healthData{OK: true, Checks: rows}
	for _, c := range rows {
		data.OK = data.OK && c.OK
	}
	status := http.StatusOK
	if !data.OK {
		status = http.StatusServiceUnavailable
	}
	db.render(w, r, status, "health", page{Title: "Health", Nav: "health", CSRF: db.csrfFor(r), Refresh: refresh(r, 10), Data: data})
}
