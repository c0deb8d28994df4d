package mdoc

import "crypto/x509"

// Reader roles are asserted by certificate policies in the reader
// authentication certificate, issued by a reader CA the wallet trusts. The
// wallet releases restricted elements only to readers whose certificate
// carries the matching policy: insurance numbers only to medical
// institutions, the My Number (individual number) only to readers
// authorised to handle it under the My Number Act.
//
// The OIDs sit under a UUID arc (ITU-T X.667, 2.25.<uuid>), which needs no
// registration; a national scheme would replace them with its own.
const (
	// OIDReaderPolicyArc is the project's arc for reader policies.
	OIDReaderPolicyArc = "2.25.124728121633289929428106211328032084491"
	// OIDReaderPolicyMedical marks a medical institution (保険医療機関),
	// allowed to receive health-insurance qualification elements.
	OIDReaderPolicyMedical = OIDReaderPolicyArc + ".1"
	// OIDReaderPolicyIndividualNumber marks a reader authorised by law to
	// receive individual_number_unicode (the My Number).
	OIDReaderPolicyIndividualNumber = OIDReaderPolicyArc + ".2"
)

// ReaderRoles are the roles a reader certificate asserts.
type ReaderRoles struct {
	MedicalInstitution bool
	IndividualNumber   bool
}

// ReaderRolesOf reads the roles from a (verified) reader certificate.
func ReaderRolesOf(c *x509.Certificate) ReaderRoles {
	var r ReaderRoles
	for _, p := range c.Policies {
		switch p.String() {
		case OIDReaderPolicyMedical:
			r.MedicalInstitution = true
		case OIDReaderPolicyIndividualNumber:
			r.IndividualNumber = true
		}
	}
	return r
}

// Policies returns the certificate policies asserting r, for
// CertificateOptions.Policies when making a reader certificate.
func (r ReaderRoles) Policies() []x509.OID {
	var out []x509.OID
	add := func(s string) {
		oid, err := x509.ParseOID(s)
		if err != nil {
			panic("mdoc: bad reader policy OID " + s) // constants above: cannot happen
		}
		out = append(out, oid)
	}
	if r.MedicalInstitution {
		add(OIDReaderPolicyMedical)
	}
	if r.IndividualNumber {
		add(OIDReaderPolicyIndividualNumber)
	}
	return out
}
