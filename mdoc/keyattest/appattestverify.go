package keyattest

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"time"
)

// Undocumented-but-stable credential certificate extensions that carry
// facts (not used for any decision): the app id and the OS version.
var (
	oidAppAttestAppInfo   = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 8, 5}
	oidAppAttestOSVersion = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 8, 7}
)

// AppAttestOptions tune VerifyAppAttest. Zero values: Roots nil is
// AppleRoots(); Environment "" is Production; AppID "" skips the RP ID
// check; ClientDataHash nil skips the nonce check; KeyID nil skips the key
// id check (the credential id must still be the key's hash); CurrentTime
// zero is now. The issuer always sets AppID, ClientDataHash and KeyID.
type AppAttestOptions struct {
	Roots          *Roots
	Environment    Environment
	AppID          string // "TEAMID.bundle.id"
	ClientDataHash []byte
	KeyID          []byte
	CurrentTime    time.Time
}

// AppAttestation is a verified App Attest attestation.
type AppAttestation struct {
	Chain     []*x509.Certificate
	AuthData  *AuthenticatorData
	PublicKey *ecdsa.PublicKey
	KeyID     []byte // SHA-256 of the uncompressed public key
	Facts     Facts
}

// VerifyAppAttest verifies an App Attest attestation object following
// Apple's "Validating apps that connect to your server" (steps 1–9):
// x5c chains to the App Attestation Root CA at CurrentTime; the credCert's
// nonce extension equals SHA-256(authData ‖ clientDataHash); the key id is
// SHA-256 of the credCert's public key and equals authData's credentialId
// (and KeyID); rpIdHash is SHA-256(AppID); the counter is 0; the aaguid is
// the configured environment's. A simulated root is refused in
// production. The receipt is kept but not checked (it is only needed for
// Apple's fraud-metric service).
func VerifyAppAttest(obj *AttestationObject, o AppAttestOptions) (*AppAttestation, error) {
	const f = FormatAppleAppAttest
	roots := o.Roots
	if roots == nil {
		roots = AppleRoots()
	}
	env := o.Environment.orProduction()
	at := o.CurrentTime
	if at.IsZero() {
		at = time.Now()
	}
	var chain []*x509.Certificate
	for i, d := range obj.X5C {
		if len(d) > MaxCertBytes {
			return nil, errf(f, CodeTooLarge, "x5c[%d] is %d bytes, over %d", i, len(d), MaxCertBytes)
		}
		c, err := x509.ParseCertificate(d)
		if err != nil {
			return nil, wrapf(f, CodeMalformed, err, "x5c[%d]", i)
		}
		chain = append(chain, c)
	}
	pool, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range roots.certs {
		pool.AddCert(r)
	}
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	// App Attest chains are textbook X.509, so the standard verifier applies
	// (extended key usage is not part of Apple's profile).
	paths, err := chain[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		code := CodeUntrusted
		if _, ok := err.(x509.CertificateInvalidError); ok && err.(x509.CertificateInvalidError).Reason == x509.Expired {
			code = CodeExpired
		}
		return nil, wrapf(f, code, err, "x5c chain")
	}
	root := paths[0][len(paths[0])-1]
	if IsSimulatedRoot(root) && env == Production {
		return nil, errf(f, CodeSimulatedRoot, "chain ends in a simulated development root, refused in production")
	}
	ad, err := ParseAuthenticatorData(obj.AuthData, true)
	if err != nil {
		return nil, err
	}
	// Step 2–4: the nonce.
	var ext []byte
	for _, e := range chain[0].Extensions {
		if e.Id.Equal(OIDAppAttestNonce) {
			ext = e.Value
		}
	}
	if ext == nil {
		return nil, errf(f, CodeMissingExtension, "credCert has no nonce extension %v", OIDAppAttestNonce)
	}
	nonce, err := parseAppAttestNonce(ext)
	if err != nil {
		return nil, err
	}
	if o.ClientDataHash != nil {
		h := sha256.New()
		h.Write(obj.AuthData)
		h.Write(o.ClientDataHash)
		if subtle.ConstantTimeCompare(h.Sum(nil), nonce) != 1 {
			return nil, errf(f, CodeChallengeMismatch, "the credCert nonce is not SHA-256(authData ‖ clientDataHash)")
		}
	}
	// Step 5: key id.
	pub, ok := chain[0].PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, errf(f, CodeUnsupported, "credCert key is not P-256")
	}
	ek, err := pub.ECDH()
	if err != nil {
		return nil, wrapf(f, CodeMalformed, err, "credCert key")
	}
	kid := sha256.Sum256(ek.Bytes())
	if o.KeyID != nil && !bytes.Equal(kid[:], o.KeyID) {
		return nil, errf(f, CodeKeyMismatch, "key id %s is not the expected %s", base64.StdEncoding.EncodeToString(kid[:]), base64.StdEncoding.EncodeToString(o.KeyID))
	}
	// Step 6: RP ID.
	if o.AppID != "" {
		want := sha256.Sum256([]byte(o.AppID))
		if subtle.ConstantTimeCompare(want[:], ad.RPIDHash[:]) != 1 {
			return nil, errf(f, CodeAppMismatch, "rpIdHash is not SHA-256(%q)", o.AppID)
		}
	}
	// Step 7: counter.
	if ad.Counter != 0 {
		return nil, errf(f, CodeCounter, "attestation counter is %d, want 0", ad.Counter)
	}
	// Step 8: environment.
	var gotEnv Environment
	switch ad.AAGUID {
	case AAGUIDProduction:
		gotEnv = Production
	case AAGUIDDevelopment:
		gotEnv = Development
	default:
		return nil, errf(f, CodeEnvironment, "aaguid %x is neither appattest nor appattestdevelop", ad.AAGUID)
	}
	if gotEnv != env {
		return nil, errf(f, CodeEnvironment, "key was made in the %s environment; this verifier accepts %s", gotEnv, env)
	}
	// Step 9: credential id.
	if !bytes.Equal(ad.CredentialID, kid[:]) {
		return nil, errf(f, CodeKeyMismatch, "credentialId is not SHA-256 of the credCert key")
	}
	coseKey, err := parseCOSEP256(ad.CredentialPublicKey)
	if err != nil {
		return nil, err
	}
	if !coseKey.Equal(ek) {
		return nil, errf(f, CodeKeyMismatch, "credentialPublicKey differs from the credCert key")
	}
	a := &AppAttestation{Chain: chain, AuthData: ad, PublicKey: pub, KeyID: kid[:]}
	counter := ad.Counter
	a.Facts = Facts{
		Format: f, SecurityLevel: "SecureEnclave", Environment: string(gotEnv), Counter: &counter,
		KeyID: base64.StdEncoding.EncodeToString(kid[:]), Challenge: hex.EncodeToString(nonce),
		Root: root.Subject.String(), ChainLength: len(paths[0]), Simulated: IsSimulatedRoot(root),
		ValidFrom: latest(paths[0]).UTC(), ValidUntil: earliest(paths[0]).UTC(),
	}
	a.Facts.AppID, a.Facts.OSVersion = appAttestInfo(chain[0])
	if o.AppID != "" {
		a.Facts.AppID = o.AppID
	}
	return a, nil
}

