package issuer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/mdoc/keyattest"
	"github.com/mynumber-mdoc/mnc/mdoc/keyattest/attestsim"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// attestAs asks the development wallet-provider service for a statement
// with the given platform.
func (w *wallet) attestAs(profile string) string {
	t := w.e.t
	ka, err := w.e.client.Attest(context.Background(), &oid4vci.AttestRequest{
		Keys:        []*oid4vci.JWK{jwk(t, &w.devKey.PublicKey), jwk(t, &w.jpkiSign.PublicKey), jwk(t, &w.jpkiAuth.PublicKey)},
		DeviceModel: w.model, OSVersion: w.os, Rooted: w.rooted, WalletProfile: profile,
	})
	if err != nil {
		t.Fatalf("attest: %v", err)
	}
	return ka
}

func androidKD(challenge string) keyattest.KeyDescriptionParams {
	return keyattest.KeyDescriptionParams{
		SecurityLevel: keyattest.SecurityStrongBox, Challenge: []byte(challenge), Locked: true, BootState: keyattest.BootVerified,
		OSVersion: 150000, OSPatchLevel: 202510, PackageName: attestsim.WalletPackage, SigningCertDigest: attestsim.WalletSigningDigest(),
		Model: "Pixel 9",
	}
}

// androidApp builds an application with an Android Key Attestation of
// the device key; edit may change the KeyDescription (given the nonce).
func (w *wallet) androidApp(edit func(nonce string, p *keyattest.KeyDescriptionParams), mutate func(*oid4vci.CardApplication)) string {
	return w.application(func(a *oid4vci.CardApplication) {
		a.KeyAttestation = w.attestAs(oid4vci.WalletProfileAndroid)
		p := androidKD(a.Nonce)
		if edit != nil {
			edit(a.Nonce, &p)
		}
		ders, err := attestsim.Android().AttestAndroid(&w.devKey.PublicKey, attestsim.AndroidOptions{KeyDescriptionParams: p, NotBefore: w.e.clock().Add(-1e9)})
		if err != nil {
			w.e.t.Fatal(err)
		}
		pa := &oid4vci.PlatformAttestation{Format: oid4vci.PlatformAndroidKey}
		for _, d := range ders {
			pa.CertificateChain = append(pa.CertificateChain, base64.StdEncoding.EncodeToString(d))
		}
		a.PlatformAttestation = pa
		if mutate != nil {
			mutate(a)
		}
	})
}

func (w *wallet) appleApp(cdh func(nonce, thumb string) []byte) string {
	return w.appleAppKey(cdh, nil)
}

func (w *wallet) appleAppKey(cdh func(nonce, thumb string) []byte, keyOut **ecdsa.PrivateKey) string {
	return w.application(func(a *oid4vci.CardApplication) {
		a.KeyAttestation = w.attestAs(oid4vci.WalletProfileApple)
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if keyOut != nil {
			*keyOut = k
		}
		obj, kid, err := attestsim.Apple().AttestApple(&k.PublicKey, attestsim.AppAttestOptions{
			AppID: attestsim.WalletAppID, ClientDataHash: cdh(a.Nonce, a.DeviceKey.Thumbprint), OSVersion: w.os, NotBefore: w.e.clock().Add(-1e9),
		})
		if err != nil {
			w.e.t.Fatal(err)
		}
		a.PlatformAttestation = &oid4vci.PlatformAttestation{Format: oid4vci.PlatformAppleAppAttest,
			AttestationObject: base64.RawURLEncoding.EncodeToString(obj), KeyID: base64.StdEncoding.EncodeToString(kid)}
	})
}

