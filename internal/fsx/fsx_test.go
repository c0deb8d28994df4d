package fsx

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func TestWriteFileReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "new" {
		t.Fatalf("content %q, %v", b, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	// No temporary file is left behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries, want 1", len(ents))
	}
}

// TestWriteFileFailedRename: when the temporary file cannot be renamed
// into place (here path is a non-empty directory), it is removed.
func TestWriteFileFailedRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := os.MkdirAll(filepath.Join(path, "inside"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new"), 0o600); err == nil {
		t.Fatal("written over a directory")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "state.json" {
		t.Fatalf("directory holds %v, want only state.json", ents)
	}
}

func TestWriteFileNamesPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "f")
	err := WriteFile(path, nil, 0o600)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v does not name %s", err, path)
	}
}

func TestReadFileBound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(path, 5); err != nil || string(b) != "12345" {
		t.Fatalf("at the bound: %q, %v", b, err)
	}
	if _, err := ReadFile(path, 4); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), path) {
		t.Fatalf("over the bound: %v", err)
	}
	if _, err := ReadFile(path+".none", 4); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestReadAllEmpty(t *testing.T) {
	if b, err := ReadAll(strings.NewReader(""), 0); err != nil || len(b) != 0 {
		t.Fatalf("%q, %v", b, err)
	}
}

func TestRename(t *testing.T) {
	dir := t.TempDir()
	from, to := filepath.Join(dir, "a.next"), filepath.Join(dir, "a")
	if err := WriteFile(to, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(from, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Rename(from, to); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(to); err != nil || string(b) != "new" {
		t.Fatalf("after Rename: %q, %v", b, err)
	}
	if _, err := os.Stat(from); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("source still there: %v", err)
	}
	if err := Rename(from, to); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("renaming a missing file: %v, want ErrNotExist", err)
	}
}

func TestReadAllSized(t *testing.T) {
	body := strings.Repeat("0123456789", 700) // 7,000 bytes
	for _, tc := range []struct {
		name      string
		max, size int64
		slow      bool // one byte per Read
		tooLarge  bool
	}{
		{name: "announced exactly", max: 10000, size: 7000},
		{name: "announced exactly, slow reader", max: 10000, size: 7000, slow: true},
		{name: "unknown size", max: 10000, size: -1},
		{name: "announced short", max: 10000, size: 100},
		{name: "announced long", max: 10000, size: 9000},
		{name: "announced over max", max: 10000, size: 1 << 40},
		{name: "at max", max: 7000, size: 7000},
		{name: "over max, announced honestly", max: 6999, size: 7000, tooLarge: true},
		{name: "over max, announced short", max: 6999, size: 10, tooLarge: true},
		{name: "over max, unknown", max: 6999, size: -1, tooLarge: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r io.Reader = strings.NewReader(body)
			if tc.slow {
				r = iotest.OneByteReader(r)
			}
			b, err := ReadAllSized(r, tc.max, tc.size)
			if tc.tooLarge {
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("got %d bytes, %v; want ErrTooLarge", len(b), err)
				}
				return
			}
			if err != nil || string(b) != body {
				t.Fatalf("got %d bytes, %v; want the %d-byte body", len(b), err, len(body))
			}
		})
	}
}

// An announced size is a hint, not a reservation: a body that announces a
// gigabyte and sends nothing costs at most MaxPrealloc.
func TestReadAllSizedCapsPrealloc(t *testing.T) {
	b, err := ReadAllSized(strings.NewReader(""), 1<<30, 1<<30)
	if err != nil || len(b) != 0 {
		t.Fatalf("%q, %v", b, err)
	}
	if cap(b) > MaxPrealloc+1 {
		t.Fatalf("reserved %d bytes for an empty body", cap(b))
	}
}

func TestReadAllSizedReadError(t *testing.T) {
	boom := errors.New("connection reset")
	if _, err := ReadAllSized(iotest.ErrReader(boom), 100, 10); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the reader's error", err)
	}
}
