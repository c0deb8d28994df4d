package app

import (
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"sync"

	"github.com/mynumber-mdoc/mnc/issuer"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
)

// testCAPhoneCA adapts a jpki/testca CA (standing in for J-LIS) to
// issuer.PhoneCA. Certificates it issues are capped at the card
// certificate's notAfter and revoked with the card (testca's linked
// revocation). A CA kept in a directory is reloaded before each issuance
// and saved after it, so that revocations made meanwhile by another tool
// (jpki-sim) are not overwritten; mu keeps two enrolments of this process
// from interleaving that reload and save.
type testCAPhoneCA struct {
	mu sync.Mutex
	ca *testca.CA
}

var _ issuer.PhoneCA = (*testCAPhoneCA)(nil)

// IssueSmartphoneCertificate implements issuer.PhoneCA.
func (p *testCAPhoneCA) IssueSmartphoneCertificate(card *x509.Certificate, kind jpki.Kind, pub *rsa.PublicKey) (*x509.Certificate, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ca := p.ca
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

// Root implements issuer.PhoneCA.
func (p *testCAPhoneCA) Root(kind jpki.Kind) *x509.Certificate { return p.ca.Root(kind) }
