package jpki_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mynumber-mdoc/mnc/jpki"
)

func TestJWSRoundTrip(t *testing.T) {
	ca := newCA(t, false)
	creds := issue(t, ca, yamada())
	v := verifier(t, ca, jpki.ModeTest)
	payload := []byte(`{"application":"mdoc","device":"pixel-9"}`)
	compact, err := jpki.SignJWS(payload, creds.SignCert.Raw, creds.SignKey, map[string]any{"typ": "mnc-application+jws"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := v.VerifyJWS(ctx, compact, at(testNow))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.Payload, payload) || res.Facts.FamilyName != "山田" {
		t.Errorf("result payload %q facts %+v", res.Payload, res.Facts)
	}
	if typ, _ := res.Protected.Type(); typ != "mnc-application+jws" {
		t.Errorf("typ %q", typ)
	}

	parts := strings.Split(string(compact), ".")
	b64 := base64.RawURLEncoding
	tamperedPayload := parts[0] + "." + b64.EncodeToString([]byte(`{"application":"evil"}`)) + "." + parts[2]
	sig, _ := b64.DecodeString(parts[2])
	sig[0] ^= 0x80
	tamperedSig := parts[0] + "." + parts[1] + "." + b64.EncodeToString(sig)

	// Header without x5c, and an HS256 token keyed with the public
	// certificate (the classic algorithm-confusion attack).
	noX5C := b64.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + parts[1] + "." + parts[2]
	hsHeader := map[string]any{"alg": "HS256", "x5c": []string{base64.StdEncoding.EncodeToString(creds.SignCert.Raw)}}
	hb, _ := json.Marshal(hsHeader)
	signingInput := b64.EncodeToString(hb) + "." + parts[1]
	mac := hmac.New(sha256.New, creds.SignCert.Raw)
	mac.Write([]byte(signingInput))
	hs256 := signingInput + "." + b64.EncodeToString(mac.Sum(nil))

	authJWS, err := jpki.SignJWS(payload, creds.AuthCert.Raw, creds.AuthKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	wrongKey, err := jpki.SignJWS(payload, creds.SignCert.Raw, creds.AuthKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   string
		code jpki.Code
	}{
		{"tampered payload", tamperedPayload, jpki.CodeSignatureInvalid},
		{"tampered signature", tamperedSig, jpki.CodeSignatureInvalid},
		{"signed by another key", string(wrongKey), jpki.CodeSignatureInvalid},
		{"no x5c", noX5C, jpki.CodeMalformed},
		{"HS256", hs256, jpki.CodeUnsupported},
		{"auth certificate", string(authJWS), jpki.CodeProfile},
		{"not a JWS", "a.b", jpki.CodeMalformed},
	}
	for _, tt := range tests {
		_, err := v.VerifyJWS(ctx, []byte(tt.in), at(testNow))
		if jpki.CodeOf(err) != tt.code {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.code)
		}
	}

	// Revoked signer: the JWS verifies but the certificate does not.
	if _, err := ca.Revoke(creds.SignCert.SerialNumber, jpki.ReasonKeyCompromise, testNow); err != nil {
		t.Fatal(err)
	}
	v = verifier(t, ca, jpki.ModeTest)
	_, err = v.VerifyJWS(ctx, compact, at(testNow.Add(1)))
	wantCode(t, err, jpki.CodeRevoked)
}
