package oid4vci

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

const aud = "https://issuer.example"

var (
	t0 = time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)

	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func testRSA(t testing.TB) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		var err error
		rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
	})
	return rsaKey
}

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func wantErr(t *testing.T, err error, code, reason string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s/%s, got nil", code, reason)
	}
	if CodeOf(err) != code || (reason != "" && ReasonOf(err) != reason) {
		t.Fatalf("want %s/%s, got %s/%s: %v", code, reason, CodeOf(err), ReasonOf(err), err)
	}
}

func TestProof(t *testing.T) {
	dev := ecKey(t)
	good, err := SignProof(dev, ProofOptions{Audience: aud, Nonce: "n1", IssuedAt: t0, KeyAttestation: "ka.jwt.here"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := VerifyProof(good, VerifyProofOptions{Audience: aud, Now: t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := NewJWK(&dev.PublicKey)
	if !p.Key.Equal(want) || p.Nonce != "n1" || p.KeyAttestation != "ka.jwt.here" {
		t.Fatalf("proof = %+v", p)
	}

	other := ecKey(t)
	// A proof whose header jwk is not the signing key.
	forged := forgeProof(t, other, &dev.PublicKey)

	rsaProof, err := signJWS(testRSA(t), TypProof, ProofClaims{Audience: Audience{aud}, IssuedAt: t0.Unix()}, map[string]any{"jwk": mustJWK(t, &testRSA(t).PublicKey).Raw})
	if err != nil {
		t.Fatal(err)
	}
	wrongTyp, _ := signJWS(dev, "JWT", ProofClaims{Audience: Audience{aud}, IssuedAt: t0.Unix()}, map[string]any{"jwk": want.Raw})
	noJWK, _ := signJWS(dev, TypProof, ProofClaims{Audience: Audience{aud}, IssuedAt: t0.Unix()}, nil)

	for _, tc := range []struct {
		name, jwt string
		opts      VerifyProofOptions
		reason    string
	}{
		{"wrong audience", good, VerifyProofOptions{Audience: "https://evil.example", Now: t0}, ReasonWrongAudience},
		{"stale", good, VerifyProofOptions{Audience: aud, Now: t0.Add(time.Hour)}, ReasonStale},
		{"future", good, VerifyProofOptions{Audience: aud, Now: t0.Add(-time.Hour)}, ReasonFuture},
		{"tampered", tamper(good), VerifyProofOptions{Audience: aud, Now: t0}, ReasonSignature},
		{"header key is not signer", forged, VerifyProofOptions{Audience: aud, Now: t0}, ReasonSignature},
		{"rsa device key", rsaProof, VerifyProofOptions{Audience: aud, Now: t0}, ReasonWrongKeyType},
		{"wrong typ", wrongTyp, VerifyProofOptions{Audience: aud, Now: t0}, ReasonWrongType},
		{"no jwk", noJWK, VerifyProofOptions{Audience: aud, Now: t0}, ReasonMissingKey},
		{"garbage", "a.b.c", VerifyProofOptions{Audience: aud, Now: t0}, ReasonMalformed},
		{"too large", strings.Repeat("a", MaxJWTLen+1), VerifyProofOptions{Audience: aud, Now: t0}, ReasonTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyProof(tc.jwt, tc.opts)
			wantErr(t, err, CodeInvalidProof, tc.reason)
		})
	}
}

func forgeProof(t *testing.T, signer *ecdsa.PrivateKey, claimed *ecdsa.PublicKey) string {
	s, err := signJWS(signer, TypProof, ProofClaims{Audience: Audience{aud}, IssuedAt: t0.Unix()}, map[string]any{"jwk": mustJWK(t, claimed).Raw})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustJWK(t testing.TB, pub crypto.PublicKey) *JWK {
	j, err := NewJWK(pub)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// tamper flips one character of the payload.
func tamper(s string) string {
	parts := strings.Split(s, ".")
	b := []byte(parts[1])
	if b[3] == 'A' {
		b[3] = 'B'
	} else {
		b[3] = 'A'
	}
	parts[1] = string(b)
	return strings.Join(parts, ".")
}

func attestationCA(t testing.TB) (*ecdsa.PrivateKey, *x509.Certificate) {
	k := ecKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test attestation CA"},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return k, c
}

func TestKeyAttestation(t *testing.T) {
	caKey, ca := attestationCA(t)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	dev := ecKey(t)
	opts := KeyAttestationOptions{
		Keys: []crypto.PublicKey{&dev.PublicKey, &testRSA(t).PublicKey}, KeyStorage: []string{KeyStorageHigh},
		DeviceModel: "iPhone16,1", OSVersion: "18.2", WalletProfile: WalletProfileApple, DeviceID: "dev-1", IssuedAt: t0,
	}
	ka, err := SignKeyAttestation(caKey, [][]byte{ca.Raw}, opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyKeyAttestation(ka, VerifyKeyAttestationOptions{Roots: roots, Now: t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Attests(mustJWK(t, &dev.PublicKey)) || !got.Attests(mustJWK(t, &testRSA(t).PublicKey)) || got.Attests(mustJWK(t, &ecKey(t).PublicKey)) {
		t.Fatal("Attests wrong")
	}
	if got.Claims.DeviceModel != "iPhone16,1" || got.Claims.Rooted {
		t.Fatalf("claims %+v", got.Claims)
	}

	otherKey, other := attestationCA(t)
	untrusted, _ := SignKeyAttestation(otherKey, [][]byte{other.Raw}, opts)
	badProfile := opts
	badProfile.WalletProfile = "symbian"
	badProf, _ := SignKeyAttestation(caKey, [][]byte{ca.Raw}, badProfile)
	for _, tc := range []struct {
		name, jwt string
		now       time.Time
		roots     *x509.CertPool
		reason    string
	}{
		{"untrusted CA", untrusted, t0, roots, ReasonUntrusted},
		{"no roots", ka, t0, nil, ReasonUntrusted},
		{"expired", ka, t0.Add(2 * time.Hour), roots, ReasonExpired},
		{"tampered", tamper(ka), t0, roots, ReasonSignature},
		{"bad wallet profile", badProf, t0, roots, ReasonMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyKeyAttestation(tc.jwt, VerifyKeyAttestationOptions{Roots: tc.roots, Now: tc.now})
			wantErr(t, err, CodeInvalidKeyAttestation, tc.reason)
		})
	}
}

func TestCardApplication(t *testing.T) {
	card := testRSA(t)
	dev := ecKey(t)
	app := &CardApplication{
		Audience: Audience{aud}, Nonce: "n", IssuedAt: t0.Unix(), DeviceKey: mustJWK(t, &dev.PublicKey),
		KeyAttestation: "x.y.z", DeviceModel: "Pixel 9", OSVersion: "15",
		JPKISignKey: mustJWK(t, &card.PublicKey), JPKIAuthKey: mustJWK(t, &card.PublicKey),
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "card"}, NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &card.PublicKey, card)
	if err != nil {
		t.Fatal(err)
	}
	s, err := SignCardApplication(app, certDER, card)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := jws.Verify([]byte(s), jws.WithKey(jwa.RS256(), &card.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseCardApplication(payload, CheckOptions{Audience: aud, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if !got.DeviceKey.Equal(app.DeviceKey) || got.DeviceModel != "Pixel 9" {
		t.Fatalf("got %+v", got)
	}
	_, err = ParseCardApplication(payload, CheckOptions{Audience: "https://other", Now: t0})
	wantErr(t, err, CodeInvalidApplication, ReasonWrongAudience)

	mutate := func(f func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(payload, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	for _, tc := range []struct {
		name         string
		payload      []byte
		code, reason string
	}{
		{"no nonce", mutate(func(m map[string]any) { delete(m, "nonce") }), CodeInvalidNonce, ReasonNonceMissing},
		{"no device key", mutate(func(m map[string]any) { delete(m, "device_key") }), CodeInvalidApplication, ReasonMissingKey},
		{"rsa device key", mutate(func(m map[string]any) { m["device_key"] = m["jpki_sign_key"] }), CodeInvalidApplication, ReasonWrongKeyType},
		{"ec jpki key", mutate(func(m map[string]any) { m["jpki_auth_key"] = m["device_key"] }), CodeInvalidApplication, ReasonWrongKeyType},
		{"one jpki key", mutate(func(m map[string]any) { delete(m, "jpki_auth_key") }), CodeInvalidApplication, ReasonMissingKey},
		{"no attestation", mutate(func(m map[string]any) { delete(m, "key_attestation") }), CodeInvalidKeyAttestation, ReasonMissingKey},
		{"stale", mutate(func(m map[string]any) { m["iat"] = t0.Add(-time.Hour).Unix() }), CodeInvalidApplication, ReasonStale},
		{"private device key", mutate(func(m map[string]any) {
			dk := m["device_key"].(map[string]any)
			dk["d"] = "AAAA"
		}), CodeInvalidApplication, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCardApplication(tc.payload, CheckOptions{Audience: aud, Now: t0})
			wantErr(t, err, tc.code, tc.reason)
		})
	}
}

func TestDeviceRequest(t *testing.T) {
	dev := ecKey(t)
	jk := mustJWK(t, &dev.PublicKey)
	s, err := SignDeviceRequest(dev, &DeviceRequest{Audience: Audience{aud}, Nonce: "n", IssuedAt: t0.Unix(), DeviceID: "d1", Action: ActionRevoke})
	if err != nil {
		t.Fatal(err)
	}
	kid, err := DeviceRequestKeyID(s)
	if err != nil || kid != "d1" {
		t.Fatalf("kid %q %v", kid, err)
	}
	r, err := VerifyDeviceRequest(s, jk, CheckOptions{Audience: aud, Now: t0})
	if err != nil || r.Action != ActionRevoke {
		t.Fatalf("%+v %v", r, err)
	}
	_, err = VerifyDeviceRequest(s, mustJWK(t, &ecKey(t).PublicKey), CheckOptions{Audience: aud, Now: t0})
	wantErr(t, err, CodeInvalidDeviceRequest, ReasonSignature)
	bad, _ := SignDeviceRequest(dev, &DeviceRequest{Audience: Audience{aud}, Nonce: "n", IssuedAt: t0.Unix(), DeviceID: "d1", Action: "explode"})
	_, err = VerifyDeviceRequest(bad, jk, CheckOptions{Audience: aud, Now: t0})
	wantErr(t, err, CodeInvalidDeviceRequest, ReasonMalformed)
	ack, _ := SignDeviceRequest(dev, &DeviceRequest{Audience: Audience{aud}, Nonce: "n", IssuedAt: t0.Unix(), DeviceID: "d1", Action: ActionAck})
	_, err = VerifyDeviceRequest(ack, jk, CheckOptions{Audience: aud, Now: t0})
	wantErr(t, err, CodeInvalidDeviceRequest, ReasonMalformed)
}

func TestOfferURIRoundTrip(t *testing.T) {
	o := &CredentialOffer{CredentialIssuer: aud, CredentialConfigurationIDs: []string{ConfigMNC, ConfigHIC},
		Grants: &Grants{PreAuthorizedCode: &PreAuthorizedCodeGrant{PreAuthorizedCode: "abc", TxCode: &TxCode{InputMode: "numeric", Length: 6}}}}
	u, err := o.URI()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseOfferURI(u)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := got.OfferCode(); code != "abc" || got.Grants.PreAuthorizedCode.TxCode.Length != 6 {
		t.Fatalf("got %+v", got)
	}
	if _, err := ParseOfferURI(OfferScheme + "?credential_offer=%7B%7D"); CodeOf(err) != CodeInvalidRequest {
		t.Fatalf("empty offer: %v", err)
	}
}

func TestCredentialRequestValidate(t *testing.T) {
	for _, tc := range []struct {
		r    CredentialRequest
		code string
	}{
		{CredentialRequest{CredentialConfigurationID: ConfigMNC, Proofs: &Proofs{JWT: []string{"x"}}}, ""},
		{CredentialRequest{Proofs: &Proofs{JWT: []string{"x"}}}, CodeInvalidCredentialRequest},
		{CredentialRequest{CredentialConfigurationID: ConfigMNC}, CodeInvalidProof},
		{CredentialRequest{CredentialConfigurationID: ConfigMNC, Proofs: &Proofs{JWT: []string{"x", "y"}}}, ""},
		{CredentialRequest{CredentialConfigurationID: ConfigMNC, Proofs: &Proofs{JWT: make([]string, MaxProofs+1)}}, CodeInvalidProof},
	} {
		if got := CodeOf(tc.r.Validate()); got != tc.code {
			t.Errorf("%+v: code %q want %q", tc.r, got, tc.code)
		}
	}
}

func TestUseReportValidate(t *testing.T) {
	long := strings.Repeat("x", MaxClaimLen+1)
	many := make([]string, MaxUseElements+1)
	for i := range many {
		many[i] = "ns/e"
	}
	for _, tc := range []struct {
		name string
		u    *UseReport
		ok   bool
	}{
		{"minimal", &UseReport{DocType: "org.iso.23220.1.jp.mnc"}, true},
		{"full", &UseReport{DocType: "d", Verifier: "Clinic", Channel: "nfc", Elements: []string{"ns/a"}, At: 1}, true},
		{"nil", nil, false},
		{"no doctype", &UseReport{Verifier: "v"}, false},
		{"long verifier", &UseReport{DocType: "d", Verifier: long}, false},
		{"header injection", &UseReport{DocType: "d", Verifier: "shop\r\nBcc: x@evil"}, false},
		{"too many elements", &UseReport{DocType: "d", Elements: many}, false},
	} {
		err := tc.u.Validate()
		if (err == nil) != tc.ok || (err != nil && CodeOf(err) != CodeInvalidDeviceRequest) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestDecodeJSONOneReading: OpenID4VCI messages are read one way only —
// a duplicate member, a member name in another case or data after the
// object is refused — so no two parsers (a proxy's, ours) can see two
// different offers, proofs or attestations in one message. Unknown members
// stay allowed (extensions).
func TestDecodeJSONOneReading(t *testing.T) {
	const ok = `{"credential_issuer":"https://a","credential_configuration_ids":["x"]}`
	for _, tc := range []struct {
		name, in string
		accept   bool
	}{
		{"well formed", ok, true},
		{"unknown member", `{"credential_issuer":"https://a","credential_configuration_ids":["x"],"ext":{}}`, true},
		{"duplicate member", `{"credential_issuer":"https://a","credential_issuer":"https://b","credential_configuration_ids":["x"]}`, false},
		{"member name case", `{"Credential_Issuer":"https://a","credential_configuration_ids":["x"]}`, false},
		{"trailing data", ok + `{}`, false},
		{"invalid UTF-8", "{\"credential_issuer\":\"https://\xff\",\"credential_configuration_ids\":[\"x\"]}", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseOfferURI(tc.in)
			if tc.accept != (err == nil) {
				t.Fatalf("accepted=%v: %v", err == nil, err)
			}
			if err != nil && CodeOf(err) != CodeInvalidRequest {
				t.Fatalf("code %q: %v", CodeOf(err), err)
			}
		})
	}
}
