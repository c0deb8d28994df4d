package mdoc

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"
)

// CertificateOptions describe a certificate made by the New…Certificate
// functions. Zero values: Rand nil means crypto/rand; NotBefore zero means
// now.
type CertificateOptions struct {
	Subject   pkix.Name // must carry Country for IACA and Document Signer
	NotBefore time.Time
	NotAfter  time.Time
	// IssuerAltName is the IACA's contact (RFC 822 name or URI); required
	// for IACA certificates (Annex B.1.2).
	IssuerAltNameEmail string
	IssuerAltNameURI   string
	// CRLDistributionPoint is a URL; required for IACA certificates.
	CRLDistributionPoint string
	// ExtraExtensions are added verbatim.
	ExtraExtensions []pkix.Extension
	// Policies are certificate policies (for reader certificates: the
	// roles of ReaderRoles.Policies).
	Policies []x509.OID
	Rand     io.Reader
}

func serialNumber(r io.Reader) (*big.Int, error) {
	// 16 random bytes, positive: RFC 5280 §4.1.2.2 allows up to 20 octets.
	b := make([]byte, 16)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	b[0] &= 0x7f
	b[0] |= 0x01
	return new(big.Int).SetBytes(b), nil
}

func keyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, err
	}
	// RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits.
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:], nil
}

// generalNamesExtension encodes GeneralNames with one rfc822Name ([1]) or
// URI ([6]) for issuerAltName.
func generalNamesExtension(oid asn1.ObjectIdentifier, email, uri string) (pkix.Extension, error) {
	var names []asn1.RawValue
	if email != "" {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, Bytes: []byte(email)})
	}
	if uri != "" {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(uri)})
	}
	v, err := asn1.Marshal(names)
	return pkix.Extension{Id: oid, Value: v}, err
}

func (o *CertificateOptions) defaults() (io.Reader, time.Time) {
	r := o.Rand
	if r == nil {
		r = rand.Reader
	}
	nb := o.NotBefore
	if nb.IsZero() {
		nb = time.Now().Add(-time.Minute)
	}
	return r, nb
}

// NewIACACertificate makes a self-signed IACA root with the ISO/IEC
// 18013-5 Annex B.1.2 profile: CA with pathlen 0, keyUsage keyCertSign and
// cRLSign (critical), subject and authority key identifiers, issuerAltName,
// a CRL distribution point, validity of at most 20 years. It checks the
// result with CheckIACAProfile(strict) so it never emits a certificate a
// strict peer would reject.
func NewIACACertificate(signer crypto.Signer, o CertificateOptions) (*x509.Certificate, error) {
	r, nb := o.defaults()
	if o.IssuerAltNameEmail == "" && o.IssuerAltNameURI == "" {
		return nil, newError(CodeCertificateProfile, "IACA needs an issuerAltName")
	}
	if o.CRLDistributionPoint == "" {
		return nil, newError(CodeCertificateProfile, "IACA needs a CRL distribution point")
	}
	serial, err := serialNumber(r)
	if err != nil {
		return nil, err
	}
	ski, err := keyID(signer.Public())
	if err != nil {
		return nil, err
	}
	ian, err := generalNamesExtension(oidIssuerAltName, o.IssuerAltNameEmail, o.IssuerAltNameURI)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               o.Subject,
		NotBefore:             nb,
		NotAfter:              o.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		SubjectKeyId:          ski,
		AuthorityKeyId:        ski,
		CRLDistributionPoints: []string{o.CRLDistributionPoint},
		ExtraExtensions:       append([]pkix.Extension{ian}, o.ExtraExtensions...),
	}
	return createChecked(r, tmpl, tmpl, signer.Public(), signer, func(c *x509.Certificate) error {
		return CheckIACAProfile(c, true)
	})
}

// NewDocumentSignerCertificate makes a Document Signer certificate for pub,
// issued by the IACA (Annex B.1.4): EKU 1.0.18013.5.1.2, keyUsage
// digitalSignature only (critical), authorityKeyIdentifier = the IACA's
// subjectKeyIdentifier, validity at most 457 days and inside the IACA's,
// and the IACA's country (and province). Breaking any of these is an error.
func NewDocumentSignerCertificate(pub crypto.PublicKey, iaca *x509.Certificate, iacaKey crypto.Signer, o CertificateOptions) (*x509.Certificate, error) {
	r, tmpl, err := leafTemplate(pub, iaca, o)
	if err != nil {
		return nil, err
	}
	tmpl.UnknownExtKeyUsage = []asn1.ObjectIdentifier{OIDExtKeyUsageDocumentSigner}
	tmpl.CRLDistributionPoints = iaca.CRLDistributionPoints
	for _, e := range iaca.Extensions {
		if e.Id.Equal(oidIssuerAltName) {
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidIssuerAltName, Value: e.Value})
		}
	}
	return createChecked(r, tmpl, iaca, pub, iacaKey, func(c *x509.Certificate) error {
		return CheckDocumentSignerProfile(c, iaca, true)
	})
}

