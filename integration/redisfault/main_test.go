// Package redisfault runs pbxbridge on Redis through Redis faults, end to end: the real
// binary, real redis-server processes (standalone, and a Sentinel set failing over), a real
// HTTP application, and calls from the FreeSWITCH protocol simulator (integration/eslsim).
// Each test asserts that nothing is lost: every callback pbxbridge queued reaches the
// application (counted by its unique X-Pbxbridge-Event-Id), without restarting pbxbridge.
//
// Without PBXBRIDGE_INTEGRATION=1 the tests skip; with it, a missing redis-server is a
// failure. PBXBRIDGE_BIN names the binary (make build); otherwise TestMain builds it.
package redisfault

import (
	"testing"

	"github.com/pbxbridge/pbxbridge/integration/itest"
)

// bin is the pbxbridge binary under test.
var bin string

func TestMain(m *testing.M) {
	itest.Main(m, &bin, "the Redis fault tests run with PBXBRIDGE_INTEGRATION=1 (make test), and need redis-server (scripts/deps.sh)", "redis-server", "redis-cli")
}
