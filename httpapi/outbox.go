package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// maxDeadList bounds one GET /v1/outbox/dead answer.
const maxDeadList = 1000

// deadLetter is a dead letter as the operator API shows it. The body and the sealed
// credentials stay in the store: the body may carry caller data, and a replay resends it as
// it was.
type deadLetter struct {
	ID        string `json:"id"` // the idempotency key (X-Pbxbridge-Event-Id)
	CallID    string `json:"call_id"`
	Seq       int64  `json:"seq"`
	App       string `json:"app"`
	Kind      string `json:"kind"`
	Method    string `json:"method"`
	URL       string `json:"url"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error"`
	Created   string `json:"created"`
	DeadAt    string `json:"dead_at"`
}

func newDeadLetter(e adapter.Entry) deadLetter {
	return deadLetter{
		ID: e.ID, CallID: e.CallID, Seq: e.Seq, App: e.App, Kind: e.Kind, Method: string(e.Method),
		URL: e.URL, Attempts: e.Attempts, LastError: e.LastError,
		Created: e.Created.UTC().Format(time.RFC3339Nano), DeadAt: e.DeadAt.UTC().Format(time.RFC3339Nano),
	}
}

// listDead is GET /v1/outbox/dead[?limit=N]: dead letters, oldest first (default and most
// 1000). API token only.
func (s *Server) listDead(c echo.Context) error {
	if err := s.requireToken(c); err != nil {
		return err
	}
	if s.d.Outbox == nil {
		return adapter.ErrNotFound
	}
	limit := maxDeadList
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxDeadList {
			return &BadRequestError{Field: "limit", Rule: "must be an integer from 1 to 1000", Value: v}
		}
		limit = n
	}
	es, err := s.d.Outbox.ListDead(c.Request().Context(), limit)
	if err != nil {
		return err
	}
	out := make([]deadLetter, len(es))
	for i, e := range es {
		out[i] = newDeadLetter(e)
	}
	return c.JSON(http.StatusOK, map[string]any{"items": out, "count": len(out)})
}

// replayDead is POST /v1/outbox/dead/{id}/replay: the dead letter goes back to the queue, due
// now, with its attempts reset. 404 when id is not a dead letter. API token only.
func (s *Server) replayDead(c echo.Context) error {
	if err := s.requireToken(c); err != nil {
		return err
	}
	if s.d.Outbox == nil {
		return adapter.ErrNotFound
	}
	id := c.Param("id")
	if err := s.d.Outbox.Replay(c.Request().Context(), id); err != nil {
		return err
	}
	if s.d.Wake != nil {
		s.d.Wake()
	}
	return c.JSON(http.StatusAccepted, map[string]string{"id": id, "status": "queued"})
}
