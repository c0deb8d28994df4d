package mdoc

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"io"
	"math/big"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// COSE header labels used by ISO 18013-5 (RFC 9360 for x5chain).
const (
	headerAlg     = 1
	headerX5Chain = 33
	// MaxChainLength bounds the certificates accepted in one x5chain.
	MaxChainLength = 8
)

// AlgorithmFor returns the COSE signature algorithm ISO 18013-5 pairs with
// a public key: ES256/ES384/ES512 by curve, EdDSA for Ed25519.
func AlgorithmFor(pub crypto.PublicKey) (cose.Algorithm, error) {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		switch p.Curve {
		case elliptic.P256():
			return cose.AlgorithmES256, nil
		case elliptic.P384():
			return cose.AlgorithmES384, nil
		case elliptic.P521():
			return cose.AlgorithmES512, nil
		}
	case ed25519.PublicKey:
		return cose.AlgorithmEdDSA, nil
	}
	return 0, newError(CodeUnsupported, "signing key type %T", pub)
}

// sign1 makes a COSE_Sign1 over payload with signer (any crypto.Signer, so
// an HSM or secure-element key plugs in). x5chain, when given, goes into the
// unprotected header as ISO 18013-5 requires (one certificate → bstr, more
// → array). With detached the payload is signed but encoded as nil.
func sign1(rand io.Reader, signer crypto.Signer, payload []byte, x5chain [][]byte, extraProtected map[any]any, detached, tagged bool) ([]byte, error) {
	alg, err := AlgorithmFor(signer.Public())
	if err != nil {
		return nil, err
	}
	s, err := cose.NewSigner(alg, signer)
	if err != nil {
		return nil, newError(CodeUnsupported, "cose signer: %v", err)
	}
	prot := cose.ProtectedHeader{cose.HeaderLabelAlgorithm: alg}
	for k, v := range extraProtected {
		prot[k] = v
	}
	hdr := cose.Headers{Protected: prot, Unprotected: cose.UnprotectedHeader{}}
	switch len(x5chain) {
	case 0:
	case 1:
		hdr.Unprotected[cose.HeaderLabelX5Chain] = x5chain[0]
	default:
		chain := make([]any, len(x5chain))
		for i, c := range x5chain {
			chain[i] = c
		}
		hdr.Unprotected[cose.HeaderLabelX5Chain] = chain
	}
	msg := &cose.Sign1Message{Headers: hdr, Payload: payload}
	if err := msg.Sign(rand, nil, s); err != nil {
		return nil, err
	}
	if detached {
		msg.Payload = nil
	}
	if tagged {
		return msg.MarshalCBOR()
	}
	return (*cose.UntaggedSign1Message)(msg).MarshalCBOR()
}

// Sign1 is a parsed COSE_Sign1 (RFC 9052 §4.2). It is parsed by this
// package's bounded decoder and keeps the protected header bytes as
// received, since the signature covers them.
type Sign1 struct {
	Protected   []byte // serialized protected header, verbatim
	Alg         cose.Algorithm
	Unprotected map[any]cbor.RawMessage
	Payload     []byte // nil when detached
	Signature   []byte
	X5Chain     [][]byte // header 33 (unprotected, else protected), DER
	Tagged      bool
}

type sign1Wire struct {
	_           struct{} `cbor:",toarray"`
	Protected   []byte
	Unprotected map[any]cbor.RawMessage
	Payload     []byte
	Signature   []byte
}

// ParseSign1 decodes a COSE_Sign1, untagged as ISO 18013-5 specifies; a
// tagged one (tag 18) is accepted too, since the signature does not cover
// the tag. Critical headers (label 2) are refused: none is understood.
func ParseSign1(data []byte) (*Sign1, error) {
	if len(data) > MaxMessageSize {
		return nil, newError(CodeLimitExceeded, "COSE_Sign1 of %d bytes", len(data))
	}
	tagged := false
	if len(data) > 0 && data[0] == 0xd2 {
		data, tagged = data[1:], true
	}
	var w sign1Wire
	if err := Unmarshal(data, &w); err != nil {
		return nil, wrapError(CodeMalformed, err, "COSE_Sign1")
	}
	if len(w.Signature) == 0 {
		return nil, newError(CodeMalformed, "COSE_Sign1 without signature")
	}
	m := &Sign1{Protected: w.Protected, Unprotected: w.Unprotected, Payload: w.Payload, Signature: w.Signature, Tagged: tagged}
	alg, prot, err := protectedHeader(w.Protected)
	if err != nil {
		return nil, err
	}
	m.Alg = alg
	chainRaw, ok := w.Unprotected[int64(headerX5Chain)]
	if !ok {
		chainRaw, ok = prot[int64(headerX5Chain)]
	}
	if ok {
		chain, err := parseX5Chain(chainRaw)
		if err != nil {
			return nil, err
		}
		m.X5Chain = chain
	}
	return m, nil
}

