package jpki

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"
)

// maxRootCandidates bounds the signature checks spent finding the root of
// one certificate: several generations share one DN, so the root is picked
// by signature, and a hostile trust store must not make that unbounded.
const maxRootCandidates = 16

// Mode selects which roots may be trusted.
type Mode int

const (
	// ModeProduction refuses any certificate that chains to, or names, an
	// O=JPKI-TEST root, even if such a root was configured by mistake.
	ModeProduction Mode = iota
	// ModeTest accepts test roots as well as production roots.
	ModeTest
)

func (m Mode) String() string {
	if m == ModeTest {
		return "test"
	}
	return "production"
}

// Roots is a set of JPKI root certificates: single-tier, self-signed
// RSA roots, possibly several generations under one DN.
type Roots struct {
	certs []*x509.Certificate
}

// NewRoots returns a root set holding certs, each checked by Add.
func NewRoots(certs ...*x509.Certificate) (*Roots, error) {
	r := &Roots{}
	for _, c := range certs {
		if err := r.Add(c); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Add adds a root after checking that it is a self-signed RSA CA that may
// sign certificates and CRLs.
func (r *Roots) Add(c *x509.Certificate) error {
	if _, ok := c.PublicKey.(*rsa.PublicKey); !ok {
		return newError(CodeUnsupported, "root %s: key is %T, JPKI roots are RSA", dnString(c.RawSubject), c.PublicKey)
	}
	if !c.BasicConstraintsValid || !c.IsCA {
		return newError(CodeProfile, "root %s is not a CA", dnString(c.RawSubject))
	}
	if c.KeyUsage&x509.KeyUsageCertSign == 0 || c.KeyUsage&x509.KeyUsageCRLSign == 0 {
		return newError(CodeProfile, "root %s lacks keyCertSign or cRLSign", dnString(c.RawSubject))
	}
	if !bytes.Equal(c.RawIssuer, c.RawSubject) {
		return newError(CodeProfile, "root %s is not self-issued", dnString(c.RawSubject))
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		return wrapError(CodeSignatureInvalid, err, "root %s is not self-signed", dnString(c.RawSubject))
	}
	for _, have := range r.certs {
		if bytes.Equal(have.Raw, c.Raw) {
			return nil
		}
	}
	r.certs = append(r.certs, c)
	return nil
}

// AppendPEM adds every CERTIFICATE block of pemBytes with Add.
func (r *Roots) AppendPEM(pemBytes []byte) error {
	n := 0
	for {
		var block *pem.Block
		block, pemBytes = pem.Decode(pemBytes)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return wrapError(CodeMalformed, err, "root certificate %d", n)
		}
		if err := r.Add(c); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return newError(CodeMalformed, "no CERTIFICATE block in PEM")
	}
	return nil
}

// Certificates returns the roots in the order they were added.
func (r *Roots) Certificates() []*x509.Certificate {
	return append([]*x509.Certificate(nil), r.certs...)
}

// IssuerOf returns the root that signed c: among the roots whose subject
// equals c's issuer, the one whose key verifies c's signature. Several
// generations share one DN, so the name alone does not decide.
func (r *Roots) IssuerOf(c *x509.Certificate) (*x509.Certificate, error) {
	tried := 0
	for _, root := range r.certs {
		if !bytes.Equal(root.RawSubject, c.RawIssuer) {
			continue
		}
		if tried++; tried > maxRootCandidates {
			break
		}
		if c.CheckSignatureFrom(root) == nil {
			return root, nil
		}
	}
	if tried == 0 {
		return nil, newError(CodeUntrusted, "no configured root is named %s", dnString(c.RawIssuer))
	}
	return nil, newError(CodeUntrusted, "none of the %d roots named %s signed the certificate", tried, dnString(c.RawIssuer))
}

// IsTestRoot reports whether c is a JPKI-TEST certificate: its subject
// organisation is OrganizationTest.
func IsTestRoot(c *x509.Certificate) bool {
	for _, o := range c.Subject.Organization {
		if o == OrganizationTest {
			return true
		}
	}
	return false
}

func issuerIsTest(c *x509.Certificate) bool {
	for _, o := range c.Issuer.Organization {
		if o == OrganizationTest {
			return true
		}
	}
	return false
}

// Verifier checks JPKI certificates and the signatures made with them.
// Its fields are read-only once it is in use; it is safe for concurrent
// use when its RevocationChecker is.
type Verifier struct {
	// Roots are the trusted roots.
	Roots *Roots
	// Mode decides whether test roots may be trusted; the zero value is
	// ModeProduction.
	Mode Mode
	// Revocation checks revocation status. When nil, every verification
	// fails with CodeCRLUnavailable unless VerifyOptions.SkipRevocation.
	Revocation RevocationChecker
}

// VerifyOptions tune one verification.
type VerifyOptions struct {
	// CurrentTime is the time at which validity and revocation are
	// judged; zero means time.Now().
	CurrentTime time.Time
	// Kind, when set, is the certificate kind the caller expects; zero
	// accepts either.
	Kind Kind
	// Form, when set, is the certificate form the caller expects; zero
	// accepts either.
	Form Form
	// SkipRevocation skips the revocation check. Only for offline tools:
	// the issuer and verifier must not set it.
	SkipRevocation bool
}

func (o VerifyOptions) now() time.Time {
	if o.CurrentTime.IsZero() {
		return time.Now()
	}
	return o.CurrentTime
}

// Verified is the outcome of a successful certificate verification.
type Verified struct {
	Certificate *Certificate
	// Root is the root (generation) that signed the certificate.
	Root *x509.Certificate
	// Test reports that Root is a JPKI-TEST root (ModeTest only).
	Test bool
	// Revocation tells how revocation was checked; nil when skipped.
	Revocation *RevocationStatus
}

// Verify checks c in this order, stopping at the first failure: kind and
// form, test names in production mode (CodeTestRootInProduction), the
// root chosen by signature (CodeUntrusted), validity of the certificate and
// its root at opts.CurrentTime (CodeExpired, CodeNotYetValid) and
// revocation (CodeRevoked and the CRL codes).
func (v *Verifier) Verify(ctx context.Context, c *Certificate, opts VerifyOptions) (*Verified, error) {
	if v == nil || v.Roots == nil {
		return nil, newError(CodeUntrusted, "verifier has no roots")
	}
	if opts.Kind != 0 && c.Kind != opts.Kind {
		return nil, newError(CodeProfile, "%s certificate where a %s certificate is required", c.Kind, opts.Kind)
	}
	if opts.Form != 0 && c.Form != opts.Form {
		return nil, newError(CodeProfile, "%s certificate where a %s certificate is required", c.Form, opts.Form)
	}
	x := c.X509
	if v.Mode == ModeProduction && issuerIsTest(x) {
		return nil, newError(CodeTestRootInProduction, "certificate issued by %s", dnString(x.RawIssuer))
	}
	root, err := v.Roots.IssuerOf(x)
	if err != nil {
		return nil, err
	}
	test := IsTestRoot(root)
	if v.Mode == ModeProduction && test {
		return nil, newError(CodeTestRootInProduction, "root %s", dnString(root.RawSubject))
	}
	now := opts.now()
	if err := checkValidity("certificate", x, now); err != nil {
		return nil, err
	}
	if err := checkValidity("root", root, now); err != nil {
		return nil, err
	}
	out := &Verified{Certificate: c, Root: root, Test: test}
	if opts.SkipRevocation {
		return out, nil
	}
	if v.Revocation == nil {
		return nil, newError(CodeCRLUnavailable, "no revocation source configured")
	}
	st, err := v.Revocation.CheckRevocation(ctx, x, root, now)
	if err != nil {
		return nil, err
	}
	out.Revocation = st
	return out, nil
}

// VerifyDER parses der with ParseCertificate and calls Verify.
func (v *Verifier) VerifyDER(ctx context.Context, der []byte, opts VerifyOptions) (*Verified, error) {
	c, err := ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return v.Verify(ctx, c, opts)
}

func checkValidity(what string, c *x509.Certificate, now time.Time) error {
	if now.Before(c.NotBefore) {
		return newError(CodeNotYetValid, "%s serial %s valid from %s", what, c.SerialNumber, c.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(c.NotAfter) {
		return newError(CodeExpired, "%s serial %s expired at %s", what, c.SerialNumber, c.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// dnString renders a DER name RDN by RDN; pkix.Name.String would merge
// the two OUs of a JPKI root into one multi-valued RDN.
func dnString(raw []byte) string {
	s, err := DirNameString(raw)
	if err != nil {
		return fmt.Sprintf("<bad name %x>", raw)
	}
	return s
}

func (r *Roots) String() string { return fmt.Sprintf("jpki.Roots(%d)", len(r.certs)) }
