package mdoc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"sync"
)

// Role is the side of a proximity session a SessionEncryption plays.
type Role int

const (
	// RoleReader encrypts with SKReader and decrypts with SKDevice.
	RoleReader Role = iota + 1
	// RoleMDoc encrypts with SKDevice and decrypts with SKReader.
	RoleMDoc
)

func (r Role) String() string {
	switch r {
	case RoleReader:
		return "reader"
	case RoleMDoc:
		return "mdoc"
	}
	return "invalid role"
}

// Session key derivation parameters (ISO/IEC 18013-5:2021 §9.1.1.5).
const (
	sessionKeySize = 32 // AES-256
	infoSKReader   = "SKReader"
	infoSKDevice   = "SKDevice"
	gcmIVSize      = 12
	gcmTagSize     = 16
	firstCounter   = 1
	maxCounter     = math.MaxUint32
	readerIVID     = 0 // 8-byte identifier of messages the reader encrypts
	mdocIVID       = 1 // 8-byte identifier of messages the mdoc encrypts
)

// DeriveSessionKeys derives SKReader and SKDevice from the ECDH shared
// secret (ISO/IEC 18013-5:2021 §9.1.1.5): HKDF-SHA256 with salt =
// SHA-256(SessionTranscriptBytes), info "SKReader" or "SKDevice", 32 bytes.
func DeriveSessionKeys(sharedSecret, sessionTranscriptBytes []byte) (skReader, skDevice []byte, err error) {
	if len(sharedSecret) == 0 || len(sessionTranscriptBytes) == 0 {
		return nil, nil, newError(CodeSessionEncryption, "empty shared secret or session transcript")
	}
	salt := sha256.Sum256(sessionTranscriptBytes)
	prk, err := hkdf.Extract(sha256.New, sharedSecret, salt[:])
	if err != nil {
		return nil, nil, wrapError(CodeSessionEncryption, err, "hkdf")
	}
	if skReader, err = hkdf.Expand(sha256.New, prk, infoSKReader, sessionKeySize); err != nil {
		return nil, nil, wrapError(CodeSessionEncryption, err, "hkdf")
	}
	if skDevice, err = hkdf.Expand(sha256.New, prk, infoSKDevice, sessionKeySize); err != nil {
		return nil, nil, wrapError(CodeSessionEncryption, err, "hkdf")
	}
	return skReader, skDevice, nil
}

// SessionEncryption encrypts and decrypts the messages of one proximity
// session (ISO/IEC 18013-5:2021 §9.1.1.5): AES-256-GCM without additional
// data, IV = 8-byte identifier (reader 0…0, mdoc 0…01) ‖ 4-byte big-endian
// message counter, starting at 1 in each direction. The counters live in
// the object: Encrypt uses the next send counter; Decrypt tries only the
// next expected receive counter and advances it only on success, so a
// replayed, reordered or dropped message fails with CodeSessionEncryption.
// When a counter would pass 2³²−1 the direction fails closed. It is safe
// for concurrent use, though a session is sequential by nature.
type SessionEncryption struct {
	role     Role
	skReader []byte
	skDevice []byte

	mu       sync.Mutex
	send     cipher.AEAD
	recv     cipher.AEAD
	sendID   uint64
	recvID   uint64
	sendNext uint64 // next counter to use; > maxCounter when exhausted
	recvNext uint64
}

