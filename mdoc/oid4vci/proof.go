package oid4vci

import (
	"crypto"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/jose"
)

// ProofClaims are the claims of a proof JWT (OpenID4VCI 1.0 Appendix F.1).
type ProofClaims struct {
	Issuer   string   `json:"iss,omitempty"` // client_id; absent in the anonymous pre-authorized flow
	Audience Audience `json:"aud"`
	IssuedAt int64    `json:"iat"`
	Nonce    string   `json:"nonce,omitempty"`
}

// ProofOptions describe a proof to sign.
type ProofOptions struct {
	// Audience is the credential issuer identifier. Required.
	Audience string
	// Nonce is the c_nonce from the nonce endpoint.
	Nonce string
	// IssuedAt zero means now.
	IssuedAt time.Time
	// ClientID goes in iss when set.
	ClientID string
	// KeyAttestation, when set, goes in the key_attestation header.
	KeyAttestation string
}

// SignProof makes a proof of possession of key (OpenID4VCI 1.0 Appendix
// F.1): header typ openid4vci-proof+jwt, alg ES256, jwk = the public key,
// optional key_attestation; claims aud, iat, nonce. key is the device key in
// the secure element.
func SignProof(key crypto.Signer, o ProofOptions) (string, error) {
	if o.Audience == "" {
		return "", fmt.Errorf("oid4vci: proof needs an audience")
	}
	pub, err := jose.MarshalPublicJWK(key.Public())
	if err != nil {
		return "", fmt.Errorf("oid4vci: proof jwk: %w", err)
	}
	hdr := map[string]any{"jwk": json.RawMessage(pub)}
	if o.KeyAttestation != "" {
		hdr["key_attestation"] = o.KeyAttestation
	}
	return signJWS(key, TypProof, ProofClaims{
		Issuer:   o.ClientID,
		Audience: Audience{o.Audience},
		IssuedAt: orNow(o.IssuedAt).Unix(),
		Nonce:    o.Nonce,
	}, hdr)
}

// VerifyProofOptions tune VerifyProof. Zero values: Now zero is time.Now,
// MaxAge zero is DefaultMaxAge, ClockSkew zero is DefaultClockSkew.
type VerifyProofOptions struct {
	// Audience is the credential issuer identifier the proof must name.
	// Required.
	Audience  string
	Now       time.Time
	MaxAge    time.Duration
	ClockSkew time.Duration
}

// Proof is a verified proof JWT. The nonce is returned, not checked: only
// the issuer's nonce store knows whether it is fresh and unused.
type Proof struct {
	Key            *JWK
	Claims         ProofClaims
	IssuedAt       time.Time
	Nonce          string
	KeyAttestation string // the key_attestation header, "" when absent
}

// VerifyProof checks a proof JWT: typ, alg ES256 over a P-256 jwk in the
// header (kid and x5c are not supported), the signature by that key, aud,
// and iat within MaxAge. Errors are *Error with CodeInvalidProof.
func VerifyProof(compact string, o VerifyProofOptions) (*Proof, error) {
	p, err := parseJWS(compact, TypProof, CodeInvalidProof)
	if err != nil {
		return nil, err
	}
	if _, ok := p.hdr.KeyID(); ok {
		return nil, NewError(CodeInvalidProof, ReasonMissingKey, "kid proofs are not supported; put the device key in jwk")
	}
	if len(p.hdr.JWK) == 0 {
		return nil, NewError(CodeInvalidProof, ReasonMissingKey, "proof header has no jwk")
	}
	key, err := ParseJWK(p.hdr.JWK)
	if err != nil {
		return nil, wrapErr(CodeInvalidProof, ReasonCode(err), err, "proof jwk")
	}
	if _, err := key.ECDSA(); err != nil {
		return nil, wrapErr(CodeInvalidProof, ReasonWrongKeyType, err, "proof jwk")
	}
	if err := p.verify(key.Public, CodeInvalidProof); err != nil {
		return nil, err
	}
	var c ProofClaims
	if err := decodeJSON(p.payload, &c); err != nil {
		return nil, wrapErr(CodeInvalidProof, ReasonMalformed, err, "proof claims")
	}
	if o.Audience == "" || !c.Audience.Contains(o.Audience) {
		return nil, NewError(CodeInvalidProof, ReasonWrongAudience, "aud %v does not name this issuer %q", []string(c.Audience), o.Audience)
	}
	now := orNow(o.Now)
	if err := checkIAT(c.IssuedAt, now, orDefault(o.MaxAge, DefaultMaxAge), orDefault(o.ClockSkew, DefaultClockSkew), CodeInvalidProof); err != nil {
		return nil, err
	}
	var ka string
	if _, err := p.hdr.Member("key_attestation", &ka); err != nil {
		return nil, wrapErr(CodeInvalidProof, ReasonMalformed, err, "key_attestation header")
	}
	return &Proof{Key: key, Claims: c, IssuedAt: time.Unix(c.IssuedAt, 0), Nonce: c.Nonce, KeyAttestation: ka}, nil
}

// ReasonCode returns the Reason of err when it is an *Error, else
// ReasonMalformed.
func ReasonCode(err error) string {
	if r := ReasonOf(err); r != "" {
		return r
	}
	return ReasonMalformed
}
