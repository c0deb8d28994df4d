package mdoc

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"time"
)

// Extended key usages of ISO/IEC 18013-5:2021 Annex B.
var (
	OIDExtKeyUsageDocumentSigner = asn1.ObjectIdentifier{1, 0, 18013, 5, 1, 2}
	OIDExtKeyUsageReaderAuth     = asn1.ObjectIdentifier{1, 0, 18013, 5, 1, 6}
	oidIssuerAltName             = asn1.ObjectIdentifier{2, 5, 29, 18}
)

// Certificate profile limits of Annex B.
const (
	MaxIACAValidity           = 20 * 365 * 24 * time.Hour // B.1.2: at most 20 years
	MaxDocumentSignerValidity = 457 * 24 * time.Hour      // B.1.4: at most 457 days
	// maxChainCacheEntries bounds the chain cache; when full it is emptied
	// (a verifier sees few distinct Document Signers, so this is rare).
	maxChainCacheEntries = 1024
)

// Purpose selects the leaf profile a trust store enforces.
type Purpose int

const (
	// PurposeDocumentSigner: leaf is a Document Signer (EKU 1.0.18013.5.1.2),
	// anchors are IACAs.
	PurposeDocumentSigner Purpose = iota
	// PurposeReaderAuth: leaf is a reader authentication certificate (EKU
	// 1.0.18013.5.1.6), anchors are reader roots.
	PurposeReaderAuth
	// PurposeStatusList: leaf signs Token Status Lists for an issuer; it is
	// issued directly by the IACA (keyUsage digitalSignature, not a CA).
	// No EKU is standardised for it, so none is required.
	PurposeStatusList
)

// Trust decides whether a certificate chain (leaf first, DER as received)
// leads to a trusted anchor at a given time. Implementations may read a
// directory, a VICAL or configuration.
type Trust interface {
	VerifyChain(chain [][]byte, at time.Time) (*ChainResult, error)
}

// ChainResult is a verified chain. NotBefore/NotAfter is the window in which
// every certificate of the path is valid.
type ChainResult struct {
	Leaf      *x509.Certificate
	Anchor    *x509.Certificate
	PublicKey crypto.PublicKey
	NotBefore time.Time
	NotAfter  time.Time
}

// TrustStore is a Trust over a set of root certificates with a cache of
// verified chains keyed by the hash of the chain's bytes. Roots can be
// replaced at run time (SetRoots), which empties the cache.
type TrustStore struct {
	purpose Purpose
	strict  bool

	mu    sync.RWMutex
	roots []*x509.Certificate
	pool  *x509.CertPool
	cache map[[32]byte]*ChainResult
}

// NewTrustStore returns a store trusting roots for purpose. With strict set,
// the full Annex B profile is enforced on anchor and leaf (as our issuer
// does on itself); otherwise only what makes the chain meaningful (CA bit,
// key usages, the purpose EKU), so that conformant peers whose test
// certificates omit optional extensions still verify.
func NewTrustStore(purpose Purpose, strict bool, roots ...*x509.Certificate) *TrustStore {
	t := &TrustStore{purpose: purpose, strict: strict}
	t.SetRoots(roots)
	return t
}

// SetRoots replaces the trusted roots and empties the chain cache.
func (t *TrustStore) SetRoots(roots []*x509.Certificate) {
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	t.mu.Lock()
	t.roots = slices.Clone(roots)
	t.pool = pool
	t.cache = make(map[[32]byte]*ChainResult)
	t.mu.Unlock()
}

// Roots returns the trusted roots.
func (t *TrustStore) Roots() []*x509.Certificate {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return slices.Clone(t.roots)
}

