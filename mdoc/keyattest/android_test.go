package keyattest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc/keyattest"
	"github.com/mynumber-mdoc/mnc/mdoc/keyattest/attestsim"
)

type androidVector struct {
	File              string    `json:"file"`
	At                time.Time `json:"at"`
	Challenge         string    `json:"challenge"`
	Package           string    `json:"package"`
	SigningDigest     string    `json:"signing_digest"`
	SecurityLevel     string    `json:"security_level"`
	VerifiedBootState string    `json:"verified_boot_state"`
	DeviceLocked      bool      `json:"device_locked"`
	OSVersion         string    `json:"os_version"`
	OSPatchLevel      string    `json:"os_patch_level"`
}

func androidVectors(t *testing.T) []androidVector {
	t.Helper()
	b, err := os.ReadFile("testdata/android/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v []androidVector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v) < 4 {
		t.Fatalf("only %d recorded Android chains", len(v))
	}
	return v
}

func readChain(t *testing.T, file string) []*x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/android", file))
	if err != nil {
		t.Fatal(err)
	}
	c, err := keyattest.ParseChainPEM(b, keyattest.MaxChainBytes, keyattest.MaxChainCerts)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return c
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantCode(t *testing.T, err error, code keyattest.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want %s", code)
	}
	if got := keyattest.CodeOf(err); got != code {
		t.Fatalf("code %q (%v), want %q", got, err, code)
	}
	if !errors.Is(err, &keyattest.Error{Code: code}) {
		t.Fatalf("errors.Is does not match %s", code)
	}
}

func TestRecordedAndroidChains(t *testing.T) {
	for _, v := range androidVectors(t) {
		t.Run(v.File, func(t *testing.T) {
			chain := readChain(t, v.File)
			a, err := keyattest.VerifyAndroid(chain, keyattest.AndroidOptions{
				CurrentTime: v.At, Challenge: mustHex(t, v.Challenge), PackageName: v.Package,
				SigningCertDigests: [][]byte{mustHex(t, v.SigningDigest)},
			})
			if err != nil {
				t.Fatal(err)
			}
			f := a.Facts
			if f.SecurityLevel != v.SecurityLevel || f.VerifiedBootState != v.VerifiedBootState || f.DeviceLocked == nil || *f.DeviceLocked != v.DeviceLocked ||
				f.OSVersion != v.OSVersion || f.OSPatchLevel != v.OSPatchLevel || f.Environment != "production" {
				t.Errorf("facts %+v, want %+v", f, v)
			}
			if err := (keyattest.AndroidPolicy{}).Check(f); err != nil {
				t.Errorf("policy refused a locked, verified, hardware-backed device: %v", err)
			}
			// The same chain under each refusal.
			_, err = keyattest.VerifyAndroid(chain, keyattest.AndroidOptions{CurrentTime: v.At, Challenge: []byte("another nonce")})
			wantCode(t, err, keyattest.CodeChallengeMismatch)
			_, err = keyattest.VerifyAndroid(chain, keyattest.AndroidOptions{CurrentTime: v.At, PackageName: "jp.example.other"})
			wantCode(t, err, keyattest.CodeAppMismatch)
			_, err = keyattest.VerifyAndroid(chain, keyattest.AndroidOptions{CurrentTime: v.At, SigningCertDigests: [][]byte{make([]byte, 32)}})
			wantCode(t, err, keyattest.CodeAppMismatch)
			_, err = keyattest.VerifyAndroid(chain, keyattest.AndroidOptions{CurrentTime: chain[0].NotBefore.Add(-time.Hour)})
			wantCode(t, err, keyattest.CodeExpired)
			_, err = keyattest.VerifyAndroid(chain, keyattest.AndroidOptions{CurrentTime: v.At, Roots: keyattest.NewRoots()})
			wantCode(t, err, keyattest.CodeUntrusted)
			_, err = keyattest.VerifyAndroid(chain[:1], keyattest.AndroidOptions{CurrentTime: v.At})
			wantCode(t, err, keyattest.CodeUntrusted)
			_, err = keyattest.VerifyAndroid(append([]*x509.Certificate{chain[0]}, chain[2:]...), keyattest.AndroidOptions{CurrentTime: v.At})
			wantCode(t, err, keyattest.CodeUntrusted)
			// Revoked: Google's list names the batch intermediate.
			status, err := keyattest.ParseStatusList([]byte(`{"entries":{"` + chain[1].SerialNumber.Text(16) + `":{"status":"REVOKED","reason":"KEY_COMPROMISE"}}}`))
			if err != nil {
				t.Fatal(err)
			}
			_, err = keyattest.VerifyAndroid(chain, keyattest.AndroidOptions{CurrentTime: v.At, Status: status})
			wantCode(t, err, keyattest.CodeRevoked)
		})
	}
}

