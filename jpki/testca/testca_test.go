package testca_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
)

var testNow = time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)

var (
	poolOnce sync.Once
	pool     *testca.KeyPool
)

func opts(t *testing.T) testca.Options {
	poolOnce.Do(func() {
		var err error
		if pool, err = testca.NewKeyPool(6); err != nil {
			panic(err)
		}
	})
	return testca.Options{Now: func() time.Time { return testNow }, GenerateKey: pool.Next}
}

func person() testca.Person {
	return testca.Person{Name: "鈴木\u3000一郎", BirthDate: jpki.NewBirthDate(1950, time.March, 3), Sex: jpki.SexMale, Address: "北海道札幌市", Municipality: "Sapporo-shi"}
}

func TestRootProfile(t *testing.T) {
	ca, err := testca.New(opts(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []jpki.Kind{jpki.KindSignature, jpki.KindAuth} {
		r := ca.Root(kind)
		if !r.IsCA || r.MaxPathLen > 0 || r.SignatureAlgorithm != x509.SHA256WithRSA || r.PublicKey.(interface{ Size() int }).Size() != 256 {
			t.Errorf("%s root profile: CA %v alg %s", kind, r.IsCA, r.SignatureAlgorithm)
		}
		if r.Subject.Organization[0] != jpki.OrganizationTest || len(r.Subject.OrganizationalUnit) != 2 || r.Subject.OrganizationalUnit[1] != jpki.OUJLIS {
			t.Errorf("%s root DN %s", kind, r.Subject)
		}
		if years := r.NotAfter.Sub(r.NotBefore).Hours() / 24 / 365; years < 9.9 || years > 10.1 {
			t.Errorf("%s root lifetime %.1f years", kind, years)
		}
	}
}

func TestPersistence(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := testca.Init(dir, opts(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testca.Init(dir, opts(t)); err == nil {
		t.Error("Init over an existing CA")
	}
	creds, err := ca.IssueCard(person(), testca.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Revoke(creds.AuthCert.SerialNumber, jpki.ReasonKeyCompromise, time.Time{}); err != nil {
		t.Fatal(err)
	}
	again, err := testca.Open(dir, opts(t))
	if err != nil {
		t.Fatal(err)
	}
	recs := again.Records()
	if len(recs) != 2 || !recs[1].Revoked() || recs[1].Reason != jpki.ReasonKeyCompromise || recs[0].Revoked() {
		t.Fatalf("records %+v", recs)
	}
	// Serials continue; the same roots sign.
	more, err := again.IssueCard(person(), testca.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if more.SignCert.SerialNumber.Int64() != creds.AuthCert.SerialNumber.Int64()+1 {
		t.Errorf("serial %s after %s", more.SignCert.SerialNumber, creds.AuthCert.SerialNumber)
	}
	if !bytes.Equal(more.SignCACert.Raw, creds.SignCACert.Raw) {
		t.Error("root changed across Open")
	}
	roots, err := os.ReadFile(filepath.Join(dir, "roots.pem"))
	if err != nil {
		t.Fatal(err)
	}
	var r jpki.Roots
	if err := r.AppendPEM(roots); err != nil || len(r.Certificates()) != 2 {
		t.Errorf("roots.pem: %v", err)
	}
	fi, _ := os.Stat(filepath.Join(dir, "ca.json"))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("ca.json mode %v", fi.Mode().Perm())
	}
	if _, err := testca.Open(t.TempDir(), opts(t)); err == nil {
		t.Error("Open of an empty directory")
	}
}

func TestPhoneValidityCap(t *testing.T) {
	ca, _ := testca.New(opts(t))
	card, err := ca.IssueCard(person(), testca.IssueOptions{Validity: 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	short, err := ca.IssueSmartphoneCertificate(card.SignCert, jpki.KindSignature, &card.SignKey.PublicKey, testca.IssueOptions{Validity: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !short.NotAfter.Equal(testNow.Add(30 * 24 * time.Hour)) {
		t.Errorf("short validity notAfter %s", short.NotAfter)
	}
	long, err := ca.IssueSmartphoneCertificate(card.SignCert, jpki.KindAuth, &card.AuthKey.PublicKey, testca.IssueOptions{Validity: 10 * 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !long.NotAfter.Equal(card.SignCert.NotAfter) {
		t.Errorf("long validity notAfter %s, want the card's %s", long.NotAfter, card.SignCert.NotAfter)
	}
	// Same municipality as the card: the same CRL partition.
	recs := ca.Records()
	if recs[2].DistributionPoint != recs[0].DistributionPoint || recs[2].Parent.Cmp(card.SignCert.SerialNumber) != 0 {
		t.Errorf("phone record %+v", recs[2])
	}
	// After the card expires, no phone certificate.
	if _, err := ca.IssueSmartphoneCertificate(card.SignCert, jpki.KindAuth, &card.AuthKey.PublicKey, testca.IssueOptions{NotBefore: card.SignCert.NotAfter}); err == nil {
		t.Error("phone certificate issued at the card's expiry")
	}
	other, _ := testca.New(opts(t))
	if _, err := other.IssueSmartphone(card.SignCert, testca.IssueOptions{}); err == nil {
		t.Error("phone certificate from another CA's card")
	}
}

func TestCRLsPartitioned(t *testing.T) {
	ca, _ := testca.New(opts(t))
	a, _ := ca.IssueCard(person(), testca.IssueOptions{})
	p := person()
	p.Municipality = "Naha-shi"
	b, _ := ca.IssueCard(p, testca.IssueOptions{})
	ca.Revoke(a.SignCert.SerialNumber, jpki.ReasonAffiliationChanged, time.Time{})
	ca.Revoke(b.AuthCert.SerialNumber, jpki.ReasonCessationOfOperation, time.Time{})
	dir := t.TempDir()
	crls, err := ca.PublishCRLs(dir, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Default + Sapporo + Naha for both kinds.
	if len(crls) != 6 {
		t.Fatalf("%d CRLs", len(crls))
	}
	total := 0
	for _, c := range crls {
		parsed, err := x509.ParseRevocationList(c.DER)
		if err != nil {
			t.Fatal(err)
		}
		if err := jpki.CheckCRL(parsed, c.DistributionPoint, ca.Root(c.Kind)); err != nil {
			t.Errorf("%s: %v", c.DistributionPoint, err)
		}
		if !parsed.NextUpdate.Equal(testNow.Add(testca.DefaultCRLValidity)) {
			t.Errorf("nextUpdate %s", parsed.NextUpdate)
		}
		total += len(parsed.RevokedCertificateEntries)
		if _, err := os.Stat(filepath.Join(dir, jpki.CRLFileName(c.DistributionPoint))); err != nil {
			t.Error(err)
		}
	}
	if total != 2 {
		t.Errorf("%d revoked entries across CRLs, want 2", total)
	}
	var index map[string]string
	b2, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if err := json.Unmarshal(b2, &index); err != nil || len(index) != 6 {
		t.Errorf("index.json %v %v", index, err)
	}
	if _, err := ca.Revoke(a.SignCert.SerialNumber, 1, time.Time{}); err == nil {
		t.Error("double revocation")
	}
	if _, err := ca.Revoke(b.SignCert.SerialNumber, jpki.ReasonRemoveFromCRL, time.Time{}); err == nil {
		t.Error("revoked with removeFromCRL")
	}
}

func TestPersonValidation(t *testing.T) {
	ca, _ := testca.New(opts(t))
	for name, mutate := range map[string]func(*testca.Person){
		"no name":        func(p *testca.Person) { p.Name = "" },
		"no address":     func(p *testca.Person) { p.Address = "" },
		"sex 0":          func(p *testca.Person) { p.Sex = 0 },
		"era mismatch":   func(p *testca.Person) { p.BirthDate.Era = jpki.EraReiwa },
		"impossible day": func(p *testca.Person) { p.BirthDate.Day = 31; p.BirthDate.Month = 2 },
	} {
		p := person()
		mutate(&p)
		if _, err := ca.IssueCard(p, testca.IssueOptions{}); err == nil {
			t.Errorf("%s: issued", name)
		}
	}
}