func chainKey(chain [][]byte) [32]byte {
	h := sha256.New()
	var n [4]byte
	for _, c := range chain {
		binary.BigEndian.PutUint32(n[:], uint32(len(c)))
		h.Write(n[:])
		h.Write(c)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// VerifyChain implements Trust. A chain that verified once is served from
// the cache for as long as at falls inside its validity window.
func (t *TrustStore) VerifyChain(chain [][]byte, at time.Time) (*ChainResult, error) {
	if len(chain) == 0 || len(chain) > MaxChainLength {
		return nil, newError(CodeUntrustedIssuer, "chain of %d certificates", len(chain))
	}
	key := chainKey(chain)
	t.mu.RLock()
	cr, ok := t.cache[key]
	pool := t.pool
	t.mu.RUnlock()
	if ok {
		return cr, windowError(cr, at)
	}
	cr, err := t.verify(chain, pool, at)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if len(t.cache) >= maxChainCacheEntries {
		clear(t.cache)
	}
	t.cache[key] = cr
	t.mu.Unlock()
	return cr, nil
}

func windowError(cr *ChainResult, at time.Time) error {
	if at.Before(cr.NotBefore) {
		return newError(CodeNotYetValid, "certificate chain valid from %s", cr.NotBefore.Format(time.RFC3339))
	}
	if at.After(cr.NotAfter) {
		return newError(CodeExpired, "certificate chain expired at %s", cr.NotAfter.Format(time.RFC3339))
	}
	return nil
}

func (t *TrustStore) verify(chain [][]byte, pool *x509.CertPool, at time.Time) (*ChainResult, error) {
	certs := make([]*x509.Certificate, len(chain))
	for i, der := range chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, newError(CodeMalformed, "x5chain certificate %d: %v", i, err)
		}
		certs[i] = c
	}
	leaf := certs[0]
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{
		Roots:         pool,
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	paths, err := leaf.Verify(opts)
	var cie x509.CertificateInvalidError
	if err != nil && errors.As(err, &cie) && cie.Reason == x509.Expired {
		// Outside some certificate's validity: find out whether the chain
		// is trusted at all (at a time inside the leaf's validity), so the
		// caller gets expired/not_yet_valid rather than untrusted.
		opts.CurrentTime = leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)
		if p2, err2 := leaf.Verify(opts); err2 == nil {
			paths, err = p2, nil
		}
	}
	if err != nil {
		return nil, newError(CodeUntrustedIssuer, "%s: %v", leaf.Subject, err)
	}
	var best *ChainResult
	var lastErr error
	for _, p := range paths {
		cr := &ChainResult{Leaf: leaf, Anchor: p[len(p)-1], PublicKey: leaf.PublicKey, NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter}
		for _, c := range p[1:] {
			if c.NotBefore.After(cr.NotBefore) {
				cr.NotBefore = c.NotBefore
			}
			if c.NotAfter.Before(cr.NotAfter) {
				cr.NotAfter = c.NotAfter
			}
		}
		if err := t.checkProfile(leaf, cr.Anchor, len(p)); err != nil {
			lastErr = err
			continue
		}
		// Several root generations may share a DN: prefer a path valid at at.
		if best == nil || (windowError(cr, at) == nil && windowError(best, at) != nil) {
			best = cr
		}
	}
	if best == nil {
		return nil, lastErr
	}
	if err := windowError(best, at); err != nil {
		return nil, err
	}
	return best, nil
}

func (t *TrustStore) checkProfile(leaf, anchor *x509.Certificate, pathLen int) error {
	switch t.purpose {
	case PurposeReaderAuth:
		return CheckReaderProfile(leaf)
	case PurposeStatusList:
		if pathLen != 2 {
			return newError(CodeCertificateProfile, "status list signer must be issued directly by the IACA (path length %d)", pathLen)
		}
		if err := CheckIACAProfile(anchor, t.strict); err != nil {
			return err
		}
		if leaf.IsCA || leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
			return newError(CodeCertificateProfile, "status list signer %q: needs digitalSignature and must not be a CA", leaf.Subject.String())
		}
		return nil
	default:
		if pathLen != 2 {
			// Annex B: the IACA issues Document Signers directly (pathlen 0).
			return newError(CodeCertificateProfile, "Document Signer must be issued directly by the IACA (path length %d)", pathLen)
		}
		if err := CheckIACAProfile(anchor, t.strict); err != nil {
			return err
		}
		return CheckDocumentSignerProfile(leaf, anchor, t.strict)
	}
}

func hasEKU(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, u := range c.UnknownExtKeyUsage {
		if u.Equal(oid) {
			return true
		}
	}
	return false
}

func hasExtension(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return true
		}
	}
	return false
}

