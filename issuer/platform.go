package issuer

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/mdoc/keyattest"
	"github.com/mynumber-mdoc/mnc/mdoc/keyattest/attestsim"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// Reasons of platform attestation refusals: "platform_" + the keyattest
// code (platform_untrusted, platform_challenge_mismatch,
// platform_boot_state, …), plus these.
const (
	ReasonPlatformMissing  = "platform_attestation_missing"
	ReasonPlatformKey      = "platform_key_mismatch"       // the Android leaf does not certify the device key
	ReasonPlatformMismatch = "platform_statement_mismatch" // the wallet provider's statement contradicts the platform
)

// PlatformConfig configures the verification of platform attestations
// (Android Key Attestation, Apple App Attest) at enrolment. Zero values:
// Environment "" is production when Config.Production, else development;
// AndroidRoots / AppleRoots nil are the built-in platform roots, plus in
// development the simulated roots of package attestsim; AndroidPackage,
// AndroidSigningDigests and AppleAppID empty are, in development, the
// wallet simulator's identity (attestsim.Wallet*) and in production an
// error (the wallet app must be named); Status nil checks no revocation in
// development and Google's list (cached) in production; Required is
// forced true in production.
type PlatformConfig struct {
	Environment           keyattest.Environment
	AndroidRoots          *keyattest.Roots
	AppleRoots            *keyattest.Roots
	AndroidPackage        string
	AndroidSigningDigests [][]byte
	AppleAppID            string
	AndroidPolicy         keyattest.AndroidPolicy
	Status                *keyattest.StatusSource
	// Required refuses applications without a platform attestation, and
	// device requests of App Attest devices without an assertion.
	Required bool
	// Verifier replaces the keyattest-based verifier (tests).
	Verifier PlatformVerifier
}

// PlatformBinding is what a platform attestation must be bound to: the
// application's nonce and device key.
type PlatformBinding struct {
	Nonce     string
	DeviceKey *oid4vci.JWK
	Now       time.Time
}

// PlatformVerifier verifies a platform attestation and returns the facts
// the enrolment policy judges. The one implementation in production is
// keyattest's (both formats); tests may substitute.
type PlatformVerifier interface {
	VerifyPlatform(ctx context.Context, pa *oid4vci.PlatformAttestation, b PlatformBinding) (*PlatformEvidence, error)
}

// PlatformEvidence is a verified platform attestation: its facts and, for
// App Attest, the key whose assertions authenticate the device's later
// requests.
type PlatformEvidence struct {
	Facts          keyattest.Facts
	AppAttestKey   *ecdsa.PublicKey
	AppAttestKeyID []byte
}

func (c *PlatformConfig) defaults(production bool) error {
	if production {
		c.Environment, c.Required = keyattest.Production, true
	}
	if c.Environment == "" {
		c.Environment = keyattest.Development
	}
	if c.AndroidRoots == nil {
		c.AndroidRoots = keyattest.GoogleRoots()
		if c.Environment == keyattest.Development {
			c.AndroidRoots.Add(attestsim.Android().Root)
		}
	}
	if c.AppleRoots == nil {
		c.AppleRoots = keyattest.AppleRoots()
		if c.Environment == keyattest.Development {
			c.AppleRoots.Add(attestsim.Apple().Root)
		}
	}
	if c.Environment == keyattest.Development {
		if c.AndroidPackage == "" {
			c.AndroidPackage = attestsim.WalletPackage
		}
		if c.AndroidSigningDigests == nil {
			c.AndroidSigningDigests = [][]byte{attestsim.WalletSigningDigest()}
		}
		if c.AppleAppID == "" {
			c.AppleAppID = attestsim.WalletAppID
		}
	} else {
		if c.AndroidRoots.HasSimulated() || c.AppleRoots.HasSimulated() {
			return errors.New("issuer: simulated attestation roots are configured in production")
		}
		if c.AndroidPackage == "" || len(c.AndroidSigningDigests) == 0 || c.AppleAppID == "" {
			return errors.New("issuer: production needs the wallet app's Android package, signing-certificate digest and Apple app id")
		}
		if c.Status == nil {
			c.Status = &keyattest.StatusSource{}
		}
	}
	if c.Verifier == nil {
		c.Verifier = &keyattestVerifier{cfg: c}
	}
	return nil
}

// keyattestVerifier verifies both platforms with package keyattest.
type keyattestVerifier struct{ cfg *PlatformConfig }