// parseAppAttestNonce reads the nonce extension: SEQUENCE { [1] EXPLICIT
// OCTET STRING }.
func parseAppAttestNonce(ext []byte) ([]byte, error) {
	in := derReader(ext)
	var seq derReader
	var t tlv
	var nonce []byte
	if !in.readSequence(&seq) || !in.empty() || !seq.read(&t) || t.class != classContext || t.tag != 1 || !t.constructed || !seq.empty() {
		return nil, errf(FormatAppleAppAttest, CodeMalformed, "nonce extension is not SEQUENCE { [1] OCTET STRING }")
	}
	inner := derReader(t.content)
	if !inner.readOctetString(&nonce) || !inner.empty() || len(nonce) != sha256.Size {
		return nil, errf(FormatAppleAppAttest, CodeMalformed, "nonce extension does not hold a 32-byte OCTET STRING")
	}
	return nonce, nil
}

// appAttestInfo reads the app id (tag 1204 of extension 8.5) and OS
// version (tag 1400 of extension 8.7) for the facts; either may be absent.
func appAttestInfo(c *x509.Certificate) (appID, osVersion string) {
	find := func(oid asn1.ObjectIdentifier, tag int) string {
		for _, e := range c.Extensions {
			if !e.Id.Equal(oid) {
				continue
			}
			in := derReader(e.Value)
			var seq derReader
			if !in.readSequence(&seq) {
				return ""
			}
			for !seq.empty() {
				var t tlv
				if !seq.read(&t) {
					return ""
				}
				if t.class == classContext && t.tag == tag {
					inner := derReader(t.content)
					var s []byte
					if inner.readOctetString(&s) && len(s) <= maxDeviceIDLen {
						return string(s)
					}
				}
			}
		}
		return ""
	}
	return find(oidAppAttestAppInfo, 1204), find(oidAppAttestOSVersion, 1400)
}

