package jpki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"io"
	"math/big"
	"time"
)

// Bounds on authentication challenges.
const (
	// MinNonceLen is the shortest server nonce accepted: 128 bits.
	MinNonceLen = 16
	// MaxNonceLen bounds a nonce so that hashing it stays cheap.
	MaxNonceLen = 1024
	// DefaultNonceLen is the length NewNonce returns.
	DefaultNonceLen = 32
	// MaxSignatureLen bounds a signature: the size of a MaxRSABits key.
	MaxSignatureLen = MaxRSABits / 8
)

// digestInfoSHA256Prefix is the DER DigestInfo header for SHA-256
// (RFC 8017 §9.2 note 1); the card signs prefix ‖ digest.
var digestInfoSHA256Prefix = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

// DigestInfoSHA256 returns the DER DigestInfo of SHA-256(data), the input
// of the card's SIGN command.
func DigestInfoSHA256(data []byte) []byte {
	sum := sha256.Sum256(data)
	return DigestInfoFromSHA256(sum[:])
}

// DigestInfoFromSHA256 wraps an existing SHA-256 digest in a DigestInfo.
func DigestInfoFromSHA256(digest []byte) []byte {
	return append(append([]byte(nil), digestInfoSHA256Prefix...), digest...)
}

// NewNonce returns DefaultNonceLen random bytes for an authentication
// challenge; r nil means crypto/rand.
func NewNonce(r io.Reader) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	n := make([]byte, DefaultNonceLen)
	if _, err := io.ReadFull(r, n); err != nil {
		return nil, err
	}
	return n, nil
}

// AuthResult is the outcome of a JPKI user authentication. It carries the
// opaque id of the auth certificate and never personal data: the auth
// certificate has none, and relying parties must not get any from it.
type AuthResult struct {
	// ID is the subject CN of the auth certificate, the account key.
	ID string
	// SerialNumber is the certificate's serial, for audit logs.
	SerialNumber *big.Int
	Form         Form
	NotAfter     time.Time
	// Test reports that the certificate chains to a JPKI-TEST root.
	Test       bool
	Revocation *RevocationStatus
}

// VerifyAuth checks a user authentication: signature is the auth key's
// PKCS#1 v1.5 signature over the SHA-256 DigestInfo of nonce (what the
// card returns for SIGN with DigestInfoSHA256(nonce)), and certDER is the
// auth certificate, verified with chain and revocation. opts.Kind is forced
// to KindAuth.
func (v *Verifier) VerifyAuth(ctx context.Context, nonce, certDER, signature []byte, opts VerifyOptions) (*AuthResult, error) {
	if len(nonce) < MinNonceLen || len(nonce) > MaxNonceLen {
		return nil, newError(CodeMalformed, "nonce is %d bytes, want %d-%d", len(nonce), MinNonceLen, MaxNonceLen)
	}
	c, err := ParseCertificate(certDER)
	if err != nil {
		return nil, err
	}
	if c.Kind != KindAuth {
		return nil, newError(CodeProfile, "%s certificate used for user authentication", c.Kind)
	}
	if err := verifyPKCS1(c, crypto.SHA256, sha256Sum(nonce), signature); err != nil {
		return nil, err
	}
	opts.Kind = KindAuth
	vr, err := v.Verify(ctx, c, opts)
	if err != nil {
		return nil, err
	}
	return &AuthResult{
		ID:           c.ID,
		SerialNumber: c.X509.SerialNumber,
		Form:         c.Form,
		NotAfter:     c.X509.NotAfter,
		Test:         vr.Test,
		Revocation:   vr.Revocation,
	}, nil
}

// SignatureResult is the outcome of a document signature verification.
type SignatureResult struct {
	*Verified
	// Facts are the signer's basic facts from the signature certificate.
	Facts *Facts
}

// VerifySignature checks a detached document signature: signature is the
// signature key's PKCS#1 v1.5 signature over SHA-256(data), and certDER is
// the signature certificate, verified with chain and revocation. opts.Kind
// is forced to KindSignature.
func (v *Verifier) VerifySignature(ctx context.Context, data, signature, certDER []byte, opts VerifyOptions) (*SignatureResult, error) {
	return v.VerifySignatureDigest(ctx, crypto.SHA256, sha256Sum(data), signature, certDER, opts)
}

// VerifySignatureDigest is VerifySignature for a digest computed by the
// caller with hash (SHA-256, SHA-384 or SHA-512).
func (v *Verifier) VerifySignatureDigest(ctx context.Context, hash crypto.Hash, digest, signature, certDER []byte, opts VerifyOptions) (*SignatureResult, error) {
	switch hash {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return nil, newError(CodeUnsupported, "digest %v", hash)
	}
	c, err := ParseCertificate(certDER)
	if err != nil {
		return nil, err
	}
	if c.Kind != KindSignature {
		return nil, newError(CodeProfile, "%s certificate used for a document signature", c.Kind)
	}
	if err := verifyPKCS1(c, hash, digest, signature); err != nil {
		return nil, err
	}
	opts.Kind = KindSignature
	vr, err := v.Verify(ctx, c, opts)
	if err != nil {
		return nil, err
	}
	return &SignatureResult{Verified: vr, Facts: c.Facts}, nil
}

func verifyPKCS1(c *Certificate, hash crypto.Hash, digest, signature []byte) error {
	if len(signature) > MaxSignatureLen {
		return newError(CodeMalformed, "signature is %d bytes, over the %d-byte limit", len(signature), MaxSignatureLen)
	}
	pub := c.X509.PublicKey.(*rsa.PublicKey) // NewCertificate checked the type
	if err := rsa.VerifyPKCS1v15(pub, hash, digest, signature); err != nil {
		return wrapError(CodeSignatureInvalid, err, "%s certificate serial %s", c.Kind, c.X509.SerialNumber)
	}
	return nil
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
