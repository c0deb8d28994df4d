package oid4vci

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/jose"
)

// Bounds on JWT input. A proof carries a key attestation in its header,
// which carries a certificate chain: a few KiB. 64 KiB is far above any
// honest message and keeps hostile input cheap.
const (
	MaxJWTLen = 64 << 10
	// MaxJWKLen bounds one JWK (an RSA-4096 public key is under 1 KiB).
	MaxJWKLen = 4 << 10
	// DefaultMaxAge is how old an iat may be when no MaxAge is given.
	DefaultMaxAge = 5 * time.Minute
	// DefaultClockSkew is how far in the future an iat may lie.
	DefaultClockSkew = 1 * time.Minute
	// MinRSABits and MaxRSABits bound RSA keys in JWKs (JPKI keys).
	MinRSABits = 2048
	MaxRSABits = 4096
)

// JOSE typ values of the messages of this package.
const (
	TypProof          = "openid4vci-proof+jwt"
	TypKeyAttestation = "key-attestation+jwt"
	// TypKeyAttestationDraft is the typ of OpenID4VCI drafts up to 15,
	// which deployed wallet libraries (e.g. npm @openid4vc/openid4vci 0.4)
	// still emit; VerifyKeyAttestation accepts both.
	TypKeyAttestationDraft = "keyattestation+jwt"
	TypCardApplication     = "mnc-card-application+jwt"
	TypCardRevocation      = "mnc-card-revocation+jwt"
	TypDeviceRequest       = "mnc-device-request+jwt"
)

// parsedJWS is a compact JWS whose header was read but not yet verified.
type parsedJWS struct {
	jws     *jose.JWS
	hdr     *jose.Header
	payload []byte
}

// parseJWS parses a compact JWS with the wanted typ, without verifying it.
// It goes through internal/jose rather than a general JOSE library: a
// proof and a key attestation are parsed for every credential issued, and
// a generic header model cost as much as the signature checks.
func parseJWS(compact, typ, code string, alsoTyp ...string) (*parsedJWS, error) {
	if len(compact) > MaxJWTLen {
		return nil, NewError(code, ReasonTooLarge, "%s is %d bytes, over the %d-byte limit", typ, len(compact), MaxJWTLen)
	}
	if compact == "" {
		return nil, NewError(code, ReasonMalformed, "%s is empty", typ)
	}
	j, err := jose.ParseJWS(compact, MaxJWTLen)
	if err != nil {
		return nil, wrapErr(code, ReasonMalformed, err, "parse %s", typ)
	}
	if got := j.Header.Typ; got != typ && !slices.Contains(alsoTyp, got) {
		return nil, NewError(code, ReasonWrongType, "typ %q, want %q", got, typ)
	}
	return &parsedJWS{jws: j, hdr: j.Header, payload: j.Payload}, nil
}

// verify checks the signature with pub, choosing the one algorithm its key
// type allows (ES256 for P-256, RS256 for RSA): the header's alg must name
// it, so an attacker cannot downgrade or confuse algorithms.
func (p *parsedJWS) verify(pub crypto.PublicKey, code string) error {
	alg, err := algFor(pub)
	if err != nil {
		return wrapErr(code, ReasonWrongKeyType, err, "signature key")
	}
	if got := p.hdr.Alg; got != alg {
		return NewError(code, ReasonWrongAlgorithm, "alg %v, want %v", got, alg)
	}
	if err := p.jws.Verify(pub); err != nil {
		return wrapErr(code, ReasonSignature, err, "verify signature")
	}
	return nil
}

