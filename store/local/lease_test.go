package local_test

import (
	"testing"

	"github.com/pbxbridge/pbxbridge/store/local"
	"github.com/pbxbridge/pbxbridge/store/storetest"
)

func TestLeases(t *testing.T) { storetest.RunLeases(t, factory(local.Options{})) }
