package jpkiauth_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/verifier/jpkiauth"
)

var now = time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)

func sign(t *testing.T, k *rsa.PrivateKey, data []byte) []byte {
	t.Helper()
	s, err := rsa.SignPKCS1v15(nil, k, crypto.Hash(0), jpki.DigestInfoSHA256(data))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func setup(t *testing.T) (*testca.CA, *testca.Credentials, *jpki.Verifier) {
	t.Helper()
	pool, err := testca.NewKeyPool(4)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := testca.New(testca.Options{Now: func() time.Time { return now }, GenerateKey: pool.Next})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := ca.IssueCard(testca.Person{Name: "山田\u3000太郎", BirthDate: jpki.NewBirthDate(1990, time.April, 1), Sex: jpki.SexMale, Address: "東京都千代田区千代田１－１"}, testca.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := ca.PublishCRLs(dir, now.Add(-time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	return ca, creds, &jpki.Verifier{Roots: ca.TrustRoots(), Mode: jpki.ModeTest, Revocation: &jpki.CRLChecker{Source: jpki.CRLDir(dir)}}
}

func TestLogin(t *testing.T) {
	ca, creds, v := setup(t)
	s := jpkiauth.New(v, time.Minute, func() time.Time { return now })
	ctx := context.Background()
	id, nonce, err := s.Challenge()
	if err != nil {
		t.Fatal(err)
	}
	sig := sign(t, creds.AuthKey, nonce)
	r := s.Login(ctx, id, creds.AuthCert.Raw, sig)
	if !r.Valid || r.Documents[0].DocType != jpkiauth.DocTypeAuth || r.Documents[0].Elements[jpkiauth.NameSpace]["id"] != creds.AuthCert.Subject.CommonName {
		t.Fatalf("login: %+v %v", r, r.Codes())
	}
	if _, ok := r.Documents[0].Elements[jpkiauth.NameSpace]["full_name"]; ok {
		t.Fatal("login result carries personal data")
	}
	// Replay of the same signature: the nonce is spent.
	if r := s.Login(ctx, id, creds.AuthCert.Raw, sig); r.Valid || r.Codes()[0] != jpkiauth.CodeChallengeUnknown {
		t.Fatalf("replay: %v", r.Codes())
	}
	// Signature over another nonce.
	id2, _, _ := s.Challenge()
	if r := s.Login(ctx, id2, creds.AuthCert.Raw, sig); r.Valid || r.Codes()[0] != string(jpki.CodeSignatureInvalid) {
		t.Fatalf("wrong nonce: %v", r.Codes())
	}
	// Revoked certificate (CRL republished).
	if _, err := ca.Revoke(creds.AuthCert.SerialNumber, jpki.ReasonKeyCompromise, now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca.PublishCRLs(dir, now.Add(-30*time.Second), 0)
	v.Revocation = &jpki.CRLChecker{Source: jpki.CRLDir(dir)}
	id3, n3, _ := s.Challenge()
	if r := s.Login(ctx, id3, creds.AuthCert.Raw, sign(t, creds.AuthKey, n3)); r.Valid || r.Codes()[0] != string(jpki.CodeRevoked) {
		t.Fatalf("revoked: %v", r.Codes())
	}
	// Expired challenge.
	s2 := jpkiauth.New(v, time.Minute, func() time.Time { return now.Add(2 * time.Minute) })
	s2.Now = func() time.Time { return now }
	id4, n4, _ := s2.Challenge()
	s2.Now = func() time.Time { return now.Add(2 * time.Minute) }
	if r := s2.Login(ctx, id4, creds.AuthCert.Raw, sign(t, creds.AuthKey, n4)); r.Valid || r.Codes()[0] != jpkiauth.CodeChallengeUnknown {
		t.Fatalf("expired: %v", r.Codes())
	}
}

func TestSignature(t *testing.T) {
	_, creds, v := setup(t)
	doc := []byte("転居届")
	r := jpkiauth.VerifySignature(context.Background(), v, doc, sign(t, creds.SignKey, doc), creds.SignCert.Raw, now)
	if !r.Valid || r.Documents[0].Elements[jpkiauth.NameSpace]["full_name"] != "山田\u3000太郎" || r.Documents[0].Elements[jpkiauth.NameSpace]["birth_date"] != "1990年4月1日" {
		t.Fatalf("%+v", r.Documents[0])
	}
	r = jpkiauth.VerifySignature(context.Background(), v, append(doc, '!'), sign(t, creds.SignKey, doc), creds.SignCert.Raw, now)
	if r.Valid || r.Codes()[0] != string(jpki.CodeSignatureInvalid) || len(r.Documents[0].Elements) != 0 {
		t.Fatalf("tampered: %v", r.Codes())
	}
}
