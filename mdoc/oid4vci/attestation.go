package oid4vci

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// Bounds on key attestations.
const (
	// MaxAttestedKeys bounds attested_keys: the mdoc device key and the two
	// JPKI phone keys at enrolment; at batch issuance the device key and one
	// key per credential of the batch (MaxProofs).
	MaxAttestedKeys = MaxProofs + 3
	// MaxAttestationChain bounds the x5c chain.
	MaxAttestationChain = 4
	// MaxAttestationLifetime bounds exp − iat: platform attestations are
	// fresh, short-lived statements.
	MaxAttestationLifetime = 24 * time.Hour
	// MaxClaimLen bounds the free-text claims (model, OS version, ids).
	MaxClaimLen = 128
)

// Wallet profiles: which platform attested the keys.
const (
	WalletProfileApple   = "apple"
	WalletProfileAndroid = "android"
)

// KeyAttestationClaims are the claims of a key attestation (OpenID4VCI 1.0
// Appendix D.1) with the project's device claims.
type KeyAttestationClaims struct {
	IssuedAt           int64             `json:"iat"`
	ExpiresAt          int64             `json:"exp,omitempty"`
	AttestedKeys       []json.RawMessage `json:"attested_keys"`
	KeyStorage         []string          `json:"key_storage,omitempty"`
	UserAuthentication []string          `json:"user_authentication,omitempty"`
	Certification      string            `json:"certification,omitempty"`
	Nonce              string            `json:"nonce,omitempty"`

	// Project claims: what the platform attestation service (App Attest,
	// Play Integrity) vouches for about the device.
	DeviceModel   string `json:"device_model,omitempty"`
	OSVersion     string `json:"os_version,omitempty"`
	Rooted        bool   `json:"rooted,omitempty"`
	WalletProfile string `json:"wallet_profile,omitempty"`
	DeviceID      string `json:"device_id,omitempty"`
}

// KeyAttestationOptions describe a key attestation to sign.
type KeyAttestationOptions struct {
	Keys               []crypto.PublicKey // attested keys, generated in the secure element
	KeyStorage         []string
	UserAuthentication []string
	DeviceModel        string
	OSVersion          string
	Rooted             bool
	WalletProfile      string
	DeviceID           string
	Nonce              string
	// IssuedAt zero means now; Lifetime zero means one hour.
	IssuedAt time.Time
	Lifetime time.Duration
}

// SignKeyAttestation signs a key attestation as the platform attestation
// service would: header typ key-attestation+jwt, alg ES256, x5c = chain
// (DER, leaf first, the leaf certifying signer's key). In this project the
// signer is the issuer's development attestation CA; in production the
// platform's own service signs and its roots are configured instead.
func SignKeyAttestation(signer crypto.Signer, chain [][]byte, o KeyAttestationOptions) (string, error) {
	if len(o.Keys) == 0 || len(o.Keys) > MaxAttestedKeys {
		return "", fmt.Errorf("oid4vci: key attestation needs 1–%d keys, got %d", MaxAttestedKeys, len(o.Keys))
	}
	if len(chain) == 0 {
		return "", fmt.Errorf("oid4vci: key attestation needs an x5c chain")
	}
	c := KeyAttestationClaims{
		KeyStorage: o.KeyStorage, UserAuthentication: o.UserAuthentication,
		DeviceModel: o.DeviceModel, OSVersion: o.OSVersion, Rooted: o.Rooted,
		WalletProfile: o.WalletProfile, DeviceID: o.DeviceID, Nonce: o.Nonce,
	}
	iat := orNow(o.IssuedAt)
	c.IssuedAt = iat.Unix()
	c.ExpiresAt = iat.Add(orDefault(o.Lifetime, time.Hour)).Unix()
	for _, k := range o.Keys {
		j, err := NewJWK(k)
		if err != nil {
			return "", err
		}
		c.AttestedKeys = append(c.AttestedKeys, j.Raw)
	}
	x5c := make([]string, len(chain))
	for i, der := range chain {
		x5c[i] = base64.StdEncoding.EncodeToString(der)
	}
	return signJWS(signer, TypKeyAttestation, c, map[string]any{"x5c": x5c})
}

// VerifyKeyAttestationOptions tune VerifyKeyAttestation. Zero values: Now
// zero is time.Now; Roots is required (nil trusts nothing).
type VerifyKeyAttestationOptions struct {
	// Roots are the attestation CAs: the issuer's development attestation CA,
	// or in production the platforms' attestation roots.
	Roots *x509.CertPool
	Now   time.Time
	// ClockSkew zero is DefaultClockSkew.
	ClockSkew time.Duration
	// Chains, when set, remembers chains that verified (see ChainCache).
	Chains *ChainCache
}

// KeyAttestation is a verified key attestation.
type KeyAttestation struct {
	Claims    KeyAttestationClaims
	Keys      []*JWK
	Chain     []*x509.Certificate
	IssuedAt  time.Time
	ExpiresAt time.Time
	Raw       string
}

// AttestsThumbprint reports whether the key with RFC 7638 thumbprint tp is
// one of the attested keys.
func (a *KeyAttestation) AttestsThumbprint(tp string) bool {
	for _, x := range a.Keys {
		if x.Thumbprint == tp {
			return true
		}
	}
	return false
}

// Attests reports whether k is one of the attested keys.
func (a *KeyAttestation) Attests(k *JWK) bool {
	for _, x := range a.Keys {
		if x.Equal(k) {
			return true
		}
	}
	return false
}

