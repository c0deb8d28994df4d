package issuer

import (
	"crypto/rsa"
	"crypto/x509"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
)

// TestCAPhoneCA adapts a jpki/testca CA (standing in for J-LIS) to PhoneCA.
// Certificates it issues are capped at the card certificate's notAfter and
// revoked with the card (testca's linked revocation).
type TestCAPhoneCA struct{ CA *testca.CA }

// IssueSmartphoneCertificate implements PhoneCA.
func (p TestCAPhoneCA) IssueSmartphoneCertificate(card *x509.Certificate, kind jpki.Kind, pub *rsa.PublicKey) (*x509.Certificate, error) {
	c, err := p.CA.IssueSmartphoneCertificate(card, kind, pub, testca.IssueOptions{})
	if err != nil {
		return nil, err
	}
	return c, p.CA.Save()
}

// Root implements PhoneCA.
func (p TestCAPhoneCA) Root(kind jpki.Kind) *x509.Certificate { return p.CA.Root(kind) }
