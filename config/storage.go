package config

import "time"

// ExternalStorage tunes the uploads of recordings to the store a Record names in its
// attributes (awsBucketName, gcpBucketName, azureContainerName ...). Each upload is a durable
// job: the credentials travel in it sealed with the outbox key, it is retried with backoff
// across restarts, and the local copy stays until the upload is confirmed.
type ExternalStorage struct {
	// S3Endpoint, GCSEndpoint and AzureEndpoint point the uploads at a compatible server or an
	// emulator instead of the provider: "http://127.0.0.1:9000" (S3, path-style buckets),
	// "http://127.0.0.1:4443/storage/v1/" (GCS JSON API), "http://127.0.0.1:10000/<account>"
	// (Azure, path-style). Empty: the provider's own endpoints.
	S3Endpoint    string `yaml:"s3_endpoint"`
	GCSEndpoint   string `yaml:"gcs_endpoint"`
	AzureEndpoint string `yaml:"azure_endpoint"`
	// S3Region is the region of the buckets. Default us-east-1.
	S3Region string `yaml:"s3_region"`
	// GCSTokenURL is where a refresh token becomes an access token. Default Google's.
	GCSTokenURL string `yaml:"gcs_token_url"`
	// Attempts is how many times an upload is tried before the recording is reported failed.
	// Default 8; 1–100.
	Attempts int `yaml:"attempts"`
	// Backoff is the wait after the first failed attempt, doubled after each next one up to
	// MaxBackoff. Default 2s; 10ms–10m.
	Backoff Duration `yaml:"backoff"`
	// MaxBackoff caps the wait between attempts. Default 5m; Backoff–24h.
	MaxBackoff Duration `yaml:"max_backoff"`
}

func (x *ExternalStorage) applyDefaults() {
	if x.S3Region == "" {
		x.S3Region = "us-east-1"
	}
	if x.Attempts == 0 {
		x.Attempts = 8
	}
	if x.Backoff == 0 {
		x.Backoff = Duration(2 * time.Second)
	}
	if x.MaxBackoff == 0 {
		x.MaxBackoff = Duration(5 * time.Minute)
	}
}

func (x ExternalStorage) validate(bad func(field, format string, args ...any) error) error {
	for field, u := range map[string]string{"external_storage.s3_endpoint": x.S3Endpoint,
		"external_storage.gcs_endpoint": x.GCSEndpoint, "external_storage.azure_endpoint": x.AzureEndpoint,
		"external_storage.gcs_token_url": x.GCSTokenURL} {
		if u == "" {
			continue
		}
		if err := checkURL(u); err != "" {
			return bad(field, "%s", err)
		}
	}
	if x.Attempts < 1 || x.Attempts > 100 {
		return bad("external_storage.attempts", "must be between 1 and 100, got %d", x.Attempts)
	}
	if x.Backoff < Duration(10*time.Millisecond) || x.Backoff > Duration(10*time.Minute) {
		return bad("external_storage.backoff", "must be between 10ms and 10m, got %v", x.Backoff.D())
	}
	if x.MaxBackoff < x.Backoff || x.MaxBackoff > Duration(24*time.Hour) {
		return bad("external_storage.max_backoff", "must be between external_storage.backoff (%v) and 24h, got %v", x.Backoff.D(), x.MaxBackoff.D())
	}
	return nil
}
