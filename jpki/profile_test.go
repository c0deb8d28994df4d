package jpki_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
)

func TestFactsEveryEraAndSex(t *testing.T) {
	ca := newCA(t, false)
	tests := []struct {
		birth  jpki.BirthDate
		sex    jpki.Sex
		wareki string
	}{
		{jpki.NewBirthDate(1905, time.March, 3), jpki.SexMale, "明治38年3月3日"},
		{jpki.NewBirthDate(1912, time.July, 30), jpki.SexFemale, "大正元年7月30日"},
		{jpki.NewBirthDate(1960, time.December, 31), jpki.SexUnknown, "昭和35年12月31日"},
		{jpki.NewBirthDate(1989, time.January, 8), jpki.SexMale, "平成元年1月8日"},
		{jpki.NewBirthDate(2020, time.February, 29), jpki.SexFemale, "令和2年2月29日"},
		{jpki.BirthDate{Era: jpki.EraUnknown, Year: 1950, Month: 1, Day: 1}, jpki.SexUnknown, "1950年1月1日"},
		{jpki.BirthDate{Era: jpki.EraUnknown, Year: 1950}, jpki.SexMale, "1950年"},
	}
	for _, tt := range tests {
		p := yamada()
		p.BirthDate, p.Sex = tt.birth, tt.sex
		creds := issue(t, ca, p)
		c, err := jpki.ParseCertificate(creds.SignCert.Raw)
		if err != nil {
			t.Fatalf("%s: %v", tt.birth.Encode(), err)
		}
		if c.Kind != jpki.KindSignature || c.Form != jpki.FormCard {
			t.Errorf("kind %s form %s", c.Kind, c.Form)
		}
		f := c.Facts
		if f.BirthDate != tt.birth || f.Sex != tt.sex {
			t.Errorf("%s: got birth %+v sex %s", tt.birth.Encode(), f.BirthDate, f.Sex)
		}
		if f.BirthDate.Wareki() != tt.wareki {
			t.Errorf("%s: wareki %q, want %q", tt.birth.Encode(), f.BirthDate.Wareki(), tt.wareki)
		}
		if f.FamilyName != "山田" || f.GivenName != "太郎" || f.Address != p.Address {
			t.Errorf("name/address %+v", f)
		}
		auth, err := jpki.ParseCertificate(creds.AuthCert.Raw)
		if err != nil {
			t.Fatal(err)
		}
		if auth.Kind != jpki.KindAuth || auth.Facts != nil || auth.ID == "" {
			t.Errorf("auth cert %+v", auth)
		}
	}
}

func TestSexCodes(t *testing.T) {
	for code, want := range map[jpki.Sex][3]any{jpki.SexMale: {1, "男", "1"}, jpki.SexFemale: {2, "女", "2"}, jpki.SexUnknown: {0, "不明", "3"}} {
		if code.ISO5218() != want[0] || code.Unicode() != want[1] || code.Code() != want[2] {
			t.Errorf("sex %d: %d %s %s", code, code.ISO5218(), code.Unicode(), code.Code())
		}
		parsed, err := jpki.ParseSex(code.Code())
		if err != nil || parsed != code {
			t.Errorf("ParseSex(%q) = %v, %v", code.Code(), parsed, err)
		}
	}
}