// A byte changed in the signed leaf (its challenge) breaks the signature.
func TestTamperedRecordedChain(t *testing.T) {
	v := androidVectors(t)[1]
	chain := readChain(t, v.File)
	der := append([]byte(nil), chain[0].Raw...)
	ch := mustHex(t, v.Challenge)
	i := strings.Index(string(der), string(ch))
	if i < 0 {
		t.Fatal("challenge not found in leaf")
	}
	der[i] ^= 1
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	_, err = keyattest.VerifyAndroid(append([]*x509.Certificate{leaf}, chain[1:]...), keyattest.AndroidOptions{CurrentTime: v.At})
	wantCode(t, err, keyattest.CodeUntrusted)
}

// Leniency: the Solana Seeker leaf encodes keyUsage critical as BER 0x01.
// Go's strict parser refuses it; keyattest accepts it and still checks the
// signature over the original bytes.
func TestLeniencyBERBoolean(t *testing.T) {
	b, _ := os.ReadFile("testdata/android/solana-seeker-strongbox-km300.pem")
	chain := readChain(t, "solana-seeker-strongbox-km300.pem")
	if _, err := x509.ParseCertificate(chain[0].Raw); err == nil {
		t.Fatal("Go's parser now accepts the leaf; the leniency is obsolete")
	}
	if !strings.Contains(string(b), "BEGIN") || chain[0].Subject.CommonName != "Android Keystore Key" {
		t.Fatal("unexpected leaf")
	}
}

// Leniency: a device that still presents the 2016 root issuance (expired
// 2026-05-24) verifies after that date against a later issuance of the
// same key.
func TestLeniencyReissuedRoot(t *testing.T) {
	chain := readChain(t, "pixel-strongbox-km4.pem")
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	if !at.After(chain[len(chain)-1].NotAfter) {
		t.Fatal("presented root not expired at the test time")
	}
	a, err := keyattest.VerifyAndroid(chain, keyattest.AndroidOptions{CurrentTime: at})
	if err != nil {
		t.Fatal(err)
	}
	if a.Root.NotAfter.Year() < 2034 {
		t.Errorf("anchored at %v", a.Root.NotAfter)
	}
	// Only the 2016 issuance configured: refused as expired.
	_, err = keyattest.VerifyAndroid(chain, keyattest.AndroidOptions{CurrentTime: at, Roots: keyattest.NewRoots(chain[len(chain)-1])})
	wantCode(t, err, keyattest.CodeExpired)
}

// Google's own sample: untrusted root by default; with --roots it verifies
// and the policy refuses it for its unlocked bootloader.
func TestGoogleSampleUnlocked(t *testing.T) {
	chain := readChain(t, "google-sample-ec-tee-unlocked.pem")
	at := time.Date(2018, 3, 22, 0, 0, 0, 0, time.UTC)
	a, err := keyattest.VerifyAndroid(chain, keyattest.AndroidOptions{CurrentTime: at})
	if err != nil {
		t.Fatal(err)
	}
	err = keyattest.AndroidPolicy{}.Check(a.Facts)
	wantCode(t, err, keyattest.CodeBootState)

	sb := readChain(t, "google-sample-rsa-strongbox-e35d-root.pem")
	_, err = keyattest.VerifyAndroid(sb, keyattest.AndroidOptions{CurrentTime: at})
	wantCode(t, err, keyattest.CodeUntrusted)
	a, err = keyattest.VerifyAndroid(sb, keyattest.AndroidOptions{CurrentTime: at, Roots: keyattest.NewRoots(sb[len(sb)-1])})
	if err != nil {
		t.Fatal(err)
	}
	if a.Facts.SecurityLevel != "StrongBox" {
		t.Errorf("security level %s", a.Facts.SecurityLevel)
	}
}

func simChain(t *testing.T, p keyattest.KeyDescriptionParams) ([]*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ders, err := attestsim.Android().AttestAndroid(k.Public(), attestsim.AndroidOptions{KeyDescriptionParams: p})
	if err != nil {
		t.Fatal(err)
	}
	chain, err := keyattest.ParseAndroidChain(ders)
	if err != nil {
		t.Fatal(err)
	}
	return chain, k
}

func goodParams() keyattest.KeyDescriptionParams {
	return keyattest.KeyDescriptionParams{
		SecurityLevel: keyattest.SecurityStrongBox, Challenge: []byte("nonce-1"), Locked: true, BootState: keyattest.BootVerified,
		OSVersion: 150000, OSPatchLevel: 202506, PackageName: "jp.mnc.wallet", SigningCertDigest: make([]byte, 32),
		Brand: "google", Manufacturer: "Google", Model: "Pixel 9",
	}
}

