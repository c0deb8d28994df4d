// Package fsx holds the file operations every role repeats: writing or
// renaming a file so that a crash never leaves half of it or loses the
// rename, and reading a file no larger than a bound, so that a wrong path
// (a device, a log) cannot exhaust memory.
package fsx

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrTooLarge is wrapped by ReadFile and ReadAll when the input is over
// its bound; callers map it to their own error codes with errors.Is.
var ErrTooLarge = errors.New("over the size limit")

// WriteFile writes data to path through a temporary file in the same
// directory, synced, then renamed over path, and syncs the directory: a
// crash leaves either the old or the new content, never a truncated file.
// The file gets perm whatever the umask. Errors name path.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmp)
		}
	}()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
		renamed = err == nil
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	SyncDir(dir)
	return nil
}

// Rename renames from over to and syncs the directory of to, so that the
// rename survives a crash once Rename returns.
func Rename(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return err
	}
	SyncDir(filepath.Dir(to))
	return nil
}

// SyncDir makes the entries of dir durable: a rename or a removal there is
// durable only once the directory is. A failure leaves the entries in
// place, only perhaps not yet on disk, so it is not reported.
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// ReadFile reads the file at path, refusing one of more than max bytes
// with an error wrapping ErrTooLarge. It reads at most max+1 bytes whatever
// the file is, so it is safe on pipes and devices too. A missing file gives
// an error wrapping fs.ErrNotExist, as os.ReadFile does.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := ReadAll(f, max)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// ReadAll reads r to its end, refusing more than max bytes with an error
// wrapping ErrTooLarge.
func ReadAll(r io.Reader, max int64) ([]byte, error) { return ReadAllSized(r, max, -1) }

// MaxPrealloc bounds what ReadAllSized reserves on the strength of an
// announced size alone: a peer that announces a large body and sends it
// slowly, or not at all, holds no more memory than it has sent beyond this.
const MaxPrealloc = 64 << 10

// ReadAllSized is ReadAll for a reader whose length is announced, such as
// an HTTP body with a Content-Length (size < 0: unknown). It reads into one
// buffer of that size, up to MaxPrealloc, instead of growing one from 512
// bytes as io.ReadAll does; for the few KiB of an encrypted presentation
// that is one allocation and no copying instead of seven of each. A wrong
// announcement only costs speed: the buffer grows past it, and max still
// holds.
func ReadAllSized(r io.Reader, max, size int64) ([]byte, error) {
	n := int64(512)
	if size >= 0 {
		// One byte over the announced size lets the final Read see EOF
		// without growing the buffer; one over max detects a longer body.
		n = min(size, max, MaxPrealloc) + 1
	}
	b := make([]byte, 0, n)
	lr := io.LimitReader(r, max+1)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // grow as append does
		}
		m, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w of %d bytes", ErrTooLarge, max)
	}
	return b, nil
}
