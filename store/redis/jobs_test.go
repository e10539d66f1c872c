package redis_test

import (
	"testing"

	"github.com/pbxbridge/pbxbridge/store/redis"
	"github.com/pbxbridge/pbxbridge/store/redis/redistest"
	"github.com/pbxbridge/pbxbridge/store/storetest"
)

func TestJobsConformanceStandalone(t *testing.T) {
	t.Parallel()
	s := redistest.Standalone(t)
	storetest.RunJobs(t, factory(redis.Options{URL: s.URL()}))
}

func TestJobsConformanceCluster(t *testing.T) {
	t.Parallel()
	nodes := redistest.Cluster(t, 3)
	storetest.RunJobs(t, factory(redis.Options{Cluster: redistest.Addrs(nodes)}))
}
