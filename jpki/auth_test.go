package jpki_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"reflect"
	"testing"

	"github.com/mynumber-mdoc/mnc/jpki"
)

// cardSign is what the card does for SIGN: raw PKCS#1 v1.5 over a DigestInfo.
func cardSign(t *testing.T, key *rsa.PrivateKey, digestInfo []byte) []byte {
	t.Helper()
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.Hash(0), digestInfo)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func TestAuthChallengeRoundTrip(t *testing.T) {
	ca := newCA(t, false)
	creds := issue(t, ca, yamada())
	v := verifier(t, ca, jpki.ModeTest)
	nonce, err := jpki.NewNonce(nil)
	if err != nil {
		t.Fatal(err)
	}
	sig := cardSign(t, creds.AuthKey, jpki.DigestInfoSHA256(nonce))
	ctx := context.Background()
	res, err := v.VerifyAuth(ctx, nonce, creds.AuthCert.Raw, sig, at(testNow))
	if err != nil {
		t.Fatal(err)
	}
	if res.ID != creds.AuthCert.Subject.CommonName || res.ID == "" || res.Form != jpki.FormCard || !res.Test {
		t.Errorf("result %+v", res)
	}
	// The result type carries no personal data: no field may hold facts
	// or a certificate they could be read from.
	typ := reflect.TypeOf(*res)
	for i := range typ.NumField() {
		switch typ.Field(i).Type {
		case reflect.TypeOf(&jpki.Facts{}), reflect.TypeOf(&jpki.Certificate{}), reflect.TypeOf(creds.AuthCert):
			t.Errorf("AuthResult.%s can carry personal data", typ.Field(i).Name)
		}
	}

	other, _ := jpki.NewNonce(nil)
	tampered := append([]byte(nil), sig...)
	tampered[10] ^= 1
	tests := []struct {
		name  string
		nonce []byte
		cert  []byte
		sig   []byte
		code  jpki.Code
	}{
		{"other nonce", other, creds.AuthCert.Raw, sig, jpki.CodeSignatureInvalid},
		{"tampered signature", nonce, creds.AuthCert.Raw, tampered, jpki.CodeSignatureInvalid},
		{"signed with the signature key", nonce, creds.AuthCert.Raw, cardSign(t, creds.SignKey, jpki.DigestInfoSHA256(nonce)), jpki.CodeSignatureInvalid},
		{"signature certificate", nonce, creds.SignCert.Raw, cardSign(t, creds.SignKey, jpki.DigestInfoSHA256(nonce)), jpki.CodeProfile},
		{"short nonce", nonce[:8], creds.AuthCert.Raw, sig, jpki.CodeMalformed},
		{"garbage certificate", nonce, []byte{0x30, 0x00}, sig, jpki.CodeMalformed},
	}
	for _, tt := range tests {
		_, err := v.VerifyAuth(ctx, tt.nonce, tt.cert, tt.sig, at(testNow))
		if jpki.CodeOf(err) != tt.code {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.code)
		}
	}
}

func TestDocumentSignature(t *testing.T) {
	ca := newCA(t, false)
	creds := issue(t, ca, yamada())
	v := verifier(t, ca, jpki.ModeTest)
	doc := []byte("転入届: 東京都千代田区")
	sig := cardSign(t, creds.SignKey, jpki.DigestInfoSHA256(doc))
	ctx := context.Background()
	res, err := v.VerifySignature(ctx, doc, sig, creds.SignCert.Raw, at(testNow))
	if err != nil {
		t.Fatal(err)
	}
	if res.Facts == nil || res.Facts.FullName != "山田\u3000太郎" {
		t.Errorf("facts %+v", res.Facts)
	}
	sum := sha256.Sum256(doc)
	if _, err := v.VerifySignatureDigest(ctx, crypto.SHA256, sum[:], sig, creds.SignCert.Raw, at(testNow)); err != nil {
		t.Errorf("digest form: %v", err)
	}
	_, err = v.VerifySignature(ctx, append(doc, '!'), sig, creds.SignCert.Raw, at(testNow))
	wantCode(t, err, jpki.CodeSignatureInvalid)
	_, err = v.VerifySignature(ctx, doc, cardSign(t, creds.AuthKey, jpki.DigestInfoSHA256(doc)), creds.AuthCert.Raw, at(testNow))
	wantCode(t, err, jpki.CodeProfile)
	_, err = v.VerifySignatureDigest(ctx, crypto.MD5, sum[:16], sig, creds.SignCert.Raw, at(testNow))
	wantCode(t, err, jpki.CodeUnsupported)
}
