package issuer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/mynumber-mdoc/mnc/issuer/keys"
	"github.com/mynumber-mdoc/mnc/issuer/pki"
	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// authLinksOf returns the SQL store's insurance registrations (both test
// backends are sqlstore.Store).
func authLinksOf(st store.Store) store.AuthLinks {
	l, _ := st.(store.AuthLinks)
	return l
}

// clinicReader is a reader key with a certificate of the issuer's reader CA.
type clinicReader struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func newReader(t *testing.T, e *env, roles mdoc.ReaderRoles) *clinicReader {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c, err := e.pki.IssueReaderCertificate(k.Public(), pki.ReaderCertificateOptions{CommonName: "Clinic 1", Roles: roles, Now: e.clock()})
	if err != nil {
		t.Fatal(err)
	}
	return &clinicReader{key: k, cert: c}
}

// cardAuth has the card sign nonce with its auth key after the PIN.
func (w *wallet) cardAuth(t *testing.T, nonce string) oid4vci.AuthProof {
	der, sig, err := w.card.Authenticate(context.Background(), "1234", []byte(nonce))
	if err != nil {
		t.Fatal(err)
	}
	return oid4vci.NewAuthProof(der, sig)
}

func (w *wallet) register(t *testing.T) (*oid4vci.InsuranceRegistrationResponse, error) {
	n := w.nonce()
	reg := &oid4vci.InsuranceRegistration{Audience: oid4vci.Audience{w.e.srv.URL}, Nonce: n, IssuedAt: w.e.clock().Unix(), AuthProof: w.cardAuth(t, n)}
	s, err := oid4vci.SignInsuranceRegistration(reg, w.cardCert.Raw, w.cardSigner())
	if err != nil {
		t.Fatal(err)
	}
	return w.e.client.RegisterInsurance(context.Background(), s)
}

func (r *clinicReader) ask(t *testing.T, e *env, nonce string, proof oid4vci.AuthProof) (*oid4vci.QualificationResponse, error) {
	req := &oid4vci.QualificationRequest{Audience: oid4vci.Audience{e.srv.URL}, Nonce: nonce, IssuedAt: e.clock().Unix(), AuthProof: proof}
	s, err := oid4vci.SignQualificationRequest(req, [][]byte{r.cert.Raw}, r.key)
	if err != nil {
		t.Fatal(err)
	}
	return e.client.ConfirmQualification(context.Background(), s)
}

func oidCode(err error) (string, string) {
	var oe *oid4vci.Error
	if errors.As(err, &oe) {
		return oe.Code, oe.Reason
	}
	return "", ""
}

func TestQualificationByCardAndPhone(t *testing.T) {
	e := newEnv(t, envOptions{})
	if st, b := adminDo(t, e, http.MethodPost, "/admin/insurance", "text/csv", insuranceCSV, "admin-secret"); st != http.StatusOK {
		t.Fatalf("import: %d %s", st, b)
	}
	w := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
	clinic := newReader(t, e, mdoc.ReaderRoles{MedicalInstitution: true})

	// Before registration the card is not linked.
	n := w.nonce()
	got, err := clinic.ask(t, e, n, w.cardAuth(t, n))
	if err != nil || got.Qualified || got.Code != oid4vci.QualificationNotLinked {
		t.Fatalf("unregistered: %+v %v", got, err)
	}
	if r, err := w.register(t); err != nil || !r.Linked || !r.Qualified {
		t.Fatalf("register: %+v %v", r, err)
	}
	n = w.nonce()
	got, err = clinic.ask(t, e, n, w.cardAuth(t, n))
	if err != nil || !got.Qualified || got.Qualification.InsurerNumber != "06139999" || got.Qualification.CopaymentRatio != 30 {
		t.Fatalf("registered card: %+v %v", got, err)
	}
	// The same nonce cannot be used twice.
	if _, err := clinic.ask(t, e, n, w.cardAuth(t, n)); func() string { c, _ := oidCode(err); return c }() != oid4vci.CodeInvalidNonce {
		t.Fatalf("replayed nonce: %v", err)
	}
	// A signature over another nonce is refused.
	n1, n2 := w.nonce(), w.nonce()
	if _, err := clinic.ask(t, e, n1, w.cardAuth(t, n2)); func() string { c, _ := oidCode(err); return c }() != oid4vci.CodeCardRejected {
		t.Fatalf("signature over another nonce: %v", err)
	}

	// The phone's own auth certificate, issued at enrolment, is linked
	// through its device.
	r := w.enrol()
	phoneCert, err := x509.ParseCertificate(mustB64(t, r.JPKIAuthCertificate))
	if err != nil {
		t.Fatal(err)
	}
	n = w.nonce()
	h := sha256.Sum256([]byte(n))
	sig, err := rsa.SignPKCS1v15(rand.Reader, w.jpkiAuth, crypto.SHA256, h[:])
	if err != nil {
		t.Fatal(err)
	}
	got, err = clinic.ask(t, e, n, oid4vci.NewAuthProof(phoneCert.Raw, sig))
	if err != nil || !got.Qualified {
		t.Fatalf("phone auth certificate: %+v %v", got, err)
	}
}

func TestQualificationRefusesOtherReaders(t *testing.T) {
	e := newEnv(t, envOptions{})
	w := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
	shop := newReader(t, e, mdoc.ReaderRoles{})
	n := w.nonce()
	if _, err := shop.ask(t, e, n, w.cardAuth(t, n)); func() string { _, r := oidCode(err); return r }() != oid4vci.ReasonUntrusted {
		t.Fatalf("shop reader: %v", err)
	}
	// A reader certificate from another CA is not trusted either.
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dir := t.TempDir()
	km, _ := keys.NewFileManager(filepath.Join(dir, "keys"))
	other, err := pki.Load(context.Background(), pki.Options{Dir: filepath.Join(dir, "pki"), Keys: km, BaseURL: "http://other.example"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := other.IssueReaderCertificate(k.Public(), pki.ReaderCertificateOptions{CommonName: "Fake clinic", Roles: mdoc.ReaderRoles{MedicalInstitution: true}})
	if err != nil {
		t.Fatal(err)
	}
	n = w.nonce()
	if _, err := (&clinicReader{key: k, cert: c}).ask(t, e, n, w.cardAuth(t, n)); func() string { _, r := oidCode(err); return r }() != oid4vci.ReasonUntrusted {
		t.Fatalf("foreign reader CA: %v", err)
	}
	// A revoked clinic reader is refused.
	clinic := newReader(t, e, mdoc.ReaderRoles{MedicalInstitution: true})
	if err := e.pki.Revoke(pki.CRLReaderCA, clinic.cert, 1, e.clock()); err != nil {
		t.Fatal(err)
	}
	n = w.nonce()
	if _, err := clinic.ask(t, e, n, w.cardAuth(t, n)); func() string { _, r := oidCode(err); return r }() != oid4vci.ReasonUntrusted {
		t.Fatalf("revoked reader: %v", err)
	}
}

func mustB64(t *testing.T, s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
