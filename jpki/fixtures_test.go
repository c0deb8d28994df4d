package jpki_test

import (
	"context"
	"crypto/x509"
	"sync"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
)

// testNow is the fixed clock of these tests.
var testNow = time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)

var (
	poolOnce sync.Once
	pool     *testca.KeyPool
	poolErr  error
)

// keyPool generates the RSA keys of the whole package once.
func keyPool(t testing.TB) *testca.KeyPool {
	poolOnce.Do(func() { pool, poolErr = testca.NewKeyPool(8) })
	if poolErr != nil {
		t.Fatal(poolErr)
	}
	return pool
}

func newCA(t testing.TB, production bool) *testca.CA {
	t.Helper()
	ca, err := testca.New(testca.Options{Production: production, Now: func() time.Time { return testNow }, GenerateKey: keyPool(t).Next})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func yamada() testca.Person {
	return testca.Person{
		Name:      "山田\u3000太郎",
		BirthDate: jpki.NewBirthDate(1990, time.April, 1),
		Sex:       jpki.SexMale,
		Address:   "東京都千代田区千代田１－１",
	}
}

func issue(t testing.TB, ca *testca.CA, p testca.Person) *testca.Credentials {
	t.Helper()
	c, err := ca.IssueCard(p, testca.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// verifier returns a verifier trusting ca's roots with CRLs published now
// into a fresh directory.
func verifier(t testing.TB, ca *testca.CA, mode jpki.Mode) *jpki.Verifier {
	t.Helper()
	dir := t.TempDir()
	if _, err := ca.PublishCRLs(dir, testNow.Add(-time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	return &jpki.Verifier{Roots: ca.TrustRoots(), Mode: mode, Revocation: &jpki.CRLChecker{Source: jpki.CRLDir(dir)}}
}

func at(t time.Time) jpki.VerifyOptions { return jpki.VerifyOptions{CurrentTime: t} }

func wantCode(t testing.TB, err error, code jpki.Code) {
	t.Helper()
	if got := jpki.CodeOf(err); got != code {
		t.Fatalf("code %q (err %v), want %q", got, err, code)
	}
}

func verifyCert(t testing.TB, v *jpki.Verifier, c *x509.Certificate, opts jpki.VerifyOptions) (*jpki.Verified, error) {
	t.Helper()
	return v.VerifyDER(context.Background(), c.Raw, opts)
}
