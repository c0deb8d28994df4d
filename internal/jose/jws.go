// Package jose is the narrow part of JOSE that the issuer's and the
// verifier's per-request paths parse and produce: compact JWS with ES256,
// ES384, ES512 and RS256 (RFC 7515, RFC 7518 §3), and compact JWE with
// direct key agreement ECDH-ES on P-256 and A128GCM or A256GCM content
// encryption (RFC 7516, RFC 7518 §4.6 and §5.3).
//
// It exists for speed, not features. A general JOSE library decodes every
// header through a generic key/value model, converts keys on every call and
// tries each algorithm it knows; on the hot paths (an OpenID4VP response
// per presentation, a proof and a key attestation per credential) that
// cost as much as the signature verifications themselves. This package
// takes the one algorithm the caller expects, refuses everything it does
// not understand (crit, zip, a JWS with a detached or unencoded payload,
// an encrypted key under ECDH-ES) and never picks an algorithm from the
// message. Interoperability is checked in its tests against
// github.com/lestrrat-go/jwx, which the project keeps for everything
// else, and by the npm peers in the verifier's and issuer's tests.
package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha256" // SHA-256 for ES256, RS256
	_ "crypto/sha512" // SHA-384, SHA-512 for ES384, ES512
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Algorithms (RFC 7518 §3.1).
const (
	ES256 = "ES256"
	ES384 = "ES384"
	ES512 = "ES512"
	RS256 = "RS256"
)

// Errors. Every error of this package wraps one of these, so callers can
// map them to their protocol's codes with errors.Is.
var (
	// ErrMalformed: not a compact serialisation, bad base64url, bad JSON,
	// a missing member.
	ErrMalformed = errors.New("jose: malformed")
	// ErrUnsupported: an algorithm, a crit or zip header, or a key this
	// package does not handle.
	ErrUnsupported = errors.New("jose: unsupported")
	// ErrAlgorithm: the header's alg is not the one the key requires.
	ErrAlgorithm = errors.New("jose: unexpected algorithm")
	// ErrSignature: the signature does not verify.
	ErrSignature = errors.New("jose: signature invalid")
	// ErrDecrypt: key agreement or authenticated decryption failed.
	ErrDecrypt = errors.New("jose: decryption failed")
)

// MaxHeaderLen bounds a decoded protected header. The largest honest one
// here carries a key attestation with its certificate chain: a few KiB.
const MaxHeaderLen = 32 << 10

// Header holds the JOSE header members the project reads. Members not
// listed here are kept in Raw for Member.
type Header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	// Kid is nil when the header has no kid.
	Kid *string `json:"kid,omitempty"`
	// X5C is the x5c chain as sent: standard base64 DER, leaf first.
	X5C []string        `json:"x5c,omitempty"`
	JWK json.RawMessage `json:"jwk,omitempty"`
	// JWE members.
	Enc string          `json:"enc,omitempty"`
	EPK json.RawMessage `json:"epk,omitempty"`
	APU string          `json:"apu,omitempty"`
	APV string          `json:"apv,omitempty"`
	Zip string          `json:"zip,omitempty"`
	// Crit lists extensions the sender requires the receiver to
	// understand; this package understands none (RFC 7515 §4.1.11).
	Crit []string `json:"crit,omitempty"`

	// Raw is the decoded header JSON.
	Raw []byte `json:"-"`
}

// KeyID returns the kid and whether the header has one.
func (h *Header) KeyID() (string, bool) {
	if h.Kid == nil {
		return "", false
	}
	return *h.Kid, true
}

// Member decodes the header member name into v and reports whether the
// header has it. decodeHeader has refused duplicate member names already
// (RFC 7515 §4), so there is one member of each name to find.
func (h *Header) Member(name string, v any) (bool, error) {
	var m map[string]jsontext.Value
	if err := jsonv2.Unmarshal(h.Raw, &m); err != nil {
		return false, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	raw, ok := m[name]
	if !ok {
		return false, nil
	}
	if err := jsonv2.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("%w: header member %s: %v", ErrMalformed, name, err)
	}
	return true, nil
}

func decodeHeader(seg string) (*Header, error) {
	if base64.RawURLEncoding.DecodedLen(len(seg)) > MaxHeaderLen {
		return nil, fmt.Errorf("%w: header over %d bytes", ErrMalformed, MaxHeaderLen)
	}
	raw, err := b64(seg)
	if err != nil {
		return nil, fmt.Errorf("%w: header encoding: %v", ErrMalformed, err)
	}
	// encoding/json/v2 semantics (go-json-experiment/json, the module the
	// standard library's json/v2 is staged in): member names match
	// case-sensitively and a duplicate member is an error, which RFC 7515
	// §4 permits and which leaves no room for two parsers to read one
	// header differently; it is also several times faster than v1 on the
	// per-request path.
	var h Header
	if err := jsonv2.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if len(h.Crit) > 0 {
		return nil, fmt.Errorf("%w: critical header extensions %v", ErrUnsupported, h.Crit)
	}
	h.Raw = raw
	return &h, nil
}

// b64 decodes base64url without padding, strictly (RFC 7515 §2).
func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// JWS is a parsed compact JWS, not yet verified.
type JWS struct {
	Header  *Header
	Payload []byte

	signingInput string // ASCII(BASE64URL(header) || '.' || BASE64URL(payload))
	signature    []byte
}

