package mdoc

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"encoding/base64"
	"strings"
)

// Bounds and sizes of ISO/IEC 18013-7 Annex C.
const (
	// MinAnnexCNonceSize is the shortest reader nonce NewEncryptionInfo
	// accepts: 128 bits, so a nonce never repeats by chance.
	MinAnnexCNonceSize = 16
	// MaxAnnexCNonceSize bounds a received nonce.
	MaxAnnexCNonceSize = 1024
	// maxEncryptionInfoSize bounds an encoded EncryptionInfo: a nonce and
	// a P-521 COSE_Key fit in well under 2 KiB.
	maxEncryptionInfoSize = 2048
)

// EncryptionInfo is what an ISO/IEC 18013-7 Annex C reader sends with its
// DeviceRequest:
//
//	EncryptionInfo = ["dcapi", {"nonce": bstr, "recipientPublicKey": COSE_Key}]
//
// It travels base64url-encoded (Base64), and that text is hashed into the
// handover (AnnexCHandover). Raw is the CBOR as received or built.
type EncryptionInfo struct {
	Nonce              []byte
	RecipientPublicKey *COSEKey
	Raw                []byte
}

type encryptionInfoWire struct {
	_      struct{} `cbor:",toarray"`
	ID     string
	Params encryptionParamsWire
}

type encryptionParamsWire struct {
	Nonce              []byte   `cbor:"nonce"`
	RecipientPublicKey *COSEKey `cbor:"recipientPublicKey"`
}

// NewEncryptionInfo builds the EncryptionInfo for a reader nonce (at least
// MinAnnexCNonceSize random bytes) and the reader's P-256 HPKE recipient
// key.
func NewEncryptionInfo(nonce []byte, recipient *ecdh.PublicKey) (*EncryptionInfo, error) {
	if len(nonce) < MinAnnexCNonceSize || len(nonce) > MaxAnnexCNonceSize {
		return nil, newError(CodeMalformed, "nonce of %d bytes, want %d–%d", len(nonce), MinAnnexCNonceSize, MaxAnnexCNonceSize)
	}
	if recipient == nil || recipient.Curve() != ecdh.P256() {
		return nil, newError(CodeUnsupported, "Annex C recipient key must be P-256")
	}
	k, err := NewCOSEKey(recipient)
	if err != nil {
		return nil, err
	}
	raw, err := Marshal(encryptionInfoWire{ID: AnnexCHandoverID, Params: encryptionParamsWire{Nonce: nonce, RecipientPublicKey: k}})
	if err != nil {
		return nil, err
	}
	return ParseEncryptionInfo(raw)
}

// ParseEncryptionInfo parses an encoded EncryptionInfo, keeping b in Raw.
// The recipient key must be a P-256 EC2 key, the only one the Annex C HPKE
// suite uses.
func ParseEncryptionInfo(b []byte) (*EncryptionInfo, error) {
	if len(b) > maxEncryptionInfoSize {
		return nil, newError(CodeLimitExceeded, "encryption info of %d bytes exceeds %d", len(b), maxEncryptionInfoSize)
	}
	var w encryptionInfoWire
	if err := Unmarshal(b, &w); err != nil {
		return nil, wrapError(CodeMalformed, err, "encryption info")
	}
	if w.ID != AnnexCHandoverID {
		return nil, newError(CodeMalformed, "encryption info of type %q, want %q", w.ID, AnnexCHandoverID)
	}
	if len(w.Params.Nonce) == 0 || len(w.Params.Nonce) > MaxAnnexCNonceSize {
		return nil, newError(CodeMalformed, "encryption info nonce of %d bytes", len(w.Params.Nonce))
	}
	if w.Params.RecipientPublicKey == nil {
		return nil, newError(CodeMalformed, "encryption info without recipientPublicKey")
	}
	if w.Params.RecipientPublicKey.Kty != KeyTypeEC2 || w.Params.RecipientPublicKey.Crv != CurveP256 {
		return nil, newError(CodeUnsupported, "Annex C recipient key must be P-256")
	}
	return &EncryptionInfo{Nonce: w.Params.Nonce, RecipientPublicKey: w.Params.RecipientPublicKey, Raw: bytes.Clone(b)}, nil
}

// ParseEncryptionInfoBase64 parses the base64url (no padding) text a reader
// sends. Decoding is strict, so Base64 of the result returns s.
func ParseEncryptionInfoBase64(s string) (*EncryptionInfo, error) {
	b, err := decodeBase64URLStrict(s, maxEncryptionInfoSize)
	if err != nil {
		return nil, wrapError(CodeMalformed, err, "encryption info")
	}
	return ParseEncryptionInfo(b)
}

// Base64 returns the base64url encoding without padding of Raw, the text
// sent to the wallet and hashed into AnnexCHandover.
func (e *EncryptionInfo) Base64() string { return base64.RawURLEncoding.EncodeToString(e.Raw) }

// PublicKey returns the recipient key for HPKE.
func (e *EncryptionInfo) PublicKey() (*ecdh.PublicKey, error) { return e.RecipientPublicKey.ECDH() }

// decodeBase64URLStrict decodes base64url without padding, rejecting
// padding, whitespace and non-zero trailing bits so that one value has one
// spelling.
func decodeBase64URLStrict(s string, maxDecoded int) ([]byte, error) {
	if base64.RawURLEncoding.DecodedLen(len(s)) > maxDecoded {
		return nil, newError(CodeLimitExceeded, "base64url text of %d characters", len(s))
	}
	if strings.ContainsAny(s, "=\r\n \t") {
		return nil, newError(CodeMalformed, "base64url text with padding or whitespace")
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, newError(CodeMalformed, "not base64url: %v", err)
	}
	return b, nil
}

