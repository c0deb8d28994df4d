package jpki

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestOtherNamesRoundTrip(t *testing.T) {
	f := &Facts{
		FullName: "山田\u3000太郎", NameMask: "01000", Sex: SexMale,
		BirthDate: NewBirthDate(1990, 4, 1), Address: "東京都千代田区千代田１－１", AddressMask: MaskFor("東京都千代田区千代田１－１", 2),
	}
	der, err := MarshalOtherNames(f.OtherNames())
	if err != nil {
		t.Fatal(err)
	}
	names, err := ParseOtherNames(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 6 {
		t.Fatalf("%d names, want 6", len(names))
	}
	got, err := ParseFacts(names)
	if err != nil {
		t.Fatal(err)
	}
	if got.FamilyName != "山田" || got.GivenName != "太郎" || got.FullName != f.FullName {
		t.Errorf("name %q / %q / %q", got.FullName, got.FamilyName, got.GivenName)
	}
	if len(got.NameSubstitutes) != 1 || got.NameSubstitutes[0] != 1 {
		t.Errorf("name substitutes %v, want [1]", got.NameSubstitutes)
	}
	if len(got.AddressSubstitutes) != 1 || got.AddressSubstitutes[0] != 2 {
		t.Errorf("address substitutes %v, want [2]", got.AddressSubstitutes)
	}
	if got.BirthDate != f.BirthDate || got.Sex != SexMale || got.Address != f.Address {
		t.Errorf("facts %+v", got)
	}
}

func TestParseFactsErrors(t *testing.T) {
	base := func() []OtherName {
		return (&Facts{FullName: "山田\u3000花子", Sex: SexFemale, BirthDate: NewBirthDate(1970, 1, 1), Address: "大阪府"}).OtherNames()
	}
	replace := func(oid asn1.ObjectIdentifier, v string) []OtherName {
		ns := base()
		for i := range ns {
			if ns[i].TypeID.Equal(oid) {
				ns[i].Value = v
			}
		}
		return ns
	}
	drop := func(oid asn1.ObjectIdentifier) []OtherName {
		var out []OtherName
		for _, n := range base() {
			if !n.TypeID.Equal(oid) {
				out = append(out, n)
			}
		}
		return out
	}
	tests := []struct {
		name  string
		names []OtherName
	}{
		{"no name", drop(OIDName)},
		{"no sex", drop(OIDSex)},
		{"no birth date", drop(OIDBirthDate)},
		{"no address", drop(OIDAddress)},
		{"sex 9", replace(OIDSex, "9")},
		{"sex word", replace(OIDSex, "male")},
		{"bad birth date", replace(OIDBirthDate, "319900401")},
		{"duplicate name", append(base(), OtherName{TypeID: OIDName, Value: "x", IsUTF8String: true})},
		{"mask too short", append(base(), OtherName{TypeID: OIDNameMask, Value: "01", IsUTF8String: true})},
		{"mask bad digit", append(base(), OtherName{TypeID: OIDNameMask, Value: "01200", IsUTF8String: true})},
		{"not UTF8String", append(drop(OIDAddress), OtherName{TypeID: OIDAddress, IsUTF8String: false})},
	}
	for _, tt := range tests {
		_, err := ParseFacts(tt.names)
		if !errors.Is(err, ErrProfile) {
			t.Errorf("%s: err = %v, want profile", tt.name, err)
		}
	}
	// Names without a U+3000 keep everything in FamilyName.
	f, err := ParseFacts(replace(OIDName, "SMITH JOHN"))
	if err != nil || f.FamilyName != "SMITH JOHN" || f.GivenName != "" {
		t.Errorf("no separator: %+v, %v", f, err)
	}
}

func TestParseOtherNamesMalformed(t *testing.T) {
	good, _ := MarshalOtherNames([]OtherName{{TypeID: OIDName, Value: "a"}})
	tests := map[string][]byte{
		"empty":          {},
		"not a sequence": {0x04, 0x00},
		"trailing":       append(append([]byte(nil), good...), 0),
		"truncated":      good[:len(good)-1],
		"bad oid":        {0x30, 0x06, 0xA0, 0x04, 0x05, 0x00, 0xA0, 0x00},
		"two values":     {0x30, 0x0F, 0xA0, 0x0D, 0x06, 0x03, 0x2A, 0x03, 0x04, 0xA0, 0x06, 0x0C, 0x01, 'a', 0x0C, 0x01, 'b'},
		"bad utf8":       {0x30, 0x0C, 0xA0, 0x0A, 0x06, 0x03, 0x2A, 0x03, 0x04, 0xA0, 0x03, 0x0C, 0x01, 0xFF},
		"too long":       make([]byte, MaxSubjectAltNameLen+1),
	}
	for name, in := range tests {
		if _, err := ParseOtherNames(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want malformed", name, err)
		}
	}
	// Other GeneralName kinds are skipped; non-UTF8String values are kept raw.
	mixed := []byte{0x30, 0x13,
		0x82, 0x03, 'a', '.', 'b', // dNSName
		0xA0, 0x0C, 0x06, 0x03, 0x2A, 0x03, 0x04, 0xA0, 0x05, 0x13, 0x03, 'a', 'b', 'c'} // PrintableString value
	names, err := ParseOtherNames(mixed)
	if err != nil || len(names) != 1 || names[0].IsUTF8String || !bytes.Equal(names[0].RawValue, []byte{0x13, 0x03, 'a', 'b', 'c'}) {
		t.Errorf("mixed: %+v, %v", names, err)
	}
}

func TestDistributionPointsRoundTrip(t *testing.T) {
	name, _ := asn1.Marshal(pkixRDN("JP", "JPKI-TEST", "Chiyoda-ku"))
	ext, err := MarshalDistributionPoints(name)
	if err != nil {
		t.Fatal(err)
	}
	dps, err := ParseDistributionPoints(ext)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := DirNameString(name)
	if len(dps.DirNames) != 1 || dps.DirNames[0] != want || want != "OU=Chiyoda-ku,O=JPKI-TEST,C=JP" {
		t.Errorf("dirnames %q, want %q", dps.DirNames, want)
	}
	idp, _ := MarshalIssuingDistributionPoint(name)
	got, err := ParseIssuingDistributionPoint(idp)
	if err != nil || len(got.DirNames) != 1 || got.DirNames[0] != want {
		t.Errorf("IDP %+v, %v", got, err)
	}
	for _, bad := range [][]byte{{}, {0x30, 0x03, 0x30, 0x01}, {0x30, 0x02, 0x30, 0x00, 0x00}} {
		if _, err := ParseDistributionPoints(bad); err == nil {
			t.Errorf("ParseDistributionPoints(% x) succeeded", bad)
		}
	}
}

func pkixRDN(c, o, ou string) pkix.RDNSequence {
	return pkix.RDNSequence{
		{{Type: oidAttrCountry, Value: c}},
		{{Type: oidAttrOrganization, Value: o}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: ou}},
	}
}

