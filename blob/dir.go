package blob

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
)

var _ adapter.Blob = (*Dir)(nil)

// tmpDir holds Put's files until they are complete. '~' is not a key byte, so no key can
// name it or anything in it.
const tmpDir = "~tmp"

// staleTmp is the age after which OpenDir removes a temporary file: left by a crash, since no
// Put takes that long. Younger ones may belong to another process sharing the directory.
const staleTmp = time.Hour

// Dir stores objects as files under a directory: key "c/f.wav" is the file <dir>/c/f.wav.
// Every method is safe for concurrent use, and by several processes sharing the directory.
//
// A Put is atomic and durable: the bytes go to a temporary file, which is synced and then
// renamed over the key, and the directory is synced; readers see the old object or the new
// one, never part of one, and a crash leaves at worst a temporary file (removed by a later
// OpenDir). All access goes through an os.Root, so neither a key nor a symlink planted in the
// directory reaches outside it. The content type is not kept: a File's MIMEType carries it.
type Dir struct {
	root *os.Root
}

// OpenDir opens (creating when needed) the directory dir. The caller must Close it.
func OpenDir(dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("blob: create %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("blob: open %s: %w", dir, err)
	}
	d := &Dir{root: root}
	if err := root.MkdirAll(tmpDir, 0o750); err != nil {
		_ = root.Close()
		return nil, fmt.Errorf("blob: open %s: %w", dir, err)
	}
	d.removeStale(time.Now().Add(-staleTmp))
	return d, nil
}

// removeStale removes temporary files last modified before cutoff. It is best effort: a
// leftover costs disk space, not correctness.
func (d *Dir) removeStale(cutoff time.Time) {
	entries, err := fs.ReadDir(d.root.FS(), tmpDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) {
			_ = d.root.Remove(path.Join(tmpDir, e.Name()))
		}
	}
}

// Close releases the directory. Readers already returned by Get stay usable until closed.
func (d *Dir) Close() error {
	if err := d.root.Close(); err != nil {
		return fmt.Errorf("blob: close %s: %w", d.root.Name(), err)
	}
	return nil
}

// Put stores data under key, replacing any object there, and returns the number of bytes
// stored. When ctx is cancelled or data fails, nothing changes at key.
func (d *Dir) Put(ctx context.Context, key string, data io.Reader, contentType string) (int64, error) {
	if err := CheckKey(key); err != nil {
		return 0, fmt.Errorf("blob: put: %w", err)
	}
	n, err := d.put(ctx, key, data)
	if err != nil {
		return 0, fmt.Errorf("blob: put %s: %w", key, err)
	}
	return n, nil
}

func (d *Dir) put(ctx context.Context, key string, data io.Reader) (n int64, err error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	parent := path.Dir(key)
	if err := d.root.MkdirAll(parent, 0o750); err != nil {
		return 0, err
	}
	tmp := path.Join(tmpDir, rand.Text())
	f, err := d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = d.root.Remove(tmp)
		}
	}()
	n, err = io.Copy(f, ctxReader{ctx, data})
	if err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := d.root.Rename(tmp, key); err != nil {
		return 0, err
	}
	// The rename is durable once the directory that now holds the name is synced.
	if err := d.syncDir(parent); err != nil {
		return 0, err
	}
	return n, nil
}

func (d *Dir) syncDir(name string) error {
	dir, err := d.root.Open(name)
	if err != nil {
		return err
	}
	err = dir.Sync()
	if cerr := dir.Close(); err == nil {
		err = cerr
	}
	return err
}

// ctxReader stops a copy when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Get opens bytes [offset, offset+length) of the object at key; length < 0 means to the end,
// and a range past the end is cut at the end. The error wraps adapter.ErrNotFound for a missing
// key and ErrInvalidRange for an offset that is negative or past the end. The caller closes
// the reader; it reads the object as it was when opened, even if it is replaced meanwhile.
func (d *Dir) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := CheckKey(key); err != nil {
		return nil, fmt.Errorf("blob: get: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("blob: get %s: %w", key, err)
	}
	f, err := d.root.Open(key)
	if err != nil {
		return nil, fmt.Errorf("blob: get %s: %w", key, notFound(err))
	}
	size, err := regularSize(f.Stat())
	if err == nil && (offset < 0 || offset > size) {
		err = fmt.Errorf("offset %d of a %d-byte object: %w", offset, size, ErrInvalidRange)
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("blob: get %s: %w", key, err)
	}
	n := size - offset
	if length >= 0 && length < n {
		n = length
	}
	return sectionCloser{io.NewSectionReader(f, offset, n), f}, nil
}

type sectionCloser struct {
	*io.SectionReader
	io.Closer
}

// Size is the object's length in bytes; the error wraps adapter.ErrNotFound for a missing key.
func (d *Dir) Size(ctx context.Context, key string) (int64, error) {
	if err := CheckKey(key); err != nil {
		return 0, fmt.Errorf("blob: size: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("blob: size %s: %w", key, err)
	}
	size, err := regularSize(d.root.Stat(key))
	if err != nil {
		return 0, fmt.Errorf("blob: size %s: %w", key, err)
	}
	return size, nil
}

// Delete removes the object at key; the error wraps adapter.ErrNotFound for a missing key.
// Directories left empty stay: there are few (one per container) and removing them would
// race with a concurrent Put into them.
func (d *Dir) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return fmt.Errorf("blob: delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	// A key that names a directory (the parent of other keys) is not an object.
	if _, err := regularSize(d.root.Lstat(key)); err != nil {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	if err := d.root.Remove(key); err != nil {
		return fmt.Errorf("blob: delete %s: %w", key, notFound(err))
	}
	return nil
}

// regularSize is the size of a regular file; anything else at a key is not an object.
func regularSize(info os.FileInfo, err error) (int64, error) {
	if err != nil {
		return 0, notFound(err)
	}
	if !info.Mode().IsRegular() {
		return 0, fmt.Errorf("not a regular file: %w", adapter.ErrNotFound)
	}
	return info.Size(), nil
}

// notFound adds adapter.ErrNotFound to an error that means the key does not exist (ENOTDIR:
// a segment of the key is a file).
func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: %w", adapter.ErrNotFound, err)
	}
	return err
}

// Stat describes the object at key; Dir keeps no content type. The error wraps
// adapter.ErrNotFound for a missing key.
func (d *Dir) Stat(ctx context.Context, key string) (Info, error) {
	if err := CheckKey(key); err != nil {
		return Info{}, fmt.Errorf("blob: stat: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Info{}, fmt.Errorf("blob: stat %s: %w", key, err)
	}
	info, err := d.root.Stat(key)
	size, err := regularSize(info, err)
	if err != nil {
		return Info{}, fmt.Errorf("blob: stat %s: %w", key, err)
	}
	return Info{Size: size, Modified: info.ModTime()}, nil
}
