package ari

import (
	"strings"
	"time"

	"github.com/CyCoreSystems/ari/v6"
)

// Event types we act on. Asterisk's names, plus synthetic ones the PBX makes up when a
// reconcile finds that something ended while the websocket was away.
const (
	evStasisStart          = "StasisStart"
	evStasisEnd            = "StasisEnd"
	evChannelHangupRequest = "ChannelHangupRequest"
	evChannelDestroyed     = "ChannelDestroyed"
	evChannelStateChange   = "ChannelStateChange"
	evChannelDtmfReceived  = "ChannelDtmfReceived"
	evChannelEnteredBridge = "ChannelEnteredBridge"
	evChannelLeftBridge    = "ChannelLeftBridge"
	evChannelUserevent     = "ChannelUserevent"
	evRecordingStarted     = "RecordingStarted"
	evRecordingFinished    = "RecordingFinished"
	evRecordingFailed      = "RecordingFailed"
	evPlaybackStarted      = "PlaybackStarted"
	evPlaybackContinuing   = "PlaybackContinuing"
	evPlaybackFinished     = "PlaybackFinished"

	// synChannelGone: a reconcile found the channel missing from GET /channels.
	synChannelGone = "pbxbridge:ChannelGone"
	// synRecordingGone: a reconcile found a live recording missing from GET /recordings/live.
	synRecordingGone = "pbxbridge:RecordingGone"
	// synPlaybackGone: a reconcile found a playback missing from GET /playbacks.
	synPlaybackGone = "pbxbridge:PlaybackGone"
	// synWake: wakes a call's loop so that it re-checks whether it may end.
	synWake = "pbxbridge:Wake"
)

// subscribedTypes are the event types fromARI keeps: the only ones worth a slot in the
// library's 100-event subscription buffer. Varset, Dialplan, CallerId, Dial and the like
// are half of a call's frames and would only make that buffer fill sooner.
func subscribedTypes() []string {
	return []string{
		evStasisStart, evStasisEnd, evChannelHangupRequest, evChannelDestroyed, evChannelStateChange,
		evChannelDtmfReceived, evChannelEnteredBridge, evChannelLeftBridge, evChannelUserevent,
		evRecordingStarted, evRecordingFinished, evRecordingFailed,
		evPlaybackStarted, evPlaybackContinuing, evPlaybackFinished,
	}
}

// evt is the part of an ARI event that routing and the call state machines read. Decoding
// into it at the edge keeps library types inside ingest and makes the state machines
// testable with plain values.
type evt struct {
	Type string
	At   time.Time // Asterisk's timestamp; the local clock for synthetic events

	Channel      string // channel id (channel events)
	ChannelName  string // e.g. Local/s@play-test-00000002;1, Snoop/<id>-00000001
	ChannelState string // Up, Ring, ...
	CallerNumber string
	CallerName   string
	Exten        string // dialplan extension at StasisStart
	Args         []string
	Digit        byte
	Cause        int  // hangup cause (Q.850); with Soft, a soft-hangup flag instead
	Soft         bool // ChannelHangupRequest: a soft hangup request (Cause is not Q.850)

	Recording string // recording name
	RecState  string // recording state: recording, done, failed, canceled
	RecCause  string // RecordingFailed cause
	Target    string // target_uri of a recording or playback

	Playback string // playback id
	PBState  string // playback state: playing, done, failed
	Media    string // playback media_uri

	UserEvent string // ChannelUserevent name (our health pings)
	Bridge    string

	Synthetic bool
}

