package issuer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/mdoc"
)

// IssuingAuthority is the issuing_authority element of every credential.
const IssuingAuthority = "MNC Development Issuer"

// PersonKey identifies a person across card certificates: the hex SHA-256
// of the four basic facts (name, birth date, sex code, address) separated by
// NUL. The key changes when the address changes; that is harmless because
// J-LIS revokes the old card certificate on an address change and linked
// revocation then revokes every credential derived from it. Including the
// address keeps two residents with the same name, birth date and sex apart,
// which a key without it would merge (and one enrolment would then revoke a
// stranger's phone). The insurance registry is keyed the same way, so the
// admin CSV gives the four facts (see ParseInsuranceCSV).
func PersonKey(f *jpki.Facts) string {
	h := sha256.Sum256([]byte(strings.Join([]string{f.FullName, f.BirthDate.Encode(), f.Sex.Code(), f.Address}, "\x00")))
	return hex.EncodeToString(h[:])
}

// MNCElements derives the My Number Card document's elements from the basic
// facts (基本4情報) in the card signature certificate:
//
//   - family_name / given_name: the name split at the first U+3000 (given
//     name omitted when the name has no separator); full_name_unicode
//     exactly as in the certificate.
//   - birth_date (full-date), birth_date_unicode ("1990年4月1日", Gregorian),
//     age_in_years, age_birth_year, age_over_18, age_over_20: computed at
//     issuance in JST with mdoc.AgeAt (the age changes at 00:00 JST on the
//     birthday). Omitted when the register does not know the full date.
//   - sex: ISO/IEC 5218 from the certificate code: "1" → 1 (male), "2" → 2
//     (female), "3" (unknown) → 0 (not known). sex_unicode 男/女/不明.
//   - resident_address_unicode, issue_date, expiry_date (JST calendar
//     dates), issuing_authority, issuing_country "JP".
//
// individual_number_unicode is never issued.
func MNCElements(f *jpki.Facts, issued, expiry time.Time) map[string][]mdoc.Element {
	iso := []mdoc.Element{
		{Identifier: "family_name", Value: f.FamilyName},
	}
	if f.GivenName != "" {
		iso = append(iso, mdoc.Element{Identifier: "given_name", Value: f.GivenName})
	}
	jp := []mdoc.Element{
		{Identifier: "full_name_unicode", Value: f.FullName},
		{Identifier: "resident_address_unicode", Value: f.Address},
		{Identifier: "sex_unicode", Value: f.Sex.Unicode()},
	}
	if bt, ok := f.BirthDate.Time(); ok {
		bd := mdoc.FullDate{Year: bt.Year(), Month: bt.Month(), Day: bt.Day()}
		age := mdoc.AgeAt(bd, issued)
		iso = append(iso,
			mdoc.Element{Identifier: "birth_date", Value: bd},
			mdoc.Element{Identifier: "age_in_years", Value: age},
			mdoc.Element{Identifier: "age_birth_year", Value: bd.Year},
			mdoc.Element{Identifier: "age_over_18", Value: age >= 18},
			mdoc.Element{Identifier: "age_over_20", Value: age >= 20},
		)
		jp = append(jp, mdoc.Element{Identifier: "birth_date_unicode", Value: f.BirthDate.Gregorian()})
	}
	iso = append(iso,
		mdoc.Element{Identifier: "sex", Value: f.Sex.ISO5218()},
		mdoc.Element{Identifier: "issue_date", Value: mdoc.NewFullDate(issued.In(mdoc.JST))},
		mdoc.Element{Identifier: "expiry_date", Value: mdoc.NewFullDate(expiry.In(mdoc.JST))},
		mdoc.Element{Identifier: "issuing_authority", Value: IssuingAuthority},
		mdoc.Element{Identifier: "issuing_country", Value: "JP"},
	)
	return map[string][]mdoc.Element{mdoc.NameSpaceISO23220: iso, mdoc.NameSpaceJP: jp}
}

// HICElements derives the health-insurance qualification document from a
// registry row. Dates are full-dates.
//
// qualification_valid_until is always issued. For an open-ended
// qualification it is the credential's last day (validUntil in JST): the
// qualification is confirmed up to then, and a refresh re-confirms it. It
// cannot simply be left out, because a verifier cannot tell an element that
// was never issued from one the holder withheld — a holder could otherwise
// hide the end date of a lapsed qualification.
func HICElements(r *store.Insurance, validUntil time.Time) (map[string][]mdoc.Element, error) {
	from, err := mdoc.ParseFullDate(r.QualificationFrom)
	if err != nil {
		return nil, fmt.Errorf("insurance qualification_valid_from %q: %w", r.QualificationFrom, err)
	}
	els := []mdoc.Element{
		{Identifier: "insurer_number", Value: r.InsurerNumber},
		{Identifier: "insured_card_symbol", Value: r.InsuredCardSymbol},
		{Identifier: "insured_number", Value: r.InsuredNumber},
		{Identifier: "insured_branch_number", Value: r.InsuredBranchNumber},
		{Identifier: "insured_relationship", Value: r.InsuredRelationship},
		{Identifier: "qualification_valid_from", Value: from},
		{Identifier: "copayment_ratio", Value: r.CopaymentRatioPercent},
	}
	until := mdoc.NewFullDate(validUntil.In(mdoc.JST))
	if r.QualificationUntil != "" {
		if until, err = mdoc.ParseFullDate(r.QualificationUntil); err != nil {
			return nil, fmt.Errorf("insurance qualification_valid_until %q: %w", r.QualificationUntil, err)
		}
	}
	els = append(els, mdoc.Element{Identifier: "qualification_valid_until", Value: until})
	return map[string][]mdoc.Element{mdoc.NameSpaceHIC: els}, nil
}

// insuranceValidAt reports whether a qualification covers the JST date of t.
func insuranceValidAt(r *store.Insurance, t time.Time) bool {
	day := t.In(mdoc.JST).Format("2006-01-02")
	return r.QualificationFrom <= day && (r.QualificationUntil == "" || day <= r.QualificationUntil)
}
