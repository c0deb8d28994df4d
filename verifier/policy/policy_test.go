package policy_test

import (
	"context"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/policy"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
	testpki "github.com/mynumber-mdoc/mnc/verifier/verifiertest"
)

func ageResult(values map[string]any) *verifier.Result {
	return &verifier.Result{Valid: true, Documents: []*verifier.Document{{
		DocType: mdoc.DocTypeMNC, Valid: true, Values: map[string]map[string]any{mdoc.NameSpaceISO23220: values},
	}}}
}

func TestAgeOver(t *testing.T) {
	now := time.Date(2025, 3, 31, 15, 0, 0, 0, time.UTC) // 2025-04-01 00:00 JST
	cases := []struct {
		name    string
		values  map[string]any
		nn      int
		allowed bool
		rule    string
		code    string
	}{
		{"exact true", map[string]any{"age_over_20": true}, 20, true, "age_over_20", policy.CodeOK},
		{"exact false", map[string]any{"age_over_20": false}, 20, false, "age_over_20", policy.CodeAgeUnder},
		{"nearest true above", map[string]any{"age_over_18": true, "age_over_21": true, "age_over_65": true}, 20, true, "age_over_21 (§7.2.5 nearest true ≥ 20)", policy.CodeOK},
		{"nearest false below", map[string]any{"age_over_18": false, "age_over_21": false}, 20, false, "age_over_18 (§7.2.5 nearest false ≤ 20)", policy.CodeAgeUnder},
		{"true below does not answer", map[string]any{"age_over_18": true}, 20, false, "none", policy.CodeAgeUndetermined},
		{"false above does not answer", map[string]any{"age_over_21": false}, 20, false, "none", policy.CodeAgeUndetermined},
		{"nothing", map[string]any{"family_name": "x"}, 20, false, "none", policy.CodeAgeUndetermined},
		{"birth_date on the 20th birthday (JST)", map[string]any{"birth_date": mdoc.FullDate{Year: 2005, Month: 4, Day: 1}}, 20, true, "birth_date", policy.CodeOK},
		{"birth_date a day short", map[string]any{"birth_date": mdoc.FullDate{Year: 2005, Month: 4, Day: 2}}, 20, false, "birth_date", policy.CodeAgeUnder},
		{"age_over beats birth_date", map[string]any{"age_over_20": false, "birth_date": mdoc.FullDate{Year: 1900, Month: 1, Day: 1}}, 20, false, "age_over_20", policy.CodeAgeUnder},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := policy.AgeOver(ageResult(c.values), c.nn, now)
			if d.Allowed != c.allowed || d.Rule != c.rule || d.Code != c.code {
				t.Fatalf("got %+v", d)
			}
		})
	}
	invalid := ageResult(map[string]any{"age_over_20": true})
	invalid.Valid = false
	if d := policy.AgeOver(invalid, 20, now); d.Allowed || d.Code != policy.CodeInvalidPresentation {
		t.Fatalf("invalid presentation allowed: %+v", d)
	}
}

// TestInsurance runs the insurance policy on real verifications of
// documents issued and presented with the mdoc primitives.
func TestInsurance(t *testing.T) {
	is, _ := testpki.NewIssuer("mhlw")
	other, _ := testpki.NewIssuer("other")
	iacas := trust.NewIACAsFromCertificates([]*x509Cert{is.IACA, other.IACA})
	dev, dev2 := testpki.DeviceKey(), testpki.DeviceKey()
	st, _, _ := testpki.QRTranscript()
	valid := testpki.HICElements(mdoc.FullDate{Year: 2024, Month: 4, Day: 1}, mdoc.FullDate{Year: 2027, Month: 3, Day: 31})
	mnc := func(iss *testpki.Issuer, k any) testpki.Presented {
		d, err := iss.Issue(mdoc.DocTypeMNC, testpki.MNCElements(mdoc.FullDate{Year: 1990, Month: 4, Day: 1}, nil), dev, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return testpki.Presented{IssuerSigned: d, Selection: map[string][]string{mdoc.NameSpaceISO23220: {"family_name"}}, DeviceKey: dev}
	}
	hic := func(iss *testpki.Issuer, els map[string][]mdoc.Element, key int) testpki.Presented {
		k := dev
		if key == 2 {
			k = dev2
		}
		d, err := iss.Issue(mdoc.DocTypeHIC, els, k, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return testpki.Presented{IssuerSigned: d, Selection: map[string][]string{mdoc.NameSpaceHIC: {"insurer_number", "qualification_valid_from", "qualification_valid_until"}}, DeviceKey: k}
	}
	cases := []struct {
		name    string
		docs    []testpki.Presented
		now     time.Time
		allowed bool
		code    string
	}{
		{"ok", []testpki.Presented{hic(is, valid, 1), mnc(is, nil)}, testpki.Now, true, policy.CodeOK},
		{"no identity document", []testpki.Presented{hic(is, valid, 1)}, testpki.Now, false, policy.CodeIdentityMissing},
		{"no insurance document", []testpki.Presented{mnc(is, nil)}, testpki.Now, false, policy.CodeInsuranceMissing},
		{"different issuers", []testpki.Presented{hic(other, valid, 1), mnc(is, nil)}, testpki.Now, false, policy.CodeIssuerMismatch},
		{"different device keys", []testpki.Presented{hic(is, valid, 2), mnc(is, nil)}, testpki.Now, false, policy.CodeDeviceKeyMismatch},
		{"expired qualification", []testpki.Presented{hic(is, testpki.HICElements(mdoc.FullDate{Year: 2023, Month: 4, Day: 1}, mdoc.FullDate{Year: 2025, Month: 5, Day: 31}), 1), mnc(is, nil)}, testpki.Now, false, policy.CodeQualificationEnded},
		{"not yet valid qualification", []testpki.Presented{hic(is, testpki.HICElements(mdoc.FullDate{Year: 2025, Month: 6, Day: 2}, mdoc.FullDate{Year: 2027, Month: 3, Day: 31}), 1), mnc(is, nil)}, testpki.Now, false, policy.CodeQualificationNotYet},
		// 2025-06-01 15:30 UTC is 2025-06-02 00:30 in JST: the day JST says.
		{"starts today in JST, not UTC", []testpki.Presented{hic(is, testpki.HICElements(mdoc.FullDate{Year: 2025, Month: 6, Day: 2}, mdoc.FullDate{Year: 2027, Month: 3, Day: 31}), 1), mnc(is, nil)}, time.Date(2025, 6, 1, 15, 30, 0, 0, time.UTC), true, policy.CodeOK},
		{"last day is inclusive", []testpki.Presented{hic(is, testpki.HICElements(mdoc.FullDate{Year: 2024, Month: 4, Day: 1}, mdoc.FullDate{Year: 2025, Month: 6, Day: 1}), 1), mnc(is, nil)}, testpki.Now, true, policy.CodeOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := testpki.Present(st.Raw, c.docs...)
			if err != nil {
				t.Fatal(err)
			}
			r := verifier.Verify(context.Background(), b, verifier.Options{Trust: iacas, CurrentTime: testpki.Now, SessionTranscript: st.Raw})
			d := policy.Insurance(r, c.now, policy.InsuranceOptions{})
			if d.Allowed != c.allowed || d.Code != c.code {
				t.Fatalf("got %+v (verification %v)", d, r.Codes())
			}
		})
	}
}
