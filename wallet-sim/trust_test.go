package walletsim

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// TestIACAChangeReachesCredentialChecks: the wallet keeps its IACA trust
// store between credentials, so trusting another IACA must rebuild it.
func TestIACAChangeReachesCredentialChecks(t *testing.T) {
	p := fixturePKI(t)
	w, err := Init(t.TempDir(), Profile{Platform: PlatformAndroid, Model: "TestPhone 1"}, pinFor(PlatformAndroid), Options{Authenticator: StaticAuth{Biometric: se.BiometricMatch}})
	if err != nil {
		t.Fatal(err)
	}
	other := selfSigned(t, "Other IACA")
	if err := w.TrustIACA(other); err != nil {
		t.Fatal(err)
	}
	k, err := w.NewDeviceKey("mnc")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	is, err := mdoc.Issue(mdoc.IssueOptions{DocType: mdoc.DocTypeMNC, NameSpaces: mncElements(), DeviceKey: k.Public,
		Signer: p.dsKey, Chain: [][]byte{p.ds.Raw}, Signed: now.Add(-time.Minute), ValidFrom: now.Add(-time.Minute), ValidUntil: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := is.Encode()
	if _, err := w.AddCredential(k.ID, b, "", ""); CodeOf(err) != string(CodeCredentialInvalid) {
		t.Fatalf("credential of an IACA the wallet does not trust: %v", err)
	}
	if err := w.TrustIACA(p.iaca); err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddCredential(k.ID, b, "", ""); err != nil {
		t.Fatalf("after trusting its IACA: %v", err)
	}
}

// TestTrustedRootsBound: one root over MaxTrustedRoots is refused and
// leaves the roots as they were, in memory and on storage.
func TestTrustedRootsBound(t *testing.T) {
	roots := make([]*x509.Certificate, MaxTrustedRoots+1)
	for i := range roots {
		roots[i] = selfSigned(t, "Root "+big.NewInt(int64(i)).String())
	}
	for _, tc := range []struct {
		name  string
		trust func(*Wallet, ...*x509.Certificate) error
		count func(Status) int
	}{
		{"IACA", (*Wallet).TrustIACA, func(s Status) int { return s.IACARoots }},
		{"reader", (*Wallet).TrustReaderRoots, func(s Status) int { return s.ReaderRoots }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			o := Options{Authenticator: StaticAuth{Biometric: se.BiometricMatch}}
			w, err := Init(home, Profile{Platform: PlatformAndroid, Model: "TestPhone 1"}, pinFor(PlatformAndroid), o)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.trust(w, roots[:MaxTrustedRoots]...); err != nil {
				t.Fatal(err)
			}
			if err := tc.trust(w, roots[MaxTrustedRoots]); CodeOf(err) != string(CodeRequestInvalid) {
				t.Fatalf("root %d: %v", MaxTrustedRoots+1, err)
			}
			if n := tc.count(w.Status()); n != MaxTrustedRoots {
				t.Fatalf("%d roots in memory after the refusal", n)
			}
			// A later change saves the wallet: the refused root must not
			// ride along.
			if err := tc.trust(w, roots[0]); err != nil {
				t.Fatal(err)
			}
			w2, err := Open(home, o)
			if err != nil {
				t.Fatal(err)
			}
			if n := tc.count(w2.Status()); n != MaxTrustedRoots {
				t.Fatalf("%d roots stored", n)
			}
		})
	}
}

// selfSigned is a root of the kind a wallet trusts, made with the
// project's own IACA profile.
func selfSigned(t *testing.T, cn string) *x509.Certificate {
	t.Helper()
	c, err := mdoc.NewIACACertificate(genKey(), mdoc.CertificateOptions{
		Subject: pkix.Name{CommonName: cn, Country: []string{"JP"}}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IssuerAltNameURI: "https://issuer.example.jp", CRLDistributionPoint: "https://issuer.example.jp/iaca.crl",
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
