package issuer

import (
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"sync"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
)

// TestCAPhoneCA adapts a jpki/testca CA (standing in for J-LIS) to PhoneCA.
// Certificates it issues are capped at the card certificate's notAfter and
// revoked with the card (testca's linked revocation). A CA kept in a
// directory is reloaded before each issuance and saved after it, so that
// revocations made meanwhile by another tool (jpki-sim) are not overwritten.
type TestCAPhoneCA struct{ CA *testca.CA }

var phoneCAMu sync.Mutex

// IssueSmartphoneCertificate implements PhoneCA.
func (p TestCAPhoneCA) IssueSmartphoneCertificate(card *x509.Certificate, kind jpki.Kind, pub *rsa.PublicKey) (*x509.Certificate, error) {
	phoneCAMu.Lock()
	defer phoneCAMu.Unlock()
	ca := p.CA
	if dir := ca.Dir(); dir != "" {
		fresh, err := testca.Open(dir, testca.Options{})
		if err != nil {
			return nil, fmt.Errorf("reload JPKI test CA: %w", err)
		}
		ca = fresh
	}
	c, err := ca.IssueSmartphoneCertificate(card, kind, pub, testca.IssueOptions{})
	if err != nil {
		return nil, err
	}
	return c, ca.Save()
}

// Root implements PhoneCA.
func (p TestCAPhoneCA) Root(kind jpki.Kind) *x509.Certificate { return p.CA.Root(kind) }
