package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCheckInitialised(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := CheckInitialised(dir); !errors.Is(err, ErrNotInitialised) {
		t.Fatalf("missing directory: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatal("the check created the directory")
	}
	// An existing directory without an issuer in it is not one either.
	os.MkdirAll(dir, 0o700)
	if err := CheckInitialised(dir); !errors.Is(err, ErrNotInitialised) {
		t.Fatalf("empty directory: %v", err)
	}
	a, err := Open(context.Background(), Options{DataDir: dir, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if err := CheckInitialised(dir); err != nil {
		t.Fatalf("after Open: %v", err)
	}
}
