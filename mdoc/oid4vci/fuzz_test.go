package oid4vci

import (
	"crypto"
	"crypto/x509"
	"testing"
)

// The fuzz targets feed hostile input to every decoder of the package; they
// must never panic and must fail closed with an *Error.

func FuzzVerifyProof(f *testing.F) {
	dev := ecKey(f)
	s, _ := SignProof(dev, ProofOptions{Audience: aud, Nonce: "n", IssuedAt: t0})
	f.Add(s)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := VerifyProof(in, VerifyProofOptions{Audience: aud, Now: t0})
		if err == nil && p.Key == nil {
			t.Fatal("proof without key")
		}
		if err != nil && CodeOf(err) != CodeInvalidProof {
			t.Fatalf("code %q", CodeOf(err))
		}
	})
}

func FuzzVerifyKeyAttestation(f *testing.F) {
	caKey, ca := attestationCA(f)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	s, _ := SignKeyAttestation(caKey, [][]byte{ca.Raw}, KeyAttestationOptions{Keys: []crypto.PublicKey{&ecKey(f).PublicKey}, DeviceModel: "m", OSVersion: "1", WalletProfile: WalletProfileAndroid, IssuedAt: t0})
	f.Add(s)
	// One cache across inputs, as the issuer keeps one: cached chains must
	// not let a mutated attestation through or change the error code.
	chains := NewChainCache()
	f.Fuzz(func(t *testing.T, in string) {
		_, err := VerifyKeyAttestation(in, VerifyKeyAttestationOptions{Roots: roots, Now: t0, Chains: chains})
		if err != nil && CodeOf(err) != CodeInvalidKeyAttestation {
			t.Fatalf("code %q", CodeOf(err))
		}
	})
}

func FuzzParseCardApplication(f *testing.F) {
	f.Add([]byte(`{"aud":"https://issuer.example","nonce":"n","iat":1775044800,"device_key":{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"},"key_attestation":"a","device_model":"m","os_version":"1"}`))
	f.Add([]byte(`{"aud":["a","b"],"jpki_sign_key":{"kty":"RSA","n":"AQAB","e":"AQAB"}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := ParseCardApplication(in, CheckOptions{Audience: aud, Now: t0})
		if err == nil && (a.DeviceKey == nil || a.Nonce == "") {
			t.Fatal("accepted application without device key or nonce")
		}
		if err != nil && CodeOf(err) == "" {
			t.Fatalf("untyped error %v", err)
		}
	})
}

func FuzzVerifyDeviceRequest(f *testing.F) {
	dev := ecKey(f)
	jk := mustJWK(f, &dev.PublicKey)
	s, _ := SignDeviceRequest(dev, &DeviceRequest{Audience: Audience{aud}, Nonce: "n", IssuedAt: t0.Unix(), DeviceID: "d", Action: ActionPoll})
	f.Add(s)
	u, _ := SignDeviceRequest(dev, &DeviceRequest{Audience: Audience{aud}, Nonce: "n", IssuedAt: t0.Unix(), DeviceID: "d", Action: ActionUsed,
		Use: &UseReport{DocType: "org.iso.23220.1.jp.mnc", Verifier: "shop", Channel: "nfc", Elements: []string{"org.iso.23220.1/age_over_20"}}})
	f.Add(u)
	f.Fuzz(func(t *testing.T, in string) {
		DeviceRequestKeyID(in)
		r, err := VerifyDeviceRequest(in, jk, CheckOptions{Audience: aud, Now: t0})
		if err != nil && CodeOf(err) == "" {
			t.Fatalf("untyped error %v", err)
		}
		if err == nil && r.Action == ActionUsed && (r.Use == nil || r.Use.DocType == "" || len(r.Use.Elements) > MaxUseElements) {
			t.Fatalf("accepted a use report out of bounds: %+v", r.Use)
		}
	})
}

func FuzzParseOfferURI(f *testing.F) {
	f.Add(`openid-credential-offer://?credential_offer=%7B%22credential_issuer%22%3A%22x%22%2C%22credential_configuration_ids%22%3A%5B%22jp.mnc%22%5D%7D`)
	f.Fuzz(func(t *testing.T, in string) {
		o, err := ParseOfferURI(in)
		if err == nil && (o.CredentialIssuer == "" || len(o.CredentialConfigurationIDs) == 0) {
			t.Fatal("accepted empty offer")
		}
	})
}
