package keyattest

import (
	"bytes"
	"crypto/x509"
	"embed"
	"encoding/pem"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
)

// The built-in roots (roots/README.md gives their provenance and SHA-256
// fingerprints):
//
//   - Google's hardware attestation roots, published at
//     https://developer.android.com/privacy-and-security/security-key-attestation#root_certificate
//     and https://android.googleapis.com/attestation/root: the RSA-4096 key
//     "serialNumber=f92009e853b6b045" in its four self-signed issuances
//     (2016, 2019, 2021, 2022 — Google re-issues the certificate with the
//     same key rather than rotating the key) and the ECDSA P-384 root "Key
//     Attestation CA1" (2025) that new Remote Key Provisioning chains end in.
//   - Apple's App Attestation Root CA, published at
//     https://www.apple.com/certificateauthority/private/.
//
//go:embed roots/google/*.pem roots/apple/*.pem
var rootFS embed.FS

// SimulatedRootOU marks a development root made by package attestsim. A
// chain that ends in such a root is refused in the production environment
// whatever roots are configured (CodeSimulatedRoot).
const SimulatedRootOU = "MNC simulated platform attestation root (development only)"

// Roots is a set of trust anchors for one attestation format.
type Roots struct {
	certs []*x509.Certificate
}

// NewRoots returns a set of the given certificates.
func NewRoots(certs ...*x509.Certificate) *Roots {
	return &Roots{certs: slices.Clone(certs)}
}

// Certificates returns the anchors.
func (r *Roots) Certificates() []*x509.Certificate { return slices.Clone(r.certs) }

// Add adds anchors.
func (r *Roots) Add(certs ...*x509.Certificate) { r.certs = append(r.certs, certs...) }

// HasSimulated reports whether any anchor is a development (simulated) root.
func (r *Roots) HasSimulated() bool {
	return slices.ContainsFunc(r.certs, IsSimulatedRoot)
}

// IsSimulatedRoot reports whether c is a development root made by attestsim.
func IsSimulatedRoot(c *x509.Certificate) bool {
	return slices.Contains(c.Subject.OrganizationalUnit, SimulatedRootOU)
}

// MaxRootsPEM bounds a roots file.
const MaxRootsPEM = 1 << 20

// ParseRootsPEM parses a PEM bundle of root certificates (for --roots and
// configuration).
func ParseRootsPEM(b []byte) (*Roots, error) {
	certs, err := ParseChainPEM(b, MaxRootsPEM, 64)
	if err != nil {
		return nil, err
	}
	return NewRoots(certs...), nil
}

// ParseChainPEM parses PEM CERTIFICATE blocks in order, at most maxBytes and
// maxCerts of them. Other block types are refused.
func ParseChainPEM(b []byte, maxBytes, maxCerts int) ([]*x509.Certificate, error) {
	if len(b) > maxBytes {
		return nil, errf("", CodeTooLarge, "PEM input is %d bytes, over %d", len(b), maxBytes)
	}
	var out []*x509.Certificate
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, errf("", CodeMalformed, "PEM block %q, want CERTIFICATE", blk.Type)
		}
		if len(out) >= maxCerts {
			return nil, errf("", CodeTooLarge, "over %d certificates", maxCerts)
		}
		c, err := parseCertificate(blk.Bytes)
		if err != nil {
			return nil, wrapf("", CodeMalformed, err, "certificate %d", len(out))
		}
		out = append(out, c)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errf("", CodeMalformed, "trailing data after the last PEM block")
	}
	if len(out) == 0 {
		return nil, errf("", CodeMalformed, "no PEM CERTIFICATE blocks")
	}
	return out, nil
}

var (
	builtinOnce   sync.Once
	builtinGoogle []*x509.Certificate
	builtinApple  []*x509.Certificate
)

func loadBuiltin() {
	load := func(dir string) []*x509.Certificate {
		ents, err := rootFS.ReadDir(dir)
		if err != nil {
			panic(fmt.Sprintf("keyattest: embedded roots %s: %v", dir, err))
		}
		var out []*x509.Certificate
		for _, e := range ents {
			if !strings.HasSuffix(e.Name(), ".pem") {
				continue
			}
			b, err := rootFS.ReadFile(path.Join(dir, e.Name()))
			if err != nil {
				panic(err)
			}
			cs, err := ParseChainPEM(b, MaxRootsPEM, 1)
			if err != nil {
				panic(fmt.Sprintf("keyattest: embedded root %s: %v", e.Name(), err))
			}
			out = append(out, cs...)
		}
		return out
	}
	builtinGoogle = load("roots/google")
	builtinApple = load("roots/apple")
}

// GoogleRoots returns Google's hardware attestation roots (built in).
func GoogleRoots() *Roots {
	builtinOnce.Do(loadBuiltin)
	return NewRoots(builtinGoogle...)
}

// AppleRoots returns Apple's App Attestation Root CA (built in).
func AppleRoots() *Roots {
	builtinOnce.Do(loadBuiltin)
	return NewRoots(builtinApple...)
}

// Environment is production or development. In production simulated roots
// are refused and App Attest keys must come from the production aaguid.
type Environment string

// Environments.
const (
	Production  Environment = "production"
	Development Environment = "development"
)

// ParseEnvironment parses "production" or "development".
func ParseEnvironment(s string) (Environment, error) {
	switch Environment(s) {
	case Production, Development:
		return Environment(s), nil
	}
	return "", fmt.Errorf("keyattest: environment %q, want production or development", s)
}

func (e Environment) orProduction() Environment {
	if e == "" {
		return Production
	}
	return e
}