// NewSessionEncryption sets up session encryption for role from this
// side's ephemeral private key (any ecdh.KeyExchanger, so a key in a secure
// element works), the peer's ephemeral public key (EDeviceKey for the
// reader, EReaderKey for the mdoc) and SessionTranscriptBytes (the tag-24
// wrapped transcript, see SessionTranscript.Bytes).
func NewSessionEncryption(role Role, priv ecdh.KeyExchanger, peer *ecdh.PublicKey, sessionTranscriptBytes []byte) (*SessionEncryption, error) {
	if role != RoleReader && role != RoleMDoc {
		return nil, newError(CodeSessionEncryption, "invalid role %d", int(role))
	}
	if priv == nil || peer == nil {
		return nil, newError(CodeSessionEncryption, "missing key")
	}
	if priv.Curve() != peer.Curve() {
		return nil, newError(CodeSessionEncryption, "keys on different curves")
	}
	z, err := priv.ECDH(peer)
	if err != nil {
		return nil, wrapError(CodeSessionEncryption, err, "ecdh")
	}
	skReader, skDevice, err := DeriveSessionKeys(z, sessionTranscriptBytes)
	if err != nil {
		return nil, err
	}
	return newSessionEncryption(role, skReader, skDevice)
}

func newSessionEncryption(role Role, skReader, skDevice []byte) (*SessionEncryption, error) {
	reader, err := newGCM(skReader)
	if err != nil {
		return nil, err
	}
	device, err := newGCM(skDevice)
	if err != nil {
		return nil, err
	}
	s := &SessionEncryption{role: role, skReader: skReader, skDevice: skDevice,
		sendNext: firstCounter, recvNext: firstCounter}
	if role == RoleReader {
		s.send, s.sendID, s.recv, s.recvID = reader, readerIVID, device, mdocIVID
	} else {
		s.send, s.sendID, s.recv, s.recvID = device, mdocIVID, reader, readerIVID
	}
	return s, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, wrapError(CodeSessionEncryption, err, "aes")
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		return nil, wrapError(CodeSessionEncryption, err, "gcm")
	}
	return g, nil
}

func sessionIV(id, counter uint64) []byte {
	iv := make([]byte, gcmIVSize)
	binary.BigEndian.PutUint64(iv, id)
	binary.BigEndian.PutUint32(iv[8:], uint32(counter))
	return iv
}

// Role returns the side this object plays.
func (s *SessionEncryption) Role() Role { return s.role }

// Encrypt encrypts the next outgoing message (a DeviceRequest for the
// reader, a DeviceResponse for the mdoc) for the "data" of a
// SessionEstablishment or SessionData.
func (s *SessionEncryption) Encrypt(plaintext []byte) ([]byte, error) {
	if len(plaintext) > MaxMessageSize {
		return nil, newError(CodeLimitExceeded, "plaintext of %d bytes exceeds %d", len(plaintext), MaxMessageSize)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sendNext > maxCounter {
		return nil, newError(CodeSessionEncryption, "%s send counter exhausted", s.role)
	}
	ct := s.send.Seal(nil, sessionIV(s.sendID, s.sendNext), plaintext, nil)
	s.sendNext++
	return ct, nil
}

// Decrypt decrypts the next incoming message. It fails with
// CodeSessionEncryption, without advancing the counter, when the
// ciphertext does not authenticate under the expected counter — a wrong
// key, a tampered, replayed or out-of-order message. The peer should then
// be sent SessionStatusEncryptionError and the session ended.
func (s *SessionEncryption) Decrypt(ciphertext []byte) ([]byte, error) {
	if len(ciphertext) > MaxMessageSize+gcmTagSize {
		return nil, newError(CodeLimitExceeded, "ciphertext of %d bytes exceeds %d", len(ciphertext), MaxMessageSize+gcmTagSize)
	}
	if len(ciphertext) < gcmTagSize {
		return nil, newError(CodeSessionEncryption, "ciphertext of %d bytes is shorter than the tag", len(ciphertext))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recvNext > maxCounter {
		return nil, newError(CodeSessionEncryption, "%s receive counter exhausted", s.role)
	}
	pt, err := s.recv.Open(nil, sessionIV(s.recvID, s.recvNext), ciphertext, nil)
	if err != nil {
		return nil, newError(CodeSessionEncryption, "message %d does not decrypt", s.recvNext)
	}
	s.recvNext++
	return pt, nil
}
