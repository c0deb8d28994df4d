package keyattest

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
)

// OIDKeyDescription is the Android Key Attestation extension
// (https://source.android.com/docs/security/features/keystore/attestation,
// "Attestation extension"): the KeyDescription of the key the leaf
// certifies.
var OIDKeyDescription = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 1, 17}

// Bounds on a KeyDescription. KeyMint limits the challenge to 128 bytes
// (Tag::ATTESTATION_CHALLENGE, IKeyMintDevice.aidl); the package list holds
// the packages sharing the app's UID, which is short in practice.
const (
	MaxChallengeLen       = 128
	MaxKeyDescriptionLen  = 8 << 10
	maxAuthorizationTags  = 128
	maxPackages           = 32
	maxSignatureDigests   = 16
	maxDeviceIDLen        = 128
	maxVerifiedBootKeyLen = 256
)

// SecurityLevel is KeyMint's SecurityLevel (KeyDescription
// attestationSecurityLevel, keyMintSecurityLevel).
type SecurityLevel int

// Security levels.
const (
	SecuritySoftware           SecurityLevel = 0
	SecurityTrustedEnvironment SecurityLevel = 1
	SecurityStrongBox          SecurityLevel = 2
)

func (l SecurityLevel) String() string {
	switch l {
	case SecuritySoftware:
		return "Software"
	case SecurityTrustedEnvironment:
		return "TrustedEnvironment"
	case SecurityStrongBox:
		return "StrongBox"
	}
	return fmt.Sprintf("SecurityLevel(%d)", int(l))
}

// VerifiedBootState is RootOfTrust.verifiedBootState.
type VerifiedBootState int

// Verified boot states (Android Verified Boot 2.0 boot states).
const (
	BootVerified   VerifiedBootState = 0
	BootSelfSigned VerifiedBootState = 1
	BootUnverified VerifiedBootState = 2
	BootFailed     VerifiedBootState = 3
)

func (s VerifiedBootState) String() string {
	switch s {
	case BootVerified:
		return "Verified"
	case BootSelfSigned:
		return "SelfSigned"
	case BootUnverified:
		return "Unverified"
	case BootFailed:
		return "Failed"
	}
	return fmt.Sprintf("VerifiedBootState(%d)", int(s))
}

// RootOfTrust is AuthorizationList tag 704.
type RootOfTrust struct {
	VerifiedBootKey   []byte
	DeviceLocked      bool
	VerifiedBootState VerifiedBootState
	// VerifiedBootHash is present from attestation version 3.
	VerifiedBootHash []byte
}

// PackageInfo is an AttestationPackageInfo.
type PackageInfo struct {
	Name    string
	Version int64
}

// AttestationApplicationID is AuthorizationList tag 709, decoded from its
// OCTET STRING: the packages of the calling UID and the SHA-256 digests of
// their signing certificates.
type AttestationApplicationID struct {
	Packages         []PackageInfo
	SignatureDigests [][]byte
}

// AuthorizationList holds the tags this project reads from a KeyMint
// AuthorizationList; others are skipped (KeyMint adds tags over versions).
type AuthorizationList struct {
	Purposes                 []int64
	Algorithm                *int64
	KeySize                  *int64
	Origin                   *int64
	RootOfTrust              *RootOfTrust
	OSVersion                *int64 // e.g. 130000 for 13.0.0
	OSPatchLevel             *int64 // YYYYMM
	AttestationApplicationID *AttestationApplicationID
	// Device-ID attestation (tags 710–717), present only when the app asked
	// for it and the device supports it.
	Brand, Device, Product, Manufacturer, Model string
	VendorPatchLevel                            *int64 // YYYYMMDD
	BootPatchLevel                              *int64 // YYYYMMDD
}