func TestSubstituteMasks(t *testing.T) {
	ca := newCA(t, false)
	p := yamada()
	p.Name = "髙橋\u3000𠮷男"
	p.NameSubstitutes = []int{0, 3}
	p.AddressSubstitutes = []int{5}
	c, err := jpki.ParseCertificate(issue(t, ca, p).SignCert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	f := c.Facts
	if f.NameMask != "10010" || len(f.NameSubstitutes) != 2 || f.NameSubstitutes[0] != 0 || f.NameSubstitutes[1] != 3 {
		t.Errorf("name mask %q substitutes %v", f.NameMask, f.NameSubstitutes)
	}
	if len(f.AddressSubstitutes) != 1 || f.AddressSubstitutes[0] != 5 {
		t.Errorf("address substitutes %v", f.AddressSubstitutes)
	}
	// No substitutes: an all-zero mask.
	c, _ = jpki.ParseCertificate(issue(t, ca, yamada()).SignCert.Raw)
	if c.Facts.NameMask != "00000" || c.Facts.NameSubstitutes != nil {
		t.Errorf("plain mask %q %v", c.Facts.NameMask, c.Facts.NameSubstitutes)
	}
}

func TestSmartphoneForm(t *testing.T) {
	ca := newCA(t, false)
	card := issue(t, ca, yamada())
	phone, err := ca.IssueSmartphone(card.SignCert, testca.IssueOptions{Validity: 100 * 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sign, err := jpki.ParseCertificate(phone.SignCert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if sign.Form != jpki.FormSmartphone || sign.Kind != jpki.KindSignature {
		t.Errorf("phone sign: %s %s", sign.Kind, sign.Form)
	}
	if sign.Facts.FullName != "山田\u3000太郎" || sign.ID == "" || sign.X509.SerialNumber.Cmp(card.SignCert.SerialNumber) == 0 {
		t.Errorf("phone cert must be new with the card's facts: %+v", sign)
	}
	if !sign.X509.NotAfter.Equal(card.SignCert.NotAfter) {
		t.Errorf("phone notAfter %s not capped at card's %s", sign.X509.NotAfter, card.SignCert.NotAfter)
	}
	auth, err := jpki.ParseCertificate(phone.AuthCert.Raw)
	if err != nil || auth.Form != jpki.FormSmartphone || auth.Kind != jpki.KindAuth {
		t.Errorf("phone auth: %+v %v", auth, err)
	}
	// A phone certificate cannot seed another.
	if _, err := ca.IssueSmartphone(phone.SignCert, testca.IssueOptions{}); err == nil {
		t.Error("phone certificate accepted as a card certificate")
	}
	// The auth card certificate cannot carry facts to a phone signature certificate.
	if _, err := ca.IssueSmartphoneCertificate(card.AuthCert, jpki.KindSignature, &phone.SignKey.PublicKey, testca.IssueOptions{}); err == nil {
		t.Error("signature phone certificate derived from an auth certificate")
	}
}

func TestProfileViolations(t *testing.T) {
	ca := newCA(t, false)
	oidPolicies := asn1.ObjectIdentifier{2, 5, 29, 32}
	setPolicy := func(oid asn1.ObjectIdentifier, critical bool) func(*x509.Certificate) {
		return func(c *x509.Certificate) {
			der, _ := asn1.Marshal([]struct{ P asn1.ObjectIdentifier }{{oid}})
			for i, e := range c.ExtraExtensions {
				if e.Id.Equal(oidPolicies) {
					c.ExtraExtensions[i] = pkix.Extension{Id: oidPolicies, Critical: critical, Value: der}
				}
			}
		}
	}
	dropExt := func(oid asn1.ObjectIdentifier) func(*x509.Certificate) {
		return func(c *x509.Certificate) {
			var out []pkix.Extension
			for _, e := range c.ExtraExtensions {
				if !e.Id.Equal(oid) {
					out = append(out, e)
				}
			}
			c.ExtraExtensions = out
		}
	}
	tests := []struct {
		name   string
		mutate func(*x509.Certificate)
		auth   bool // check the auth certificate instead of the signature one
		code   jpki.Code
	}{
		{"sign: key usage digitalSignature only", func(c *x509.Certificate) {
			if c.KeyUsage&x509.KeyUsageContentCommitment != 0 {
				c.KeyUsage = x509.KeyUsageDigitalSignature
			}
		}, false, jpki.CodeProfile},
		{"sign: has EKU", func(c *x509.Certificate) {
			if c.KeyUsage&x509.KeyUsageContentCommitment != 0 {
				c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
			}
		}, false, jpki.CodeProfile},
		{"sign: no policy", dropExt(oidPolicies), false, jpki.CodeProfile},
		{"sign: foreign policy", setPolicy(asn1.ObjectIdentifier{1, 2, 3, 4}, false), false, jpki.CodeProfile},
		{"sign: no facts", dropExt(asn1.ObjectIdentifier{2, 5, 29, 17}), false, jpki.CodeProfile},
		{"sign: is a CA", func(c *x509.Certificate) { c.BasicConstraintsValid, c.IsCA = true, true }, false, jpki.CodeProfile},
		{"auth: no clientAuth", func(c *x509.Certificate) { c.ExtKeyUsage = nil }, true, jpki.CodeProfile},
		{"auth: policies not critical", func(c *x509.Certificate) {
			if len(c.ExtKeyUsage) > 0 {
				setPolicy(jpki.OIDPolicyAuthCard, false)(c)
			}
		}, true, jpki.CodeProfile},
		{"auth: nonRepudiation", func(c *x509.Certificate) {
			if len(c.ExtKeyUsage) > 0 {
				c.KeyUsage |= x509.KeyUsageContentCommitment
			}
		}, true, jpki.CodeProfile},
		{"auth: personal data in subject", func(c *x509.Certificate) {
			if len(c.ExtKeyUsage) > 0 {
				c.RawSubject = nil
				c.Subject = pkix.Name{Country: []string{"JP"}, Organization: []string{"山田"}, CommonName: "X"}
			}
		}, true, jpki.CodeProfile},
		{"auth: facts in SAN", func(c *x509.Certificate) {
			if len(c.ExtKeyUsage) > 0 {
				san, _ := jpki.MarshalOtherNames([]jpki.OtherName{{TypeID: jpki.OIDName, Value: "山田"}})
				c.ExtraExtensions = append(c.ExtraExtensions, pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: san})
			}
		}, true, jpki.CodeProfile},
		{"sign: SHA-1", func(c *x509.Certificate) { c.SignatureAlgorithm = x509.SHA1WithRSA }, false, jpki.CodeProfile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds, err := ca.IssueCard(yamada(), testca.IssueOptions{Mutate: tt.mutate})
			if err != nil {
				t.Fatal(err)
			}
			c := creds.SignCert
			if tt.auth {
				c = creds.AuthCert
			}
			_, err = jpki.ParseCertificate(c.Raw)
			wantCode(t, err, tt.code)
		})
	}
}
