package config

import (
	"strings"
	"testing"
	"time"
)

func TestExternalStorageDefaultsAndRanges(t *testing.T) {
	c, err := Parse([]byte("apps: [{name: a, dialect: flexml, url: \"http://127.0.0.1:1/\"}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	x := c.ExternalStorage
	if x.Attempts != 8 || x.Backoff.D() != 2*time.Second || x.MaxBackoff.D() != 5*time.Minute || x.S3Region != "us-east-1" {
		t.Fatalf("defaults: %+v", x)
	}
	for field, doc := range map[string]string{
		"external_storage.attempts":       "external_storage: {attempts: 101}",
		"external_storage.backoff":        "external_storage: {backoff: 1ms}",
		"external_storage.max_backoff":    "external_storage: {backoff: 10s, max_backoff: 1s}",
		"external_storage.s3_endpoint":    "external_storage: {s3_endpoint: \"ftp://x\"}",
		"external_storage.azure_endpoint": "external_storage: {azure_endpoint: \"nope\"}",
	} {
		_, err := Parse([]byte("apps: [{name: a, dialect: flexml, url: \"http://127.0.0.1:1/\"}]\n" + doc + "\n"))
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v, want an error naming %s", doc, err, field)
		}
	}
}
