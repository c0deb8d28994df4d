package loadgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWalletDir(t *testing.T) {
	work := t.TempDir()

	given := filepath.Join(t.TempDir(), "w")
	d, where, cleanup, err := walletDir(given, work, 8)
	if err != nil || d != given || where != "as given" {
		t.Fatalf("explicit: %q %q %v", d, where, err)
	}
	cleanup()
	if fi, err := os.Stat(given); err != nil || !fi.IsDir() {
		t.Fatalf("an explicit directory must be made and kept: %v", err)
	}

	// A memory file system: a fresh directory in it, removed afterwards.
	mem := t.TempDir()
	old := memoryFS
	t.Cleanup(func() { memoryFS = old })
	memoryFS = mem
	d, where, cleanup, err = walletDir("", work, 8)
	if err != nil || filepath.Dir(d) != mem || where != "memory file system" {
		t.Fatalf("memory: %q %q %v", d, where, err)
	}
	if err := os.WriteFile(filepath.Join(d, "state"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cleanup()
	if _, err := os.Stat(d); !os.IsNotExist(err) {
		t.Fatalf("the temporary wallet directory outlived the run: %v", err)
	}

	// Too small for the wallets: the work directory, saying why.
	if _, ok := freeBytes(mem); ok {
		d, where, _, err = walletDir("", work, 1<<40)
		if err != nil || d != filepath.Join(work, "wallets") || !strings.Contains(where, "MiB free") {
			t.Fatalf("small memory file system: %q %q %v", d, where, err)
		}
	}

	// None: inside the work directory, which the run owns.
	memoryFS = filepath.Join(mem, "absent")
	d, where, cleanup, err = walletDir("", work, 8)
	if err != nil || d != filepath.Join(work, "wallets") || !strings.Contains(where, "no memory file system") {
		t.Fatalf("fallback: %q %q %v", d, where, err)
	}
	cleanup()

	// A path that cannot be a directory is refused clearly.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := walletDir(filepath.Join(file, "w"), work, 8); err == nil || !strings.Contains(err.Error(), "wallet directory") {
		t.Fatalf("unusable directory: %v", err)
	}
}
