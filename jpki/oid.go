package jpki

import "encoding/asn1"

// Object identifiers of the JPKI certificate profile (J-LIS). J-LIS's arc is
// 1.2.392.200149.8.5.
var (
	// OIDPolicySignatureCard is the certificate policy of the card's
	// signature certificate (署名用電子証明書).
	OIDPolicySignatureCard = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 1, 1, 20}
	// OIDPolicyAuthCard is the certificate policy of the card's
	// user-authentication certificate (利用者証明用電子証明書).
	OIDPolicyAuthCard = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 1, 3, 30}

	// OIDPolicySignatureSmartphone marks a smartphone signature certificate.
	// J-LIS does not publish a distinct value we could rely on; this project
	// assumes the next arc after the card's policy (…1.1.21). It is defined
	// here only, so that a real value replaces it in one place.
	OIDPolicySignatureSmartphone = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 1, 1, 21}
	// OIDPolicyAuthSmartphone marks a smartphone user-authentication
	// certificate; an assumption of this project like
	// OIDPolicySignatureSmartphone (…1.3.31).
	OIDPolicyAuthSmartphone = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 1, 3, 31}

	// Basic-fact otherName type ids in subjectAltName of a signature
	// certificate; each value is a UTF8String in [0] EXPLICIT.
	OIDName        = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 5, 1} // 氏名: family U+3000 given
	OIDNameMask    = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 5, 2} // 氏名代替文字の使用位置
	OIDSex         = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 5, 3} // 性別: "1", "2", "3"
	OIDBirthDate   = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 5, 4} // 生年月日: EYYYYMMDD
	OIDAddress     = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 5, 5} // 住所
	OIDAddressMask = asn1.ObjectIdentifier{1, 2, 392, 200149, 8, 5, 5, 6} // 住所代替文字の使用位置

	oidExtSubjectAltName       = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidExtCRLDistributionPoint = asn1.ObjectIdentifier{2, 5, 29, 31}
	oidExtIssuingDistPoint     = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidExtCertificatePolicies  = asn1.ObjectIdentifier{2, 5, 29, 32}
	oidExtKeyUsage             = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidAttrCountry             = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidAttrCommonName          = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidAttrOrganization        = asn1.ObjectIdentifier{2, 5, 4, 10}
)

// Subject organisation values that tell production roots from test roots.
const (
	OrganizationProduction = "JPKI"
	OrganizationTest       = "JPKI-TEST"
)

// Organisational units of the two J-LIS root families.
const (
	OUSignature = "JPKI for digital signature"
	OUAuth      = "JPKI for user authentication"
	OUJLIS      = "Japan Agency for Local Authority Information Systems"
)
