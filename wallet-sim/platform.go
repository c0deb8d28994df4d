package walletsim

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/mynumber-mdoc/mnc/mdoc/keyattest"
	"github.com/mynumber-mdoc/mnc/mdoc/keyattest/attestsim"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// DefaultPatchLevel is the simulated Android security patch level.
const DefaultPatchLevel = 202511

// platformAttestation makes the platform's attestation of the device key
// in the real format of the profile's platform, signed by the simulated
// platform CAs of package attestsim (so a development issuer runs the same
// parsers as for a phone, and a production issuer refuses it):
//
//   - android: an Android Key Attestation chain for the device key, as
//     KeyStore would return for a StrongBox key generated with
//     setAttestationChallenge(nonce) and device-ID attestation (model); a
//     rooted profile reports an unlocked bootloader and unverified boot, as
//     a real device would;
//   - apple: an App Attest key generated in the secure element and its
//     attestation object over AppAttestClientDataHash(nonce, device key).
func (w *Wallet) platformAttestation(prof Profile, nonce string, dk se.KeyInfo, devJWK *oid4vci.JWK) (*oid4vci.PlatformAttestation, error) {
	const op = "platform attestation"
	switch prof.Platform {
	case PlatformAndroid:
		p := keyattest.KeyDescriptionParams{
			SecurityLevel: keyattest.SecurityStrongBox, Challenge: []byte(nonce),
			Locked: !prof.Rooted, BootState: keyattest.BootVerified,
			OSVersion: androidOSVersion(prof.OSVersion), OSPatchLevel: DefaultPatchLevel,
			PackageName: attestsim.WalletPackage, SigningCertDigest: attestsim.WalletSigningDigest(),
			Model: prof.Model,
		}
		if prof.Rooted {
			p.BootState = keyattest.BootUnverified
		}
		ders, err := attestsim.Android().AttestAndroid(dk.Public, attestsim.AndroidOptions{KeyDescriptionParams: p, NotBefore: w.now().Add(-60e9)})
		if err != nil {
			return nil, &Error{Op: op, Code: CodeIssuer, Err: err}
		}
		pa := &oid4vci.PlatformAttestation{Format: oid4vci.PlatformAndroidKey}
		for _, d := range ders {
			pa.CertificateChain = append(pa.CertificateChain, base64.StdEncoding.EncodeToString(d))
		}
		return pa, nil
	default:
		ak, err := w.el.GenerateKey("app attest key", se.Access{})
		if err != nil {
			return nil, err
		}
		obj, kid, err := attestsim.Apple().AttestApple(ak.Public, attestsim.AppAttestOptions{
			AppID: attestsim.WalletAppID, ClientDataHash: oid4vci.AppAttestClientDataHash(nonce, devJWK.Thumbprint),
			OSVersion: numericVersion(prof.OSVersion), NotBefore: w.now().Add(-60e9),
		})
		if err != nil {
			return nil, &Error{Op: op, Code: CodeIssuer, Err: err}
		}
		w.mu.Lock()
		w.pendingAppAttest = ak.ID
		w.mu.Unlock()
		return &oid4vci.PlatformAttestation{Format: oid4vci.PlatformAppleAppAttest,
			AttestationObject: base64.RawURLEncoding.EncodeToString(obj), KeyID: base64.StdEncoding.EncodeToString(kid)}, nil
	}
}

// numericVersion returns the dotted number of "iOS 26.1" / "Android 16".
func numericVersion(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, ' '); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// androidOSVersion encodes "Android 16" / "15.1" as KeyMint's osVersion
// (MMmmss).
func androidOSVersion(s string) int64 {
	parts := strings.Split(numericVersion(s), ".")
	var v int64
	for i, mul := range []int64{10000, 100, 1} {
		if i < len(parts) {
			n, _ := strconv.ParseInt(parts[i], 10, 64)
			v += n * mul
		}
	}
	return v
}

// device sends a device request, with an App Attest assertion over it when
// the wallet enrolled with App Attest (DCAppAttestService.generateAssertion
// with clientDataHash = SHA-256(request), the counter one above the last).
func (w *Wallet) device(ctx context.Context, cl *oid4vci.Client, request string, out any) error {
	w.mu.Lock()
	kid := w.d.AppAttestKeyID
	var counter uint32
	if kid != "" {
		w.d.AppAttestCounter++
		counter = w.d.AppAttestCounter
		if err := w.save(); err != nil {
			w.mu.Unlock()
			return err
		}
	}
	w.mu.Unlock()
	if kid == "" {
		return cl.Device(ctx, request, out)
	}
	s, err := w.el.Signer(kid, nil)
	if err != nil {
		return &Error{Op: "app attest assertion", Code: CodeUserVerification, Err: err}
	}
	cdh := sha256.Sum256([]byte(request))
	as, err := attestsim.Assert(s, attestsim.WalletAppID, counter, cdh[:])
	if err != nil {
		return err
	}
	return cl.DeviceAttested(ctx, request, base64.RawURLEncoding.EncodeToString(as), out)
}