// fromARI converts a decoded library event. ok is false for types we never act on.
func fromARI(e ari.Event) (evt, bool) {
	var v evt
	switch e := e.(type) {
	case *ari.StasisStart:
		v = chanEvt(evStasisStart, e.Timestamp, &e.Channel)
		v.Args = e.Args
	case *ari.StasisEnd:
		v = chanEvt(evStasisEnd, e.Timestamp, &e.Channel)
	case *ari.ChannelHangupRequest:
		v = chanEvt(evChannelHangupRequest, e.Timestamp, &e.Channel)
		v.Cause, v.Soft = e.Cause, e.Soft
	case *ari.ChannelDestroyed:
		v = chanEvt(evChannelDestroyed, e.Timestamp, &e.Channel)
		v.Cause = e.Cause
	case *ari.ChannelStateChange:
		v = chanEvt(evChannelStateChange, e.Timestamp, &e.Channel)
	case *ari.ChannelDtmfReceived:
		v = chanEvt(evChannelDtmfReceived, e.Timestamp, &e.Channel)
		if len(e.Digit) == 1 {
			v.Digit = e.Digit[0]
		}
	case *ari.ChannelEnteredBridge:
		v = chanEvt(evChannelEnteredBridge, e.Timestamp, &e.Channel)
		v.Bridge = e.Bridge.ID
	case *ari.ChannelLeftBridge:
		v = chanEvt(evChannelLeftBridge, e.Timestamp, &e.Channel)
		v.Bridge = e.Bridge.ID
	case *ari.ChannelUserevent:
		v = evt{Type: evChannelUserevent, At: time.Time(e.Timestamp), UserEvent: e.Eventname}
	case *ari.RecordingStarted:
		v = recEvt(evRecordingStarted, e.Timestamp, &e.Recording)
	case *ari.RecordingFinished:
		v = recEvt(evRecordingFinished, e.Timestamp, &e.Recording)
	case *ari.RecordingFailed:
		v = recEvt(evRecordingFailed, e.Timestamp, &e.Recording)
	case *ari.PlaybackStarted:
		v = pbEvt(evPlaybackStarted, e.Timestamp, &e.Playback)
	case *ari.PlaybackContinuing:
		v = pbEvt(evPlaybackContinuing, e.Timestamp, &e.Playback)
	case *ari.PlaybackFinished:
		v = pbEvt(evPlaybackFinished, e.Timestamp, &e.Playback)
	default:
		return evt{}, false
	}
	return v, true
}

// decodeFrame decodes one websocket text frame the way the library does.
func decodeFrame(frame []byte) (evt, bool, error) {
	e, err := ari.DecodeEvent(frame)
	if err != nil {
		return evt{}, false, err
	}
	v, ok := fromARI(e)
	return v, ok, nil
}

func chanEvt(typ string, at ari.DateTime, c *ari.ChannelData) evt {
	v := evt{Type: typ, At: time.Time(at), Channel: c.ID, ChannelName: c.Name, ChannelState: c.State}
	if c.Caller != nil {
		v.CallerNumber, v.CallerName = c.Caller.Number, c.Caller.Name
	}
	if c.Dialplan != nil {
		v.Exten = c.Dialplan.Exten
	}
	return v
}

func recEvt(typ string, at ari.DateTime, r *ari.LiveRecordingData) evt {
	return evt{Type: typ, At: time.Time(at), Recording: r.Name, RecState: r.State, RecCause: r.Cause, Target: r.TargetURI}
}

func pbEvt(typ string, at ari.DateTime, p *ari.PlaybackData) evt {
	return evt{Type: typ, At: time.Time(at), Playback: p.ID, PBState: p.State, Target: p.TargetURI, Media: p.MediaURI}
}

// isHangup reports an event that means the channel is going or gone. ChannelHangupRequest
// comes first (before RecordingFinished for a direct recording); StasisEnd is the reliable
// end for dialplan channels, which get no ChannelDestroyed (asterisk.md §4).
func (e *evt) isHangup() bool {
	switch e.Type {
	case evChannelHangupRequest, evStasisEnd, evChannelDestroyed, synChannelGone:
		return true
	}
	return false
}

// isLocalSecondHalf reports the ;2 half of a Local channel pair: it runs the dialplan on the
// far side and is never ours, even though its events reach the app.
func isLocalSecondHalf(name, id string) bool {
	return strings.HasSuffix(id, ";2") || strings.HasPrefix(name, "Local/") && strings.HasSuffix(name, ";2")
}
