// Package ha is the end-to-end test of several pbxbridge instances sharing one Redis: one
// instance owns the FreeSWITCH PBX through its lease, the other stands by; `kill -9` of the
// owner while it holds undelivered callbacks and a live recording loses nothing.
//
// It runs two real pbxbridge binaries (PBXBRIDGE_BIN, or built here), a real redis-server
// (store/redis/redistest), the FreeSWITCH protocol simulator integration/eslsim as the PBX
// and a real HTTP application. It skips unless PBXBRIDGE_INTEGRATION=1; with it set, a
// missing prerequisite is a failure.
package ha

import (
	"testing"

	"github.com/pbxbridge/pbxbridge/integration/itest"
)

// bin is the pbxbridge binary under test.
var bin string

func TestMain(m *testing.M) {
	itest.Main(m, &bin, "the HA test runs two pbxbridge processes and redis-server; run it with PBXBRIDGE_INTEGRATION=1 (make test)")
}
