package issuer

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/pki"
	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/jpki"
)

// The Service depends on the interfaces below and on nothing concrete: the
// composition root (issuer/app, or a test) decides what implements them —
// issuer/pki for the signers and CAs, a SQL store for the state, jpki/testca
// for the phone CA in development. *pki.Signer implements the three signer
// interfaces and *pki.PKI implements CertificateAuthority.

// DocumentSigner signs MSOs (ISO/IEC 18013-5:2021 §9.1.2.4). Its
// crypto.Signer is the Document Signer key; Chain is the x5chain, the DS
// certificate first; Revoked reports whether the DS certificate is on the
// IACA's CRL, and the service refuses to sign while it is (or while it
// cannot tell).
type DocumentSigner interface {
	crypto.Signer
	Chain() []*x509.Certificate
	Revoked() (bool, error)
}

// StatusListSigner signs Status List Tokens (CWT and JWT); Chain is sent
// in their x5chain, the signer certificate first.
type StatusListSigner interface {
	crypto.Signer
	Chain() []*x509.Certificate
}

// KeyAttestationSigner signs the development key attestations that stand
// in for the wallet provider's (/dev/attest). Production has none.
type KeyAttestationSigner interface {
	crypto.Signer
	Chain() []*x509.Certificate
}

// CertificateAuthority is the issuer's own PKI beyond the signers: it
// publishes its CA certificates and CRLs, certifies verifiers' reader keys
// and revokes what it issued. CA names are pki.CRLIACA, pki.CRLReaderCA and
// pki.CAAttestation.
type CertificateAuthority interface {
	// CACertificate returns the named CA's certificate, nil when this
	// issuer does not run that CA.
	CACertificate(name string) *x509.Certificate
	IssueReaderCertificate(pub crypto.PublicKey, o pki.ReaderCertificateOptions) (*x509.Certificate, error)
	// Revoke puts c on the named CA's CRL; pki.ErrNotIssuedByCA when that
	// CA did not issue it.
	Revoke(name string, c *x509.Certificate, reasonCode int, at time.Time) error
	IsRevoked(name string, c *x509.Certificate) (bool, error)
	CRL(name string, now time.Time) (*x509.RevocationList, error)
}

// PhoneCA issues the smartphone JPKI certificates for the key pairs a phone
// generated in its secure element, derived from the card's signature
// certificate (J-LIS does this in the real service; issuer/app wires
// jpki/testca in development).
type PhoneCA interface {
	IssueSmartphoneCertificate(card *x509.Certificate, kind jpki.Kind, pub *rsa.PublicKey) (*x509.Certificate, error)
	Root(kind jpki.Kind) *x509.Certificate
}

// Storage is the state the service reads and changes: the store roles it
// calls, and no more (the outbox belongs to issuer/notify, closing to the
// composition root). Every store.Store is one.
type Storage interface {
	store.Offers
	store.Devices
	store.Credentials
	store.Status
	store.Blocks
	store.InsuranceRegistry
	store.Audit
}
