// Package policy turns a verified presentation into the yes/no answer a
// relying party acts on, and says which rule decided: the age check of an
// age-verifying merchant (age_over_NN with the ISO/IEC 18013-5 §7.2.5
// fallback) and the insurance check of a clinic reader (health-insurance
// qualification document and identity document from the same issuer, bound
// to the same device key, qualification valid today in JST). Policies only
// read documents the verifier found valid; a Decision keeps nothing but the
// answer, the rule and a reason code.
package policy

import (
	"bytes"
	"fmt"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier"
)

// Reason codes of a Decision. They are stable.
const (
	CodeOK                  = "ok"
	CodeInvalidPresentation = "invalid_presentation" // the presentation itself failed verification
	CodeAgeUnder            = "age_under"            // the credential says the holder is not over NN
	CodeAgeUndetermined     = "age_undetermined"     // nothing returned answers the question
	CodeInsuranceMissing    = "insurance_missing"    // no valid insurance qualification document
	CodeIdentityMissing     = "identity_missing"     // no valid identity document
	CodeIssuerMismatch      = "issuer_mismatch"      // the two documents chain to different IACAs
	CodeDeviceKeyMismatch   = "device_key_mismatch"  // the two documents are bound to different device keys
	CodeQualificationNotYet = "qualification_not_yet_valid"
	CodeQualificationEnded  = "qualification_expired"
	CodeQualificationData   = "qualification_dates_missing"
)

