// Package pki creates and loads the issuer's certificates: the IACA
// (ISO/IEC 18013-5 Annex B), the Document Signer, the status-list signer
// (issued directly by the IACA, the cross-role contract with verifiers),
// the reader CA that certifies verifiers' reader keys (with the medical
// institution and My Number roles), and the development device-attestation
// CA that stands in for Apple App Attest / Google Play Integrity.
//
// On first run every key is generated through a keys.Manager and every
// certificate is written as PEM into the PKI directory; later runs load
// them, and renew the Document Signer when it nears its end. Production mode
// refuses file keys (development keys) and does not create the attestation
// CA: the platforms' real attestation roots are configured instead. The
// package serves both modes (it was named devpki before it did).
package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/fsx"
	"github.com/mynumber-mdoc/mnc/internal/timex"
	"github.com/mynumber-mdoc/mnc/issuer/keys"
	"github.com/mynumber-mdoc/mnc/mdoc"
)

// Validity periods.
const (
	IACAValidity = 10 * 365 * 24 * time.Hour
	// DSValidity stays under Annex B's 457 days.
	DSValidity = 450 * 24 * time.Hour
	// DSRenewBefore: a Document Signer this close to its end is replaced,
	// so that credentials (capped at the DS notAfter) stay useful.
	DSRenewBefore = 120 * 24 * time.Hour
	// StatusListSignerValidity is the status-list signer's lifetime.
	StatusListSignerValidity = 2 * 365 * 24 * time.Hour
	ReaderCAValidity         = 10 * 365 * 24 * time.Hour
	ReaderCertValidity       = 365 * 24 * time.Hour
	AttestationCAValidity    = 10 * 365 * 24 * time.Hour
)

// ErrDevKeysInProduction is returned when production mode meets file keys.
var ErrDevKeysInProduction = errors.New("pki: production mode refuses development file keys; configure a PKCS#11 token")

// Options configure Load.
type Options struct {
	// Dir holds the certificates (PEM) and state.json.
	Dir string
	// Keys holds the private keys.
	Keys keys.Manager
	// Production refuses file keys and skips the attestation CA.
	Production bool
	// Organization names the issuer in certificate subjects.
	Organization string
	// BaseURL is the issuer's public URL, used for the IACA's
	// issuerAltName and CRL distribution point.
	BaseURL string
	// Now zero means time.Now.
	Now time.Time
}

// PKI is the loaded key material.
type PKI struct {
	IACA          *x509.Certificate
	IACAKey       crypto.Signer
	IACAPath      string
	DS            *x509.Certificate
	DSKey         crypto.Signer
	StatusList    *x509.Certificate
	StatusListKey crypto.Signer
	ReaderCA      *x509.Certificate
	ReaderCAKey   crypto.Signer
	ReaderCAPath  string
	// AttestationCA and AttestationSigner are nil in production.
	AttestationCA     *x509.Certificate
	AttestationCert   *x509.Certificate
	AttestationKey    crypto.Signer
	AttestationCAPath string
	KeyKind           string
	dir               string
	keys              keys.Manager
	crl               crlCache
}

type state struct {
	DSKey string `json:"ds_key"`
}

