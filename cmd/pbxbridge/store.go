package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/store/local"
	"github.com/pbxbridge/pbxbridge/store/redis"
)

// backend is the store pbxbridge runs on: call state, files and the outbox.
type backend interface {
	adapter.Store
	adapter.Outbox
	adapter.Leases
	adapter.Jobs
}

// openStore opens Redis when the configuration names one, else the embedded store in
// data_dir (which must then exist or be creatable).
func openStore(ctx context.Context, cfg *config.Config) (backend, error) {
	sc := cfg.Store
	if !sc.Redis() {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("data_dir: %w", err)
		}
		return local.Open(filepath.Join(cfg.DataDir, "store"), local.Options{})
	}
	return redis.Open(ctx, redis.Options{
		URL: sc.URL.Reveal(), SentinelMaster: sc.Sentinel.Master, Sentinels: sc.Sentinel.Addresses,
		Cluster: sc.Cluster, Password: sc.Password.Reveal(), Prefix: sc.Prefix,
	})
}