// x5c decodes the header's x5c chain (standard base64 DER, leaf first) of
// at most max certificates; a header without one is ReasonUntrusted.
func (p *parsedJWS) x5c(max int, code string) ([]*x509.Certificate, error) {
	if len(p.hdr.X5C) == 0 {
		return nil, NewError(code, ReasonUntrusted, "%s has no x5c", p.hdr.Typ)
	}
	if len(p.hdr.X5C) > max {
		return nil, NewError(code, ReasonTooLarge, "x5c has %d certificates, over %d", len(p.hdr.X5C), max)
	}
	certs := make([]*x509.Certificate, 0, len(p.hdr.X5C))
	for i, b := range p.hdr.X5C {
		der, err := base64.StdEncoding.DecodeString(b)
		if err != nil {
			return nil, wrapErr(code, ReasonMalformed, err, "x5c[%d]", i)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, wrapErr(code, ReasonMalformed, err, "x5c[%d]", i)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// algFor is the one JWS algorithm of this package for a key: ES256 for
// P-256, RS256 for RSA of MinRSABits–MaxRSABits.
func algFor(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("EC curve %s, want P-256", k.Curve.Params().Name)
		}
		return jose.ES256, nil
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < MinRSABits || n > MaxRSABits {
			return "", fmt.Errorf("RSA key of %d bits", n)
		}
		return jose.RS256, nil
	}
	return "", fmt.Errorf("key type %T is not supported", pub)
}

// signJWS signs claims with signer under a protected header with typ and the
// extra fields.
func signJWS(signer crypto.Signer, typ string, claims any, extra map[string]any) (string, error) {
	if _, err := algFor(signer.Public()); err != nil {
		return "", fmt.Errorf("oid4vci: sign %s: %w", typ, err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("oid4vci: encode %s claims: %w", typ, err)
	}
	h := make(map[string]any, len(extra)+1)
	for k, v := range extra {
		h[k] = v
	}
	h["typ"] = typ
	out, err := jose.Sign(signer, h, payload)
	if err != nil {
		return "", fmt.Errorf("oid4vci: sign %s: %w", typ, err)
	}
	return out, nil
}

// JWK is a parsed public JSON Web Key with its RFC 7638 thumbprint.
type JWK struct {
	Public     crypto.PublicKey // *ecdsa.PublicKey or *rsa.PublicKey
	Thumbprint string           // base64url SHA-256 thumbprint
	Raw        json.RawMessage  // the JSON as received
}

// NewJWK returns the public JWK of pub (*ecdsa.PublicKey P-256 or
// *rsa.PublicKey).
func NewJWK(pub crypto.PublicKey) (*JWK, error) {
	if _, err := algFor(pub); err != nil {
		return nil, fmt.Errorf("oid4vci: jwk: %w", err)
	}
	raw, err := jose.MarshalPublicJWK(pub)
	if err != nil {
		return nil, fmt.Errorf("oid4vci: jwk: %w", err)
	}
	return ParseJWK(raw)
}

// ParseJWK parses a public JWK: EC P-256 or RSA 2048–4096 bits. Private keys
// are refused: a JWK crossing this package boundary is always public.
func ParseJWK(raw []byte) (*JWK, error) {
	if len(raw) > MaxJWKLen {
		return nil, NewError(CodeInvalidRequest, ReasonTooLarge, "JWK is %d bytes, over %d", len(raw), MaxJWKLen)
	}
	k, err := jose.ParsePublicJWK(raw)
	if err != nil {
		reason := ReasonMalformed
		if errors.Is(err, jose.ErrUnsupported) {
			reason = ReasonWrongKeyType
			if errors.Is(err, jose.ErrPrivateKey) {
				reason = ReasonPrivateKey
			}
		}
		return nil, wrapErr(CodeInvalidRequest, reason, err, "parse JWK")
	}
	if _, err := algFor(k.Key); err != nil {
		return nil, wrapErr(CodeInvalidRequest, ReasonWrongKeyType, err, "JWK")
	}
	return &JWK{Public: k.Key, Thumbprint: base64.RawURLEncoding.EncodeToString(k.Thumbprint[:]), Raw: json.RawMessage(bytes.Clone(raw))}, nil
}

// MarshalJSON emits the key as received (or as made by NewJWK).
func (j *JWK) MarshalJSON() ([]byte, error) { return j.Raw, nil }

// UnmarshalJSON parses and checks the key.
func (j *JWK) UnmarshalJSON(b []byte) error {
	k, err := ParseJWK(b)
	if err != nil {
		return err
	}
	*j = *k
	return nil
}

// Equal reports whether j and o are the same public key.
func (j *JWK) Equal(o *JWK) bool {
	return j != nil && o != nil && j.Thumbprint == o.Thumbprint
}

// ECDSA returns the key as an EC P-256 key, or an error for RSA.
func (j *JWK) ECDSA() (*ecdsa.PublicKey, error) {
	if k, ok := j.Public.(*ecdsa.PublicKey); ok {
		return k, nil
	}
	return nil, NewError(CodeInvalidRequest, ReasonWrongKeyType, "want an EC P-256 key, got %T", j.Public)
}

// RSA returns the key as an RSA key, or an error for EC.
func (j *JWK) RSA() (*rsa.PublicKey, error) {
	if k, ok := j.Public.(*rsa.PublicKey); ok {
		return k, nil
	}
	return nil, NewError(CodeInvalidRequest, ReasonWrongKeyType, "want an RSA key, got %T", j.Public)
}

// Audience is the aud claim: one string, or an array of strings on input.
type Audience []string

// MarshalJSON emits a single audience as a string.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON accepts a string or an array of strings.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*a = Audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	if len(l) > 16 {
		return fmt.Errorf("aud has %d entries", len(l))
	}
	*a = l
	return nil
}

// Contains reports whether aud names s.
func (a Audience) Contains(s string) bool {
	for _, x := range a {
		if x == s {
			return true
		}
	}
	return false
}

// checkTimes checks iat against now: not older than maxAge, not further in
// the future than skew.
func checkIAT(iat int64, now time.Time, maxAge, skew time.Duration, code string) error {
	if iat == 0 {
		return NewError(code, ReasonMalformed, "iat is missing")
	}
	t := time.Unix(iat, 0)
	if t.After(now.Add(skew)) {
		return NewError(code, ReasonFuture, "iat %s is in the future", t.UTC().Format(time.RFC3339))
	}
	if now.Sub(t) > maxAge {
		return NewError(code, ReasonStale, "iat %s is older than %s", t.UTC().Format(time.RFC3339), maxAge)
	}
	return nil
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