// CheckIACAProfile checks an IACA root against ISO/IEC 18013-5 Annex B.1.2.
// Always: a CA certificate with keyCertSign. Strict adds pathlen 0,
// cRLSign, issuerAltName, a CRL distribution point, a country, and a
// validity of at most 20 years.
func CheckIACAProfile(c *x509.Certificate, strict bool) error {
	fail := func(format string, a ...any) error {
		return newError(CodeCertificateProfile, "IACA %q: "+format, append([]any{c.Subject.String()}, a...)...)
	}
	if !c.BasicConstraintsValid || !c.IsCA {
		return fail("not a CA certificate")
	}
	if c.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fail("keyUsage lacks keyCertSign")
	}
	if !strict {
		return nil
	}
	switch {
	case !c.MaxPathLenZero || c.MaxPathLen != 0:
		return fail("pathLenConstraint must be 0")
	case c.KeyUsage&x509.KeyUsageCRLSign == 0:
		return fail("keyUsage lacks cRLSign")
	case !hasExtension(c, oidIssuerAltName):
		return fail("no issuerAltName")
	case len(c.CRLDistributionPoints) == 0 && !hasExtension(c, asn1.ObjectIdentifier{2, 5, 29, 31}):
		return fail("no CRL distribution point")
	case len(c.Subject.Country) != 1:
		return fail("subject needs exactly one country")
	case c.NotAfter.Sub(c.NotBefore) > MaxIACAValidity:
		return fail("validity %s exceeds 20 years", c.NotAfter.Sub(c.NotBefore))
	}
	return nil
}

// CheckDocumentSignerProfile checks a Document Signer against Annex B.1.4.
// Always: EKU 1.0.18013.5.1.2, keyUsage digitalSignature, not a CA. Strict
// adds: digitalSignature only, at most 457 days, inside the IACA's
// validity, country (and province, where the IACA has one) equal to the
// IACA's, and authorityKeyIdentifier equal to the IACA's
// subjectKeyIdentifier.
func CheckDocumentSignerProfile(ds, iaca *x509.Certificate, strict bool) error {
	fail := func(format string, a ...any) error {
		return newError(CodeCertificateProfile, "Document Signer %q: "+format, append([]any{ds.Subject.String()}, a...)...)
	}
	if !hasEKU(ds, OIDExtKeyUsageDocumentSigner) {
		return fail("extKeyUsage lacks 1.0.18013.5.1.2 (mdlDS)")
	}
	if ds.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return fail("keyUsage lacks digitalSignature")
	}
	if ds.IsCA {
		return fail("is a CA certificate")
	}
	if !strict {
		return nil
	}
	switch {
	case ds.KeyUsage != x509.KeyUsageDigitalSignature:
		return fail("keyUsage must be digitalSignature only")
	case ds.NotAfter.Sub(ds.NotBefore) > MaxDocumentSignerValidity:
		return fail("validity %s exceeds 457 days", ds.NotAfter.Sub(ds.NotBefore))
	case ds.NotBefore.Before(iaca.NotBefore) || ds.NotAfter.After(iaca.NotAfter):
		return fail("validity outside the IACA's")
	case !slices.Equal(ds.Subject.Country, iaca.Subject.Country):
		return fail("country %v differs from the IACA's %v", ds.Subject.Country, iaca.Subject.Country)
	case len(iaca.Subject.Province) > 0 && !slices.Equal(ds.Subject.Province, iaca.Subject.Province):
		return fail("stateOrProvince %v differs from the IACA's %v", ds.Subject.Province, iaca.Subject.Province)
	case len(iaca.SubjectKeyId) == 0 || !bytes.Equal(ds.AuthorityKeyId, iaca.SubjectKeyId):
		return fail("authorityKeyIdentifier does not match the IACA's subjectKeyIdentifier")
	}
	return nil
}

// CheckReaderProfile checks a reader authentication certificate: EKU
// 1.0.18013.5.1.6 and keyUsage digitalSignature (Annex B.1.7).
func CheckReaderProfile(c *x509.Certificate) error {
	if !hasEKU(c, OIDExtKeyUsageReaderAuth) {
		return newError(CodeCertificateProfile, "reader certificate %q: extKeyUsage lacks 1.0.18013.5.1.6", c.Subject.String())
	}
	if c.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return newError(CodeCertificateProfile, "reader certificate %q: keyUsage lacks digitalSignature", c.Subject.String())
	}
	return nil
}