// protectedHeader reads a COSE_Sign1 protected header: its alg and, unless
// it is the header algOnlyHeader recognises (which protects nothing else:
// no critical headers, no x5chain), its members.
func protectedHeader(p []byte) (cose.Algorithm, map[any]cbor.RawMessage, error) {
	if alg, ok := algOnlyHeader(p); ok {
		return alg, nil, nil
	}
	var prot map[any]cbor.RawMessage
	if len(p) > 0 {
		if err := Unmarshal(p, &prot); err != nil {
			return 0, nil, wrapError(CodeMalformed, err, "COSE_Sign1 protected header")
		}
	}
	if _, ok := prot[int64(2)]; ok {
		return 0, nil, newError(CodeUnsupported, "COSE_Sign1 has critical headers")
	}
	algRaw, ok := prot[int64(headerAlg)]
	if !ok {
		return 0, nil, newError(CodeMalformed, "COSE_Sign1 protected header lacks alg")
	}
	var alg int64
	if err := Unmarshal(algRaw, &alg); err != nil {
		return 0, nil, newError(CodeUnsupported, "COSE_Sign1 alg is not an integer")
	}
	return cose.Algorithm(alg), prot, nil
}

// algOnlyHeader recognises the protected header that ISO 18013-5 issuers
// and devices send, {1: alg} with an alg between -24 and 23 (ES256 and
// EdDSA among them), by its three bytes: map of one, key 1, a one-byte
// integer. Every other header, ES384 and ES512 included, takes the general
// decoding, whose answer for these three bytes is the same; this spares
// two reflective decodes per signature on the verification path.
func algOnlyHeader(p []byte) (cose.Algorithm, bool) {
	if len(p) != 3 || p[0] != 0xa1 || p[1] != 0x01 {
		return 0, false
	}
	switch b := p[2]; {
	case b <= 0x17: // major type 0, 0..23
		return cose.Algorithm(b), true
	case b >= 0x20 && b <= 0x37: // major type 1, -1..-24
		return cose.Algorithm(-1 - int64(b-0x20)), true
	}
	return 0, false
}

// parseX5Chain decodes header 33: one certificate as a bstr, several as an
// array of bstr (RFC 9360).
func parseX5Chain(raw cbor.RawMessage) ([][]byte, error) {
	var one []byte
	if err := Unmarshal(raw, &one); err == nil {
		if len(one) == 0 {
			return nil, newError(CodeMalformed, "empty x5chain")
		}
		return [][]byte{one}, nil
	}
	var many [][]byte
	if err := Unmarshal(raw, &many); err != nil {
		return nil, newError(CodeMalformed, "x5chain is neither bstr nor array of bstr")
	}
	if len(many) == 0 || len(many) > MaxChainLength {
		return nil, newError(CodeMalformed, "x5chain with %d certificates", len(many))
	}
	return many, nil
}

// sigStructure builds the Sig_structure for COSE_Sign1 (RFC 9052 §4.4),
// ["Signature1", protected, empty external_aad, payload], by hand to avoid
// a reflective encode of the payload on every verification.
func sigStructure(protected, payload []byte) []byte {
	out := make([]byte, 0, 32+len(protected)+len(payload))
	out = append(out, 0x84, 0x6a)
	out = append(out, "Signature1"...)
	out = appendBstrHead(out, uint64(len(protected)))
	out = append(out, protected...)
	out = append(out, 0x40)
	out = appendBstrHead(out, uint64(len(payload)))
	return append(out, payload...)
}

// Verify checks the signature with pub. For a detached payload, payload is
// the content signed; otherwise pass nil. The algorithm must be the one
// ISO 18013-5 pairs with pub's key type (no algorithm confusion).
func (m *Sign1) Verify(pub crypto.PublicKey, payload []byte) error {
	want, err := AlgorithmFor(pub)
	if err != nil {
		return err
	}
	if m.Alg != want {
		return newError(CodeUnsupported, "algorithm %v does not match the %v key", m.Alg, want)
	}
	if payload == nil {
		payload = m.Payload
	} else if m.Payload != nil && !bytes.Equal(m.Payload, payload) {
		return errors.New("COSE_Sign1 carries a different payload")
	}
	if payload == nil {
		return newError(CodeMalformed, "COSE_Sign1 without payload")
	}
	return verifyRaw(m.Alg, pub, sigStructure(m.Protected, payload), m.Signature)
}

// verifyRaw checks a COSE signature (RFC 9053 §2: ECDSA as r‖s of the
// curve's size, EdDSA as is) over toBeSigned. It calls crypto/ecdsa and
// crypto/ed25519 directly rather than building a go-cose Verifier per call,
// which would re-validate the public key on every verification; the hash
// follows the algorithm (SHA-256/384/512 for ES256/384/512).
func verifyRaw(alg cose.Algorithm, pub crypto.PublicKey, toBeSigned, sig []byte) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		var digest []byte
		switch alg {
		case cose.AlgorithmES256:
			h := sha256.Sum256(toBeSigned)
			digest = h[:]
		case cose.AlgorithmES384:
			h := sha512.Sum384(toBeSigned)
			digest = h[:]
		case cose.AlgorithmES512:
			h := sha512.Sum512(toBeSigned)
			digest = h[:]
		default:
			return newError(CodeUnsupported, "algorithm %v for an ECDSA key", alg)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return errors.New("ECDSA signature of the wrong length")
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(k, digest, r, s) {
			return errors.New("signature does not verify")
		}
		return nil
	case ed25519.PublicKey:
		if alg != cose.AlgorithmEdDSA {
			return newError(CodeUnsupported, "algorithm %v for an Ed25519 key", alg)
		}
		if !ed25519.Verify(k, toBeSigned, sig) {
			return errors.New("signature does not verify")
		}
		return nil
	}
	return newError(CodeUnsupported, "public key type %T", pub)
}
