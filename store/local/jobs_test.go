package local_test

import (
	"testing"

	"github.com/pbxbridge/pbxbridge/store/local"
	"github.com/pbxbridge/pbxbridge/store/storetest"
)

func TestJobsConformance(t *testing.T) { storetest.RunJobs(t, factory(local.Options{NoSync: true})) }