// KeyDescription is the value of the attestation extension (KeyMint
// KeyDescription, attestation versions 1–4, 100, 200, 300, 400).
type KeyDescription struct {
	AttestationVersion       int64
	AttestationSecurityLevel SecurityLevel
	KeyMintVersion           int64
	KeyMintSecurityLevel     SecurityLevel
	AttestationChallenge     []byte
	UniqueID                 []byte
	SoftwareEnforced         AuthorizationList
	HardwareEnforced         AuthorizationList
	Raw                      []byte
}

// Authorization list tags (KeyMint Tag.aidl, tag number without its type).
const (
	tagPurpose                  = 1
	tagAlgorithm                = 2
	tagKeySize                  = 3
	tagOrigin                   = 702
	tagRootOfTrust              = 704
	tagOSVersion                = 705
	tagOSPatchLevel             = 706
	tagAttestationApplicationID = 709
	tagIDBrand                  = 710
	tagIDDevice                 = 711
	tagIDProduct                = 712
	tagIDManufacturer           = 716
	tagIDModel                  = 717
	tagVendorPatchLevel         = 718
	tagBootPatchLevel           = 719
)

// KeyDescriptionOf returns the attestation extension's value from cert, or
// an error with CodeMissingExtension.
func KeyDescriptionOf(cert *x509.Certificate) ([]byte, error) {
	for _, e := range cert.Extensions {
		if e.Id.Equal(OIDKeyDescription) {
			return e.Value, nil
		}
	}
	return nil, errf(FormatAndroidKey, CodeMissingExtension, "certificate %q has no key attestation extension %s", cert.Subject, OIDKeyDescription)
}

// ParseKeyDescription parses the DER of a KeyDescription. It rejects
// malformed DER, wrong types and trailing data; it does not judge the
// values (see VerifyAndroid and AndroidPolicy).
func ParseKeyDescription(der []byte) (*KeyDescription, error) {
	bad := func(what string) error {
		return errf(FormatAndroidKey, CodeMalformed, "KeyDescription: %s", what)
	}
	if len(der) > MaxKeyDescriptionLen {
		return nil, errf(FormatAndroidKey, CodeTooLarge, "KeyDescription is %d bytes, over %d", len(der), MaxKeyDescriptionLen)
	}
	in := derReader(der)
	var seq derReader
	if !in.readSequence(&seq) {
		return nil, bad("not a SEQUENCE")
	}
	if !in.empty() {
		return nil, bad("trailing data after the SEQUENCE")
	}
	kd := &KeyDescription{Raw: der}
	var asl, ksl int64
	if !seq.readInt(&kd.AttestationVersion) {
		return nil, bad("attestationVersion is not an INTEGER")
	}
	if !seq.readEnum(&asl) {
		return nil, bad("attestationSecurityLevel is not an ENUMERATED")
	}
	if !seq.readInt(&kd.KeyMintVersion) {
		return nil, bad("keyMintVersion is not an INTEGER")
	}
	if !seq.readEnum(&ksl) {
		return nil, bad("keyMintSecurityLevel is not an ENUMERATED")
	}
	for _, l := range []int64{asl, ksl} {
		if l < 0 || l > 2 {
			return nil, bad(fmt.Sprintf("security level %d is not 0, 1 or 2", l))
		}
	}
	kd.AttestationSecurityLevel, kd.KeyMintSecurityLevel = SecurityLevel(asl), SecurityLevel(ksl)
	if !seq.readOctetString(&kd.AttestationChallenge) {
		return nil, bad("attestationChallenge is not an OCTET STRING")
	}
	if len(kd.AttestationChallenge) > MaxChallengeLen {
		return nil, errf(FormatAndroidKey, CodeTooLarge, "attestationChallenge is %d bytes, over %d", len(kd.AttestationChallenge), MaxChallengeLen)
	}
	if !seq.readOctetString(&kd.UniqueID) {
		return nil, bad("uniqueId is not an OCTET STRING")
	}
	var err error
	if kd.SoftwareEnforced, err = parseAuthorizationList(&seq, "softwareEnforced"); err != nil {
		return nil, err
	}
	if kd.HardwareEnforced, err = parseAuthorizationList(&seq, "hardwareEnforced"); err != nil {
		return nil, err
	}
	if !seq.empty() {
		return nil, bad("trailing data inside the SEQUENCE")
	}
	return kd, nil
}

