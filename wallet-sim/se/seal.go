package se

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Sealed file format: magic ‖ 12-byte nonce ‖ AES-256-GCM ciphertext. The
// magic and the file's purpose are bound as additional data, so a sealed
// wallet file cannot be swapped in for the element's state.
const (
	sealMagic = "MNCSE1\x00"
	// MaxSealedSize bounds any sealed file read back: the element state
	// holds a few keys and one JPKI applet; wallet data holds a few mdocs
	// and a bounded history.
	MaxSealedSize = 16 << 20
	deviceKeySize = 32
)

// sealer encrypts under one 32-byte key.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: g}, nil
}

// deriveKey derives a purpose-specific key from the device key, so the
// element state and the wallet's data never share a GCM key.
func deriveKey(deviceKey []byte, purpose string) ([]byte, error) {
	return hkdf.Key(sha256.New, deviceKey, nil, "mnc-wallet-se "+purpose, 32)
}

func (s *sealer) seal(purpose string, plaintext []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte(sealMagic), nonce...)
	return s.aead.Seal(out, nonce, plaintext, []byte(sealMagic+purpose)), nil
}

func (s *sealer) open(purpose string, sealed []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < len(sealMagic)+ns+s.aead.Overhead() || !bytes.HasPrefix(sealed, []byte(sealMagic)) {
		return nil, errors.New("not a sealed file")
	}
	nonce := sealed[len(sealMagic) : len(sealMagic)+ns]
	pt, err := s.aead.Open(nil, nonce, sealed[len(sealMagic)+ns:], []byte(sealMagic+purpose))
	if err != nil {
		return nil, errors.New("authentication failed (wrong device key or modified file)")
	}
	return pt, nil
}

// readBounded reads a file of at most max bytes.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%s is %d bytes, over the %d-byte bound", path, fi.Size(), max)
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil && fi.Size() > 0 {
		return nil, err
	}
	return b, nil
}

// writeAtomic writes data to path through a synced temporary file and a
// rename, so a crash leaves either the old or the new content — never a
// half-written state or a lost retry-counter decrement.
func writeAtomic(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