func FuzzParseOtherNames(f *testing.F) {
	facts := &Facts{FullName: "山田\u3000太郎", NameMask: "00000", Sex: SexMale, BirthDate: NewBirthDate(1990, 4, 1), Address: "東京都"}
	seed, _ := MarshalOtherNames(facts.OtherNames())
	f.Add(seed)
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x05, 0x82, 0x03, 'a', '.', 'b'})
	f.Fuzz(func(t *testing.T, b []byte) {
		names, err := ParseOtherNames(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error without malformed code: %v", err)
			}
			return
		}
		if len(names) > MaxGeneralNames {
			t.Fatalf("%d names over the limit", len(names))
		}
		// Facts parsing must not panic on anything the parser accepts.
		ParseFacts(names)
		// UTF-8 entries survive a re-encode.
		var utf []OtherName
		for _, n := range names {
			if n.IsUTF8String {
				utf = append(utf, n)
			}
		}
		der, err := MarshalOtherNames(utf)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseOtherNames(der)
		if err != nil || len(again) != len(utf) {
			t.Fatalf("re-parse: %d names, %v", len(again), err)
		}
		for i := range utf {
			if again[i].Value != utf[i].Value || !again[i].TypeID.Equal(utf[i].TypeID) {
				t.Fatalf("entry %d changed", i)
			}
		}
	})
}

func FuzzParseDistributionPoints(f *testing.F) {
	name, _ := asn1.Marshal(pkixRDN("JP", "JPKI", "Minato-ku"))
	seed, _ := MarshalDistributionPoints(name, name)
	f.Add(seed)
	idp, _ := MarshalIssuingDistributionPoint(name)
	f.Add(idp)
	f.Fuzz(func(t *testing.T, b []byte) {
		if dps, err := ParseDistributionPoints(b); err == nil && len(dps.DirNames)+len(dps.URIs) > MaxDistributionPoints {
			t.Fatal("over the limit")
		}
		ParseIssuingDistributionPoint(b)
	})
}

// TestFuzzCorpusCommitted keeps the committed seed corpora from vanishing.
func TestFuzzCorpusCommitted(t *testing.T) {
	for _, dir := range []string{"FuzzParseOtherNames", "FuzzParseDistributionPoints"} {
		m, _ := filepath.Glob(filepath.Join("testdata", "fuzz", dir, "*"))
		if len(m) == 0 {
			if _, err := os.Stat("testdata"); err != nil {
				t.Skip("no testdata yet")
			}
			t.Errorf("no committed corpus for %s", dir)
		}
	}
}
