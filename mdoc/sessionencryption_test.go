package mdoc

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
)

// keysForTest exposes the derived keys to tests only.
func (s *SessionEncryption) keysForTest() (skReader, skDevice []byte) { return s.skReader, s.skDevice }

func sessionPair(t testing.TB, curve ecdh.Curve) (reader, mdoc *SessionEncryption) {
	t.Helper()
	eReader, err := curve.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	eDevice, err := curve.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	stb := []byte("\xd8\x18\x43\x83\xf6\xf6\xf6")
	if reader, err = NewSessionEncryption(RoleReader, eReader, eDevice.PublicKey(), stb); err != nil {
		t.Fatal(err)
	}
	if mdoc, err = NewSessionEncryption(RoleMDoc, eDevice, eReader.PublicKey(), stb); err != nil {
		t.Fatal(err)
	}
	return reader, mdoc
}

func TestSessionEncryptionRoundTrip(t *testing.T) {
	for _, curve := range []ecdh.Curve{ecdh.P256(), ecdh.P384(), ecdh.P521()} {
		t.Run(fmt.Sprint(curve), func(t *testing.T) {
			reader, mdoc := sessionPair(t, curve)
			for i := range 3 {
				msg := bytes.Repeat([]byte{byte(i)}, 10*i)
				ct, err := reader.Encrypt(msg)
				if err != nil {
					t.Fatal(err)
				}
				if len(ct) != len(msg)+16 {
					t.Errorf("ciphertext of %d bytes for %d", len(ct), len(msg))
				}
				pt, err := mdoc.Decrypt(ct)
				if err != nil || !bytes.Equal(pt, msg) {
					t.Fatalf("mdoc Decrypt #%d: %v", i, err)
				}
				ct, err = mdoc.Encrypt(msg)
				if err != nil {
					t.Fatal(err)
				}
				pt, err = reader.Decrypt(ct)
				if err != nil || !bytes.Equal(pt, msg) {
					t.Fatalf("reader Decrypt #%d: %v", i, err)
				}
			}
		})
	}
}

func TestSessionEncryptionRejects(t *testing.T) {
	reader, mdoc := sessionPair(t, ecdh.P256())
	c1, _ := reader.Encrypt([]byte("one"))
	c2, _ := reader.Encrypt([]byte("two"))
	c3, _ := reader.Encrypt([]byte("three"))

	// Re-ordered: message 2 before 1 fails and does not advance.
	if _, err := mdoc.Decrypt(c2); !errors.Is(err, ErrSessionEncryption) {
		t.Fatalf("out-of-order: err = %v", err)
	}
	if pt, err := mdoc.Decrypt(c1); err != nil || string(pt) != "one" {
		t.Fatalf("message 1 after a failure: %q, %v", pt, err)
	}
	// Replayed.
	if _, err := mdoc.Decrypt(c1); !errors.Is(err, ErrSessionEncryption) {
		t.Fatalf("replay: err = %v", err)
	}
	// Tampered.
	bad := bytes.Clone(c2)
	bad[0] ^= 1
	if _, err := mdoc.Decrypt(bad); !errors.Is(err, ErrSessionEncryption) {
		t.Fatalf("tampered: err = %v", err)
	}
	if pt, err := mdoc.Decrypt(c2); err != nil || string(pt) != "two" {
		t.Fatalf("message 2: %q, %v", pt, err)
	}
	// A message in the wrong direction (reader's own) does not decrypt.
	if _, err := reader.Decrypt(c3); !errors.Is(err, ErrSessionEncryption) {
		t.Fatalf("own direction: err = %v", err)
	}
	// Short ciphertext.
	if _, err := mdoc.Decrypt([]byte{1, 2, 3}); !errors.Is(err, ErrSessionEncryption) {
		t.Fatalf("short: err = %v", err)
	}
	// Wrong key: another reader's session cannot read the mdoc.
	other, _ := sessionPair(t, ecdh.P256())
	cm, _ := mdoc.Encrypt([]byte("hello"))
	if _, err := other.Decrypt(cm); !errors.Is(err, ErrSessionEncryption) {
		t.Fatalf("wrong key: err = %v", err)
	}
	// Wrong transcript: same keys, other transcript.
	eR, _ := ecdh.P256().GenerateKey(rand.Reader)
	eD, _ := ecdh.P256().GenerateKey(rand.Reader)
	r1, _ := NewSessionEncryption(RoleReader, eR, eD.PublicKey(), []byte("transcript A"))
	m1, _ := NewSessionEncryption(RoleMDoc, eD, eR.PublicKey(), []byte("transcript B"))
	ct, _ := r1.Encrypt([]byte("x"))
	if _, err := m1.Decrypt(ct); !errors.Is(err, ErrSessionEncryption) {
		t.Fatalf("wrong transcript: err = %v", err)
	}
}

func TestSessionEncryptionCounterExhaustion(t *testing.T) {
	reader, mdoc := sessionPair(t, ecdh.P256())
	reader.sendNext, mdoc.recvNext = maxCounter, maxCounter
	ct, err := reader.Encrypt([]byte("last"))
	if err != nil {
		t.Fatalf("counter 2^32-1: %v", err)
	}
	if pt, err := mdoc.Decrypt(ct); err != nil || string(pt) != "last" {
		t.Fatalf("decrypt at 2^32-1: %v", err)
	}
	if _, err := reader.Encrypt([]byte("wrap")); !errors.Is(err, ErrSessionEncryption) {
		t.Fatalf("encrypt past 2^32-1: err = %v", err)
	}
	if _, err := mdoc.Decrypt(ct); !errors.Is(err, ErrSessionEncryption) {
		t.Fatalf("decrypt past 2^32-1: err = %v", err)
	}
}

func TestNewSessionEncryptionArguments(t *testing.T) {
	p256, _ := ecdh.P256().GenerateKey(rand.Reader)
	p384, _ := ecdh.P384().GenerateKey(rand.Reader)
	stb := []byte{0xd8, 0x18, 0x41, 0xf6}
	for _, tc := range []struct {
		name string
		role Role
		priv ecdh.KeyExchanger
		peer *ecdh.PublicKey
		stb  []byte
	}{
		{"zero role", 0, p256, p256.PublicKey(), stb},
		{"nil key", RoleReader, nil, p256.PublicKey(), stb},
		{"nil peer", RoleReader, p256, nil, stb},
		{"curve mismatch", RoleMDoc, p256, p384.PublicKey(), stb},
		{"empty transcript", RoleReader, p256, p256.PublicKey(), nil},
	} {
		if _, err := NewSessionEncryption(tc.role, tc.priv, tc.peer, tc.stb); !errors.Is(err, ErrSessionEncryption) {
			t.Errorf("%s: err = %v, want session_encryption", tc.name, err)
		}
	}
}

// BenchmarkSessionSealOpen4KiB seals and opens one 4 KiB message.
func BenchmarkSessionSealOpen4KiB(b *testing.B) {
	reader, mdoc := sessionPair(b, ecdh.P256())
	msg := make([]byte, 4096)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		ct, err := reader.Encrypt(msg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := mdoc.Decrypt(ct); err != nil {
			b.Fatal(err)
		}
	}
}
