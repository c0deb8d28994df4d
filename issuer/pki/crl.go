package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/fsx"
)

// Defaults of the CRLs the issuer serves.
const (
	// DefaultCRLValidity is nextUpdate − thisUpdate. A CRL is re-signed
	// when half of it has passed or when a revocation is added.
	DefaultCRLValidity = 7 * 24 * time.Hour
	// maxRevoked bounds the revocation file read back from disk.
	maxRevokedFile = 1 << 20
)

// CRL names: the IACA's CRL (Document Signer and status-list signer
// certificates) and the reader CA's (reader certificates), served at the
// distribution points their certificates advertise.
const (
	CRLIACA     = "iaca"
	CRLReaderCA = "reader-ca"
)

// Revocation is one revoked certificate, kept in <dir>/revoked.json.
type Revocation struct {
	CA        string    `json:"ca"` // CRLIACA or CRLReaderCA
	Serial    string    `json:"serial"`
	RevokedAt time.Time `json:"revoked_at"`
	// ReasonCode is the RFC 5280 §5.3.1 CRLReason (1 keyCompromise, 4
	// superseded, 5 cessationOfOperation, …).
	ReasonCode int `json:"reason_code"`
}

// Errors of Revoke and CRL.
var (
	// ErrUnknownCA: a CRL name other than CRLIACA or CRLReaderCA.
	ErrUnknownCA = errors.New("pki: unknown CA")
	// ErrNotIssuedByCA: the certificate to revoke is not the CA's.
	ErrNotIssuedByCA = errors.New("pki: certificate not issued by this CA")
)

type crlCache struct {
	mu      sync.Mutex
	signed  map[string]*x509.RevocationList
	revoked []Revocation
	// modTime is the revocation file's modification time when read: the
	// admin CLI may add revocations while the server runs, and the server
	// picks them up at its next CRL request.
	modTime time.Time
	loaded  bool
}

func (p *PKI) revokedPath() string { return filepath.Join(p.dir, "revoked.json") }

func (p *PKI) loadRevoked() error {
	fi, serr := os.Stat(p.revokedPath())
	if p.crl.loaded && (serr != nil || fi.ModTime().Equal(p.crl.modTime)) {
		return nil
	}
	if serr == nil {
		if p.crl.loaded {
			p.crl.signed = nil // changed by another process: re-sign
		}
		p.crl.modTime = fi.ModTime()
	}
	b, err := os.ReadFile(p.revokedPath())
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("pki: read revocations: %w", err)
	case len(b) > maxRevokedFile:
		return fmt.Errorf("pki: %s is over %d bytes", p.revokedPath(), maxRevokedFile)
	default:
		var rs []Revocation
		if err := json.Unmarshal(b, &rs); err != nil {
			return fmt.Errorf("pki: parse %s: %w", p.revokedPath(), err)
		}
		p.crl.revoked = rs
	}
	p.crl.loaded = true
	return nil
}

func (p *PKI) caFor(name string) (*x509.Certificate, crypto.Signer, error) {
	switch name {
	case CRLIACA:
		return p.IACA, p.IACAKey, nil
	case CRLReaderCA:
		return p.ReaderCA, p.ReaderCAKey, nil
	}
	return nil, nil, fmt.Errorf("%w %q", ErrUnknownCA, name)
}

// Revoke adds a certificate issued by the named CA to its CRL (persisted
// before it returns; idempotent) and forces the CRL to be re-signed.
// Certificates the CA did not issue are refused, so a typo cannot put a
// foreign serial on the list.
func (p *PKI) Revoke(name string, c *x509.Certificate, reasonCode int, at time.Time) error {
	ca, _, err := p.caFor(name)
	if err != nil {
		return err
	}
	if err := c.CheckSignatureFrom(ca); err != nil {
		return fmt.Errorf("%w: serial %s, CA %s: %v", ErrNotIssuedByCA, c.SerialNumber, name, err)
	}
	p.crl.mu.Lock()
	defer p.crl.mu.Unlock()
	if err := p.loadRevoked(); err != nil {
		return err
	}
	for _, r := range p.crl.revoked {
		if r.CA == name && r.Serial == c.SerialNumber.String() {
			return nil
		}
	}
	next := append(append([]Revocation(nil), p.crl.revoked...), Revocation{CA: name, Serial: c.SerialNumber.String(), RevokedAt: at.UTC().Truncate(time.Second), ReasonCode: reasonCode})
	b, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return err
	}
	if err := fsx.WriteFile(p.revokedPath(), b, 0o644); err != nil {
		return fmt.Errorf("pki: save revocations: %w", err)
	}
	p.crl.revoked = next
	if fi, err := os.Stat(p.revokedPath()); err == nil {
		p.crl.modTime = fi.ModTime()
	}
	delete(p.crl.signed, name)
	return nil
}

// IsRevoked reports whether c is on the named CA's CRL (revocations made
// by another process on the same directory included).
func (p *PKI) IsRevoked(name string, c *x509.Certificate) (bool, error) {
	p.crl.mu.Lock()
	defer p.crl.mu.Unlock()
	if err := p.loadRevoked(); err != nil {
		return false, err
	}
	for _, r := range p.crl.revoked {
		if r.CA == name && r.Serial == c.SerialNumber.String() {
			return true, nil
		}
	}
	return false, nil
}

// CRL returns the current DER CRL of the named CA (CRLIACA, CRLReaderCA),
// signed by that CA's key: thisUpdate a minute before now (clock skew),
// nextUpdate thisUpdate + DefaultCRLValidity, a CRL number that grows with
// each signing, and the authority key identifier of the CA. It is
// re-signed when half its validity has passed or a revocation was added.
func (p *PKI) CRL(name string, now time.Time) (*x509.RevocationList, error) {
	ca, key, err := p.caFor(name)
	if err != nil {
		return nil, err
	}
	p.crl.mu.Lock()
	defer p.crl.mu.Unlock()
	if err := p.loadRevoked(); err != nil {
		return nil, err
	}
	if l := p.crl.signed[name]; l != nil && now.Before(l.ThisUpdate.Add(l.NextUpdate.Sub(l.ThisUpdate)/2)) {
		return l, nil
	}
	var entries []x509.RevocationListEntry
	for _, r := range p.crl.revoked {
		if r.CA != name {
			continue
		}
		sn, ok := new(big.Int).SetString(r.Serial, 10)
		if !ok {
			return nil, fmt.Errorf("pki: bad serial %q in %s", r.Serial, p.revokedPath())
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: sn, RevocationTime: r.RevokedAt, ReasonCode: r.ReasonCode})
	}
	this := now.Add(-time.Minute).UTC().Truncate(time.Second)
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(now.UnixNano()), // monotonic across restarts, unlike a counter in memory
		ThisUpdate:                this,
		NextUpdate:                this.Add(DefaultCRLValidity),
		RevokedCertificateEntries: entries,
	}, ca, key)
	if err != nil {
		return nil, fmt.Errorf("pki: sign %s CRL: %w", name, err)
	}
	l, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, err
	}
	if p.crl.signed == nil {
		p.crl.signed = map[string]*x509.RevocationList{}
	}
	p.crl.signed[name] = l
	return l, nil
}
