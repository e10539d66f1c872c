package esl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
)

var _ adapter.Reconciler = (*PBX)(nil)

// ChannelLive asks FreeSWITCH (uuid_exists, on the inbound connection) whether a channel is
// still up. Without an inbound connection it cannot tell: a call whose outbound socket went
// away is hung up by FreeSWITCH (unless the socket asked it to resume), so it answers false.
func (p *PBX) ChannelLive(ctx context.Context, channelID string) (bool, error) {
	if p.cfg.Inbound == "" {
		return false, nil
	}
	out, err := p.api(ctx, "uuid_exists", channelID)
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(out) == "true", nil
}

// KillChannel hangs a channel up with a cause (uuid_kill). A channel already gone is not an
// error.
func (p *PBX) KillChannel(ctx context.Context, channelID, cause string) error {
	_, err := p.api(ctx, "uuid_kill", channelID+" "+cause)
	var e *Error
	if errors.As(err, &e) && strings.Contains(e.Reply, "No such channel") {
		return nil
	}
	return err
}

// RecordingWAV returns a finished recording from the directory shared with FreeSWITCH, once
// its size holds still (FreeSWITCH may still be closing it just after a hangup); an error
// wrapping adapter.ErrNotFound when there is none.
func (p *PBX) RecordingWAV(ctx context.Context, name string) ([]byte, error) {
	path, err := p.recordingFile(name)
	if err != nil {
		return nil, err
	}
	var last int64 = -1
	for {
		st, err := os.Stat(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("esl %s: recording %s: %w", p.cfg.Name, name, adapter.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("esl %s: recording %s: %w", p.cfg.Name, name, err)
		}
		if st.Size() == last {
			break
		}
		last = st.Size()
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(200 * time.Millisecond):
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("esl %s: recording %s: %w", p.cfg.Name, name, err)
	}
	return b, nil
}

// recordingFile is where a recording named by the engine lands in record_dir (recorded there
// by FreeSWITCH, or uploaded there).
func (p *PBX) recordingFile(name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\") {
		return "", fmt.Errorf("esl %s: recording name %q: %w", p.cfg.Name, name, adapter.ErrUnsupported)
	}
	return filepath.Join(p.recordDir, name+".wav"), nil
}

// DeleteRecording removes a recording from the shared directory once it is stored.
func (p *PBX) DeleteRecording(_ context.Context, name string) error {
	path, err := p.recordingFile(name)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("esl %s: deleting recording %s: %w", p.cfg.Name, name, err)
	}
	return nil
}