// ParseJWS parses a compact JWS (RFC 7515 §7.1) of at most maxLen bytes.
// It does not verify it: call Verify.
func ParseJWS(compact string, maxLen int) (*JWS, error) {
	if len(compact) > maxLen {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(compact), maxLen)
	}
	h, rest, ok := strings.Cut(compact, ".")
	if !ok {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(s, ".") {
		return nil, fmt.Errorf("%w: not a compact JWS (want three parts)", ErrMalformed)
	}
	hdr, err := decodeHeader(h)
	if err != nil {
		return nil, err
	}
	payload, err := b64(p)
	if err != nil {
		return nil, fmt.Errorf("%w: payload encoding: %v", ErrMalformed, err)
	}
	sig, err := b64(s)
	if err != nil {
		return nil, fmt.Errorf("%w: signature encoding: %v", ErrMalformed, err)
	}
	return &JWS{Header: hdr, Payload: payload, signingInput: compact[:len(h)+1+len(p)], signature: sig}, nil
}

// AlgFor returns the one algorithm this package uses with pub: ES256,
// ES384 or ES512 by the ECDSA curve, RS256 for RSA.
func AlgFor(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ES256, nil
		case elliptic.P384():
			return ES384, nil
		case elliptic.P521():
			return ES512, nil
		}
		return "", fmt.Errorf("%w: EC curve %s", ErrUnsupported, k.Curve.Params().Name)
	case *rsa.PublicKey:
		return RS256, nil
	}
	return "", fmt.Errorf("%w: key type %T", ErrUnsupported, pub)
}

func hashFor(alg string) (crypto.Hash, int, error) {
	switch alg {
	case ES256:
		return crypto.SHA256, 32, nil
	case ES384:
		return crypto.SHA384, 48, nil
	case ES512:
		return crypto.SHA512, 66, nil
	case RS256:
		return crypto.SHA256, 0, nil
	}
	return 0, 0, fmt.Errorf("%w: alg %q", ErrUnsupported, alg)
}

// Verify checks the signature with pub. The algorithm is the one pub
// requires (AlgFor), and the header's alg must name it: the message never
// chooses the algorithm, so "none", HMAC-with-a-public-key and other
// confusions cannot arise.
func (j *JWS) Verify(pub crypto.PublicKey) error {
	alg, err := AlgFor(pub)
	if err != nil {
		return err
	}
	if j.Header.Alg != alg {
		return fmt.Errorf("%w: alg %q, the key requires %s", ErrAlgorithm, j.Header.Alg, alg)
	}
	h, size, _ := hashFor(alg)
	d := h.New()
	d.Write([]byte(j.signingInput))
	digest := d.Sum(nil)
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		// RFC 7518 §3.4: R and S, each exactly the curve's byte length.
		if len(j.signature) != 2*size {
			return fmt.Errorf("%w: %d-byte %s signature, want %d", ErrSignature, len(j.signature), alg, 2*size)
		}
		r := new(big.Int).SetBytes(j.signature[:size])
		s := new(big.Int).SetBytes(j.signature[size:])
		if !ecdsa.Verify(k, digest, r, s) {
			return ErrSignature
		}
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(k, h, digest, j.signature); err != nil {
			return fmt.Errorf("%w: %v", ErrSignature, err)
		}
	}
	return nil
}

// Sign makes a compact JWS of payload under a protected header holding
// the members of hdr and alg, chosen by the signer's key (AlgFor). signer
// may be any crypto.Signer (a software key, a PKCS#11 key): ECDSA
// signatures come back ASN.1-encoded and are re-encoded as R || S.
func Sign(signer crypto.Signer, hdr map[string]any, payload []byte) (string, error) {
	alg, err := AlgFor(signer.Public())
	if err != nil {
		return "", err
	}
	h, size, _ := hashFor(alg)
	m := make(map[string]any, len(hdr)+1)
	for k, v := range hdr {
		m[k] = v
	}
	m["alg"] = alg
	hj, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("jose: encode header: %w", err)
	}
	input := base64.RawURLEncoding.EncodeToString(hj) + "." + base64.RawURLEncoding.EncodeToString(payload)
	d := h.New()
	d.Write([]byte(input))
	sig, err := signer.Sign(rand.Reader, d.Sum(nil), h)
	if err != nil {
		return "", fmt.Errorf("jose: sign: %w", err)
	}
	if size > 0 {
		if sig, err = rawECDSA(sig, size); err != nil {
			return "", err
		}
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// rawECDSA turns an ASN.1 ECDSA-Sig-Value into R || S of size bytes each.
func rawECDSA(der []byte, size int) ([]byte, error) {
	var r, s []byte
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1Integer(&r) || !seq.ReadASN1Integer(&s) || !seq.Empty() {
		return nil, fmt.Errorf("jose: signer returned a malformed ECDSA signature")
	}
	r, s = trimZero(r), trimZero(s)
	if len(r) > size || len(s) > size {
		return nil, fmt.Errorf("jose: signer returned an oversized ECDSA signature")
	}
	out := make([]byte, 2*size)
	copy(out[size-len(r):], r)
	copy(out[2*size-len(s):], s)
	return out, nil
}

func trimZero(b []byte) []byte {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	return b
}