func TestPlatformAttestationAndroid(t *testing.T) {
	e := newEnv(t, envOptions{platform: PlatformConfig{Required: true}})
	creds := e.newCard(taro, testca.IssueOptions{})
	enrol := func(app string) error { _, err := e.client.Enrol(context.Background(), app); return err }
	w := e.newWallet(creds, "Pixel 9")
	w.os = "Android 15"

	wantCode(t, enrol(w.application(nil)), oid4vci.CodeInvalidKeyAttestation, ReasonPlatformMissing)
	wantCode(t, enrol(w.androidApp(func(_ string, p *keyattest.KeyDescriptionParams) { p.Challenge = []byte("stale nonce") }, nil)),
		oid4vci.CodeInvalidKeyAttestation, "platform_challenge_mismatch")
	wantCode(t, enrol(w.androidApp(func(_ string, p *keyattest.KeyDescriptionParams) { p.Locked = false }, nil)),
		oid4vci.CodeDeviceNotAllowed, "platform_boot_state")
	wantCode(t, enrol(w.androidApp(func(_ string, p *keyattest.KeyDescriptionParams) { p.BootState = keyattest.BootUnverified }, nil)),
		oid4vci.CodeDeviceNotAllowed, "platform_boot_state")
	wantCode(t, enrol(w.androidApp(func(_ string, p *keyattest.KeyDescriptionParams) { p.SecurityLevel = keyattest.SecuritySoftware }, nil)),
		oid4vci.CodeDeviceNotAllowed, "platform_security_level")
	wantCode(t, enrol(w.androidApp(func(_ string, p *keyattest.KeyDescriptionParams) { p.PackageName = "jp.example.repackaged" }, nil)),
		oid4vci.CodeInvalidKeyAttestation, "platform_app_mismatch")
	wantCode(t, enrol(w.androidApp(func(_ string, p *keyattest.KeyDescriptionParams) { p.Model = "Pixel 8" }, nil)),
		oid4vci.CodeDeviceNotAllowed, ReasonPlatformMismatch)
	wantCode(t, enrol(w.androidApp(func(_ string, p *keyattest.KeyDescriptionParams) { p.OSVersion = 140000 }, nil)),
		oid4vci.CodeDeviceNotAllowed, ReasonPlatformMismatch)
	// The chain certifies another key than device_key.
	other := e.newWallet(creds, "Pixel 9")
	wantCode(t, enrol(w.androidApp(nil, func(a *oid4vci.CardApplication) {
		ders, _ := attestsim.Android().AttestAndroid(&other.devKey.PublicKey, attestsim.AndroidOptions{KeyDescriptionParams: androidKD(a.Nonce), NotBefore: e.clock().Add(-1e9)})
		for i, d := range ders {
			a.PlatformAttestation.CertificateChain[i] = base64.StdEncoding.EncodeToString(d)
		}
	})), oid4vci.CodeInvalidKeyAttestation, ReasonPlatformKey)
	// An emergency block of the attested OS version applies.
	if _, err := e.svc.Block(context.Background(), BlockRequest{Kind: "os", Value: "15.0.0", Reason: "CVE"}, "test"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, enrol(w.androidApp(nil, nil)), oid4vci.CodeDeviceNotAllowed, oid4vci.ReasonOSBlocked)
	if _, err := e.svc.Unblock(context.Background(), "os", "15.0.0", "test"); err != nil {
		t.Fatal(err)
	}
	if err := enrol(w.androidApp(nil, nil)); err != nil {
		t.Fatalf("good Android attestation refused: %v", err)
	}
}

