package oid4vp

import (
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

// MaxJWKs bounds client_metadata.jwks.keys.
const MaxJWKs = 8

// JWK is a public elliptic-curve JSON Web Key (RFC 7517, RFC 7518 §6.2)
// as used for the verifier's response-encryption key in client_metadata.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
}

// JWKS is a JSON Web Key Set (RFC 7517 §5).
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// AlgECDHES is the JWE key-management algorithm this profile uses for
// direct_post.jwt: ephemeral-static ECDH on P-256 with direct key
// agreement (RFC 7518 §4.6).
const AlgECDHES = "ECDH-ES"

// NewEncryptionJWK returns the public JWK of an ephemeral P-256 ECDH key
// for response encryption, with use "enc" and alg ECDH-ES.
func NewEncryptionJWK(pub *ecdh.PublicKey, kid string) (JWK, error) {
	if pub.Curve() != ecdh.P256() {
		return JWK{}, errorf(mdoc.CodeUnsupported, "response encryption key must be P-256")
	}
	b := pub.Bytes() // 0x04 ‖ X ‖ Y
	return JWK{
		Kty: "EC", Crv: "P-256",
		X:   base64.RawURLEncoding.EncodeToString(b[1:33]),
		Y:   base64.RawURLEncoding.EncodeToString(b[33:65]),
		Kid: kid, Use: "enc", Alg: AlgECDHES,
	}, nil
}

// ECDH returns the key for ECDH-ES. Only P-256 EC keys are accepted, and
// the point must lie on the curve.
func (k *JWK) ECDH() (*ecdh.PublicKey, error) {
	if k.Kty != "EC" || k.Crv != "P-256" {
		return nil, errorf(mdoc.CodeUnsupported, "JWK kty %q crv %q (want EC P-256)", k.Kty, k.Crv)
	}
	x, err1 := base64.RawURLEncoding.Strict().DecodeString(k.X)
	y, err2 := base64.RawURLEncoding.Strict().DecodeString(k.Y)
	if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
		return nil, errorf(mdoc.CodeMalformed, "JWK coordinates are not 32-byte base64url")
	}
	pt := append(append([]byte{4}, x...), y...)
	pub, err := ecdh.P256().NewPublicKey(pt)
	if err != nil {
		return nil, wrap(mdoc.CodeMalformed, err, "JWK point")
	}
	return pub, nil
}

// Thumbprint returns the RFC 7638 JWK thumbprint with SHA-256: the hash of
// the required members {crv, kty, x, y} in lexicographic order without
// whitespace. It is the jwk_thumbprint of the OpenID4VPHandover.
func (k *JWK) Thumbprint() ([]byte, error) {
	if _, err := k.ECDH(); err != nil {
		return nil, err
	}
	// json.Marshal of a struct keeps field order; the fields below are
	// already in lexicographic order and the values are base64url and
	// fixed names, which need no escaping.
	canon, err := json.Marshal(struct {
		Crv string `json:"crv"`
		Kty string `json:"kty"`
		X   string `json:"x"`
		Y   string `json:"y"`
	}{k.Crv, k.Kty, k.X, k.Y})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(canon)
	return sum[:], nil
}

// EncryptionKey returns the key in the set to encrypt a response to: the
// first P-256 EC key whose use is "enc" or absent and whose alg is ECDH-ES
// or absent.
func (s *JWKS) EncryptionKey() (*JWK, error) {
	if s == nil || len(s.Keys) == 0 {
		return nil, errorf(CodeInvalidRequest, "client_metadata.jwks has no keys")
	}
	if len(s.Keys) > MaxJWKs {
		return nil, errorf(mdoc.CodeLimitExceeded, "client_metadata.jwks has %d keys, limit %d", len(s.Keys), MaxJWKs)
	}
	for i := range s.Keys {
		k := &s.Keys[i]
		if (k.Use == "" || k.Use == "enc") && (k.Alg == "" || k.Alg == AlgECDHES) && k.Kty == "EC" && k.Crv == "P-256" {
			if _, err := k.ECDH(); err != nil {
				return nil, err
			}
			return k, nil
		}
	}
	return nil, errorf(mdoc.CodeUnsupported, "client_metadata.jwks has no P-256 ECDH-ES encryption key")
}