func TestSimulatedAndroid(t *testing.T) {
	chain, _ := simChain(t, goodParams())
	roots := attestsim.Android().Roots()
	a, err := keyattest.VerifyAndroid(chain, keyattest.AndroidOptions{Roots: roots, Environment: keyattest.Development, Challenge: []byte("nonce-1"), PackageName: "jp.mnc.wallet"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Facts.Model != "Pixel 9" || a.Facts.OSVersion != "15.0.0" || a.Facts.OSPatchLevel != "2025-06" || !a.Facts.Simulated || a.Facts.Environment != "development" {
		t.Errorf("facts %+v", a.Facts)
	}
	_, err = keyattest.VerifyAndroid(chain, keyattest.AndroidOptions{Roots: roots, Environment: keyattest.Production})
	wantCode(t, err, keyattest.CodeSimulatedRoot)
	// Built-in production roots do not include the simulated one.
	_, err = keyattest.VerifyAndroid(chain, keyattest.AndroidOptions{Environment: keyattest.Development})
	wantCode(t, err, keyattest.CodeUntrusted)
}

func TestAndroidPolicy(t *testing.T) {
	roots := attestsim.Android().Roots()
	verify := func(p keyattest.KeyDescriptionParams) keyattest.Facts {
		chain, _ := simChain(t, p)
		a, err := keyattest.VerifyAndroid(chain, keyattest.AndroidOptions{Roots: roots, Environment: keyattest.Development})
		if err != nil {
			t.Fatal(err)
		}
		return a.Facts
	}
	p := goodParams()
	p.Locked = false
	wantCode(t, keyattest.AndroidPolicy{}.Check(verify(p)), keyattest.CodeBootState)
	p = goodParams()
	p.BootState = keyattest.BootSelfSigned
	wantCode(t, keyattest.AndroidPolicy{}.Check(verify(p)), keyattest.CodeBootState)
	p = goodParams()
	p.SecurityLevel = keyattest.SecuritySoftware
	wantCode(t, keyattest.AndroidPolicy{}.Check(verify(p)), keyattest.CodeSecurityLevel)
	p = goodParams()
	p.SecurityLevel = keyattest.SecurityTrustedEnvironment
	f := verify(p)
	if err := (keyattest.AndroidPolicy{}).Check(f); err != nil {
		t.Errorf("TEE refused by default: %v", err)
	}
	wantCode(t, keyattest.AndroidPolicy{RequireStrongBox: true}.Check(f), keyattest.CodeSecurityLevel)
	wantCode(t, keyattest.AndroidPolicy{MinOSPatchLevel: "2025-07"}.Check(f), keyattest.CodeOSPatchLevel)
	if err := (keyattest.AndroidPolicy{MinOSPatchLevel: "2025-06"}).Check(f); err != nil {
		t.Error(err)
	}
}

// An attested app key that signs a fake "leaf" with its own KeyDescription
// must not pass: only the leaf may carry the extension.
func TestForgedLeafBelowAttestedKey(t *testing.T) {
	chain, k := simChain(t, goodParams())
	fake := keyattest.EncodeKeyDescription(keyattest.KeyDescriptionParams{SecurityLevel: keyattest.SecurityStrongBox, Challenge: []byte("attacker"), Locked: true, PackageName: "jp.mnc.wallet", SigningCertDigest: make([]byte, 32)})
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := attestsim.SignChild(chain[0], k, k2.Public(), []pkix.Extension{{Id: asn1.ObjectIdentifier(keyattest.OIDKeyDescription), Value: fake}})
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := x509.ParseCertificate(der)
	_, err = keyattest.VerifyAndroid(append([]*x509.Certificate{forged}, chain...), keyattest.AndroidOptions{Roots: attestsim.Android().Roots(), Environment: keyattest.Development})
	wantCode(t, err, keyattest.CodeUntrusted)
}

func TestLeafWithoutExtension(t *testing.T) {
	chain, _ := simChain(t, goodParams())
	_, err := keyattest.VerifyAndroid(chain[1:], keyattest.AndroidOptions{Roots: attestsim.Android().Roots(), Environment: keyattest.Development})
	wantCode(t, err, keyattest.CodeMissingExtension)
}

func TestChainTooLong(t *testing.T) {
	chain, _ := simChain(t, goodParams())
	long := chain
	for len(long) <= keyattest.MaxChainCerts {
		long = append(long, chain[1])
	}
	_, err := keyattest.VerifyAndroid(long, keyattest.AndroidOptions{})
	wantCode(t, err, keyattest.CodeTooLarge)
}

// Leniency: an intermediate that is not a CA (as some shipped devices'
// batch certificates) is accepted, as Google's verifier accepts it; Go's
// standard path validation would refuse it.
func TestLeniencyNonCAIntermediate(t *testing.T) {
	ca := attestsim.NewTestHierarchy("non-ca", false)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ders, err := ca.AttestAndroid(k.Public(), attestsim.AndroidOptions{KeyDescriptionParams: goodParams()})
	if err != nil {
		t.Fatal(err)
	}
	chain, err := keyattest.ParseAndroidChain(ders)
	if err != nil {
		t.Fatal(err)
	}
	if chain[1].IsCA {
		t.Fatal("intermediate is a CA")
	}
	pool, inter := x509.NewCertPool(), x509.NewCertPool()
	pool.AddCert(ca.Root)
	inter.AddCert(chain[1])
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		t.Fatal("standard validation accepts it; the leniency is not exercised")
	}
	if _, err := keyattest.VerifyAndroid(chain, keyattest.AndroidOptions{Roots: ca.Roots(), Environment: keyattest.Development}); err != nil {
		t.Fatalf("non-CA intermediate refused: %v", err)
	}
}
