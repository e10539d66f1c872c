package redis_test

import (
	"testing"

	"github.com/pbxbridge/pbxbridge/store/redis"
	"github.com/pbxbridge/pbxbridge/store/redis/redistest"
	"github.com/pbxbridge/pbxbridge/store/storetest"
)

func TestLeasesStandalone(t *testing.T) {
	t.Parallel()
	s := redistest.Standalone(t)
	storetest.RunLeases(t, factory(redis.Options{URL: s.URL()}))
}

func TestLeasesCluster(t *testing.T) {
	t.Parallel()
	nodes := redistest.Cluster(t, 3)
	storetest.RunLeases(t, factory(redis.Options{Cluster: redistest.Addrs(nodes)}))
}