// VerifyKeyAttestation checks a key attestation: typ, the x5c chain to
// o.Roots at Now (any extended key usage; the chain must be at most
// MaxAttestationChain long), the ES256 signature by the leaf, iat/exp
// (exp required, lifetime at most MaxAttestationLifetime), and that
// attested_keys are 1–MaxAttestedKeys public keys. Device claims are
// returned for the caller's policy (rooted devices, model lists). Errors are
// *Error with CodeInvalidKeyAttestation.
func VerifyKeyAttestation(compact string, o VerifyKeyAttestationOptions) (*KeyAttestation, error) {
	const code = CodeInvalidKeyAttestation
	p, err := parseJWS(compact, TypKeyAttestation, code, TypKeyAttestationDraft)
	if err != nil {
		return nil, err
	}
	certs, err := p.x5c(MaxAttestationChain, code)
	if err != nil {
		return nil, err
	}
	now := orNow(o.Now)
	if o.Roots == nil {
		return nil, NewError(code, ReasonUntrusted, "no attestation roots configured")
	}
	if err := o.Chains.verify(certs, o.Roots, now); err != nil {
		return nil, wrapErr(code, ReasonUntrusted, err, "key attestation chain")
	}
	if err := p.verify(certs[0].PublicKey, code); err != nil {
		return nil, err
	}
	var c KeyAttestationClaims
	if err := decodeJSON(p.payload, &c); err != nil {
		return nil, wrapErr(code, ReasonMalformed, err, "key attestation claims")
	}
	if c.IssuedAt == 0 || c.ExpiresAt == 0 {
		return nil, NewError(code, ReasonMalformed, "key attestation needs iat and exp")
	}
	iat, exp := time.Unix(c.IssuedAt, 0), time.Unix(c.ExpiresAt, 0)
	if exp.Sub(iat) > MaxAttestationLifetime || !exp.After(iat) {
		return nil, NewError(code, ReasonMalformed, "key attestation lifetime %s is outside (0, %s]", exp.Sub(iat), MaxAttestationLifetime)
	}
	if iat.After(now.Add(orDefault(o.ClockSkew, DefaultClockSkew))) {
		return nil, NewError(code, ReasonFuture, "key attestation iat %s is in the future", iat.UTC().Format(time.RFC3339))
	}
	if !now.Before(exp) {
		return nil, NewError(code, ReasonExpired, "key attestation expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if len(c.AttestedKeys) == 0 || len(c.AttestedKeys) > MaxAttestedKeys {
		return nil, NewError(code, ReasonMalformed, "attested_keys has %d keys, want 1–%d", len(c.AttestedKeys), MaxAttestedKeys)
	}
	for _, s := range []string{c.DeviceModel, c.OSVersion, c.WalletProfile, c.DeviceID, c.Certification, c.Nonce} {
		if len(s) > MaxClaimLen {
			return nil, NewError(code, ReasonTooLarge, "a device claim is over %d bytes", MaxClaimLen)
		}
	}
	// device_model, os_version and wallet_profile are this project's
	// optional claims: a wallet provider that sends only what OpenID4VCI 1.0
	// Appendix D.1 defines is accepted, and the issuer takes the device facts
	// from the platform attestation instead.
	if c.WalletProfile != "" && c.WalletProfile != WalletProfileApple && c.WalletProfile != WalletProfileAndroid {
		return nil, NewError(code, ReasonMalformed, "wallet_profile %q, want %q or %q", c.WalletProfile, WalletProfileApple, WalletProfileAndroid)
	}
	ka := &KeyAttestation{Claims: c, Chain: certs, IssuedAt: iat, ExpiresAt: exp, Raw: compact}
	for i, raw := range c.AttestedKeys {
		k, err := ParseJWK(raw)
		if err != nil {
			return nil, wrapErr(code, ReasonCode(err), err, "attested_keys[%d]", i)
		}
		ka.Keys = append(ka.Keys, k)
	}
	return ka, nil
}

// AttestRequest is the body of the issuer's development attestation
// endpoint (POST /dev/attest), which stands in for Apple App Attest / Google
// Play Integrity: the wallet simulator sends the public keys it generated in
// its secure element and what the platform would know about the device.
type AttestRequest struct {
	Keys               []*JWK   `json:"keys"`
	DeviceModel        string   `json:"device_model"`
	OSVersion          string   `json:"os_version"`
	Rooted             bool     `json:"rooted"`
	WalletProfile      string   `json:"wallet_profile"`
	DeviceID           string   `json:"device_id,omitempty"`
	KeyStorage         []string `json:"key_storage,omitempty"`
	UserAuthentication []string `json:"user_authentication,omitempty"`
}

// Validate checks the bounds of an AttestRequest.
func (r *AttestRequest) Validate() error {
	if len(r.Keys) == 0 || len(r.Keys) > MaxAttestedKeys {
		return NewError(CodeInvalidRequest, ReasonMalformed, "keys has %d entries, want 1–%d", len(r.Keys), MaxAttestedKeys)
	}
	for _, k := range r.Keys {
		if k == nil || k.Public == nil {
			return NewError(CodeInvalidRequest, ReasonMalformed, "null key")
		}
	}
	if r.DeviceModel == "" || r.OSVersion == "" {
		return NewError(CodeInvalidRequest, ReasonMalformed, "device_model and os_version are required")
	}
	if r.WalletProfile != WalletProfileApple && r.WalletProfile != WalletProfileAndroid {
		return NewError(CodeInvalidRequest, ReasonMalformed, "wallet_profile %q, want %q or %q", r.WalletProfile, WalletProfileApple, WalletProfileAndroid)
	}
	for _, s := range []string{r.DeviceModel, r.OSVersion, r.DeviceID} {
		if len(s) > MaxClaimLen {
			return NewError(CodeInvalidRequest, ReasonTooLarge, "a device claim is over %d bytes", MaxClaimLen)
		}
	}
	return nil
}

// AttestResponse carries the signed key attestation.
type AttestResponse struct {
	KeyAttestation string `json:"key_attestation"`
}
