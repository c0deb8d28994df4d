package issuer

import (
	"bytes"
	"testing"
)

// FuzzParseInsuranceCSV feeds hostile CSV to the registry import: it must
// never panic, and every accepted row must be well formed.
func FuzzParseInsuranceCSV(f *testing.F) {
	f.Add([]byte(insuranceCSV))
	f.Add([]byte(insuranceCSV + "x,1990-13-01,1,a,06139999,s,1,01,1,2020-04-01,,30\n"))
	f.Add([]byte("\ufefffull_name\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		rows, err := ParseInsuranceCSV(bytes.NewReader(in))
		if err != nil {
			return
		}
		for _, r := range rows {
			if len(r.InsurerNumber) != 8 || len(r.PersonKey) != 64 || (r.InsuredRelationship != 1 && r.InsuredRelationship != 2) {
				t.Fatalf("accepted bad row %+v", r)
			}
		}
	})
}

func TestParseInsuranceCSVErrors(t *testing.T) {
	for _, tc := range []struct{ name, csv string }{
		{"wrong header", "name,birth\n"},
		{"bad insurer", insuranceCSV[:len(insuranceCSV)-1] + "\n山田　花子,1990-04-01,2,東京都,1234,s,1,01,1,2020-04-01,,30\n"},
		{"bad relationship", insuranceCSV + "山田　花子,1990-04-01,2,東京都,06139999,s,1,01,3,2020-04-01,,30\n"},
		{"bad date", insuranceCSV + "山田　花子,1990/04/01,2,東京都,06139999,s,1,01,1,2020-04-01,,30\n"},
		{"short row", insuranceCSV + "a,b\n"},
	} {
		if _, err := ParseInsuranceCSV(bytes.NewReader([]byte(tc.csv))); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}