// Load loads the PKI from o.Dir, creating what is missing.
func Load(ctx context.Context, o Options) (*PKI, error) {
	if o.Production && o.Keys.Kind() == keys.KindFile {
		return nil, ErrDevKeysInProduction
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("pki: create %s: %w", o.Dir, err)
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	org := o.Organization
	if org == "" {
		org = "MNC Development Issuer"
	}
	p := &PKI{dir: o.Dir, keys: o.Keys, KeyKind: o.Keys.Kind()}
	var err error
	p.IACAKey, err = o.Keys.Signer(ctx, "iaca", true)
	if err != nil {
		return nil, err
	}
	p.IACAPath = filepath.Join(o.Dir, "iaca.pem")
	p.IACA, err = loadOrCreate(p.IACAPath, p.IACAKey, func() (*x509.Certificate, error) {
		return mdoc.NewIACACertificate(p.IACAKey, mdoc.CertificateOptions{
			Subject:   pkix.Name{Country: []string{"JP"}, Organization: []string{org}, CommonName: org + " IACA"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(IACAValidity),
			IssuerAltNameURI: o.BaseURL, CRLDistributionPoint: o.BaseURL + "/pki/iaca.crl",
		})
	})
	if err != nil {
		return nil, fmt.Errorf("pki: IACA: %w", err)
	}
	if err := p.loadDS(ctx, now, org); err != nil {
		return nil, err
	}
	p.StatusListKey, err = o.Keys.Signer(ctx, "statuslist", true)
	if err != nil {
		return nil, err
	}
	p.StatusList, err = loadOrCreate(filepath.Join(o.Dir, "statuslist.pem"), p.StatusListKey, func() (*x509.Certificate, error) {
		return mdoc.NewStatusListSignerCertificate(p.StatusListKey.Public(), p.IACA, p.IACAKey, mdoc.CertificateOptions{
			Subject:   pkix.Name{Country: []string{"JP"}, Organization: []string{org}, CommonName: org + " Status List Signer"},
			NotBefore: now.Add(-time.Hour), NotAfter: timex.Earliest(now.Add(StatusListSignerValidity), p.IACA.NotAfter),
		})
	})
	if err != nil {
		return nil, fmt.Errorf("pki: status list signer: %w", err)
	}
	p.ReaderCAKey, err = o.Keys.Signer(ctx, "reader-ca", true)
	if err != nil {
		return nil, err
	}
	p.ReaderCAPath = filepath.Join(o.Dir, "reader-ca.pem")
	p.ReaderCA, err = loadOrCreate(p.ReaderCAPath, p.ReaderCAKey, func() (*x509.Certificate, error) {
		return mdoc.NewIACACertificate(p.ReaderCAKey, mdoc.CertificateOptions{
			Subject:   pkix.Name{Country: []string{"JP"}, Organization: []string{org}, CommonName: org + " Reader CA"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(ReaderCAValidity),
			IssuerAltNameURI: o.BaseURL, CRLDistributionPoint: o.BaseURL + "/pki/reader-ca.crl",
		})
	})
	if err != nil {
		return nil, fmt.Errorf("pki: reader CA: %w", err)
	}
	if o.Production {
		return p, nil
	}
	caKey, err := o.Keys.Signer(ctx, "attestation-ca", true)
	if err != nil {
		return nil, err
	}
	p.AttestationCAPath = filepath.Join(o.Dir, "attestation-ca.pem")
	p.AttestationCA, err = loadOrCreate(p.AttestationCAPath, caKey, func() (*x509.Certificate, error) {
		return selfSignedCA(caKey, pkix.Name{Country: []string{"JP"}, Organization: []string{org}, CommonName: "Simulated Platform Attestation CA (development only)"}, now, AttestationCAValidity)
	})
	if err != nil {
		return nil, fmt.Errorf("pki: attestation CA: %w", err)
	}
	p.AttestationKey, err = o.Keys.Signer(ctx, "attestation-signer", true)
	if err != nil {
		return nil, err
	}
	p.AttestationCert, err = loadOrCreate(filepath.Join(o.Dir, "attestation-signer.pem"), p.AttestationKey, func() (*x509.Certificate, error) {
		return issueLeaf(p.AttestationKey.Public(), p.AttestationCA, caKey, pkix.Name{Organization: []string{org}, CommonName: "Simulated Platform Attestation Service"}, now, 2*365*24*time.Hour)
	})
	if err != nil {
		return nil, fmt.Errorf("pki: attestation signer: %w", err)
	}
	return p, nil
}

// loadDS loads the current Document Signer or makes a new one (new key)
// when it is missing, within DSRenewBefore of its end, or revoked on the
// IACA CRL.
func (p *PKI) loadDS(ctx context.Context, now time.Time, org string) error {
	statePath := filepath.Join(p.dir, "state.json")
	var st state
	if b, err := os.ReadFile(statePath); err == nil {
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("pki: %s: %w", statePath, err)
		}
	}
	dsPath := filepath.Join(p.dir, "ds.pem")
	if st.DSKey != "" {
		key, err := p.keys.Signer(ctx, st.DSKey, false)
		if err != nil {
			return fmt.Errorf("pki: Document Signer key: %w", err)
		}
		c, err := readCert(dsPath)
		if err != nil {
			return fmt.Errorf("pki: Document Signer: %w", err)
		}
		if !samePublic(c.PublicKey, key.Public()) {
			return fmt.Errorf("pki: %s does not match key %s", dsPath, st.DSKey)
		}
		revoked, err := p.IsRevoked(CRLIACA, c)
		if err != nil {
			return err
		}
		// A revoked Document Signer is replaced (new key) like one about
		// to expire.
		if c.NotAfter.Sub(now) > DSRenewBefore && !revoked {
			p.DS, p.DSKey = c, key
			return nil
		}
	}
	name := fmt.Sprintf("ds-%d", now.Unix())
	key, err := p.keys.Signer(ctx, name, true)
	if err != nil {
		return err
	}
	c, err := mdoc.NewDocumentSignerCertificate(key.Public(), p.IACA, p.IACAKey, mdoc.CertificateOptions{
		Subject:   pkix.Name{Country: []string{"JP"}, Organization: []string{org}, CommonName: org + " Document Signer " + now.UTC().Format("2006-01-02")},
		NotBefore: now.Add(-time.Hour), NotAfter: timex.Earliest(now.Add(DSValidity), p.IACA.NotAfter),
	})
	if err != nil {
		return fmt.Errorf("pki: Document Signer: %w", err)
	}
	if err := writeCert(dsPath, c); err != nil {
		return err
	}
	b, _ := json.Marshal(state{DSKey: name})
	if err := fsx.WriteFile(statePath, b, 0o644); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	p.DS, p.DSKey = c, key
	return nil
}

// ReaderCertificateOptions describe a verifier's reader certificate.
type ReaderCertificateOptions struct {
	CommonName string
	Roles      mdoc.ReaderRoles
	Validity   time.Duration // zero: ReaderCertValidity
	Now        time.Time
}

// IssueReaderCertificate certifies a verifier's reader authentication key
// under the reader CA, with its roles as certificate policies.
func (p *PKI) IssueReaderCertificate(pub crypto.PublicKey, o ReaderCertificateOptions) (*x509.Certificate, error) {
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	v := o.Validity
	if v == 0 {
		v = ReaderCertValidity
	}
	return mdoc.NewReaderCertificate(pub, p.ReaderCA, p.ReaderCAKey, mdoc.CertificateOptions{
		Subject:   pkix.Name{Country: []string{"JP"}, CommonName: o.CommonName},
		NotBefore: now.Add(-time.Minute), NotAfter: timex.Earliest(now.Add(v), p.ReaderCA.NotAfter),
		Policies: o.Roles.Policies(),
	})
}

func loadOrCreate(path string, key crypto.Signer, create func() (*x509.Certificate, error)) (*x509.Certificate, error) {
	c, err := readCert(path)
	if err == nil {
		if !samePublic(c.PublicKey, key.Public()) {
			return nil, fmt.Errorf("%s does not match its key", path)
		}
		return c, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	c, err = create()
	if err != nil {
		return nil, err
	}
	return c, writeCert(path, c)
}

func samePublic(a, b crypto.PublicKey) bool {
	x, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && x.Equal(b)
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no CERTIFICATE PEM block", path)
	}
	return x509.ParseCertificate(blk.Bytes)
}

func writeCert(path string, c *x509.Certificate) error {
	if err := fsx.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	return nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n.Add(n, big.NewInt(1))
}

func selfSignedCA(key crypto.Signer, subject pkix.Name, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: subject, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(validity),
		IsCA: true, BasicConstraintsValid: true, MaxPathLen: 0, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func issueLeaf(pub crypto.PublicKey, ca *x509.Certificate, caKey crypto.Signer, subject pkix.Name, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: subject, NotBefore: now.Add(-time.Hour), NotAfter: timex.Earliest(now.Add(validity), ca.NotAfter),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// WritePEM writes a certificate as PEM (for reader certificates issued by
// the admin command).
func WritePEM(path string, c *x509.Certificate) error { return writeCert(path, c) }
