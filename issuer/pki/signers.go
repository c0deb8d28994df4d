package pki

import (
	"crypto"
	"crypto/x509"
)

// CAAttestation names the development attestation CA for CACertificate. It
// has no CRL: production configures the platforms' roots instead.
const CAAttestation = "attestation-ca"

// Signer is a key with its certificate chain, leaf first: the Document
// Signer, the status-list signer and the development key-attestation
// signer are each one. It is a crypto.Signer, so a PKCS#11 key stays in its
// token.
type Signer struct {
	crypto.Signer
	chain []*x509.Certificate
	// ca names the CRL the leaf would be listed on; "" when none.
	ca string
	p  *PKI
}

// Chain returns the certificates to send with a signature, leaf first. The
// IACA is not among them: verifiers hold it as their trust anchor.
func (s *Signer) Chain() []*x509.Certificate { return s.chain }

// Revoked reports whether the leaf certificate is on its CA's CRL,
// including revocations another process (the admin CLI) made on the same
// PKI directory.
func (s *Signer) Revoked() (bool, error) {
	if s.ca == "" {
		return false, nil
	}
	return s.p.IsRevoked(s.ca, s.chain[0])
}

// DocumentSigner returns the Document Signer (ISO/IEC 18013-5 Annex B):
// the key that signs MSOs and its certificate, issued by the IACA.
func (p *PKI) DocumentSigner() *Signer {
	return &Signer{Signer: p.DSKey, chain: []*x509.Certificate{p.DS}, ca: CRLIACA, p: p}
}

// StatusListSigner returns the key that signs status list tokens and its
// certificate, issued directly by the IACA.
func (p *PKI) StatusListSigner() *Signer {
	return &Signer{Signer: p.StatusListKey, chain: []*x509.Certificate{p.StatusList}, ca: CRLIACA, p: p}
}

// KeyAttestationSigner returns the development key-attestation signer, or
// nil in production mode where there is none.
func (p *PKI) KeyAttestationSigner() *Signer {
	if p.AttestationKey == nil {
		return nil
	}
	return &Signer{Signer: p.AttestationKey, chain: []*x509.Certificate{p.AttestationCert}, p: p}
}

// CACertificate returns the certificate of the named CA (CRLIACA,
// CRLReaderCA, CAAttestation), or nil when this PKI does not run it.
func (p *PKI) CACertificate(name string) *x509.Certificate {
	switch name {
	case CRLIACA:
		return p.IACA
	case CRLReaderCA:
		return p.ReaderCA
	case CAAttestation:
		return p.AttestationCA
	}
	return nil
}
