package local

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/store"
)

// CreateFile stores a new file and charges its bytes to its container, in one transaction: the
// error wraps adapter.ErrQuota when quota > 0 and the container would exceed it, and
// adapter.ErrConflict when the SID exists. quota <= 0 means no limit.
func (s *Store) CreateFile(ctx context.Context, f adapter.File, quota int64) error {
	if err := checkFile(f); err != nil {
		return fmt.Errorf("store: create file: %w", err)
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bFiles).Get([]byte(f.SID)) != nil {
			return fmt.Errorf("file %s: %w", f.SID, adapter.ErrConflict)
		}
		usage := containerUsage(tx, f.ContainerSID)
		if quota > 0 && usage+f.Bytes > quota {
			return fmt.Errorf("file %s: container %s holds %d of %d bytes, %d more do not fit: %w",
				f.SID, f.ContainerSID, usage, quota, f.Bytes, adapter.ErrQuota)
		}
		if err := putFile(tx, f); err != nil {
			return err
		}
		return setUsage(tx, f.ContainerSID, usage+f.Bytes)
	})
	if err != nil {
		return fmt.Errorf("store: create file: %w", err)
	}
	return nil
}

// UpdateFile replaces an existing file's metadata (its SID stays; its container may change)
// and moves the charge for its bytes, in one transaction. The error wraps adapter.ErrNotFound
// when the file does not exist, and adapter.ErrQuota when quota > 0 and the update would take
// the file's container over it. An update that does not increase the container's usage always
// succeeds, so a container left over a lowered quota can still shrink.
func (s *Store) UpdateFile(ctx context.Context, f adapter.File, quota int64) error {
	if err := checkFile(f); err != nil {
		return fmt.Errorf("store: update file: %w", err)
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bFiles).Get([]byte(f.SID))
		if v == nil {
			return fmt.Errorf("file %s: %w", f.SID, adapter.ErrNotFound)
		}
		old, err := store.DecodeFile(v)
		if err != nil {
			return err
		}
		oldUsage := containerUsage(tx, old.ContainerSID)
		before := containerUsage(tx, f.ContainerSID)
		after := before + f.Bytes
		if old.ContainerSID == f.ContainerSID {
			after -= old.Bytes
		}
		if quota > 0 && after > quota && after > before {
			return fmt.Errorf("file %s: container %s would hold %d bytes, over its %d: %w",
				f.SID, f.ContainerSID, after, quota, adapter.ErrQuota)
		}
		if err := unindexFile(tx, old); err != nil {
			return err
		}
		if old.ContainerSID != f.ContainerSID {
			if err := setUsage(tx, old.ContainerSID, oldUsage-old.Bytes); err != nil {
				return err
			}
		}
		if err := putFile(tx, f); err != nil {
			return err
		}
		return setUsage(tx, f.ContainerSID, after)
	})
	if err != nil {
		return fmt.Errorf("store: update file: %w", err)
	}
	return nil
}

// GetFile returns a file's metadata, or an error wrapping adapter.ErrNotFound.
func (s *Store) GetFile(ctx context.Context, sid string) (adapter.File, error) {
	var f adapter.File
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bFiles).Get([]byte(sid))
		if v == nil {
			return fmt.Errorf("file %s: %w", sid, adapter.ErrNotFound)
		}
		var err error
		f, err = store.DecodeFile(v)
		return err
	})
	if err != nil {
		return adapter.File{}, fmt.Errorf("store: get file: %w", err)
	}
	return f, nil
}

// DeleteFile removes a file's metadata and releases its bytes from its container. The error
// wraps adapter.ErrNotFound when the file does not exist: of several instances deleting the
// same expired file, exactly one succeeds (and then deletes the bytes).
func (s *Store) DeleteFile(ctx context.Context, sid string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bFiles).Get([]byte(sid))
		if v == nil {
			return fmt.Errorf("file %s: %w", sid, adapter.ErrNotFound)
		}
		old, err := store.DecodeFile(v)
		if err != nil {
			return err
		}
		if err := unindexFile(tx, old); err != nil {
			return err
		}
		if err := tx.Bucket(bFiles).Delete([]byte(sid)); err != nil {
			return err
		}
		return setUsage(tx, old.ContainerSID, containerUsage(tx, old.ContainerSID)-old.Bytes)
	})
	if err != nil {
		return fmt.Errorf("store: delete file: %w", err)
	}
	return nil
}

