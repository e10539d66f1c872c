package local_test

import (
	"testing"

	"github.com/pbxbridge/pbxbridge/store/local"
	"github.com/pbxbridge/pbxbridge/store/storetest"
)

// factory opens the store in a fresh temporary directory; reopening uses the same directory.
func factory(opts local.Options) storetest.Factory {
	return func(tb testing.TB) storetest.Opener {
		dir := tb.TempDir()
		return func() (storetest.Backend, error) { return local.Open(dir, opts) }
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, factory(local.Options{})) }

// BenchmarkOutbox: go test ./store/local -run '^$' -bench Outbox
func BenchmarkOutbox(b *testing.B) { storetest.BenchOutbox(b, factory(local.Options{})) }

// BenchmarkOutboxNoSync shows what fsync costs (NoSync is for tests only).
func BenchmarkOutboxNoSync(b *testing.B) {
	storetest.BenchOutbox(b, factory(local.Options{NoSync: true}))
}
