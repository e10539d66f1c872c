package esl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
	_ "unsafe" // go:linkname, see eslNewConnection

	"github.com/percipia/eslgo"
	"github.com/percipia/eslgo/command"
)

// eslNewConnection is eslgo v1.5.0's unexported newConnection (connection.go:61): it wraps a
// socket in the library's reader, reply matching and event dispatch, and starts only its
// receiveLoop and eventLoop. We own the listener and the sockets, and never use the parts of
// eslgo that own them:
//
//   - OutboundOptions.ListenAndServe (outbound.go:49) has no way to stop: it returns only when
//     Accept fails on a listener nobody else can reach.
//   - Conn.close (connection.go:190-201) deletes every entry of c.responseChannels under
//     responseChanMutex, but three goroutines read that map without the mutex:
//     dummyLoop's `case <-c.responseChannels[TypeDisconnect]` (outbound.go:97), started for
//     every outbound socket by ListenAndServe (outbound.go:65); receiveLoop's send of the
//     disconnect notice at EOF (connection.go:299); and the inbound disconnectLoop
//     (inbound.go:79). `go test -race` reports the first two on almost every run (write at
//     connection.go:196-197 against reads at outbound.go:97 and connection.go:299), and a
//     concurrent map read and delete can crash the process.
//
// So a socket here is closed by closing the net.Conn and cancelling the connection's
// context (sock.close), never with Conn.Close or ExitAndClose: nothing ever writes the map
// after newConnection returns, and dummyLoop and disconnectLoop never run. The version is
// pinned in go.mod; a change of this signature fails the build, not a call.
//
//go:linkname eslNewConnection github.com/percipia/eslgo.newConnection
func eslNewConnection(c net.Conn, outbound bool, opts eslgo.Options) *eslgo.Conn

// sock is one event socket: eslgo's connection over a net.Conn we own.
type sock struct {
	nc     net.Conn
	conn   *eslgo.Conn
	cancel context.CancelFunc
	once   sync.Once
}

// newSock hands nc to eslgo's connection handling; the socket is closed when ctx ends or by
// close.
func newSock(ctx context.Context, nc net.Conn, outbound bool, p *PBX) *sock {
	cctx, cancel := context.WithCancel(ctx)
	conn := eslNewConnection(nc, outbound, eslgo.Options{Context: cctx, Logger: logger{p.log}, ExitTimeout: p.cmdTimeout})
	s := &sock{nc: nc, conn: conn, cancel: cancel}
	context.AfterFunc(cctx, s.close) // Serve's end closes every socket
	return s
}

// close stops eslgo's loops (their context) and closes the socket. Safe to call more than
// once and from any goroutine.
func (s *sock) close() {
	s.once.Do(func() {
		s.cancel()
		_ = s.nc.Close()
	})
}

// exit says goodbye the way eslgo's outbound handler did (after a short pause, so that
// FreeSWITCH has finished setting the socket up; freeswitch PR 636), then closes. The reply
// is waited for briefly only: with no dummyLoop, eslgo's receiveLoop may sit up to 5 s on a
// linger notice nobody reads, and the reply would queue behind it.
func (s *sock) exit() {
	time.Sleep(25 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	_, _ = s.conn.SendCommand(ctx, command.Exit{})
	cancel()
	s.close()
}

// resume asks FreeSWITCH to go on with the dialplan when this socket closes (the `resume`
// command of outbound mode) instead of hanging the channel up; exit then closes it.
func (s *sock) resume(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	_, _ = s.conn.SendCommand(ctx, rawCommand("resume"))
	cancel()
}

// rawCommand is an event-socket command with no arguments that eslgo has no type for.
type rawCommand string

func (c rawCommand) BuildMessage() string { return string(c) }

// serveOutbound accepts FreeSWITCH's outbound sockets on ln until ln is closed, and runs
// handle for each after the connect exchange (whose reply carries the channel data).
func (p *PBX) serveOutbound(ctx context.Context, ln net.Listener, handle func(*sock, *eslgo.RawResponse)) error {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		go func() {
			s := newSock(ctx, nc, true, p)
			cctx, cancel := context.WithTimeout(ctx, p.cmdTimeout)
			res, err := s.conn.SendCommand(cctx, command.Connect{})
			cancel()
			if err != nil {
				p.log.Warn("freeswitch: outbound socket: no reply to connect", "remote", nc.RemoteAddr().String(), "err", err)
				s.close()
				return
			}
			handle(s, res)
			s.exit()
		}()
	}
}

// ErrAuth is a password FreeSWITCH refused on the inbound connection.
var ErrAuth = errors.New("event socket password refused")

// dialInbound connects to mod_event_socket and authenticates, all within timeout (eslgo's
// Dial can hang when FreeSWITCH's ACL refuses us), then hands the socket to eslgo.
func (p *PBX) dialInbound(ctx context.Context, addr, password string, timeout time.Duration) (*sock, error) {
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(timeout))
	fail := func(err error) (*sock, error) {
		_ = nc.Close()
		return nil, err
	}
	hs, err := readHeaders(nc)
	if err != nil {
		return fail(fmt.Errorf("waiting for auth/request: %w", err))
	}
	if hs["Content-Type"] != "auth/request" {
		// an ACL refusal is a text/rude-rejection with a body
		return fail(fmt.Errorf("got %q instead of auth/request", hs["Content-Type"]))
	}
	if _, err := nc.Write([]byte("auth " + password + "\n\n")); err != nil {
		return fail(err)
	}
	hs, err = readHeaders(nc)
	if err != nil {
		return fail(fmt.Errorf("waiting for the auth reply: %w", err))
	}
	if r := hs["Reply-Text"]; !strings.HasPrefix(r, "+OK") {
		return fail(fmt.Errorf("%s: %w", r, ErrAuth)) // the reply never holds the password
	}
	_ = nc.SetDeadline(time.Time{})
	return newSock(ctx, nc, false, p), nil
}

// readHeaders reads one header block, a byte at a time so that nothing after it is taken
// from the socket before eslgo reads it.
func readHeaders(nc net.Conn) (map[string]string, error) {
	hs := map[string]string{}
	var line []byte
	b := make([]byte, 1)
	for {
		if _, err := nc.Read(b); err != nil {
			return nil, err
		}
		if b[0] != '\n' {
			line = append(line, b[0])
			if len(line) > 4096 {
				return nil, errors.New("header line too long")
			}
			continue
		}
		l := strings.TrimRight(string(line), "\r")
		line = line[:0]
		if l == "" {
			if len(hs) == 0 {
				continue
			}
			return hs, nil
		}
		if k, v, ok := strings.Cut(l, ":"); ok {
			hs[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
}
