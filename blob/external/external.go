// Package external opens the external store a Record's attributes name (adapter.ExternalStores):
// S3 (awsAccessKey, awsSecretKey, awsBucketName), Google Cloud Storage (gcpBucketName,
// gcpProject, and gcpAccessToken or gcpClientId + gcpClientSecret + gcpRefreshToken) and Azure
// Blob Storage (azureAccountName, azureContainerName, and azureAccountKey or azureSasToken).
package external

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/blob/azure"
	"github.com/pbxbridge/pbxbridge/blob/s3"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/translate"
)

var _ adapter.ExternalStores = (*Stores)(nil)

// ErrCredentials: the attributes do not make a usable store. The message names the attribute.
var ErrCredentials = errors.New("external storage attributes unusable")

// Stores opens stores with the endpoints of the configuration. Safe for concurrent use.
type Stores struct {
	cfg config.ExternalStorage
	hc  *http.Client
}

// New returns Stores for cfg; hc nil uses http.DefaultClient.
func New(cfg config.ExternalStorage, hc *http.Client) *Stores {
	return &Stores{cfg: cfg, hc: hc}
}

// Open builds the store for c. It sends nothing. Each call makes a new client: a Record's
// credentials are its own, and a store is used for one upload.
func (s *Stores) Open(ctx context.Context, kind translate.StorageKind, c *translate.Credentials) (adapter.ExternalStore, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: no credentials", ErrCredentials)
	}
	bad := func(attr, rule string) error {
		return fmt.Errorf("%w: %s %s", ErrCredentials, attr, rule)
	}
	switch kind {
	case translate.StorageS3:
		switch {
		case c.AWSBucket == "":
			return nil, bad("awsBucketName", "is required")
		case !c.AWSAccessKey.IsSet():
			return nil, bad("awsAccessKey", "is required")
		case !c.AWSSecretKey.IsSet():
			return nil, bad("awsSecretKey", "is required")
		}
		st, err := s3.New(s3.Config{Bucket: c.AWSBucket, Region: s.cfg.S3Region, AccessKey: c.AWSAccessKey.Reveal(),
			SecretKey: c.AWSSecretKey.Reveal(), Endpoint: s.cfg.S3Endpoint, HTTPClient: s.hc})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCredentials, err)
		}
		return st, nil
	case translate.StorageGCS:
		if c.GCPBucket == "" {
			return nil, bad("gcpBucketName", "is required")
		}
		if !c.GCPAccessToken.IsSet() && !(c.GCPClientID.IsSet() && c.GCPClientSecret.IsSet() && c.GCPRefreshToken.IsSet()) {
			return nil, bad("gcpAccessToken", "or all of gcpClientId, gcpClientSecret, gcpRefreshToken are required")
		}
		return s.openGCS(ctx, c)
	case translate.StorageAzure:
		switch {
		case c.AzureAccountName == "":
			return nil, bad("azureAccountName", "is required")
		case c.AzureContainerName == "":
			return nil, bad("azureContainerName", "is required")
		case c.AzureAccountKey.IsSet() == c.AzureSASToken.IsSet():
			return nil, bad("azureAccountKey", "or azureSasToken (exactly one) is required")
		}
		st, err := azure.New(azure.Config{AccountName: c.AzureAccountName, ContainerName: c.AzureContainerName,
			AccountKey: c.AzureAccountKey.Reveal(), SASToken: c.AzureSASToken.Reveal(), Endpoint: s.cfg.AzureEndpoint, HTTPClient: s.hc})
		if err != nil {
			if c.AzureAccountKey.IsSet() {
				return nil, fmt.Errorf("%w: azureAccountKey: %w", ErrCredentials, err)
			}
			return nil, fmt.Errorf("%w: azureSasToken: %w", ErrCredentials, err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("%w: unknown store kind %q", ErrCredentials, kind)
}