// Decision is a policy's answer. Rule names the rule that decided, e.g.
// "age_over_20", "age_over_21 (§7.2.5 nearest true ≥ 20)" or
// "qualification_valid_until".
type Decision struct {
	Policy  string `json:"policy"`
	Allowed bool   `json:"allowed"`
	Rule    string `json:"rule"`
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

func deny(policy, rule, code, format string, args ...any) Decision {
	return Decision{Policy: policy, Rule: rule, Code: code, Message: fmt.Sprintf(format, args...)}
}

// ageNameSpaces are where age_over_NN live: ISO/IEC 23220-2 (the My Number
// Card document) and the ISO 18013-5 mDL.
var ageNameSpaces = []string{mdoc.NameSpaceISO23220, mdoc.NameSpaceMDL}

// AgeOver answers "is the holder at least nn years old?" from the valid
// documents of res. The rules, in order: the requested age_over_nn; the
// §7.2.5 substitute (nearest true age_over_MM with MM ≥ nn, else nearest
// false with MM ≤ nn, via mdoc.NearestAgeOver/AgeOverAnswer); birth_date
// when returned (age computed in JST, mdoc.AgeAt). Anything else is
// undetermined, which is a no.
func AgeOver(res *verifier.Result, nn int, now time.Time) Decision {
	const name = "age"
	if res == nil || !res.Valid {
		return deny(name, "presentation", CodeInvalidPresentation, "the presentation did not verify")
	}
	issued := map[int]bool{}
	var birth *mdoc.FullDate
	for _, d := range res.Documents {
		if !d.Valid {
			continue
		}
		for _, ns := range ageNameSpaces {
			for id, v := range d.Values[ns] {
				if mm, ok := mdoc.ParseAgeOver(id); ok {
					if b, ok := v.(bool); ok {
						issued[mm] = b
					}
				}
				if id == "birth_date" {
					if fd, ok := v.(mdoc.FullDate); ok {
						birth = &fd
					}
				}
			}
		}
	}
	if mm, ok := mdoc.NearestAgeOver(nn, issued); ok {
		over, decided := mdoc.AgeOverAnswer(nn, mm, issued[mm])
		rule := mdoc.AgeOverID(mm)
		if mm != nn {
			if issued[mm] {
				rule += fmt.Sprintf(" (§7.2.5 nearest true ≥ %d)", nn)
			} else {
				rule += fmt.Sprintf(" (§7.2.5 nearest false ≤ %d)", nn)
			}
		}
		if decided {
			if over {
				return Decision{Policy: name, Allowed: true, Rule: rule, Code: CodeOK}
			}
			return deny(name, rule, CodeAgeUnder, "not over %d", nn)
		}
	}
	if birth != nil {
		if now.IsZero() {
			now = time.Now()
		}
		if mdoc.AgeAt(*birth, now) >= nn {
			return Decision{Policy: name, Allowed: true, Rule: "birth_date", Code: CodeOK}
		}
		return deny(name, "birth_date", CodeAgeUnder, "not over %d", nn)
	}
	return deny(name, "none", CodeAgeUndetermined, "no returned element answers age_over_%d", nn)
}

// InsuranceOptions name the documents of the insurance check. Zero values
// are mdoc.DocTypeHIC, mdoc.NameSpaceHIC and mdoc.DocTypeMNC (the
// insurance document has no published standard doctype yet, so it is
// configurable).
type InsuranceOptions struct {
	InsuranceDocType   string
	InsuranceNameSpace string
	IdentityDocType    string
}

// Insurance decides a clinic's qualification check (マイナ保険証): a valid
// insurance document and a valid identity document, from the same issuer
// (same IACA), bound to the same device key, and today (in JST) within
// qualification_valid_from … qualification_valid_until, both inclusive.
func Insurance(res *verifier.Result, now time.Time, o InsuranceOptions) Decision {
	const name = "insurance"
	if o.InsuranceDocType == "" {
		o.InsuranceDocType = mdoc.DocTypeHIC
	}
	if o.InsuranceNameSpace == "" {
		o.InsuranceNameSpace = mdoc.NameSpaceHIC
	}
	if o.IdentityDocType == "" {
		o.IdentityDocType = mdoc.DocTypeMNC
	}
	if res == nil {
		return deny(name, "presentation", CodeInvalidPresentation, "no presentation")
	}
	hic, id := res.Document(o.InsuranceDocType), res.Document(o.IdentityDocType)
	if hic == nil || !hic.Valid {
		return deny(name, "insurance_document", CodeInsuranceMissing, "no valid %s document", o.InsuranceDocType)
	}
	if id == nil || !id.Valid {
		return deny(name, "identity_document", CodeIdentityMissing, "no valid %s document", o.IdentityDocType)
	}
	if hic.Anchor == nil || id.Anchor == nil || !bytes.Equal(hic.Anchor.Raw, id.Anchor.Raw) {
		return deny(name, "same_issuer", CodeIssuerMismatch, "insurance and identity documents come from different issuers")
	}
	if hic.DeviceKey == nil || id.DeviceKey == nil || !hic.DeviceKey.Equal(id.DeviceKey) {
		return deny(name, "same_device_key", CodeDeviceKeyMismatch, "insurance and identity documents are bound to different device keys")
	}
	if now.IsZero() {
		now = time.Now()
	}
	today := mdoc.NewFullDate(now.In(mdoc.JST))
	from, ok1 := hic.Values[o.InsuranceNameSpace]["qualification_valid_from"].(mdoc.FullDate)
	until, ok2 := hic.Values[o.InsuranceNameSpace]["qualification_valid_until"].(mdoc.FullDate)
	if !ok1 || !ok2 {
		return deny(name, "qualification_dates", CodeQualificationData, "qualification_valid_from/until not returned")
	}
	if before(today, from) {
		return deny(name, "qualification_valid_from", CodeQualificationNotYet, "qualification starts %s (today %s JST)", from, today)
	}
	if before(until, today) {
		return deny(name, "qualification_valid_until", CodeQualificationEnded, "qualification ended %s (today %s JST)", until, today)
	}
	return Decision{Policy: name, Allowed: true, Rule: "qualification_valid_until", Code: CodeOK}
}

func before(a, b mdoc.FullDate) bool {
	if a.Year != b.Year {
		return a.Year < b.Year
	}
	if a.Month != b.Month {
		return a.Month < b.Month
	}
	return a.Day < b.Day
}
