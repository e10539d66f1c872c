package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ariSim is a simulated Asterisk for the engine benchmark: the ARI REST calls pbxbridge makes
// at start-up and during a call without media, and the websocket events Asterisk 22 sends
// for them, shaped like /work/shared/fixtures/asterisk-22 (StasisStart, ChannelStateChange,
// StasisEnd, ChannelDestroyed, ChannelUserevent). There is no media: the documents it is
// driven with use only Answer, Pause and Hangup.
//
// It runs on loopback only. The websocket is a minimal RFC 6455 server (text frames out,
// client frames read and discarded), enough for golang.org/x/net/websocket, which the ARI
// library dials with.
type ariSim struct {
	app string
	ln  net.Listener

	wmu sync.Mutex // serialises frames on ws
	ws  *bufio.Writer
	wsc net.Conn
	up  chan struct{} // closed at the first websocket connection
	one sync.Once

	mu    sync.Mutex
	chans map[string]*simChan

	unknown atomic.Int64 // REST requests the simulator had no answer for
	seq     atomic.Int64
}

// simChan is one simulated channel and the times the benchmark measures.
type simChan struct {
	id, number string
	started    time.Time     // StasisStart written to the websocket
	first      time.Time     // first REST command on the channel
	answered   time.Time     // POST answer
	dtmf       time.Time     // POST dtmf
	deleted    time.Time     // DELETE (hang-up by pbxbridge)
	firstCh    chan struct{} // closed at the first command
	gone       chan struct{} // closed when the channel is hung up (either side)
	up         bool
}

func newARISim(app string) (*ariSim, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &ariSim{app: app, ln: ln, up: make(chan struct{}), chans: map[string]*simChan{}}
	go func() { _ = http.Serve(ln, s) }()
	return s, nil
}

func (s *ariSim) URL() string { return "http://" + s.ln.Addr().String() + "/ari" }

func (s *ariSim) Close() {
	_ = s.ln.Close()
	s.wmu.Lock()
	if s.wsc != nil {
		_ = s.wsc.Close()
	}
	s.wmu.Unlock()
}

func (s *ariSim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/ari")
	parts := strings.Split(strings.Trim(p, "/"), "/")
	now := time.Now()
	switch {
	case p == "/events" && r.Method == http.MethodGet:
		s.acceptWS(w, r)
	case p == "/asterisk/info":
		writeJSON(w, 200, map[string]any{
			"system": map[string]any{"entity_id": "02:00:00:00:00:01", "version": "22.0.0-pbxbench-sim"},
			"build":  map[string]any{}, "config": map[string]any{}, "status": map[string]any{},
		})
	case len(parts) == 2 && parts[0] == "applications":
		writeJSON(w, 200, map[string]any{"name": parts[1], "channel_ids": []string{}, "bridge_ids": []string{},
			"endpoint_ids": []string{}, "device_names": []string{}, "events_allowed": []any{}, "events_disallowed": []any{}})
	case len(parts) == 3 && parts[0] == "events" && parts[1] == "user":
		w.WriteHeader(204)
		s.send(map[string]any{"type": "ChannelUserevent", "eventname": parts[2], "userevent": map[string]any{}})
	case p == "/channels" && r.Method == http.MethodGet:
		writeJSON(w, 200, []any{})
	case p == "/recordings/stored" && r.Method == http.MethodGet:
		writeJSON(w, 200, []any{})
	case len(parts) >= 2 && parts[0] == "channels":
		s.channelCmd(w, r, parts[1], parts[2:], now)
	default:
		s.unknown.Add(1)
		http.Error(w, `{"message":"not simulated"}`, http.StatusNotFound)
	}
}

func (s *ariSim) channelCmd(w http.ResponseWriter, r *http.Request, id string, rest []string, now time.Time) {
	s.mu.Lock()
	c := s.chans[id]
	if c != nil && c.first.IsZero() {
		c.first = now
		close(c.firstCh)
	}
	s.mu.Unlock()
	if c == nil || !c.up {
		http.Error(w, `{"message":"Channel not found"}`, http.StatusNotFound)
		return
	}
	switch {
	case len(rest) == 0 && r.Method == http.MethodGet:
		writeJSON(w, 200, s.channelJSON(c, "Up"))
	case len(rest) == 0 && r.Method == http.MethodDelete:
		s.mu.Lock()
		c.deleted = now
		s.mu.Unlock()
		w.WriteHeader(204)
		s.hangup(c, 16, "Normal Clearing")
	case len(rest) == 1 && rest[0] == "answer":
		s.mu.Lock()
		c.answered = now
		s.mu.Unlock()
		w.WriteHeader(204)
		s.send(map[string]any{"type": "ChannelStateChange", "channel": s.channelJSON(c, "Up")})
	case len(rest) == 1 && rest[0] == "dtmf":
		s.mu.Lock()
		c.dtmf = now
		s.mu.Unlock()
		w.WriteHeader(204)
	case r.Method == http.MethodPost:
		w.WriteHeader(204) // ring, progress, variables…: accepted, no event
	default:
		s.unknown.Add(1)
		http.Error(w, `{"message":"not simulated"}`, http.StatusNotFound)
	}
}

