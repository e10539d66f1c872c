//go:build nogcs

package external

import (
	"context"
	"errors"
	"fmt"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/translate"
)

// ErrNoGCS: this binary was built with -tags nogcs.
var ErrNoGCS = errors.New("this pbxbridge is built without Google Cloud Storage (-tags nogcs)")

func (s *Stores) openGCS(context.Context, *translate.Credentials) (adapter.ExternalStore, error) {
	return nil, fmt.Errorf("%w: gcpBucketName: %w", ErrCredentials, ErrNoGCS)
}