// EncryptedResponse is the wallet's answer in ISO/IEC 18013-7 Annex C:
//
//	EncryptedResponse = ["dcapi", {"enc": bstr, "cipherText": bstr}]
//
// enc is the HPKE encapsulated key, cipherText the sealed DeviceResponse.
type EncryptedResponse struct {
	Enc        []byte
	CipherText []byte
	Raw        []byte
}

type encryptedResponseWire struct {
	_      struct{} `cbor:",toarray"`
	ID     string
	Params encryptedResponseParams
}

type encryptedResponseParams struct {
	Enc        []byte `cbor:"enc"`
	CipherText []byte `cbor:"cipherText"`
}

// ParseEncryptedResponse parses an encoded EncryptedResponse.
func ParseEncryptedResponse(b []byte) (*EncryptedResponse, error) {
	var w encryptedResponseWire
	if err := Unmarshal(b, &w); err != nil {
		return nil, wrapError(CodeMalformed, err, "encrypted response")
	}
	if w.ID != AnnexCHandoverID {
		return nil, newError(CodeMalformed, "encrypted response of type %q, want %q", w.ID, AnnexCHandoverID)
	}
	if len(w.Params.Enc) == 0 || len(w.Params.CipherText) == 0 {
		return nil, newError(CodeMalformed, "encrypted response without enc or cipherText")
	}
	return &EncryptedResponse{Enc: w.Params.Enc, CipherText: w.Params.CipherText, Raw: bytes.Clone(b)}, nil
}

// Encode encodes the response.
func (r *EncryptedResponse) Encode() ([]byte, error) {
	return Marshal(encryptedResponseWire{ID: AnnexCHandoverID, Params: encryptedResponseParams{Enc: r.Enc, CipherText: r.CipherText}})
}

// AnnexCSessionTranscript returns the ISO/IEC 18013-7 Annex C
// SessionTranscript [null, null, AnnexCHandover(encryptionInfoB64, origin)].
func AnnexCSessionTranscript(encryptionInfoB64, origin string) (*SessionTranscript, error) {
	return NewSessionTranscript(nil, nil, AnnexCHandover(encryptionInfoB64, origin))
}

// annexCSuite is the HPKE suite of ISO/IEC 18013-7 Annex C: base mode,
// DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM.
func annexCSuite() (hpke.KDF, hpke.AEAD) { return hpke.HKDFSHA256(), hpke.AES128GCM() }

// SealAnnexC encrypts a DeviceResponse to the reader's recipient key
// (ISO/IEC 18013-7 Annex C) and returns the encoded EncryptedResponse. The
// HPKE info is the SessionTranscript as CBOR (Raw, not tag-24 wrapped) and
// the AAD is empty, so the response opens only under the same transcript —
// the same EncryptionInfo and origin.
func SealAnnexC(recipient *ecdh.PublicKey, sessionTranscript *SessionTranscript, deviceResponse []byte) ([]byte, error) {
	if recipient == nil || recipient.Curve() != ecdh.P256() {
		return nil, newError(CodeUnsupported, "Annex C recipient key must be P-256")
	}
	if sessionTranscript == nil || len(sessionTranscript.Raw) == 0 {
		return nil, newError(CodeMalformed, "Annex C seal without session transcript")
	}
	if len(deviceResponse) > MaxMessageSize {
		return nil, newError(CodeLimitExceeded, "device response of %d bytes exceeds %d", len(deviceResponse), MaxMessageSize)
	}
	pk, err := hpke.NewDHKEMPublicKey(recipient)
	if err != nil {
		return nil, wrapError(CodeUnsupported, err, "hpke public key")
	}
	kdf, aead := annexCSuite()
	enc, sender, err := hpke.NewSender(pk, kdf, aead, sessionTranscript.Raw)
	if err != nil {
		return nil, wrapError(CodeSessionEncryption, err, "hpke sender")
	}
	ct, err := sender.Seal(nil, deviceResponse)
	if err != nil {
		return nil, wrapError(CodeSessionEncryption, err, "hpke seal")
	}
	return (&EncryptedResponse{Enc: enc, CipherText: ct}).Encode()
}

// OpenAnnexC decrypts an encoded EncryptedResponse with the reader's
// recipient private key (any ecdh.KeyExchanger, so an HSM key works) under
// sessionTranscript, returning the DeviceResponse bytes. A response sealed
// under another transcript (other EncryptionInfo or origin) or key fails
// with CodeSessionEncryption.
func OpenAnnexC(priv ecdh.KeyExchanger, sessionTranscript *SessionTranscript, encryptedResponse []byte) ([]byte, error) {
	if priv == nil || priv.Curve() != ecdh.P256() {
		return nil, newError(CodeUnsupported, "Annex C recipient key must be P-256")
	}
	if sessionTranscript == nil || len(sessionTranscript.Raw) == 0 {
		return nil, newError(CodeMalformed, "Annex C open without session transcript")
	}
	resp, err := ParseEncryptedResponse(encryptedResponse)
	if err != nil {
		return nil, err
	}
	k, err := hpke.NewDHKEMPrivateKey(priv)
	if err != nil {
		return nil, wrapError(CodeUnsupported, err, "hpke private key")
	}
	kdf, aead := annexCSuite()
	r, err := hpke.NewRecipient(resp.Enc, k, kdf, aead, sessionTranscript.Raw)
	if err != nil {
		return nil, wrapError(CodeSessionEncryption, err, "hpke recipient")
	}
	pt, err := r.Open(nil, resp.CipherText)
	if err != nil {
		return nil, newError(CodeSessionEncryption, "Annex C response does not decrypt under this session transcript")
	}
	return pt, nil
}