// start offers a new inbound call to the app, as Asterisk does when the dialplan runs
// Stasis(app, number).
func (s *ariSim) start(number string) *simChan {
	n := s.seq.Add(1)
	c := &simChan{id: fmt.Sprintf("sim-%d.%d", time.Now().Unix(), n), number: number,
		firstCh: make(chan struct{}), gone: make(chan struct{}), up: true}
	s.mu.Lock()
	s.chans[c.id] = c
	s.mu.Unlock()
	c.started = time.Now()
	s.send(map[string]any{"type": "StasisStart", "args": []string{number}, "channel": s.channelJSON(c, "Ring")})
	return c
}

// hangup ends a channel: the caller hung up (cause 16) or pbxbridge deleted it.
func (s *ariSim) hangup(c *simChan, cause int, txt string) {
	s.mu.Lock()
	if !c.up {
		s.mu.Unlock()
		return
	}
	c.up = false
	delete(s.chans, c.id)
	s.mu.Unlock()
	ch := s.channelJSON(c, "Up")
	s.send(map[string]any{"type": "ChannelHangupRequest", "cause": cause, "channel": ch})
	s.send(map[string]any{"type": "StasisEnd", "channel": ch})
	s.send(map[string]any{"type": "ChannelDestroyed", "cause": cause, "cause_txt": txt, "channel": ch})
	close(c.gone)
}

func (s *ariSim) channelJSON(c *simChan, state string) map[string]any {
	ts := ariTime(c.started)
	return map[string]any{
		"id": c.id, "name": "PJSIP/sipp-" + c.id, "state": state, "protocol_id": c.id + "@127.0.0.1",
		"caller":    map[string]any{"name": "sipp", "number": "sipp"},
		"connected": map[string]any{"name": "", "number": ""}, "accountcode": "",
		"dialplan": map[string]any{"context": "pbxbridge", "exten": c.number, "priority": 2,
			"app_name": "Stasis", "app_data": s.app + "," + c.number},
		"creationtime": ts, "language": "en",
	}
}

func ariTime(t time.Time) string { return t.Format("2006-01-02T15:04:05.000-0700") }

// send writes one event to the websocket, stamped like Asterisk's.
func (s *ariSim) send(ev map[string]any) {
	ev["timestamp"] = ariTime(time.Now())
	ev["asterisk_id"] = "02:00:00:00:00:01"
	ev["application"] = s.app
	b, _ := json.Marshal(ev)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.ws == nil {
		return
	}
	var h [10]byte
	h[0] = 0x81 // FIN, text
	n := 2
	switch l := len(b); {
	case l < 126:
		h[1] = byte(l)
	case l < 65536:
		h[1] = 126
		binary.BigEndian.PutUint16(h[2:], uint16(l))
		n = 4
	default:
		h[1] = 127
		binary.BigEndian.PutUint64(h[2:], uint64(l))
		n = 10
	}
	_, _ = s.ws.Write(h[:n])
	_, _ = s.ws.Write(b)
	_ = s.ws.Flush()
}

func (s *ariSim) acceptWS(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if key == "" || r.URL.Query().Get("app") != s.app {
		http.Error(w, "bad websocket request", http.StatusBadRequest)
		return
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	conn, brw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n")
	_ = brw.Flush()
	s.wmu.Lock()
	if s.wsc != nil {
		_ = s.wsc.Close()
	}
	s.wsc, s.ws = conn, bufio.NewWriterSize(conn, 64<<10)
	s.wmu.Unlock()
	s.one.Do(func() { close(s.up) })
	// The client sends nothing we need; read until it goes away.
	_, _ = io.Copy(io.Discard, brw.Reader)
	s.wmu.Lock()
	if s.wsc == conn {
		s.wsc, s.ws = nil, nil
	}
	s.wmu.Unlock()
	_ = conn.Close()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