func parseAuthorizationList(seq *derReader, name string) (AuthorizationList, error) {
	var al AuthorizationList
	bad := func(format string, args ...any) error {
		return errf(FormatAndroidKey, CodeMalformed, "KeyDescription %s: %s", name, fmt.Sprintf(format, args...))
	}
	var list derReader
	if !seq.readSequence(&list) {
		return al, bad("not a SEQUENCE")
	}
	seen := map[int]bool{}
	for n := 0; !list.empty(); n++ {
		if n >= maxAuthorizationTags {
			return al, errf(FormatAndroidKey, CodeTooLarge, "KeyDescription %s has over %d tags", name, maxAuthorizationTags)
		}
		var t tlv
		if !list.read(&t) || t.class != classContext || !t.constructed {
			return al, bad("entry %d is not an explicit context-specific tag", n)
		}
		// Leniency: DER orders SEQUENCE components by tag, but Google's
		// reference parser (android-key-attestation) stopped enforcing the
		// order because shipped KeyMint implementations emit tags out of order;
		// we accept any order but refuse a repeated tag we read, so a value
		// cannot be given twice with different meanings.
		if seen[t.tag] {
			return al, bad("tag %d repeated", t.tag)
		}
		seen[t.tag] = true
		inner := derReader(t.content)
		var err error
		switch t.tag {
		case tagPurpose:
			al.Purposes, err = readIntSet(&inner)
		case tagAlgorithm:
			al.Algorithm, err = readIntPtr(&inner)
		case tagKeySize:
			al.KeySize, err = readIntPtr(&inner)
		case tagOrigin:
			al.Origin, err = readIntPtr(&inner)
		case tagOSVersion:
			al.OSVersion, err = readIntPtr(&inner)
		case tagOSPatchLevel:
			al.OSPatchLevel, err = readIntPtr(&inner)
		case tagVendorPatchLevel:
			al.VendorPatchLevel, err = readIntPtr(&inner)
		case tagBootPatchLevel:
			al.BootPatchLevel, err = readIntPtr(&inner)
		case tagRootOfTrust:
			al.RootOfTrust, err = readRootOfTrust(&inner)
		case tagAttestationApplicationID:
			var oct []byte
			if !inner.readOctetString(&oct) {
				err = fmt.Errorf("not an OCTET STRING")
				break
			}
			al.AttestationApplicationID, err = parseAttestationApplicationID(oct)
		case tagIDBrand, tagIDDevice, tagIDProduct, tagIDManufacturer, tagIDModel:
			var oct []byte
			if !inner.readOctetString(&oct) || len(oct) > maxDeviceIDLen {
				err = fmt.Errorf("not an OCTET STRING of at most %d bytes", maxDeviceIDLen)
				break
			}
			s := string(oct)
			switch t.tag {
			case tagIDBrand:
				al.Brand = s
			case tagIDDevice:
				al.Device = s
			case tagIDProduct:
				al.Product = s
			case tagIDManufacturer:
				al.Manufacturer = s
			case tagIDModel:
				al.Model = s
			}
		default:
			// Tags this project does not read are skipped, as Google's parser
			// does: KeyMint adds tags with every version. They must still be
			// one well-formed element.
			var skip tlv
			if !inner.read(&skip) {
				err = fmt.Errorf("malformed value")
			}
		}
		if err != nil {
			return al, bad("tag %d: %v", t.tag, err)
		}
		if !inner.empty() {
			return al, bad("tag %d has trailing data", t.tag)
		}
	}
	return al, nil
}

