// Package storage is the end-to-end test of external storage from Record attributes: a real
// pbxbridge binary (PBXBRIDGE_BIN, or built here) takes a call from the FreeSWITCH protocol
// simulator integration/eslsim, records it, and uploads the recording to an S3 server on
// loopback (gofakes3, behind a SigV4 check) named by the Record's aws* attributes; it is
// killed with -9 while the upload is in flight, and after the restart the object arrives and
// the held callbacks are sent. A managed recording with a lifecycle TTL likewise outlives a
// kill -9 and is deleted on time by the restarted binary (lifecycle_test.go). It skips unless
// PBXBRIDGE_INTEGRATION=1; with it set, a missing prerequisite is a failure.
package storage

import (
	"testing"

	"github.com/pbxbridge/pbxbridge/integration/itest"
)

// bin is the pbxbridge binary under test.
var bin string

func TestMain(m *testing.M) {
	itest.Main(m, &bin, "the storage tests (external storage, lifecycle across a restart) run the pbxbridge binary; run them with PBXBRIDGE_INTEGRATION=1 (make test)")
}
