package se

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var errCrash = errors.New("simulated crash")

// elementFiles returns the files of an element directory by name.
func elementFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = b
	}
	return m
}

// A wipe interrupted at any of its writes leaves an element that opens:
// as it was before the commit (the staged key discarded), wiped after it
// (the key rename finished). Opening again changes nothing.
func TestWipeCrashRecovery(t *testing.T) {
	for _, tc := range []struct {
		name string
		// crash runs the wipe up to its crash point.
		crash     func(t *testing.T, e *Element)
		committed bool
	}{
		{"after PrepareWipe", func(t *testing.T, e *Element) {}, false},
		{"state sealed, key not renamed", func(t *testing.T, e *Element) {
			e.crashAt = func(step string) error {
				if step == "state sealed" {
					return errCrash
				}
				return nil
			}
			if err := e.CommitWipe(); !errors.Is(err, errCrash) {
				t.Fatalf("CommitWipe: %v, want the crash", err)
			}
		}, true},
		{"committed", func(t *testing.T, e *Element) {
			if err := e.CommitWipe(); err != nil {
				t.Fatal(err)
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := provisioned(t)
			dir := e.Dir()
			k, err := e.GenerateKey("device", Access{UserAuth: true})
			if err != nil {
				t.Fatal(err)
			}
			oldKey, _ := os.ReadFile(filepath.Join(dir, DeviceKeyFile))
			oldState, _ := os.ReadFile(filepath.Join(dir, StateFile))
			oldBlob, _ := e.SealData("wallet", []byte("before"))
			if err := e.PrepareWipe(); err != nil {
				t.Fatal(err)
			}
			stagedKey, err := os.ReadFile(filepath.Join(dir, DeviceKeyNextFile))
			if err != nil {
				t.Fatal(err)
			}
			newBlob, err := e.SealDataStaged("wallet", []byte("after"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.OpenData("wallet", newBlob); !errors.Is(err, ErrSealedState) {
				t.Fatalf("data sealed for after the wipe opens before it: %v", err)
			}
			tc.crash(t, e)

			e2, err := Open(dir, OpenOptions{GenerateRSA: testPool(t).Next})
			if err != nil {
				t.Fatalf("open after the crash: %v", err)
			}
			if _, err := os.Lstat(filepath.Join(dir, DeviceKeyNextFile)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("staged key left: %v", err)
			}
			key, _ := os.ReadFile(filepath.Join(dir, DeviceKeyFile))
			_, kerr := e2.Key(k.ID)
			_, oerr := e2.OpenData("wallet", oldBlob)
			_, nerr := e2.OpenData("wallet", newBlob)
			if !tc.committed {
				if !bytes.Equal(key, oldKey) || kerr != nil || !e2.Status().JPKI || oerr != nil || !errors.Is(nerr, ErrSealedState) {
					t.Fatalf("not committed, yet: key rotated %v, key %v, JPKI %v, old data %v, new data %v", !bytes.Equal(key, oldKey), kerr, e2.Status().JPKI, oerr, nerr)
				}
				// The wipe can be done again, under a key of its own.
				if err := e2.Wipe(); err != nil {
					t.Fatal(err)
				}
				if k2, _ := os.ReadFile(filepath.Join(dir, DeviceKeyFile)); bytes.Equal(k2, stagedKey) || bytes.Equal(k2, oldKey) {
					t.Fatal("the wipe redone did not rotate to a fresh key")
				}
				if _, err := e2.Key(k.ID); !errors.Is(err, ErrKeyNotFound) {
					t.Fatalf("key after the wipe redone: %v", err)
				}
				return
			}
			if !bytes.Equal(key, stagedKey) || !errors.Is(kerr, ErrKeyNotFound) || len(e2.Keys()) != 0 || e2.Status().JPKI || !errors.Is(oerr, ErrSealedState) || nerr != nil {
				t.Fatalf("committed, yet: key is the staged one %v, key %v, JPKI %v, old data %v, new data %v", bytes.Equal(key, stagedKey), kerr, e2.Status().JPKI, oerr, nerr)
			}
			if _, err := e2.OpenJPKI(); !errors.Is(err, ErrJPKINotProvisioned) {
				t.Fatalf("JPKI after the wipe: %v", err)
			}
			if _, err := e2.Authenticate(Auth{PIN: "123456"}); err != nil {
				t.Fatalf("PIN after the wipe: %v", err)
			}
			before := elementFiles(t, dir)
			if _, err := Open(dir, OpenOptions{}); err != nil {
				t.Fatal(err)
			}
			after := elementFiles(t, dir)
			if !maps.EqualFunc(after, before, bytes.Equal) {
				t.Fatalf("second open changed the files: %v then %v", slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after)))
			}
			// A backup of the old state does not open, staged key or not.
			os.WriteFile(filepath.Join(dir, StateFile), oldState, 0o600)
			if _, err := Open(dir, OpenOptions{}); !errors.Is(err, ErrSealedState) {
				t.Fatalf("old state: %v", err)
			}
			os.WriteFile(filepath.Join(dir, DeviceKeyNextFile), stagedKey, 0o600)
			if _, err := Open(dir, OpenOptions{}); !errors.Is(err, ErrSealedState) {
				t.Fatalf("old state beside a staged key: %v", err)
			}
		})
	}
}

// Sealing for after a wipe, or committing one, needs PrepareWipe first.
func TestWipeStagesNeedPrepare(t *testing.T) {
	e := newApple(t)
	if _, err := e.SealDataStaged("wallet", nil); err == nil {
		t.Fatal("SealDataStaged without PrepareWipe")
	}
	if err := e.CommitWipe(); err == nil {
		t.Fatal("CommitWipe without PrepareWipe")
	}
	if err := e.Wipe(); err != nil {
		t.Fatal(err)
	}
	if err := e.CommitWipe(); err == nil {
		t.Fatal("CommitWipe twice")
	}
	if _, err := e.SealDataStaged(purposeState, nil); err == nil {
		t.Fatal("reserved purpose accepted")
	}
}
