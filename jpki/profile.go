package jpki

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"strings"
)

// Bounds on certificates this package accepts.
const (
	// MaxCertificateLen bounds the DER length of a certificate. Real JPKI
	// certificates are under 2 KiB.
	MaxCertificateLen = 16 << 10
	// MinRSABits and MaxRSABits bound the modulus of a JPKI key; JPKI uses
	// RSA-2048 and the upper bound keeps verification cheap.
	MinRSABits = 2048
	MaxRSABits = 4096
)

// Kind tells the two JPKI certificate types apart.
type Kind int

// Certificate kinds. The zero value means "any" in VerifyOptions.
const (
	KindSignature Kind = 1 // 署名用電子証明書: carries the four basic facts
	KindAuth      Kind = 2 // 利用者証明用電子証明書: opaque id only
)

func (k Kind) String() string {
	switch k {
	case KindSignature:
		return "signature"
	case KindAuth:
		return "auth"
	}
	return "any"
}

// Form tells card certificates from smartphone ones.
type Form int

// Certificate forms, told apart by certificate policy: see the package
// documentation.
const (
	FormCard       Form = 1
	FormSmartphone Form = 2
)

func (f Form) String() string {
	switch f {
	case FormCard:
		return "card"
	case FormSmartphone:
		return "smartphone"
	}
	return "unknown"
}

// Sex is the sex code of the basic facts (OID …5.5.3).
type Sex int

// Sex codes as written in the certificate.
const (
	SexMale    Sex = 1
	SexFemale  Sex = 2
	SexUnknown Sex = 3
)

// ParseSex accepts the certificate codes "1", "2", "3" and the words
// "male", "female", "unknown".
func ParseSex(s string) (Sex, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "male", "m", "男":
		return SexMale, nil
	case "2", "female", "f", "女":
		return SexFemale, nil
	case "3", "unknown", "不明":
		return SexUnknown, nil
	}
	return 0, fmt.Errorf("jpki: sex %q: want 1 (male), 2 (female) or 3 (unknown)", s)
}

// Code returns the certificate encoding ("1", "2", "3").
func (s Sex) Code() string { return fmt.Sprint(int(s)) }

// ISO5218 returns the ISO/IEC 5218 code used by mdoc (ISO/IEC 23220-2 sex):
// 1 male, 2 female, 0 not known.
func (s Sex) ISO5218() int {
	switch s {
	case SexMale:
		return 1
	case SexFemale:
		return 2
	}
	return 0
}

// Unicode returns "男", "女" or "不明" (the mdoc element sex_unicode).
func (s Sex) Unicode() string {
	switch s {
	case SexMale:
		return "男"
	case SexFemale:
		return "女"
	}
	return "不明"
}

func (s Sex) String() string {
	switch s {
	case SexMale:
		return "male"
	case SexFemale:
		return "female"
	case SexUnknown:
		return "unknown"
	}
	return fmt.Sprintf("sex(%d)", int(s))
}

// NameSeparator separates family and given name in the name fact.
const NameSeparator = "\u3000"

// Facts are the four basic facts (基本4情報) of a signature certificate.
type Facts struct {
	// FullName is 氏名 exactly as in the certificate.
	FullName string
	// FamilyName and GivenName split FullName at the first U+3000;
	// GivenName is empty when the name has no separator.
	FamilyName string
	GivenName  string
	// NameMask is the raw name substitute-character mask ("" if absent):
	// one '0' or '1' per character of FullName, '1' marking a substitute
	// character (代替文字) that stands in for one the CA could not encode.
	NameMask string
	// NameSubstitutes lists the character (rune) indices of FullName that
	// NameMask marks.
	NameSubstitutes []int
	Sex             Sex
	BirthDate       BirthDate
	Address         string
	// AddressMask and AddressSubstitutes are as NameMask and NameSubstitutes,
	// for Address.
	AddressMask        string
	AddressSubstitutes []int
}

