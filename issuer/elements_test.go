package issuer

import (
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/mdoc"
)

// TestHICElementsAlwaysStateTheEnd: the end of the qualification is always
// issued, so a holder cannot make a lapsed qualification look open-ended by
// withholding it.
func TestHICElementsAlwaysStateTheEnd(t *testing.T) {
	validUntil := time.Date(2026, 6, 30, 16, 0, 0, 0, time.UTC) // 2026-07-01 01:00 JST
	cases := []struct {
		name, until string
		want        mdoc.FullDate
	}{
		{"closed qualification", "2027-03-31", mdoc.FullDate{Year: 2027, Month: 3, Day: 31}},
		{"open-ended: credential's last day in JST", "", mdoc.FullDate{Year: 2026, Month: 7, Day: 1}},
	}
	for _, tc := range cases {
		r := &store.Insurance{InsurerNumber: "06139999", InsuredNumber: "1", InsuredRelationship: 1, QualificationFrom: "2024-04-01", QualificationUntil: tc.until, CopaymentRatioPercent: 30}
		ns, err := HICElements(r, validUntil)
		if err != nil {
			t.Fatal(err)
		}
		var got any
		for _, e := range ns[mdoc.NameSpaceHIC] {
			if e.Identifier == "qualification_valid_until" {
				got = e.Value
			}
		}
		if got != tc.want {
			t.Errorf("%s: qualification_valid_until = %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, err := HICElements(&store.Insurance{QualificationFrom: "2024-04-01", QualificationUntil: "2027-13-01"}, validUntil); err == nil {
		t.Error("bad end date accepted")
	}
}
