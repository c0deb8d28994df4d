package jpki_test

import (
	"context"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
)

func TestCRLRevoked(t *testing.T) {
	ca := newCA(t, false)
	creds := issue(t, ca, yamada())
	bystander := issue(t, ca, yamada())
	if _, err := ca.Revoke(creds.SignCert.SerialNumber, jpki.ReasonAffiliationChanged, testNow.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	v := verifier(t, ca, jpki.ModeTest)
	_, err := verifyCert(t, v, creds.SignCert, at(testNow))
	wantCode(t, err, jpki.CodeRevoked)
	if !errors.Is(err, jpki.ErrRevoked) {
		t.Error("errors.Is(err, ErrRevoked) = false")
	}
	rev, ok := jpki.RevokedDetail(err)
	if !ok || rev.Reason != jpki.ReasonAffiliationChanged || rev.SerialNumber.Cmp(creds.SignCert.SerialNumber) != 0 || !rev.RevokedAt.Equal(testNow.Add(-2*time.Hour)) {
		t.Errorf("revocation detail %+v", rev)
	}
	if _, err := verifyCert(t, v, bystander.SignCert, at(testNow)); err != nil {
		t.Errorf("unrevoked certificate: %v", err)
	}
	// The auth certificate of the same card is on another CRL and not revoked.
	if _, err := verifyCert(t, v, creds.AuthCert, at(testNow)); err != nil {
		t.Errorf("auth certificate: %v", err)
	}
}

func TestCRLFreshness(t *testing.T) {
	ca := newCA(t, false)
	creds := issue(t, ca, yamada())
	dir := t.TempDir()
	published := testNow.Add(time.Hour)
	if _, err := ca.PublishCRLs(dir, published, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	checker := &jpki.CRLChecker{Source: jpki.CRLDir(dir)}
	v := &jpki.Verifier{Roots: ca.TrustRoots(), Mode: jpki.ModeTest, Revocation: checker}
	tests := []struct {
		name  string
		now   time.Time
		grace time.Duration
		code  jpki.Code
	}{
		{"fresh", published.Add(time.Hour), 0, ""},
		{"at nextUpdate", published.Add(24 * time.Hour), 0, ""},
		{"stale", published.Add(25 * time.Hour), 0, jpki.CodeCRLStale},
		{"stale within grace", published.Add(25 * time.Hour), 2 * time.Hour, ""},
		{"stale past grace", published.Add(27 * time.Hour), 2 * time.Hour, jpki.CodeCRLStale},
		{"not yet issued", published.Add(-time.Minute), 0, jpki.CodeCRLStale},
	}
	for _, tt := range tests {
		checker.Grace = tt.grace
		_, err := verifyCert(t, v, creds.SignCert, at(tt.now))
		if jpki.CodeOf(err) != tt.code {
			t.Errorf("%s: %v, want code %q", tt.name, err, tt.code)
		}
	}
}

func TestCRLWrongSigner(t *testing.T) {
	ca := newCA(t, false)
	creds := issue(t, ca, yamada())
	// An impostor CA with the same DNs publishes a CRL under the same
	// distribution point names: its signature must not be accepted.
	impostor := newCA(t, false)
	issue(t, impostor, yamada())
	dir := t.TempDir()
	if _, err := impostor.PublishCRLs(dir, testNow, 0); err != nil {
		t.Fatal(err)
	}
	v := &jpki.Verifier{Roots: ca.TrustRoots(), Mode: jpki.ModeTest, Revocation: &jpki.CRLChecker{Source: jpki.CRLDir(dir)}}
	_, err := verifyCert(t, v, creds.SignCert, at(testNow))
	wantCode(t, err, jpki.CodeCRLSignature)
}

func TestCRLOtherDistributionPoint(t *testing.T) {
	ca := newCA(t, false)
	p := yamada()
	p.Municipality = "Minato-ku"
	creds := issue(t, ca, p)
	other := yamada()
	other.Municipality = "Shibuya-ku"
	issue(t, ca, other)
	crls, err := ca.CRLs(testNow, 0)
	if err != nil {
		t.Fatal(err)
	}
	var shibuya []byte
	for _, c := range crls {
		if c.Kind == jpki.KindSignature && strings.Contains(c.DistributionPoint, "Shibuya-ku") {
			shibuya = c.DER
		}
	}
	if shibuya == nil {
		t.Fatal("no Shibuya CRL")
	}
	file := filepath.Join(t.TempDir(), "shibuya.crl")
	os.WriteFile(file, shibuya, 0o644)
	// A validly signed CRL of another municipality says nothing about this
	// certificate.
	v := &jpki.Verifier{Roots: ca.TrustRoots(), Mode: jpki.ModeTest, Revocation: &jpki.CRLChecker{Source: jpki.CRLFile(file)}}
	_, err = verifyCert(t, v, creds.SignCert, at(testNow))
	wantCode(t, err, jpki.CodeCRLSignature)
}

func TestCRLUnavailable(t *testing.T) {
	ca := newCA(t, false)
	creds := issue(t, ca, yamada())
	for name, src := range map[string]jpki.CRLSource{
		"empty dir":     jpki.CRLDir(t.TempDir()),
		"no mapping":    jpki.CRLSources{},
		"garbage file":  jpki.CRLFile(writeTemp(t, []byte("not a CRL"))),
		"missing file":  jpki.CRLFile(filepath.Join(t.TempDir(), "none.crl")),
		"http 404":      jpki.CRLURL{URL: httptest.NewServer(http.NotFoundHandler()).URL},
		"unknown dp id": jpki.CRLSources{"CN=elsewhere": jpki.CRLDir(t.TempDir())},
	} {
		v := &jpki.Verifier{Roots: ca.TrustRoots(), Mode: jpki.ModeTest, Revocation: &jpki.CRLChecker{Source: src}}
		_, err := verifyCert(t, v, creds.SignCert, at(testNow))
		if jpki.CodeOf(err) != jpki.CodeCRLUnavailable {
			t.Errorf("%s: %v, want crl_unavailable", name, err)
		}
	}
}

func writeTemp(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCRLOverHTTPWithMapAndCache(t *testing.T) {
	ca := newCA(t, false)
	creds := issue(t, ca, yamada())
	crls, err := ca.CRLs(testNow, 0)
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int32
	byName := map[string][]byte{}
	sources := jpki.CRLSources{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(byName[r.URL.Path])
	}))
	defer srv.Close()
	for _, c := range crls {
		byName["/"+c.FileName] = c.DER
		sources[c.DistributionPoint] = jpki.CRLURL{URL: srv.URL + "/" + c.FileName, Client: srv.Client()}
	}
	checker := &jpki.CRLChecker{Source: sources, CacheFor: time.Hour}
	v := &jpki.Verifier{Roots: ca.TrustRoots(), Mode: jpki.ModeTest, Revocation: checker}
	for i := range 3 {
		if _, err := verifyCert(t, v, creds.SignCert, at(testNow.Add(time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	if hits.Load() != 1 {
		t.Errorf("%d fetches, want 1 (cached)", hits.Load())
	}
	// Past CacheFor it fetches again.
	if _, err := verifyCert(t, v, creds.SignCert, at(testNow.Add(2*time.Hour))); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 2 {
		t.Errorf("%d fetches, want 2", hits.Load())
	}
}

func TestOCSP(t *testing.T) {
	ca := newCA(t, false)
	creds := issue(t, ca, yamada())
	srv := httptest.NewServer(ca.OCSPResponder(0))
	defer srv.Close()
	ocspChecker := &jpki.OCSPChecker{URL: srv.URL, Client: srv.Client()}
	v := &jpki.Verifier{Roots: ca.TrustRoots(), Mode: jpki.ModeTest, Revocation: ocspChecker}
	res, err := verifyCert(t, v, creds.AuthCert, at(testNow))
	if err != nil {
		t.Fatal(err)
	}
	if res.Revocation.Method != "ocsp" {
		t.Errorf("method %q", res.Revocation.Method)
	}
	if _, err := ca.Revoke(creds.AuthCert.SerialNumber, jpki.ReasonKeyCompromise, testNow); err != nil {
		t.Fatal(err)
	}
	_, err = verifyCert(t, v, creds.AuthCert, at(testNow))
	wantCode(t, err, jpki.CodeRevoked)
	if rev, _ := jpki.RevokedDetail(err); rev == nil || rev.Reason != jpki.ReasonKeyCompromise || rev.Source != "ocsp" {
		t.Errorf("detail %+v", rev)
	}
	// Responder down: OCSP unavailable, and FirstOf falls back to the CRL.
	down := &jpki.OCSPChecker{URL: "http://127.0.0.1:1", Client: &http.Client{Timeout: time.Second}}
	v.Revocation = down
	fresh := issue(t, ca, yamada())
	_, err = verifyCert(t, v, fresh.AuthCert, at(testNow))
	wantCode(t, err, jpki.CodeOCSPUnavailable)
	dir := t.TempDir()
	ca.PublishCRLs(dir, testNow, 0)
	v.Revocation = jpki.FirstOf(down, &jpki.CRLChecker{Source: jpki.CRLDir(dir)})
	res, err = verifyCert(t, v, fresh.AuthCert, at(testNow))
	if err != nil || res.Revocation.Method != "crl" {
		t.Fatalf("fallback: %+v %v", res, err)
	}
	_, err = verifyCert(t, v, creds.AuthCert, at(testNow))
	wantCode(t, err, jpki.CodeRevoked)
}

func TestLinkedRevocation(t *testing.T) {
	ca := newCA(t, false)
	card := issue(t, ca, yamada())
	phone, err := ca.IssueSmartphone(card.SignCert, testca.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := ca.Revoke(card.SignCert.SerialNumber, jpki.ReasonUnspecified, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(revoked) != 3 {
		t.Errorf("revoked %v, want the card and both phone certificates", revoked)
	}
	v := verifier(t, ca, jpki.ModeTest)
	for _, c := range [][]byte{phone.SignCert.Raw, phone.AuthCert.Raw} {
		_, err := v.VerifyDER(context.Background(), c, at(testNow.Add(time.Minute)))
		wantCode(t, err, jpki.CodeRevoked)
	}
	if _, err := ca.Revoke(big.NewInt(999999), 0, time.Time{}); err == nil {
		t.Error("unknown serial revoked")
	}
	if _, err := ca.IssueSmartphone(card.SignCert, testca.IssueOptions{}); err == nil {
		t.Error("phone certificate issued from a revoked card certificate")
	}
}

func TestReasons(t *testing.T) {
	for _, s := range []string{"keyCompromise", "KEYCOMPROMISE", "1"} {
		if r, err := jpki.ParseReason(s); err != nil || r != 1 {
			t.Errorf("ParseReason(%q) = %d, %v", s, r, err)
		}
	}
	if _, err := jpki.ParseReason("7"); err == nil {
		t.Error("reason 7 accepted")
	}
	if jpki.ReasonString(jpki.ReasonCertificateHold) != "certificateHold" {
		t.Error("ReasonString")
	}
}

// TestConcurrentVerification shares one verifier (and its CRL cache)
// between goroutines, as the issuer and verifier servers do.
func TestConcurrentVerification(t *testing.T) {
	ca := newCA(t, false)
	creds := issue(t, ca, yamada())
	dir := t.TempDir()
	if _, err := ca.PublishCRLs(dir, testNow, 0); err != nil {
		t.Fatal(err)
	}
	v := &jpki.Verifier{Roots: ca.TrustRoots(), Mode: jpki.ModeTest, Revocation: &jpki.CRLChecker{Source: jpki.CRLDir(dir), CacheFor: time.Minute}}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			var err error
			for range 5 {
				if _, e := verifyCert(t, v, creds.AuthCert, at(testNow.Add(time.Second))); e != nil {
					err = e
				}
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
