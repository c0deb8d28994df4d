package issuer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// adminDo sends an admin request and returns status and body.
func adminDo(t *testing.T, e *env, method, path, contentType, body, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func errorCode(t *testing.T, b []byte) string {
	t.Helper()
	var r struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("error body %q: %v", b, err)
	}
	return r.Error
}

func getCRL(t *testing.T, e *env, path string, ca *x509.Certificate) *x509.RevocationList {
	t.Helper()
	resp, err := e.srv.Client().Get(e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pkix-crl" {
		t.Fatalf("GET %s: %d %s %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	l, err := x509.ParseRevocationList(b)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	if err := l.CheckSignatureFrom(ca); err != nil {
		t.Fatalf("%s signature: %v", path, err)
	}
	now := e.clock()
	if l.ThisUpdate.After(now) || !l.NextUpdate.After(now) || l.Number == nil || l.Number.Sign() <= 0 {
		t.Fatalf("%s thisUpdate %s nextUpdate %s number %v (now %s)", path, l.ThisUpdate, l.NextUpdate, l.Number, now)
	}
	return l
}

func crlHas(l *x509.RevocationList, c *x509.Certificate) bool {
	for _, r := range l.RevokedCertificateEntries {
		if r.SerialNumber.Cmp(c.SerialNumber) == 0 {
			return true
		}
	}
	return false
}

// TestIACACRL: the IACA's CRL is served at the distribution point it
// advertises, signed by the IACA, empty at first; revoking the Document
// Signer over the admin API re-signs it with a higher number and the DS on it.
func TestIACACRL(t *testing.T) {
	e := newEnv(t, envOptions{})
	if dp := e.pki.IACA.CRLDistributionPoints; len(dp) != 1 || dp[0] != e.srv.URL+"/pki/iaca.crl" {
		t.Fatalf("IACA CRL DP %v", dp)
	}
	l0 := getCRL(t, e, "/pki/iaca.crl", e.pki.IACA)
	if len(l0.RevokedCertificateEntries) != 0 {
		t.Fatalf("fresh CRL lists %d entries", len(l0.RevokedCertificateEntries))
	}
	dsPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.pki.DS.Raw}))
	body, _ := json.Marshal(CertificateRevocationRequest{CA: "iaca", CertificatePEM: dsPEM, ReasonCode: 1})
	if st, b := adminDo(t, e, http.MethodPost, "/admin/pki/revoke", "application/json", string(body), ""); st != http.StatusUnauthorized {
		t.Fatalf("revoke without admin token: %d %s", st, b)
	}
	e.advance(time.Second)
	for range 2 { // idempotent
		if st, b := adminDo(t, e, http.MethodPost, "/admin/pki/revoke", "application/json", string(body), "admin-secret"); st != http.StatusOK {
			t.Fatalf("revoke DS: %d %s", st, b)
		}
	}
	l1 := getCRL(t, e, "/pki/iaca.crl", e.pki.IACA)
	// Issuance stops (fail closed) while the Document Signer is revoked.
	w := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
	_, err := w.fetch(w.enrol().CredentialOffer, "")
	wantCode(t, err, oid4vci.CodeServerError, ReasonDocumentSignerRevoked)
	if !crlHas(l1, e.pki.DS) || len(l1.RevokedCertificateEntries) != 1 || l1.RevokedCertificateEntries[0].ReasonCode != 1 || l1.Number.Cmp(l0.Number) <= 0 {
		t.Fatalf("after revocation: entries %+v number %v (was %v)", l1.RevokedCertificateEntries, l1.Number, l0.Number)
	}
	// A certificate the IACA did not issue is refused.
	foreign := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.pki.ReaderCA.Raw}))
	body, _ = json.Marshal(CertificateRevocationRequest{CA: "iaca", CertificatePEM: foreign})
	if st, b := adminDo(t, e, http.MethodPost, "/admin/pki/revoke", "application/json", string(body), "admin-secret"); st != http.StatusBadRequest || errorCode(t, b) != oid4vci.CodeInvalidRequest {
		t.Fatalf("foreign certificate: %d %s", st, b)
	}
	// The revocation is audited.
	a, _ := e.svc.Audit(t.Context(), "", "", 100)
	if !hasAudit(a, "certificate_revoked", e.pki.DS.SerialNumber.String()) {
		t.Fatalf("audit %+v", a)
	}
}

