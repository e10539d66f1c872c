// Package ari implements adapter.PBX and adapter.Call on Asterisk through ARI, with
// github.com/CyCoreSystems/ari/v6 (pinned; see shared/spec/asterisk.md §5 for its traps).
// No library type crosses this package's edge: events become evt values at ingest, and
// library errors become *Error values whose kind is an adapter error.
//
// # Events
//
// One subscription on the library's bus, nil key, every event type, is drained at once by
// one goroutine into an unbounded inbox: the bus drops silently as soon as a subscription's
// 100 slots are full, and the slot count cannot be changed. A drop can only happen while
// that buffer is full, and only we empty it, so the drain counts receives that find it full
// (Stats.BusFull): zero proves nothing was lost; anything else triggers a reconcile.
//
// One dispatcher reads the inbox and routes each event, in order, to its call's mailbox:
// by channel id (the call's channel and the snoops it created), by recording name, or by
// playback id. Recording and playback events carry only their own name, so every name and
// id is registered before the command that creates it is sent (this is what the library's
// Stage/Subscribe/Exec pattern is for; with one global subscription, Stage + register +
// Exec is enough). A StasisStart of an unknown channel is a new call, unless it is a snoop
// (name prefix Snoop/ or our appArgs marker), which is never a call, or the ;2 half of a
// Local channel, which is ignored, like every channel we do not own.
//
// Each call has a loop goroutine that applies its mailbox: channel state, hangup (the
// call's context is cancelled with adapter.ErrHangup at the first ChannelHangupRequest,
// StasisEnd or ChannelDestroyed), then a copy of the event to every watcher. A watcher is an
// operation in progress (Record, Play, a background recording); it reads its own queue, so
// it sees the call's events in Asterisk's order, hangups included, which is what decides a
// recording's end reason (reason.go). The first hangup event also records how the call ended
// (HangupReport, hangup.go): our own cause if we hung up, else the event's Q.850 cause by its
// FreeSWITCH name (a soft ChannelHangupRequest carries soft-hangup flags, not Q.850), else
// NORMAL_CLEARING from the caller (a SIP BYE's ChannelHangupRequest has no cause).
//
// # Connection
//
// Serve connects within ConnectTimeout (the library's connect retries forever, so a
// watchdog bounds it), waits until GET /applications/{app} answers, then runs a health loop:
// every second a user event is sent to our own application and must come back through the
// websocket. That proves the connection, the registration and the event path at once, which
// the library cannot tell us: it reconnects by itself and reports a lost websocket only in a
// log line (which we also watch). After a failed ping, a reported loss or a full bus buffer,
// the first good ping triggers a reconcile: GET /channels, plus GET on every live recording
// and playback we wait for; whatever vanished gets a synthetic event through the inbox (a
// call whose channel is gone ends with ErrHangup; a recording whose RecordingFinished was
// lost is finished and fetched). A client that stays unhealthy for replaceAfter is replaced.
//
// # Commands
//
// Every REST command has the CommandTimeout deadline. The library's requests cannot be
// cancelled, so a stuck one is abandoned (its goroutine ends with its TCP connection) and
// reported as ErrPBXDown. A 404 on the call's channel is ErrHangup. What the library lacks is
// done with our own HTTP client: early media (POST …/progress), hangup with a Q.850 code
// (reason_code), user events, and fetching and deleting stored recordings.
//
// Recording (asterisk.md §1–2) is in record.go; background recordings in record_session.go.
package ari