// NewReaderCertificate makes a reader authentication certificate for pub
// issued by a reader CA (EKU 1.0.18013.5.1.6, keyUsage digitalSignature).
// Roles (medical institution, My Number authorisation) go in Policies.
func NewReaderCertificate(pub crypto.PublicKey, ca *x509.Certificate, caKey crypto.Signer, o CertificateOptions) (*x509.Certificate, error) {
	r, tmpl, err := leafTemplate(pub, ca, o)
	if err != nil {
		return nil, err
	}
	tmpl.UnknownExtKeyUsage = []asn1.ObjectIdentifier{OIDExtKeyUsageReaderAuth}
	return createChecked(r, tmpl, ca, pub, caKey, CheckReaderProfile)
}

// leafTemplate is the part every end-entity certificate made here shares:
// a random serial, the subject (country and province defaulting to the
// issuer's, as Annex B requires for Document Signers), the validity, key
// usage digitalSignature only, not a CA, and key identifiers chained to
// the issuer.
func leafTemplate(pub crypto.PublicKey, issuer *x509.Certificate, o CertificateOptions) (io.Reader, *x509.Certificate, error) {
	r, nb := o.defaults()
	serial, err := serialNumber(r)
	if err != nil {
		return nil, nil, err
	}
	ski, err := keyID(pub)
	if err != nil {
		return nil, nil, err
	}
	subject := o.Subject
	if len(subject.Country) == 0 {
		subject.Country = issuer.Subject.Country
	}
	if len(subject.Province) == 0 {
		subject.Province = issuer.Subject.Province
	}
	return r, &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             nb,
		NotAfter:              o.NotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		SubjectKeyId:          ski,
		AuthorityKeyId:        issuer.SubjectKeyId,
		ExtraExtensions:       o.ExtraExtensions,
		Policies:              o.Policies,
	}, nil
}

func createChecked(r io.Reader, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer, check func(*x509.Certificate) error) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(r, tmpl, parent, pub, signer)
	if err != nil {
		return nil, newError(CodeCertificateProfile, "create certificate %q: %v", tmpl.Subject.String(), err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, newError(CodeMalformed, "parse new certificate: %v", err)
	}
	if err := check(c); err != nil {
		return nil, err
	}
	return c, nil
}

// NewStatusListSignerCertificate makes the certificate of a key that signs
// Token Status Lists for the IACA's credentials: issued directly by the
// IACA, keyUsage digitalSignature only, not a CA, inside the IACA's
// validity and country. Verifiers trust status list tokens through it with
// a PurposeStatusList TrustStore over the same IACA.
func NewStatusListSignerCertificate(pub crypto.PublicKey, iaca *x509.Certificate, iacaKey crypto.Signer, o CertificateOptions) (*x509.Certificate, error) {
	r, tmpl, err := leafTemplate(pub, iaca, o)
	if err != nil {
		return nil, err
	}
	if tmpl.NotAfter.After(iaca.NotAfter) || tmpl.NotBefore.Before(iaca.NotBefore) {
		return nil, newError(CodeCertificateProfile, "status list signer validity outside the IACA's")
	}
	return createChecked(r, tmpl, iaca, pub, iacaKey, func(c *x509.Certificate) error {
		if c.IsCA || c.KeyUsage != x509.KeyUsageDigitalSignature {
			return newError(CodeCertificateProfile, "status list signer profile")
		}
		return nil
	})
}

// MaxCertificatesPerFile bounds the certificates ParseCertificates reads
// from one input (a VICAL-sized bundle of roots stays well below it).
const MaxCertificatesPerFile = 4096

// ParseCertificates reads every certificate in b: the CERTIFICATE blocks of
// PEM input (other blocks are skipped), or a single DER certificate when b
// is not PEM. It is how roles load IACA, reader and status-list trust from
// files.
func ParseCertificates(b []byte) ([]*x509.Certificate, error) {
	if !bytes.Contains(b, []byte("-----BEGIN")) {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, fmt.Errorf("mdoc: parse DER certificate: %w", err)
		}
		return []*x509.Certificate{c}, nil
	}
	var out []*x509.Certificate
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("mdoc: parse PEM certificate %d: %w", len(out)+1, err)
		}
		if len(out) == MaxCertificatesPerFile {
			return nil, fmt.Errorf("mdoc: more than %d certificates", MaxCertificatesPerFile)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("mdoc: no CERTIFICATE block")
	}
	return out, nil
}