// TestReaderCertificateOverHTTP: the admin endpoint certifies a verifier's
// reader key under the reader CA with the medical-institution role; the
// certificate chains to /pki/reader-ca.pem and can be revoked onto
// /pki/reader-ca.crl.
func TestReaderCertificateOverHTTP(t *testing.T) {
	e := newEnv(t, envOptions{})
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	spki, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))
	body, _ := json.Marshal(ReaderCertificateRequest{PublicKeyPEM: pubPEM, CommonName: "Chiyoda Clinic", Medical: true})
	st, b := adminDo(t, e, http.MethodPost, "/admin/reader-certificates", "application/json", string(body), "admin-secret")
	if st != http.StatusOK {
		t.Fatalf("reader certificate: %d %s", st, b)
	}
	var out struct {
		CertificatePEM string `json:"certificate_pem"`
	}
	json.Unmarshal(b, &out)
	blk, _ := pem.Decode([]byte(out.CertificatePEM))
	if blk == nil {
		t.Fatalf("no PEM in %s", b)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.srv.Client().Get(e.srv.URL + "/pki/reader-ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cblk, _ := pem.Decode(caPEM)
	ca, err := x509.ParseCertificate(cblk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckSignatureFrom(ca); err != nil || c.Subject.CommonName != "Chiyoda Clinic" || !c.PublicKey.(*ecdsa.PublicKey).Equal(&k.PublicKey) {
		t.Fatalf("reader certificate %s: %v", c.Subject, err)
	}
	if roles := mdoc.ReaderRolesOf(c); !roles.MedicalInstitution || roles.IndividualNumber {
		t.Fatalf("roles %+v", roles)
	}
	if !hasEKU(c, "1.0.18013.5.1.6") {
		t.Fatalf("reader certificate lacks the mdoc reader-auth EKU: %v", c.UnknownExtKeyUsage)
	}
	// Refusals with their codes: not a public key, no common name, no token.
	for _, tc := range []struct {
		body, token string
		status      int
		code        string
	}{
		{`{"public_key_pem":"nope","common_name":"x"}`, "admin-secret", http.StatusBadRequest, oid4vci.CodeInvalidRequest},
		{`{"public_key_pem":` + jsonString(pubPEM) + `}`, "admin-secret", http.StatusBadRequest, oid4vci.CodeInvalidRequest},
		{string(body), "wrong", http.StatusUnauthorized, oid4vci.CodeUnauthorized},
	} {
		if st, b := adminDo(t, e, http.MethodPost, "/admin/reader-certificates", "application/json", tc.body, tc.token); st != tc.status || errorCode(t, b) != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.body, st, b, tc.status, tc.code)
		}
	}
	if l := getCRL(t, e, "/pki/reader-ca.crl", ca); crlHas(l, c) {
		t.Fatal("fresh reader CA CRL lists the new certificate")
	}
	rb, _ := json.Marshal(CertificateRevocationRequest{CA: "reader-ca", CertificatePEM: out.CertificatePEM, ReasonCode: 5})
	if st, b := adminDo(t, e, http.MethodPost, "/admin/pki/revoke", "application/json", string(rb), "admin-secret"); st != http.StatusOK {
		t.Fatalf("revoke reader: %d %s", st, b)
	}
	if l := getCRL(t, e, "/pki/reader-ca.crl", ca); !crlHas(l, c) {
		t.Fatal("revoked reader certificate not on the reader CA CRL")
	}
}

func hasEKU(c *x509.Certificate, oid string) bool {
	for _, u := range c.UnknownExtKeyUsage {
		if u.String() == oid {
			return true
		}
	}
	return false
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestInsuranceImportOverHTTP: the CSV import endpoint loads the registry
// all-or-nothing; an insured person is then offered the insurance document.
func TestInsuranceImportOverHTTP(t *testing.T) {
	e := newEnv(t, envOptions{})
	bad := insuranceCSV + "山田　次郎,1992-01-01,1,東京都,123,x,1,01,1,2020-04-01,,30\n" // insurer_number not 8 digits
	if st, b := adminDo(t, e, http.MethodPost, "/admin/insurance", "text/csv", bad, "admin-secret"); st != http.StatusBadRequest || errorCode(t, b) != oid4vci.CodeInvalidRequest {
		t.Fatalf("bad CSV: %d %s", st, b)
	}
	// All or nothing: the valid first row of the bad file was not kept.
	w := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
	if r := w.enrol(); len(r.CredentialOffer.CredentialConfigurationIDs) != 1 {
		t.Fatalf("after refused import: offer %v", r.CredentialOffer.CredentialConfigurationIDs)
	}
	if st, b := adminDo(t, e, http.MethodPost, "/admin/insurance", "text/csv", insuranceCSV, ""); st != http.StatusUnauthorized {
		t.Fatalf("no token: %d %s", st, b)
	}
	st, b := adminDo(t, e, http.MethodPost, "/admin/insurance", "text/csv", insuranceCSV, "admin-secret")
	if st != http.StatusOK || !strings.Contains(string(b), `"imported":1`) {
		t.Fatalf("import: %d %s", st, b)
	}
	r := w.enrol()
	if len(r.CredentialOffer.CredentialConfigurationIDs) != 2 {
		t.Fatalf("insured person offer %v", r.CredentialOffer.CredentialConfigurationIDs)
	}
	docs, err := w.fetch(r.CredentialOffer, "")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := docs[oid4vci.ConfigHIC].Item(mdoc.NameSpaceHIC, "insured_number").Item.Value(); v != "12345" {
		t.Fatalf("insured_number %v", v)
	}
}