func TestPlatformAttestationApple(t *testing.T) {
	e := newEnv(t, envOptions{platform: PlatformConfig{Required: true}})
	creds := e.newCard(taro, testca.IssueOptions{})
	w := e.newWallet(creds, "iPhone16,1")
	_, err := e.client.Enrol(context.Background(), w.appleApp(func(nonce, _ string) []byte {
		return oid4vci.AppAttestClientDataHash(nonce, "another device key")
	}))
	wantCode(t, err, oid4vci.CodeInvalidKeyAttestation, "platform_challenge_mismatch")
	w.os = "18.2"
	var ak *ecdsa.PrivateKey
	r, err := e.client.Enrol(context.Background(), w.appleAppKey(oid4vci.AppAttestClientDataHash, &ak))
	if err != nil {
		t.Fatalf("good App Attest refused: %v", err)
	}
	w.deviceID = r.DeviceID

	// Later device requests carry assertions with increasing counters.
	poll := func(key *ecdsa.PrivateKey, counter uint32, withAssertion bool) error {
		req, err := oid4vci.SignDeviceRequest(w.devKey, &oid4vci.DeviceRequest{Audience: oid4vci.Audience{e.srv.URL}, Nonce: w.nonce(),
			IssuedAt: e.clock().Unix(), DeviceID: w.deviceID, Action: oid4vci.ActionPoll})
		if err != nil {
			t.Fatal(err)
		}
		var as string
		if withAssertion {
			cdh := sha256.Sum256([]byte(req))
			b, err := attestsim.Assert(key, attestsim.WalletAppID, counter, cdh[:])
			if err != nil {
				t.Fatal(err)
			}
			as = base64.RawURLEncoding.EncodeToString(b)
		}
		var pr oid4vci.PollResponse
		return e.client.DeviceAttested(context.Background(), req, as, &pr)
	}
	if err := poll(ak, 1, true); err != nil {
		t.Fatalf("assertion 1: %v", err)
	}
	if err := poll(ak, 2, true); err != nil {
		t.Fatalf("assertion 2: %v", err)
	}
	wantCode(t, poll(ak, 2, true), oid4vci.CodeInvalidDeviceRequest, ReasonAppAttestAssertion+"counter")
	wantCode(t, poll(ak, 1, true), oid4vci.CodeInvalidDeviceRequest, ReasonAppAttestAssertion+"counter")
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	wantCode(t, poll(other, 9, true), oid4vci.CodeInvalidDeviceRequest, ReasonAppAttestAssertion+"signature_invalid")
	wantCode(t, poll(ak, 9, false), oid4vci.CodeInvalidDeviceRequest, ReasonAppAttestAssertion+"missing")
	if err := poll(ak, 3, true); err != nil {
		t.Fatalf("assertion 3 after refusals: %v", err)
	}
}

// Production: the simulated roots are neither accepted by configuration
// nor trusted by default.
func TestPlatformProductionRefusesSimulated(t *testing.T) {
	cfg := PlatformConfig{AndroidRoots: attestsim.Android().Roots(), AndroidPackage: "p", AndroidSigningDigests: [][]byte{{1}}, AppleAppID: "a"}
	if err := cfg.defaults(true); err == nil {
		t.Fatal("production accepted simulated roots")
	}
	cfg = PlatformConfig{AndroidPackage: attestsim.WalletPackage, AndroidSigningDigests: [][]byte{attestsim.WalletSigningDigest()}, AppleAppID: "a",
		Status: &keyattest.StatusSource{Location: "testdata/none"}}
	if err := cfg.defaults(true); err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ders, _ := attestsim.Android().AttestAndroid(&k.PublicKey, attestsim.AndroidOptions{KeyDescriptionParams: androidKD("n")})
	pa := &oid4vci.PlatformAttestation{Format: oid4vci.PlatformAndroidKey}
	for _, d := range ders {
		pa.CertificateChain = append(pa.CertificateChain, base64.StdEncoding.EncodeToString(d))
	}
	// The status list is unavailable: fail closed before anything else.
	_, err := cfg.Verifier.VerifyPlatform(context.Background(), pa, PlatformBinding{Nonce: "n", DeviceKey: jwk(t, &k.PublicKey)})
	wantCode(t, err, oid4vci.CodeServerError, "platform_status_unavailable")
	cfg.Status = nil
	_, err = cfg.Verifier.VerifyPlatform(context.Background(), pa, PlatformBinding{Nonce: "n", DeviceKey: jwk(t, &k.PublicKey)})
	wantCode(t, err, oid4vci.CodeInvalidKeyAttestation, "platform_untrusted")
}

func TestSameOSVersion(t *testing.T) {
	for _, c := range []struct {
		platform, claimed string
		ok                bool
	}{{"16.0.0", "Android 16", true}, {"16.0.0", "16", true}, {"26.1", "iOS 26.1", true}, {"15.0.0", "Android 16", false}, {"26.1", "iOS 26.2", false}, {"26", "26.1", false}, {"16.0.0", "", false}} {
		if got := sameOSVersion(c.platform, c.claimed); got != c.ok {
			t.Errorf("sameOSVersion(%q, %q) = %v", c.platform, c.claimed, got)
		}
	}
}
