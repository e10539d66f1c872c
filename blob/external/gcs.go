//go:build !nogcs

package external

import (
	"context"
	"fmt"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/blob/gcs"
	"github.com/pbxbridge/pbxbridge/translate"
)

// openGCS opens a Google Cloud Storage bucket. Its SDK is most of the binary's size (about
// 45 MB of it, gRPC and OpenTelemetry included): build with -tags nogcs to leave it out.
func (s *Stores) openGCS(ctx context.Context, c *translate.Credentials) (adapter.ExternalStore, error) {
	st, err := gcs.New(context.WithoutCancel(ctx), gcs.Config{Bucket: c.GCPBucket, Project: c.GCPProject,
		AccessToken: c.GCPAccessToken.Reveal(), ClientID: c.GCPClientID.Reveal(), ClientSecret: c.GCPClientSecret.Reveal(),
		RefreshToken: c.GCPRefreshToken.Reveal(), TokenURL: s.cfg.GCSTokenURL, Endpoint: s.cfg.GCSEndpoint, HTTPClient: s.hc})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	return st, nil
}
