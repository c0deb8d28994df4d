package keyattest

import (
	"bytes"
	"crypto"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"slices"
	"time"
)

// Bounds on an Android attestation chain. Real chains have 3–5
// certificates (leaf, one or two intermediates, with Remote Key
// Provisioning a Droid CA2/CA3 pair, and the root).
const (
	MaxChainCerts = 8
	MaxCertBytes  = 16 << 10
	MaxChainBytes = MaxChainCerts * MaxCertBytes
)

// AndroidOptions tune VerifyAndroid. Zero values: Roots nil is
// GoogleRoots(); Environment "" is Production; Challenge nil skips the
// challenge check (the issuer always sets it; the check command only with
// --challenge); PackageName "" and SigningCertDigests nil skip the app
// check; CurrentTime zero is now; Status nil skips revocation.
type AndroidOptions struct {
	Roots              *Roots
	Environment        Environment
	Challenge          []byte
	PackageName        string
	SigningCertDigests [][]byte
	CurrentTime        time.Time
	Status             *StatusList
}

// AndroidAttestation is a verified Android Key Attestation.
type AndroidAttestation struct {
	Chain          []*x509.Certificate
	Root           *x509.Certificate // the trusted anchor the chain ends in
	KeyDescription *KeyDescription
	PublicKey      crypto.PublicKey // the attested key (the leaf's)
	Facts          Facts
}

// ParseAndroidChain parses a DER chain, leaf first.
func ParseAndroidChain(ders [][]byte) ([]*x509.Certificate, error) {
	if len(ders) == 0 {
		return nil, errf(FormatAndroidKey, CodeMalformed, "empty certificate chain")
	}
	if len(ders) > MaxChainCerts {
		return nil, errf(FormatAndroidKey, CodeTooLarge, "chain has %d certificates, over %d", len(ders), MaxChainCerts)
	}
	out := make([]*x509.Certificate, 0, len(ders))
	for i, d := range ders {
		if len(d) > MaxCertBytes {
			return nil, errf(FormatAndroidKey, CodeTooLarge, "certificate %d is %d bytes, over %d", i, len(d), MaxCertBytes)
		}
		c, err := parseCertificate(d)
		if err != nil {
			return nil, wrapf(FormatAndroidKey, CodeMalformed, err, "certificate %d", i)
		}
		out = append(out, c)
	}
	return out, nil
}