func (v *keyattestVerifier) VerifyPlatform(ctx context.Context, pa *oid4vci.PlatformAttestation, b PlatformBinding) (*PlatformEvidence, error) {
	c := v.cfg
	switch pa.Format {
	case oid4vci.PlatformAndroidKey:
		ders, err := pa.DERChain()
		if err != nil {
			return nil, err
		}
		chain, err := keyattest.ParseAndroidChain(ders)
		if err != nil {
			return nil, platformErr(err)
		}
		o := keyattest.AndroidOptions{
			Roots: c.AndroidRoots, Environment: c.Environment, Challenge: []byte(b.Nonce),
			PackageName: c.AndroidPackage, SigningCertDigests: c.AndroidSigningDigests, CurrentTime: b.Now,
		}
		if c.Status != nil {
			l, err := c.Status.List(ctx)
			if err != nil {
				return nil, platformErr(err)
			}
			o.Status = l
		}
		a, err := keyattest.VerifyAndroid(chain, o)
		if err != nil {
			return nil, platformErr(err)
		}
		// The leaf certifies the device key itself: the key the MSOs will
		// bind is the one the TEE/StrongBox generated.
		dk, err := b.DeviceKey.ECDSA()
		if err != nil {
			return nil, err
		}
		leaf, ok := a.PublicKey.(*ecdsa.PublicKey)
		if !ok || !leaf.Equal(dk) {
			return nil, oid4vci.NewError(oid4vci.CodeInvalidKeyAttestation, ReasonPlatformKey, "the Android attestation certifies another key than device_key")
		}
		if err := c.AndroidPolicy.Check(a.Facts); err != nil {
			return nil, platformErr(err)
		}
		return &PlatformEvidence{Facts: a.Facts}, nil
	case oid4vci.PlatformAppleAppAttest:
		raw, keyID, err := pa.Object()
		if err != nil {
			return nil, err
		}
		obj, err := keyattest.ParseAppAttestObject(raw)
		if err != nil {
			return nil, platformErr(err)
		}
		a, err := keyattest.VerifyAppAttest(obj, keyattest.AppAttestOptions{
			Roots: c.AppleRoots, Environment: c.Environment, AppID: c.AppleAppID, KeyID: keyID,
			ClientDataHash: oid4vci.AppAttestClientDataHash(b.Nonce, b.DeviceKey.Thumbprint), CurrentTime: b.Now,
		})
		if err != nil {
			return nil, platformErr(err)
		}
		return &PlatformEvidence{Facts: a.Facts, AppAttestKey: a.PublicKey, AppAttestKeyID: a.KeyID}, nil
	}
	return nil, oid4vci.NewError(oid4vci.CodeInvalidKeyAttestation, oid4vci.ReasonMalformed, "unknown platform attestation format %q", pa.Format)
}

// platformErr maps a keyattest refusal to the issuer's error: device
// policy failures are device_not_allowed, the rest invalid_key_attestation;
// the reason is "platform_" + the keyattest code.
func platformErr(err error) error {
	code := keyattest.CodeOf(err)
	if code == "" {
		return err
	}
	c := oid4vci.CodeInvalidKeyAttestation
	switch code {
	case keyattest.CodeBootState, keyattest.CodeSecurityLevel, keyattest.CodeOSPatchLevel, keyattest.CodeRevoked:
		c = oid4vci.CodeDeviceNotAllowed
	case keyattest.CodeStatusUnavailable:
		c = oid4vci.CodeServerError
	}
	return &oid4vci.Error{Code: c, Reason: "platform_" + string(code), Description: err.Error(), Err: err}
}

// checkStatement checks the wallet provider's key attestation against the
// platform's facts: the same platform, and where both say a model or OS
// version, the same ones. model and osVersion are the best claims so far
// (statement, else application). It returns the model, OS version and
// wallet profile the device policy judges: the platform's where it attests
// them.
func checkStatement(ka *oid4vci.KeyAttestation, f *keyattest.Facts, model, osVersion string) (string, string, string, error) {
	c := ka.Claims
	profile := map[string]string{keyattest.FormatAndroidKey: oid4vci.WalletProfileAndroid, keyattest.FormatAppleAppAttest: oid4vci.WalletProfileApple}[f.Format]
	if c.WalletProfile != "" && c.WalletProfile != profile {
		return "", "", "", oid4vci.NewError(oid4vci.CodeDeviceNotAllowed, ReasonPlatformMismatch, "the wallet provider says %s but the platform attestation is %s", c.WalletProfile, f.Format)
	}
	if f.Model != "" {
		if subtle.ConstantTimeCompare([]byte(f.Model), []byte(model)) != 1 {
			return "", "", "", oid4vci.NewError(oid4vci.CodeDeviceNotAllowed, ReasonPlatformMismatch, "the wallet says model %q but the platform attests %q", model, f.Model)
		}
		model = f.Model
	}
	if f.OSVersion != "" && !sameOSVersion(f.OSVersion, osVersion) {
		return "", "", "", oid4vci.NewError(oid4vci.CodeDeviceNotAllowed, ReasonPlatformMismatch, "the wallet says OS %q but the platform attests %s", osVersion, f.OSVersion)
	}
	return model, osVersion, profile, nil
}