// ParseFacts reads the basic facts from the otherName entries of a
// subjectAltName. Name, sex, birth date and address are required, masks are
// optional, and no fact may appear twice.
func ParseFacts(names []OtherName) (*Facts, error) {
	seen := map[string]string{}
	for _, on := range names {
		key := on.TypeID.String()
		if !isFactOID(on.TypeID) {
			continue
		}
		if !on.IsUTF8String {
			return nil, newError(CodeProfile, "fact %s is not a UTF8String", key)
		}
		if _, dup := seen[key]; dup {
			return nil, newError(CodeProfile, "fact %s appears twice", key)
		}
		seen[key] = on.Value
	}
	get := func(oid asn1.ObjectIdentifier, what string) (string, error) {
		v, ok := seen[oid.String()]
		if !ok || v == "" {
			return "", newError(CodeProfile, "no %s fact (%s) in subjectAltName", what, oid)
		}
		return v, nil
	}
	f := &Facts{}
	var err error
	if f.FullName, err = get(OIDName, "name"); err != nil {
		return nil, err
	}
	f.FamilyName, f.GivenName, _ = strings.Cut(f.FullName, NameSeparator)
	f.NameMask = seen[OIDNameMask.String()]
	if f.NameSubstitutes, err = parseMask(f.NameMask, f.FullName); err != nil {
		return nil, wrapError(CodeProfile, err, "name mask")
	}
	sex, err := get(OIDSex, "sex")
	if err != nil {
		return nil, err
	}
	switch sex {
	case "1", "2", "3":
		f.Sex = Sex(sex[0] - '0')
	default:
		return nil, newError(CodeProfile, "sex code %q is not 1, 2 or 3", sex)
	}
	bd, err := get(OIDBirthDate, "birth date")
	if err != nil {
		return nil, err
	}
	if f.BirthDate, err = ParseBirthDate(bd); err != nil {
		return nil, wrapError(CodeProfile, err, "birth date fact")
	}
	if f.Address, err = get(OIDAddress, "address"); err != nil {
		return nil, err
	}
	f.AddressMask = seen[OIDAddressMask.String()]
	if f.AddressSubstitutes, err = parseMask(f.AddressMask, f.Address); err != nil {
		return nil, wrapError(CodeProfile, err, "address mask")
	}
	return f, nil
}

// OtherNames returns the facts as subjectAltName otherName entries in
// OID order; masks are included when set.
func (f *Facts) OtherNames() []OtherName {
	on := func(oid asn1.ObjectIdentifier, v string) OtherName {
		return OtherName{TypeID: oid, Value: v, IsUTF8String: true}
	}
	out := []OtherName{on(OIDName, f.FullName)}
	if f.NameMask != "" {
		out = append(out, on(OIDNameMask, f.NameMask))
	}
	out = append(out, on(OIDSex, f.Sex.Code()), on(OIDBirthDate, f.BirthDate.Encode()), on(OIDAddress, f.Address))
	if f.AddressMask != "" {
		out = append(out, on(OIDAddressMask, f.AddressMask))
	}
	return out
}

// MaskFor returns a substitute-character mask for value with the given
// character indices marked, the inverse of the mask parsing in ParseFacts.
func MaskFor(value string, substitutes ...int) string {
	n := len([]rune(value))
	b := []byte(strings.Repeat("0", n))
	for _, i := range substitutes {
		if i >= 0 && i < n {
			b[i] = '1'
		}
	}
	return string(b)
}

func parseMask(mask, value string) ([]int, error) {
	if mask == "" {
		return nil, nil
	}
	runes := []rune(value)
	if len(mask) != len(runes) {
		return nil, fmt.Errorf("mask has %d positions, value has %d characters", len(mask), len(runes))
	}
	var out []int
	for i := 0; i < len(mask); i++ {
		switch mask[i] {
		case '0':
		case '1':
			out = append(out, i)
		default:
			return nil, fmt.Errorf("mask position %d is %q, want '0' or '1'", i, mask[i])
		}
	}
	return out, nil
}

func isFactOID(oid asn1.ObjectIdentifier) bool {
	for _, o := range []asn1.ObjectIdentifier{OIDName, OIDNameMask, OIDSex, OIDBirthDate, OIDAddress, OIDAddressMask} {
		if oid.Equal(o) {
			return true
		}
	}
	return false
}

// Certificate is a parsed JPKI end-entity certificate that conforms to the
// profile of its kind and form.
type Certificate struct {
	// X509 is the parsed certificate; X509.Raw holds the exact bytes.
	X509 *x509.Certificate
	Kind Kind
	Form Form
	// ID is the subject common name: for an auth certificate the opaque id
	// that relying parties use as the account key.
	ID string
	// Facts are set for signature certificates and nil for auth ones.
	Facts *Facts
}

// ParseCertificate parses a DER certificate and checks it against the JPKI
// end-entity profile (see NewCertificate).
func ParseCertificate(der []byte) (*Certificate, error) {
	if len(der) > MaxCertificateLen {
		return nil, newError(CodeMalformed, "certificate is %d bytes, over the %d-byte limit", len(der), MaxCertificateLen)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, wrapError(CodeMalformed, err, "parse certificate")
	}
	return NewCertificate(c)
}

