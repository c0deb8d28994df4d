package online_test

import (
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/online"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
	vt "github.com/mynumber-mdoc/mnc/verifier/verifiertest"
)

func TestJPKILoginEndpoint(t *testing.T) {
	now := vt.Now
	pool, _ := testca.NewKeyPool(4)
	ca, err := testca.New(testca.Options{Now: func() time.Time { return now }, GenerateKey: pool.Next})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := ca.IssueCard(testca.Person{Name: "山田\u3000花子", BirthDate: jpki.NewBirthDate(1985, time.May, 5), Sex: jpki.SexFemale, Address: "大阪府"}, testca.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca.PublishCRLs(dir, now.Add(-time.Hour), 0)
	is, _ := vt.NewIssuer("j")
	rd, _ := vt.NewReader(mdoc.ReaderRoles{}, "")
	rc, _ := trust.NewReaderCredentials([]*x509Cert{rd.Cert}, rd.Key)
	var h http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	defer ts.Close()
	srv, err := online.New(online.Config{BaseURL: ts.URL, Credentials: rc, Now: func() time.Time { return now },
		Verify: verifier.Options{Trust: trust.NewIACAsFromCertificates([]*x509Cert{is.IACA})},
		JPKI:   &jpki.Verifier{Roots: ca.TrustRoots(), Mode: jpki.ModeTest, Revocation: &jpki.CRLChecker{Source: jpki.CRLDir(dir)}}})
	if err != nil {
		t.Fatal(err)
	}
	h = srv.Handler()
	code, m := post(t, ts.URL+"/jpki/challenge", "application/json", nil)
	if code != 200 {
		t.Fatalf("challenge %d %v", code, m)
	}
	nonce, _ := base64.StdEncoding.DecodeString(m["nonce"].(string))
	sig, _ := rsa.SignPKCS1v15(nil, creds.AuthKey, crypto.Hash(0), jpki.DigestInfoSHA256(nonce))
	body, _ := json.Marshal(online.JPKILogin{ID: m["id"].(string), Certificate: base64.StdEncoding.EncodeToString(creds.AuthCert.Raw), Signature: base64.StdEncoding.EncodeToString(sig)})
	code, m = post(t, ts.URL+"/jpki/login", "application/json", body)
	if code != 200 || m["valid"] != true {
		t.Fatalf("login %d %v", code, m)
	}
	code, m = post(t, ts.URL+"/jpki/login", "application/json", body)
	if m["valid"] != false {
		t.Fatalf("replayed login accepted: %v", m)
	}
}
