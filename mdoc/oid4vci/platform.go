package oid4vci

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// Platform attestation formats (package keyattest).
const (
	PlatformAndroidKey     = "android-key"
	PlatformAppleAppAttest = "apple-appattest"
)

// Bounds on a platform attestation in a card application.
const (
	MaxPlatformChain     = 8
	MaxPlatformCertChars = 8 << 10
	MaxPlatformObject    = 32 << 10
)

// PlatformAttestation is the platform's own attestation of the wallet's
// device key, carried in the card application (the wallet-provider
// contract, docs in package issuer):
//
//   - android-key: CertificateChain is the Android Key Attestation chain of
//     the mdoc device key (base64 DER, leaf first, as
//     KeyStore.getCertificateChain returns it), made with
//     setAttestationChallenge(UTF-8 bytes of the application's nonce).
//   - apple-appattest: AttestationObject is the base64url attestation object
//     of DCAppAttestService.attestKey(KeyID, clientDataHash) with
//     clientDataHash = AppAttestClientDataHash(nonce, device key thumbprint),
//     so it binds the App Attest key to this application's device key.
type PlatformAttestation struct {
	Format            string   `json:"format"`
	CertificateChain  []string `json:"certificate_chain,omitempty"`
	AttestationObject string   `json:"attestation_object,omitempty"`
	KeyID             string   `json:"key_id,omitempty"`
}

// AppAttestClientDataHash is the clientDataHash an iPhone wallet passes to
// App Attest at enrolment: SHA-256(nonce ‖ "." ‖ JWK thumbprint of the
// device key, RFC 7638).
func AppAttestClientDataHash(nonce, deviceKeyThumbprint string) []byte {
	h := sha256.Sum256([]byte(nonce + "." + deviceKeyThumbprint))
	return h[:]
}

// Validate checks the shape and bounds of p.
func (p *PlatformAttestation) Validate() error {
	const code = CodeInvalidKeyAttestation
	switch p.Format {
	case PlatformAndroidKey:
		if len(p.CertificateChain) == 0 || len(p.CertificateChain) > MaxPlatformChain {
			return NewError(code, ReasonMalformed, "certificate_chain has %d certificates, want 1–%d", len(p.CertificateChain), MaxPlatformChain)
		}
		for i, c := range p.CertificateChain {
			if len(c) > MaxPlatformCertChars {
				return NewError(code, ReasonTooLarge, "certificate_chain[%d] is over %d characters", i, MaxPlatformCertChars)
			}
		}
		if p.AttestationObject != "" || p.KeyID != "" {
			return NewError(code, ReasonMalformed, "android-key carries certificate_chain only")
		}
	case PlatformAppleAppAttest:
		if p.AttestationObject == "" || p.KeyID == "" || len(p.CertificateChain) != 0 {
			return NewError(code, ReasonMalformed, "apple-appattest carries attestation_object and key_id")
		}
		if len(p.AttestationObject) > MaxPlatformObject || len(p.KeyID) > 64 {
			return NewError(code, ReasonTooLarge, "attestation_object or key_id too large")
		}
	default:
		return NewError(code, ReasonMalformed, "platform attestation format %q, want %q or %q", p.Format, PlatformAndroidKey, PlatformAppleAppAttest)
	}
	return nil
}

// DERChain decodes CertificateChain.
func (p *PlatformAttestation) DERChain() ([][]byte, error) {
	out := make([][]byte, 0, len(p.CertificateChain))
	for i, c := range p.CertificateChain {
		b, err := base64.StdEncoding.DecodeString(c)
		if err != nil {
			return nil, wrapErr(CodeInvalidKeyAttestation, ReasonMalformed, err, "certificate_chain[%d]", i)
		}
		out = append(out, b)
	}
	return out, nil
}

// Object decodes AttestationObject and KeyID.
func (p *PlatformAttestation) Object() (obj, keyID []byte, err error) {
	if obj, err = base64.RawURLEncoding.DecodeString(p.AttestationObject); err != nil {
		return nil, nil, wrapErr(CodeInvalidKeyAttestation, ReasonMalformed, err, "attestation_object is not base64url")
	}
	if keyID, err = base64.StdEncoding.DecodeString(p.KeyID); err != nil {
		return nil, nil, wrapErr(CodeInvalidKeyAttestation, ReasonMalformed, err, "key_id is not base64")
	}
	return obj, keyID, nil
}

func (p *PlatformAttestation) String() string {
	return fmt.Sprintf("platform attestation %s", p.Format)
}
