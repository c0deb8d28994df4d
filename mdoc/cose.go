package mdoc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"io"

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

// parseSign1 decodes a COSE_Sign1, untagged as ISO 18013-5 specifies; a
// tagged one (tag 18) is accepted too, since the signature does not cover
// the tag.
func parseSign1(data []byte) (*cose.Sign1Message, error) {
	if len(data) > MaxMessageSize {
		return nil, newError(CodeLimitExceeded, "COSE_Sign1 of %d bytes", len(data))
	}
	// Check well-formedness against our limits first (no allocation) so
	// go-cose never sees hostile depth, sizes or indefinite lengths.
	if err := decMode.Wellformed(data); err != nil {
		return nil, cborError(err)
	}
	var msg cose.Sign1Message
	if len(data) > 0 && data[0] == 0xd2 {
		if err := msg.UnmarshalCBOR(data); err != nil {
			return nil, newError(CodeMalformed, "COSE_Sign1: %v", err)
		}
	} else if err := (*cose.UntaggedSign1Message)(&msg).UnmarshalCBOR(data); err != nil {
		return nil, newError(CodeMalformed, "COSE_Sign1: %v", err)
	}
	return &msg, nil
}

// verifySign1 checks msg's signature with pub. For a detached payload,
// payload is the content to verify against.
func verifySign1(msg *cose.Sign1Message, pub crypto.PublicKey, payload []byte) error {
	alg, err := msg.Headers.Protected.Algorithm()
	if err != nil {
		return newError(CodeMalformed, "COSE_Sign1 without algorithm: %v", err)
	}
	want, err := AlgorithmFor(pub)
	if err != nil {
		return err
	}
	if alg != want {
		return newError(CodeUnsupported, "algorithm %v does not match the %v key", alg, want)
	}
	v, err := cose.NewVerifier(alg, pub)
	if err != nil {
		return newError(CodeUnsupported, "cose verifier: %v", err)
	}
	m := *msg
	if payload != nil {
		m.Payload = payload
	}
	if m.Payload == nil {
		return newError(CodeMalformed, "COSE_Sign1 without payload")
	}
	return m.Verify(nil, v)
}

// x5chainOf returns the DER certificates of header label 33, looked up in
// the unprotected header first and then the protected one.
func x5chainOf(h *cose.Headers) ([][]byte, error) {
	// Decoded header labels are int64; headers we built ourselves use int.
	v, ok := h.Unprotected[int64(headerX5Chain)]
	if !ok {
		v, ok = h.Unprotected[headerX5Chain]
	}
	if !ok {
		v, ok = h.Protected[int64(headerX5Chain)]
	}
	if !ok {
		return nil, nil
	}
	switch c := v.(type) {
	case []byte:
		return [][]byte{c}, nil
	case []any:
		if len(c) == 0 || len(c) > MaxChainLength {
			return nil, newError(CodeMalformed, "x5chain with %d certificates", len(c))
		}
		out := make([][]byte, len(c))
		for i, e := range c {
			b, ok := e.([]byte)
			if !ok {
				return nil, newError(CodeMalformed, "x5chain element %d is not a bstr", i)
			}
			out[i] = b
		}
		return out, nil
	}
	return nil, newError(CodeMalformed, "x5chain of type %T", v)
}
