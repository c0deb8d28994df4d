package mdoc

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"

	"github.com/fxamacker/cbor/v2"
)

// coseAlgHMAC256 is COSE algorithm 5, HMAC 256/256 (RFC 9053 §3.1).
const coseAlgHMAC256 = 5

// mac0Protected is the only protected header ISO 18013-5 allows for
// deviceMac: {1: 5}.
var mac0Protected = []byte{0xa1, 0x01, 0x05}

// mac0 is COSE_Mac0 (RFC 9052 §6.2) as an array. go-cose has no Mac0, so
// it is done by hand: [protected bstr, unprotected map, payload bstr/nil, tag].
type mac0 struct {
	_           struct{} `cbor:",toarray"`
	Protected   []byte
	Unprotected map[any]any
	Payload     []byte
	Tag         []byte
}

// DeriveEMacKey derives the device MAC key (ISO/IEC 18013-5:2021 §9.1.3.5):
// HKDF-SHA256(ECDH(priv, peer), salt = SHA-256(SessionTranscriptBytes),
// info "EMacKey", 32 bytes). The mdoc calls it with its static device key
// and EReaderKey; the reader with EReaderKey's private part and the device
// key from the MSO. priv may be a secure-element key.
func DeriveEMacKey(priv ecdh.KeyExchanger, peer *ecdh.PublicKey, sessionTranscriptBytes []byte) ([]byte, error) {
	z, err := priv.ECDH(peer)
	if err != nil {
		return nil, newError(CodeDeviceAuthInvalid, "ECDH for EMacKey: %v", err)
	}
	salt := sha256.Sum256(sessionTranscriptBytes)
	return hkdf.Key(sha256.New, z, salt[:], "EMacKey", 32)
}

func mac0Tag(key, payload []byte) ([]byte, error) {
	structure, err := Marshal([]any{"MAC0", mac0Protected, []byte{}, payload})
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, key)
	m.Write(structure)
	return m.Sum(nil), nil
}

// signMac0 returns a COSE_Mac0 over payload with a detached payload.
func signMac0(key, payload []byte) ([]byte, error) {
	tag, err := mac0Tag(key, payload)
	if err != nil {
		return nil, err
	}
	return Marshal(mac0{Protected: mac0Protected, Unprotected: map[any]any{}, Tag: tag})
}

// verifyMac0 checks a detached COSE_Mac0 against payload.
func verifyMac0(key, raw, payload []byte) error {
	var m mac0
	if err := Unmarshal(raw, &m); err != nil {
		return wrapError(CodeMalformed, err, "COSE_Mac0")
	}
	var hdr map[int64]cbor.RawMessage
	if err := Unmarshal(m.Protected, &hdr); err != nil {
		return wrapError(CodeMalformed, err, "COSE_Mac0 protected header")
	}
	var alg int64
	if err := Unmarshal(hdr[headerAlg], &alg); err != nil || alg != coseAlgHMAC256 {
		return newError(CodeUnsupported, "COSE_Mac0 algorithm %d, want HMAC 256/256 (5)", alg)
	}
	if m.Payload != nil && !bytes.Equal(m.Payload, payload) {
		return newError(CodeDeviceAuthInvalid, "COSE_Mac0 carries a different payload")
	}
	// The MAC_structure is computed over the protected bytes as received.
	structure, err := Marshal([]any{"MAC0", m.Protected, []byte{}, payload})
	if err != nil {
		return err
	}
	h := hmac.New(sha256.New, key)
	h.Write(structure)
	if !hmac.Equal(h.Sum(nil), m.Tag) {
		return newError(CodeDeviceAuthInvalid, "deviceMac does not verify")
	}
	return nil
}