func readIntPtr(r *derReader) (*int64, error) {
	var v int64
	if !r.readInt(&v) {
		return nil, fmt.Errorf("not an INTEGER")
	}
	return &v, nil
}

func readIntSet(r *derReader) ([]int64, error) {
	var c []byte
	if !r.readExpect(classUniversal, tagSet, true, &c) {
		return nil, fmt.Errorf("not a SET OF INTEGER")
	}
	set := derReader(c)
	var out []int64
	for !set.empty() {
		if len(out) >= maxAuthorizationTags {
			return nil, fmt.Errorf("SET over %d members", maxAuthorizationTags)
		}
		var v int64
		if !set.readInt(&v) {
			return nil, fmt.Errorf("not a SET OF INTEGER")
		}
		out = append(out, v)
	}
	return out, nil
}

func readRootOfTrust(r *derReader) (*RootOfTrust, error) {
	var seq derReader
	if !r.readSequence(&seq) {
		return nil, fmt.Errorf("RootOfTrust is not a SEQUENCE")
	}
	rt := &RootOfTrust{}
	var state int64
	if !seq.readOctetString(&rt.VerifiedBootKey) || len(rt.VerifiedBootKey) > maxVerifiedBootKeyLen {
		return nil, fmt.Errorf("verifiedBootKey is not an OCTET STRING of at most %d bytes", maxVerifiedBootKeyLen)
	}
	if !seq.readBool(&rt.DeviceLocked) {
		return nil, fmt.Errorf("deviceLocked is not a BOOLEAN")
	}
	if !seq.readEnum(&state) || state < 0 || state > 3 {
		return nil, fmt.Errorf("verifiedBootState is not an ENUMERATED 0–3")
	}
	rt.VerifiedBootState = VerifiedBootState(state)
	if !seq.empty() { // verifiedBootHash, attestation version 3 and later
		if !seq.readOctetString(&rt.VerifiedBootHash) || len(rt.VerifiedBootHash) > maxVerifiedBootKeyLen {
			return nil, fmt.Errorf("verifiedBootHash is not an OCTET STRING")
		}
	}
	if !seq.empty() {
		return nil, fmt.Errorf("RootOfTrust has trailing data")
	}
	return rt, nil
}

func parseAttestationApplicationID(der []byte) (*AttestationApplicationID, error) {
	in := derReader(der)
	var seq derReader
	if !in.readSequence(&seq) || !in.empty() {
		return nil, fmt.Errorf("AttestationApplicationId is not one SEQUENCE")
	}
	id := &AttestationApplicationID{}
	var pkgs, digs []byte
	if !seq.readExpect(classUniversal, tagSet, true, &pkgs) {
		return nil, fmt.Errorf("package_infos is not a SET")
	}
	if !seq.readExpect(classUniversal, tagSet, true, &digs) {
		return nil, fmt.Errorf("signature_digests is not a SET")
	}
	if !seq.empty() {
		return nil, fmt.Errorf("AttestationApplicationId has trailing data")
	}
	p := derReader(pkgs)
	for !p.empty() {
		if len(id.Packages) >= maxPackages {
			return nil, fmt.Errorf("over %d packages", maxPackages)
		}
		var info derReader
		var name []byte
		var ver int64
		if !p.readSequence(&info) || !info.readOctetString(&name) || !info.readInt(&ver) || !info.empty() {
			return nil, fmt.Errorf("malformed AttestationPackageInfo")
		}
		id.Packages = append(id.Packages, PackageInfo{Name: string(name), Version: ver})
	}
	d := derReader(digs)
	for !d.empty() {
		if len(id.SignatureDigests) >= maxSignatureDigests {
			return nil, fmt.Errorf("over %d signature digests", maxSignatureDigests)
		}
		var dig []byte
		if !d.readOctetString(&dig) {
			return nil, fmt.Errorf("signature digest is not an OCTET STRING")
		}
		id.SignatureDigests = append(id.SignatureDigests, dig)
	}
	return id, nil
}