// sameOSVersion reports whether a claimed OS version ("Android 16",
// "iOS 26.1", "16") agrees with the platform's dotted version ("16.0.0",
// "26.1") in every component the claim gives.
func sameOSVersion(platform, claimed string) bool {
	claimed = strings.TrimSpace(claimed)
	if i := strings.LastIndexByte(claimed, ' '); i >= 0 {
		claimed = claimed[i+1:]
	}
	pc, cc := strings.Split(platform, "."), strings.Split(claimed, ".")
	if claimed == "" || len(cc) > len(pc) {
		return false
	}
	for i := range cc {
		if strings.TrimLeft(cc[i], "0") != strings.TrimLeft(pc[i], "0") {
			return false
		}
	}
	return true
}

// ReasonAppAttestAssertion prefixes refusals of App Attest assertions on
// device requests: "app_attest_" + the keyattest code (app_attest_counter,
// app_attest_signature_invalid, …) or app_attest_missing.
const ReasonAppAttestAssertion = "app_attest_"

// checkAssertion authenticates a device request of a device enrolled with
// App Attest: an assertion by its App Attest key over SHA-256(request), for
// the configured app, with a counter above the stored one (stored
// atomically, so a replay or a cloned key is refused). Devices without an
// App Attest key pass; so does a missing assertion unless Required.
func (s *Service) checkAssertion(ctx context.Context, deviceID, request, assertion string) error {
	k, err := s.appAttest.AppAttestKey(ctx, deviceID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read app attest key of %s: %w", deviceID, err)
	}
	if assertion == "" {
		if s.cfg.Platform.Required {
			return oid4vci.NewError(oid4vci.CodeInvalidDeviceRequest, ReasonAppAttestAssertion+"missing", "this device enrolled with App Attest; its requests need app_attest_assertion")
		}
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(assertion)
	if err != nil {
		return oid4vci.NewError(oid4vci.CodeInvalidDeviceRequest, ReasonAppAttestAssertion+string(keyattest.CodeMalformed), "app_attest_assertion is not base64url")
	}
	a, err := keyattest.ParseAssertion(raw)
	if err != nil {
		return assertionErr(err)
	}
	pub, err := x509.ParsePKIXPublicKey(k.PublicKey)
	if err != nil {
		return fmt.Errorf("stored app attest key of %s: %w", deviceID, err)
	}
	ek, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("stored app attest key of %s is %T", deviceID, pub)
	}
	cdh := sha256.Sum256([]byte(request))
	c, err := keyattest.VerifyAssertion(a, keyattest.AssertionOptions{PublicKey: ek, AppID: s.cfg.Platform.AppleAppID, ClientDataHash: cdh[:], PreviousCounter: k.Counter})
	if err != nil {
		return assertionErr(err)
	}
	switch err := s.appAttest.AdvanceAppAttestCounter(ctx, k.KeyID, c); {
	case errors.Is(err, store.ErrConflict):
		return assertionErr(&keyattest.Error{Format: keyattest.FormatAppleAppAttest, Code: keyattest.CodeCounter, Detail: "a concurrent request used this counter"})
	case err != nil:
		return err
	}
	return nil
}

func assertionErr(err error) error {
	return &oid4vci.Error{Code: oid4vci.CodeInvalidDeviceRequest, Reason: ReasonAppAttestAssertion + string(keyattest.CodeOf(err)), Description: err.Error(), Err: err}
}

// recordAppAttestKey keeps the App Attest key of a newly enrolled device.
func (s *Service) recordAppAttestKey(ctx context.Context, deviceID string, ev *PlatformEvidence, now time.Time) error {
	if ev == nil || ev.AppAttestKey == nil {
		return nil
	}
	der, err := x509.MarshalPKIXPublicKey(ev.AppAttestKey)
	if err != nil {
		return err
	}
	return s.appAttest.PutAppAttestKey(ctx, store.AppAttestKey{DeviceID: deviceID, KeyID: base64.StdEncoding.EncodeToString(ev.AppAttestKeyID), PublicKey: der, CreatedAt: now})
}
