package ari

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/audio"
)

var _ adapter.Reconciler = (*PBX)(nil)

// ChannelLive asks Asterisk whether a channel still exists.
func (p *PBX) ChannelLive(ctx context.Context, channelID string) (bool, error) {
	op := "get channel " + channelID
	st, body, err := p.raw(ctx, http.MethodGet, "/channels/"+url.PathEscape(channelID), nil, 0)
	switch {
	case err != nil:
		return false, &Error{Op: op, Kind: adapter.ErrPBXDown, Msg: redactErr(err)}
	case st == http.StatusOK:
		return true, nil
	case st == http.StatusNotFound:
		return false, nil
	}
	return false, statusError(op, st, body, ErrCommand, ErrCommand)
}

// KillChannel hangs a channel up with the Q.850 code of cause (normal clearing when unknown);
// a channel already gone is not an error.
func (p *PBX) KillChannel(ctx context.Context, channelID, cause string) error {
	code, ok := q850Code(cause)
	if !ok {
		code = causeNormal
	}
	if err := p.hangupChannel(ctx, channelID, code); err != nil && !errors.Is(err, adapter.ErrHangup) {
		return err
	}
	return nil
}

// recordingLegs are the stored recordings Call.Record and StartRecording leave for one
// engine recording name: the recording itself, its snoop variant (a bridged channel), or the
// two legs of a stereo recording.
func recordingLegs(name string) [][]string {
	return [][]string{{name}, {name + "-s"}, {name + "-in", name + "-out"}}
}

// RecordingWAV returns a recording that Asterisk finished and stored, by the engine's name for
// it (a stereo recording's two legs merged, without the start alignment that only the live
// recording's events could give); an error wrapping adapter.ErrNotFound when Asterisk has none.
func (p *PBX) RecordingWAV(ctx context.Context, name string) ([]byte, error) {
next:
	for _, legs := range recordingLegs(name) {
		var tracks []audio.PCM
		for _, l := range legs {
			op := "fetch recording " + l
			st, body, err := p.raw(ctx, http.MethodGet, "/recordings/stored/"+url.PathEscape(l)+"/file", nil, 10*p.cmdTimeout)
			switch {
			case err != nil:
				return nil, &Error{Op: op, Kind: adapter.ErrPBXDown, Msg: redactErr(err)}
			case st == http.StatusNotFound:
				continue next
			case st != http.StatusOK:
				return nil, statusError(op, st, body, ErrCommand, ErrCommand)
			}
			pcm, err := audio.ParseWAV(body)
			if err != nil {
				return nil, fmt.Errorf("ari: recording %s: %v: %w", l, err, adapter.ErrRecordingFailed)
			}
			tracks = append(tracks, pcm)
		}
		out := tracks[0]
		if len(tracks) == 2 {
			left, right := alignStart(audio.Mono(tracks[0]), audio.Mono(tracks[1]), 0)
			var err error
			if out, err = audio.Stereo(left, right); err != nil {
				return nil, fmt.Errorf("ari: recording %s: stereo merge: %v: %w", name, err, adapter.ErrRecordingFailed)
			}
		}
		if out.Empty() {
			return nil, nil
		}
		b, err := audio.EncodeWAV(out)
		if err != nil {
			return nil, fmt.Errorf("ari: recording %s: %v: %w", name, err, adapter.ErrRecordingFailed)
		}
		return b, nil
	}
	return nil, fmt.Errorf("ari: recording %s: not stored in Asterisk: %w", name, adapter.ErrNotFound)
}

// DeleteRecording removes a recording's stored files from Asterisk's spool.
func (p *PBX) DeleteRecording(ctx context.Context, name string) error {
	var errs []error
	for _, legs := range recordingLegs(name) {
		for _, l := range legs {
			err := p.rawCmd(ctx, "delete recording "+l, http.MethodDelete, "/recordings/stored/"+url.PathEscape(l), nil, adapter.ErrNotFound, ErrCommand)
			if err != nil && !errors.Is(err, adapter.ErrNotFound) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