// parseCOSEP256 parses an EC2 P-256 COSE_Key (RFC 9053 §7.1.1).
func parseCOSEP256(b []byte) (*ecdh.PublicKey, error) {
	var m map[int]any
	if err := appAttestDecMode.Unmarshal(b, &m); err != nil {
		return nil, wrapf(FormatAppleAppAttest, CodeMalformed, err, "credentialPublicKey")
	}
	kty, _ := m[1].(uint64)
	crv, _ := m[-1].(uint64)
	x, _ := m[-2].([]byte)
	y, _ := m[-3].([]byte)
	if kty != 2 || crv != 1 || len(x) != 32 || len(y) != 32 {
		return nil, errf(FormatAppleAppAttest, CodeMalformed, "credentialPublicKey is not an EC2 P-256 COSE_Key")
	}
	k, err := ecdh.P256().NewPublicKey(append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, wrapf(FormatAppleAppAttest, CodeMalformed, err, "credentialPublicKey")
	}
	return k, nil
}

// AssertionOptions tune VerifyAssertion. All fields are required.
type AssertionOptions struct {
	PublicKey      *ecdsa.PublicKey
	AppID          string
	ClientDataHash []byte
	// PreviousCounter is the last counter stored for this key (0 after the
	// attestation); the assertion's must be greater.
	PreviousCounter uint32
}

// VerifyAssertion verifies an App Attest assertion (Apple, "Assessing
// fraud risk" / "Verify the assertion", steps 1–5): the signature by the
// attested key over SHA-256(authenticatorData ‖ clientDataHash), rpIdHash,
// and a counter greater than PreviousCounter. It returns the new counter,
// which the caller stores (see CounterStore).
func VerifyAssertion(a *Assertion, o AssertionOptions) (uint32, error) {
	const f = FormatAppleAppAttest
	if o.PublicKey == nil || o.AppID == "" || o.ClientDataHash == nil {
		return 0, errf(f, CodeMalformed, "assertion verification needs the key, app id and clientDataHash")
	}
	h := sha256.New()
	h.Write(a.AuthenticatorData.Raw)
	h.Write(o.ClientDataHash)
	nonce := h.Sum(nil)
	// The Secure Enclave signs nonce with ECDSA-SHA256, so the digest
	// verified is SHA-256(nonce).
	d := sha256.Sum256(nonce)
	if !ecdsa.VerifyASN1(o.PublicKey, d[:], a.Signature) {
		return 0, errf(f, CodeSignature, "assertion signature does not verify")
	}
	want := sha256.Sum256([]byte(o.AppID))
	if subtle.ConstantTimeCompare(want[:], a.AuthenticatorData.RPIDHash[:]) != 1 {
		return 0, errf(f, CodeAppMismatch, "rpIdHash is not SHA-256(%q)", o.AppID)
	}
	if a.AuthenticatorData.Counter <= o.PreviousCounter {
		return 0, errf(f, CodeCounter, "assertion counter %d is not above the stored %d (replayed or cloned key)", a.AuthenticatorData.Counter, o.PreviousCounter)
	}
	return a.AuthenticatorData.Counter, nil
}

func latest(cs []*x509.Certificate) time.Time {
	t := cs[0].NotBefore
	for _, c := range cs {
		if c.NotBefore.After(t) {
			t = c.NotBefore
		}
	}
	return t
}

func earliest(cs []*x509.Certificate) time.Time {
	t := cs[0].NotAfter
	for _, c := range cs {
		if c.NotAfter.Before(t) {
			t = c.NotAfter
		}
	}
	return t
}
