// Package fsx holds the two file operations every role repeats: writing a
// file so that a crash never leaves half of it, and reading a file no
// larger than a bound, so that a wrong path (a device, a log) cannot
// exhaust memory.
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
	defer os.Remove(tmp) // no-op after the rename
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
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// The rename is durable only once the directory entry is; a failure
	// here leaves the new content in place, so it is not reported.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
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
func ReadAll(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w of %d bytes", ErrTooLarge, max)
	}
	return b, nil
}