// ListFiles returns the files that match q, ordered by SID. With a ContainerSID it walks that
// container's index only; the key filters are applied while walking (they are not indexed: a
// container is the unit an application lists).
func (s *Store) ListFiles(ctx context.Context, q adapter.FileQuery) ([]adapter.File, error) {
	var out []adapter.File
	err := s.view(ctx, func(tx *bolt.Tx) error {
		files := tx.Bucket(bFiles)
		match := func(v []byte) (bool, error) {
			f, err := store.DecodeFile(v)
			if err != nil {
				return false, err
			}
			if !fileMatches(f, q) {
				return false, nil
			}
			out = append(out, f)
			return q.Limit > 0 && len(out) >= q.Limit, nil
		}
		if q.ContainerSID != "" {
			p := prefix(q.ContainerSID)
			c := tx.Bucket(bFilesContainer).Cursor()
			for k, _ := c.Seek(append(p[:len(p):len(p)], q.After...)); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
				sid := k[len(p):]
				if q.After != "" && string(sid) == q.After {
					continue
				}
				v := files.Get(sid)
				if v == nil {
					return fmt.Errorf("index names missing file %s", sid)
				}
				if done, err := match(v); done || err != nil {
					return err
				}
			}
			return nil
		}
		c := files.Cursor()
		for k, v := c.Seek([]byte(q.After)); k != nil; k, v = c.Next() {
			if q.After != "" && string(k) == q.After {
				continue
			}
			if done, err := match(v); done || err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: list files: %w", err)
	}
	return out, nil
}

func fileMatches(f adapter.File, q adapter.FileQuery) bool {
	if q.ContainerSID != "" && f.ContainerSID != q.ContainerSID {
		return false
	}
	return eqPtr(q.IntegerKey1, f.IntegerKey1) && eqPtr(q.IntegerKey2, f.IntegerKey2) &&
		eqPtr(q.StringKey1, f.StringKey1) && eqPtr(q.StringKey2, f.StringKey2)
}

// eqPtr: a nil filter matches anything; a set filter matches a set, equal key.
func eqPtr[T comparable](filter, have *T) bool {
	return filter == nil || (have != nil && *have == *filter)
}

// ContainerUsage is the bytes charged to a container (0 for an unknown container).
func (s *Store) ContainerUsage(ctx context.Context, containerSID string) (int64, error) {
	var n int64
	err := s.view(ctx, func(tx *bolt.Tx) error {
		n = containerUsage(tx, containerSID)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: container usage: %w", err)
	}
	return n, nil
}

// ExpiredFiles lists files whose ExpiresAt is at or before now, oldest first, at most limit
// (limit <= 0: all). It reads the expiry index only up to now.
func (s *Store) ExpiredFiles(ctx context.Context, now time.Time, limit int) ([]adapter.File, error) {
	var out []adapter.File
	end := timeBits(now)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		files := tx.Bucket(bFiles)
		c := tx.Bucket(bFilesExpiry).Cursor()
		for k, _ := c.First(); k != nil && keyTime(k) <= end; k, _ = c.Next() {
			v := files.Get(k[8:])
			if v == nil {
				return fmt.Errorf("expiry index names missing file %s", k[8:])
			}
			f, err := store.DecodeFile(v)
			if err != nil {
				return err
			}
			out = append(out, f)
			if limit > 0 && len(out) >= limit {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: expired files: %w", err)
	}
	return out, nil
}

func checkFile(f adapter.File) error {
	if err := checkPrefixable("file sid", f.SID); err != nil {
		return err
	}
	if err := checkPrefixable("file "+f.SID+": container sid", f.ContainerSID); err != nil {
		return err
	}
	if f.Bytes < 0 {
		return fmt.Errorf("file %s: negative size %d", f.SID, f.Bytes)
	}
	return nil
}

// putFile writes a file and its index keys (the old ones must be gone already).
func putFile(tx *bolt.Tx, f adapter.File) error {
	v, err := store.EncodeFile(f)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bFiles).Put([]byte(f.SID), v); err != nil {
		return err
	}
	if err := tx.Bucket(bFilesContainer).Put(append(prefix(f.ContainerSID), f.SID...), nil); err != nil {
		return err
	}
	if f.ExpiresAt.IsZero() {
		return nil
	}
	return tx.Bucket(bFilesExpiry).Put(timeKey(f.ExpiresAt, f.SID), nil)
}

// unindexFile removes a file's index keys.
func unindexFile(tx *bolt.Tx, f adapter.File) error {
	if err := tx.Bucket(bFilesContainer).Delete(append(prefix(f.ContainerSID), f.SID...)); err != nil {
		return err
	}
	if f.ExpiresAt.IsZero() {
		return nil
	}
	return tx.Bucket(bFilesExpiry).Delete(timeKey(f.ExpiresAt, f.SID))
}

func containerUsage(tx *bolt.Tx, container string) int64 {
	return bytesInt64(tx.Bucket(bContainers).Get([]byte(container)))
}

// setUsage records a container's usage; an empty container's key is removed.
func setUsage(tx *bolt.Tx, container string, n int64) error {
	b := tx.Bucket(bContainers)
	if n <= 0 {
		return b.Delete([]byte(container))
	}
	return b.Put([]byte(container), int64Bytes(n))
}