// VerifyAndroid verifies an Android Key Attestation certificate chain,
// leaf first (https://developer.android.com/privacy-and-security/security-key-attestation):
//
//  1. each certificate is signed by the next, and the chain ends in one of
//     the trusted roots (the last certificate is that root, a re-issue of
//     it with the same key, or is signed by it);
//  2. every certificate and the anchor are valid at CurrentTime;
//  3. no certificate is on the status list;
//  4. only the leaf carries the KeyDescription extension, and it parses;
//  5. attestationChallenge equals Challenge; the attestationApplicationId
//     names PackageName and one of SigningCertDigests;
//  6. a simulated root is refused in production.
//
// Device policy (security level, verified boot, lock, OS) is not judged
// here: it is in the returned Facts, for AndroidPolicy.
//
// Leniencies, each matching what Google's reference verifier accepts and
// each tested (TestLeniency*, with recorded chains where one shows it):
//   - intermediates are not required to carry CA basicConstraints or
//     keyCertSign (some shipped devices' batch certificates do not); the
//     forgery this would allow — an attested app key signing a fake leaf —
//     is refused by rule 4;
//   - issuer and subject names are not compared, only signatures;
//   - a presented root whose key is a trusted root's key is replaced by the
//     trusted copy, whose validity is checked instead: Google re-issues the
//     root certificate with the same key (2016, 2019, 2021, 2022) and
//     devices keep sending the issuance they were provisioned with, which
//     may have expired;
//   - see parseCertificate for BER booleans.
func VerifyAndroid(chain []*x509.Certificate, o AndroidOptions) (*AndroidAttestation, error) {
	const f = FormatAndroidKey
	if len(chain) == 0 {
		return nil, errf(f, CodeMalformed, "empty certificate chain")
	}
	if len(chain) > MaxChainCerts {
		return nil, errf(f, CodeTooLarge, "chain has %d certificates, over %d", len(chain), MaxChainCerts)
	}
	roots := o.Roots
	if roots == nil {
		roots = GoogleRoots()
	}
	env := o.Environment.orProduction()
	at := o.CurrentTime
	if at.IsZero() {
		at = time.Now()
	}
	for i, c := range chain[1:] {
		if _, err := KeyDescriptionOf(c); err == nil {
			return nil, errf(f, CodeUntrusted, "certificate %d is not the leaf but carries a key attestation extension", i+1)
		}
	}
	for i := 0; i+1 < len(chain); i++ {
		if err := checkSignedBy(chain[i], chain[i+1]); err != nil {
			return nil, wrapf(f, CodeUntrusted, err, "certificate %d is not signed by certificate %d", i, i+1)
		}
	}
	last := chain[len(chain)-1]
	anchor, checkLast := findAnchor(last, roots, at)
	if anchor == nil {
		return nil, errf(f, CodeUntrusted, "chain ends in %q, which is neither a trusted root nor signed by one", last.Subject)
	}
	if IsSimulatedRoot(anchor) && env == Production {
		return nil, errf(f, CodeSimulatedRoot, "chain ends in a simulated development root, refused in production")
	}
	validity := chain[:len(chain)-1]
	if checkLast {
		validity = chain
	}
	from, until := anchor.NotBefore, anchor.NotAfter
	for i, c := range append(slices.Clone(validity), anchor) {
		if at.Before(c.NotBefore) || at.After(c.NotAfter) {
			return nil, errf(f, CodeExpired, "certificate %d (%q) is valid %s to %s, not at %s", i, c.Subject,
				c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
		}
		if c.NotBefore.After(from) {
			from = c.NotBefore
		}
		if c.NotAfter.Before(until) {
			until = c.NotAfter
		}
	}
	if o.Status != nil {
		if err := o.Status.Check(chain); err != nil {
			return nil, err
		}
	}
	raw, err := KeyDescriptionOf(chain[0])
	if err != nil {
		return nil, err
	}
	kd, err := ParseKeyDescription(raw)
	if err != nil {
		return nil, err
	}
	if o.Challenge != nil && subtle.ConstantTimeCompare(kd.AttestationChallenge, o.Challenge) != 1 {
		return nil, errf(f, CodeChallengeMismatch, "attestationChallenge %x is not the expected %x", kd.AttestationChallenge, o.Challenge)
	}
	appID := kd.SoftwareEnforced.AttestationApplicationID
	if appID == nil {
		appID = kd.HardwareEnforced.AttestationApplicationID
	}
	if o.PackageName != "" || len(o.SigningCertDigests) > 0 {
		if appID == nil {
			return nil, errf(f, CodeAppMismatch, "the attestation has no attestationApplicationId")
		}
		if o.PackageName != "" && !slices.ContainsFunc(appID.Packages, func(p PackageInfo) bool { return p.Name == o.PackageName }) {
			return nil, errf(f, CodeAppMismatch, "package %q is not among the attested packages %v", o.PackageName, packageNames(appID))
		}
		if len(o.SigningCertDigests) > 0 && !slices.ContainsFunc(appID.SignatureDigests, func(d []byte) bool {
			return slices.ContainsFunc(o.SigningCertDigests, func(w []byte) bool { return bytes.Equal(d, w) })
		}) {
			return nil, errf(f, CodeAppMismatch, "no attested signing-certificate digest is the configured one")
		}
	}
	a := &AndroidAttestation{Chain: chain, Root: anchor, KeyDescription: kd, PublicKey: chain[0].PublicKey}
	a.Facts = androidFacts(kd, appID)
	a.Facts.Environment = string(Production)
	if IsSimulatedRoot(anchor) {
		a.Facts.Environment, a.Facts.Simulated = string(Development), true
	}
	a.Facts.Root = anchor.Subject.String()
	a.Facts.ChainLength = len(chain)
	a.Facts.ValidFrom, a.Facts.ValidUntil = from.UTC(), until.UTC()
	return a, nil
}

// checkSignedBy checks child's signature with parent's key, without the CA
// checks of x509.Certificate.CheckSignatureFrom (see VerifyAndroid).
func checkSignedBy(child, parent *x509.Certificate) error {
	return parent.CheckSignature(child.SignatureAlgorithm, child.RawTBSCertificate, child.Signature)
}

// findAnchor returns the trusted root the chain's last certificate leads
// to, and whether last itself must be checked for validity (true when last
// is not a root but signed by one).
func findAnchor(last *x509.Certificate, roots *Roots, at time.Time) (*x509.Certificate, bool) {
	for _, r := range roots.certs {
		if bytes.Equal(r.RawSubjectPublicKeyInfo, last.RawSubjectPublicKeyInfo) {
			// The presented root must at least be self-signed by that key.
			if checkSignedBy(last, last) == nil {
				return bestIssuance(roots, r, at), false
			}
		}
	}
	for _, r := range roots.certs {
		if checkSignedBy(last, r) == nil {
			return bestIssuance(roots, r, at), true
		}
	}
	return nil, false
}

// bestIssuance returns, among the roots with r's key (Google's re-issues
// of one key), one valid at at, preferring the one valid longest; if none
// is valid then, r (whose validity check then fails).
func bestIssuance(roots *Roots, r *x509.Certificate, at time.Time) *x509.Certificate {
	var best *x509.Certificate
	for _, c := range roots.certs {
		if !bytes.Equal(c.RawSubjectPublicKeyInfo, r.RawSubjectPublicKeyInfo) || at.Before(c.NotBefore) || at.After(c.NotAfter) {
			continue
		}
		if best == nil || c.NotAfter.After(best.NotAfter) {
			best = c
		}
	}
	if best == nil {
		return r
	}
	return best
}

func packageNames(id *AttestationApplicationID) []string {
	var out []string
	for _, p := range id.Packages {
		out = append(out, p.Name)
	}
	return out
}

func androidFacts(kd *KeyDescription, appID *AttestationApplicationID) Facts {
	hw := kd.HardwareEnforced
	f := Facts{
		Format:               FormatAndroidKey,
		SecurityLevel:        kd.AttestationSecurityLevel.String(),
		KeyMintSecurityLevel: kd.KeyMintSecurityLevel.String(),
		AttestationVersion:   kd.AttestationVersion,
		Challenge:            hex.EncodeToString(kd.AttestationChallenge),
	}
	// Only hardware-enforced values describe the device: software-enforced
	// ones are whatever the (possibly compromised) OS said.
	if rt := hw.RootOfTrust; rt != nil {
		f.VerifiedBootState = rt.VerifiedBootState.String()
		locked := rt.DeviceLocked
		f.DeviceLocked = &locked
	}
	if hw.OSVersion != nil {
		f.OSVersion = androidOSVersion(*hw.OSVersion)
	}
	if hw.OSPatchLevel != nil {
		f.OSPatchLevel = androidPatchLevel(*hw.OSPatchLevel)
	}
	if appID != nil {
		f.PackageNames = packageNames(appID)
		for _, d := range appID.SignatureDigests {
			f.SigningCertDigests = append(f.SigningCertDigests, hex.EncodeToString(d))
		}
	}
	f.Brand, f.Manufacturer, f.Model, f.Device, f.Product = hw.Brand, hw.Manufacturer, hw.Model, hw.Device, hw.Product
	return f
}