// NewCertificate classifies c by its certificate policy and checks the
// J-LIS profile, reporting a CodeProfile error with the reason:
//
//   - RSA key of MinRSABits…MaxRSABits bits, sha256WithRSAEncryption, not a CA;
//   - exactly one JPKI end-entity policy, which gives Kind and Form;
//   - signature: critical KeyUsage of exactly digitalSignature and
//     nonRepudiation, no extendedKeyUsage, the basic facts in subjectAltName;
//   - auth: critical KeyUsage of exactly digitalSignature, EKU clientAuth,
//     critical certificatePolicies, a subject CN, and no basic facts.
func NewCertificate(c *x509.Certificate) (*Certificate, error) {
	pub, ok := c.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, newError(CodeUnsupported, "public key is %T, JPKI uses RSA", c.PublicKey)
	}
	if bits := pub.N.BitLen(); bits < MinRSABits || bits > MaxRSABits {
		return nil, newError(CodeProfile, "RSA key is %d bits, want %d-%d", bits, MinRSABits, MaxRSABits)
	}
	if c.SignatureAlgorithm != x509.SHA256WithRSA {
		return nil, newError(CodeProfile, "signature algorithm %s, want sha256WithRSAEncryption", c.SignatureAlgorithm)
	}
	if c.BasicConstraintsValid && c.IsCA {
		return nil, newError(CodeProfile, "end-entity certificate is a CA")
	}
	out := &Certificate{X509: c, ID: c.Subject.CommonName}
	for _, p := range c.PolicyIdentifiers {
		var k Kind
		var f Form
		switch {
		case p.Equal(OIDPolicySignatureCard):
			k, f = KindSignature, FormCard
		case p.Equal(OIDPolicySignatureSmartphone):
			k, f = KindSignature, FormSmartphone
		case p.Equal(OIDPolicyAuthCard):
			k, f = KindAuth, FormCard
		case p.Equal(OIDPolicyAuthSmartphone):
			k, f = KindAuth, FormSmartphone
		default:
			continue
		}
		if out.Kind != 0 {
			return nil, newError(CodeProfile, "more than one JPKI certificate policy")
		}
		out.Kind, out.Form = k, f
	}
	if out.Kind == 0 {
		return nil, newError(CodeProfile, "no JPKI end-entity certificate policy (want %s or %s)", OIDPolicySignatureCard, OIDPolicyAuthCard)
	}
	kuCritical, policiesCritical := false, false
	var sanDER []byte
	for _, ext := range c.Extensions {
		switch {
		case ext.Id.Equal(oidExtKeyUsage):
			kuCritical = ext.Critical
		case ext.Id.Equal(oidExtCertificatePolicies):
			policiesCritical = ext.Critical
		case ext.Id.Equal(oidExtSubjectAltName):
			sanDER = ext.Value
		}
	}
	var facts *Facts
	if sanDER != nil {
		names, err := ParseOtherNames(sanDER)
		if err != nil {
			return nil, err
		}
		for _, on := range names {
			if isFactOID(on.TypeID) {
				if out.Kind == KindAuth {
					return nil, newError(CodeProfile, "auth certificate carries personal data (%s)", on.TypeID)
				}
			}
		}
		if out.Kind == KindSignature {
			if facts, err = ParseFacts(names); err != nil {
				return nil, err
			}
		}
	}
	switch out.Kind {
	case KindSignature:
		if !kuCritical || c.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment {
			return nil, newError(CodeProfile, "signature certificate key usage must be critical digitalSignature+nonRepudiation")
		}
		if len(c.ExtKeyUsage) != 0 || len(c.UnknownExtKeyUsage) != 0 {
			return nil, newError(CodeProfile, "signature certificate must not carry extendedKeyUsage")
		}
		if facts == nil {
			return nil, newError(CodeProfile, "signature certificate has no subjectAltName with the basic facts")
		}
		out.Facts = facts
	case KindAuth:
		if !kuCritical || c.KeyUsage != x509.KeyUsageDigitalSignature {
			return nil, newError(CodeProfile, "auth certificate key usage must be critical digitalSignature only")
		}
		hasClientAuth := false
		for _, u := range c.ExtKeyUsage {
			if u == x509.ExtKeyUsageClientAuth {
				hasClientAuth = true
			}
		}
		if !hasClientAuth {
			return nil, newError(CodeProfile, "auth certificate lacks extendedKeyUsage clientAuth")
		}
		if !policiesCritical {
			return nil, newError(CodeProfile, "auth certificate policies extension must be critical")
		}
		if out.ID == "" {
			return nil, newError(CodeProfile, "auth certificate has no subject CN (opaque id)")
		}
		for _, atv := range c.Subject.Names {
			if !atv.Type.Equal(oidAttrCountry) && !atv.Type.Equal(oidAttrCommonName) {
				return nil, newError(CodeProfile, "auth certificate subject carries %s; only C and CN are allowed", atv.Type)
			}
		}
	}
	return out, nil
}
