// Package attestsim simulates the platforms' attestation services for
// development: a simulated Google hardware attestation hierarchy (root,
// batch intermediate) that signs Android Key Attestation leaves, and a
// simulated Apple App Attestation CA that issues App Attest credential
// certificates — in the real formats, so the wallet simulator's enrolment
// runs the same parsers and checks (package keyattest) as a phone's.
//
// The simulated CAs' keys are derived from fixed, published seeds, so the
// wallet simulator and a development issuer agree on the roots without
// exchanging anything, and so nobody can mistake them for a secret: their
// roots carry keyattest.SimulatedRootOU and keyattest refuses them in the
// production environment.
package attestsim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc/keyattest"
)

// Validity of the simulated CAs: fixed, so certificates made in different
// processes agree.
var (
	caNotBefore = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	caNotAfter  = time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC)
)

// seededKey derives a P-256 key from a published label. Not secret by
// design (see the package comment).
func seededKey(label string) *ecdsa.PrivateKey {
	for i := 0; ; i++ {
		d := sha256.Sum256([]byte(fmt.Sprintf("mnc attestsim %s %d", label, i)))
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
		if err == nil {
			return k
		}
	}
}

// CA is one simulated hierarchy: a root and an intermediate that signs
// leaves.
type CA struct {
	Root         *x509.Certificate
	Intermediate *x509.Certificate
	rootKey      *ecdsa.PrivateKey
	interKey     *ecdsa.PrivateKey
}

func newCA(label, rootCN, interCN string, interCA bool) *CA {
	rk, ik := seededKey(label+" root"), seededKey(label+" intermediate")
	rootT := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: rootCN, Organization: []string{"MNC development"}, OrganizationalUnit: []string{keyattest.SimulatedRootOU}},
		NotBefore:    caNotBefore, NotAfter: caNotAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootT, rootT, rk.Public(), rk)
	if err != nil {
		panic(fmt.Sprintf("attestsim: %v", err))
	}
	root, _ := x509.ParseCertificate(rootDER)
	interT := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: interCN, Organization: []string{"MNC development"}},
		NotBefore:    caNotBefore, NotAfter: caNotAfter,
		IsCA: interCA, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	if !interCA {
		interT.KeyUsage = x509.KeyUsageDigitalSignature
	}
	interDER, err := x509.CreateCertificate(rand.Reader, interT, root, ik.Public(), rk)
	if err != nil {
		panic(fmt.Sprintf("attestsim: %v", err))
	}
	inter, _ := x509.ParseCertificate(interDER)
	return &CA{Root: root, Intermediate: inter, rootKey: rk, interKey: ik}
}

var (
	androidOnce, appleOnce sync.Once
	android, apple         *CA
)

// Android returns the simulated Google hardware attestation hierarchy.
func Android() *CA {
	androidOnce.Do(func() {
		android = newCA("android", "MNC simulated Android attestation root", "MNC simulated TEE batch key", true)
	})
	return android
}

// Apple returns the simulated Apple App Attestation CA.
func Apple() *CA {
	appleOnce.Do(func() {
		apple = newCA("apple", "MNC simulated App Attestation Root CA", "MNC simulated App Attestation CA 1", true)
	})
	return apple
}

// NewTestHierarchy returns a separate simulated hierarchy under label,
// whose intermediate is a CA (basicConstraints cA, keyCertSign) only when
// intermediateIsCA — some shipped Android devices' batch certificates are
// not, which tests of that leniency need.
func NewTestHierarchy(label string, intermediateIsCA bool) *CA {
	return newCA("test "+label, "MNC simulated test root "+label, "MNC simulated test batch key "+label, intermediateIsCA)
}

// Roots returns the simulated root as keyattest roots.
func (c *CA) Roots() *keyattest.Roots { return keyattest.NewRoots(c.Root) }

// AndroidOptions describe a simulated Android Key Attestation.
type AndroidOptions struct {
	keyattest.KeyDescriptionParams
	// NotBefore zero is now minus a minute (KeyMint uses the key's creation
	// time); NotAfter zero is NotBefore + 1 year.
	NotBefore, NotAfter time.Time
	// LeafExtensions are extra extensions on the leaf (tests).
	LeafExtensions []pkix.Extension
}

// AttestAndroid returns the DER chain, leaf first, attesting pub as a
// KeyMint would: leaf "Android Keystore Key" with the KeyDescription
// extension, signed by the batch intermediate, then the root.
func (c *CA) AttestAndroid(pub crypto.PublicKey, o AndroidOptions) ([][]byte, error) {
	kd := keyattest.EncodeKeyDescription(o.KeyDescriptionParams)
	nb := o.NotBefore
	if nb.IsZero() {
		nb = time.Now().Add(-time.Minute)
	}
	na := o.NotAfter
	if na.IsZero() {
		na = nb.AddDate(1, 0, 0)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, err
	}
	t := &x509.Certificate{
		SerialNumber:    serial,
		Subject:         pkix.Name{CommonName: "Android Keystore Key"},
		NotBefore:       nb,
		NotAfter:        na,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: append([]pkix.Extension{{Id: asn1.ObjectIdentifier(keyattest.OIDKeyDescription), Value: kd}}, o.LeafExtensions...),
	}
	leaf, err := x509.CreateCertificate(rand.Reader, t, c.Intermediate, pub, c.interKey)
	if err != nil {
		return nil, fmt.Errorf("attestsim: android leaf: %w", err)
	}
	return [][]byte{leaf, c.Intermediate.Raw, c.Root.Raw}, nil
}

// SignChild signs a certificate for pub with an arbitrary issuer key — to
// build forged chains in tests.
func SignChild(parent *x509.Certificate, parentKey crypto.Signer, pub crypto.PublicKey, exts []pkix.Extension) ([]byte, error) {
	t := &x509.Certificate{
		SerialNumber: big.NewInt(99), Subject: pkix.Name{CommonName: "forged"},
		NotBefore: caNotBefore, NotAfter: caNotAfter, ExtraExtensions: exts,
	}
	return x509.CreateCertificate(rand.Reader, t, parent, pub, parentKey)
}

// The wallet simulator's app identity, which a development issuer expects
// by default: the Android package and signing-certificate digest, and the
// App Attest app id (TEAMID.bundle.id).
const (
	WalletPackage = "jp.mnc.walletsim"
	WalletAppID   = "MNCDEV0001.jp.mnc.walletsim"
)

// WalletSigningDigest is the SHA-256 of the wallet simulator's (notional)
// APK signing certificate.
func WalletSigningDigest() []byte {
	h := sha256.Sum256([]byte("mnc wallet-sim APK signing certificate"))
	return h[:]
}
