package mdoc

import (
	"strings"
)

// Deviation is a departure from ISO/IEC 18013-5 (or a standard it cites)
// that this package tolerates because published wallets emit it and it
// changes nothing that is signed or checked: the bytes as received are
// still what digests and signatures are computed over, and the value is
// still read unambiguously. Each deviation has a stable code; a verifier
// shows it as a warning, and VerifyOptions.Strict turns it into an error
// with the same code.
//
// The tolerated deviations are listed in the package documentation of
// package verifier; each has a Deviation… code here.
type Deviation struct {
	Code   Code
	Detail string
}

// Codes of tolerated deviations.
const (
	// DeviationKidText: the MSO's deviceKey COSE_Key carries kid (label 2)
	// as a text string; RFC 9052 §7.1 says bstr. The TypeScript libraries
	// @animo-id/mdoc and @auth0/mdl write a JWK's kid this way, so EU PID
	// presentations from wallets built on them carry it; multipaz and
	// isomdl both accept it. No check looks a key up by kid.
	DeviationKidText Code = "cose_key_kid_text"
	// DeviationTDateForm: an MSO validityInfo tdate has fractional
	// seconds or a UTC offset other than "Z"; §9.1.2.4 asks for
	// "YYYY-MM-DDThh:mm:ssZ". The instant is unambiguous (RFC 3339) and
	// is compared as such; sub-second precision cannot change a verdict
	// measured in seconds.
	DeviationTDateForm Code = "tdate_form"
)

// isStrictTDate reports whether s has the §9.1.2.4 profile of a tdate,
// "YYYY-MM-DDThh:mm:ssZ": UTC, whole seconds. It checks the form only;
// the value was parsed as RFC 3339 already.
func isStrictTDate(s string) bool {
	const form = "dddd-dd-ddTdd:dd:ddZ"
	if len(s) != len(form) {
		return false
	}
	for i := 0; i < len(form); i++ {
		if form[i] == 'd' {
			if !isDigit(s[i]) {
				return false
			}
		} else if s[i] != form[i] {
			return false
		}
	}
	return true
}

// msoDeviations lists the tolerated deviations of a parsed MSO.
func msoDeviations(mso *MobileSecurityObject) []Deviation {
	var out []Deviation
	if mso.DeviceKeyInfo.DeviceKey.KidText {
		out = append(out, Deviation{Code: DeviationKidText, Detail: "MSO deviceKey kid is a text string, not a byte string (RFC 9052 §7.1)"})
	}
	for _, nv := range mso.ValidityInfo.offProfile {
		name, text, _ := strings.Cut(nv, "=")
		out = append(out, Deviation{Code: DeviationTDateForm, Detail: "MSO validityInfo." + name + " is " + text + ", not YYYY-MM-DDThh:mm:ssZ (ISO 18013-5 §9.1.2.4)"})
	}
	return out
}
