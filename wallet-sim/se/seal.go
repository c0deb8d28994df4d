package se

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
)

// Sealed file format: magic ‖ 12-byte nonce ‖ AES-256-GCM ciphertext. The
// magic and the file's purpose are bound as additional data, so a sealed
// wallet file cannot be swapped in for the element's state.
const (
	sealMagic = "MNCSE1\x00"
	// MaxSealedSize bounds any sealed file read back: the element state
	// holds a few keys and one JPKI applet; wallet data holds a few mdocs
	// (and, in wallets written before the history log, a bounded history).
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
