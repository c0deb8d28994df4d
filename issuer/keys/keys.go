// Package keys holds the issuer's signing keys behind one small interface,
// so that a PKCS#11 key (an HSM, SoftHSM2 in tests) replaces a file key by
// configuration alone. Every key is ECDSA P-256: the IACA, Document Signer,
// status-list signer, reader CA and device-attestation CA keys.
package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	"github.com/mynumber-mdoc/mnc/internal/fsx"
)

// Kinds of key managers.
const (
	KindFile   = "file"
	KindPKCS11 = "pkcs11"
)

// ErrNotFound is returned for a missing key when create is false.
var ErrNotFound = errors.New("keys: key not found")

// Manager hands out signing keys by name.
type Manager interface {
	// Signer returns the key called name. When it does not exist and
	// create is true a new P-256 key is generated (inside the HSM for
	// PKCS#11); otherwise ErrNotFound.
	Signer(ctx context.Context, name string, create bool) (crypto.Signer, error)
	// Kind is KindFile or KindPKCS11; production mode refuses file keys.
	Kind() string
	Close() error
}

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// FileManager keeps keys as PKCS#8 PEM files (mode 0600) in Dir. It is for
// development: the keys are only as safe as the directory.
type FileManager struct {
	Dir string
	mu  sync.Mutex
}

// NewFileManager returns a manager over dir, created with mode 0700.
func NewFileManager(dir string) (*FileManager, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys: create %s: %w", dir, err)
	}
	return &FileManager{Dir: dir}, nil
}

func (m *FileManager) Kind() string { return KindFile }
func (m *FileManager) Close() error { return nil }

func (m *FileManager) Signer(ctx context.Context, name string, create bool) (crypto.Signer, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("keys: invalid key name %q", name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	path := filepath.Join(m.Dir, name+".pem")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if !create {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, path)
		}
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("keys: generate %s: %w", name, err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		// Atomically, so a crash never leaves a truncated key.
		if err := fsx.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("keys: key %s: %w", name, err)
		}
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keys: read %s: %w", path, err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("keys: %s is not a PKCS#8 PEM key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("keys: parse %s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("keys: %s holds a %T, not a signing key", path, k)
	}
	return s, nil
}
