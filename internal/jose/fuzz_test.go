package jose

import (
	"crypto"
	"crypto/ecdh"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
)

// FuzzParseJWS: hostile compact JWS never panics, and nothing verifies
// under a key that did not sign it.
func FuzzParseJWS(f *testing.F) {
	k := ecKey(f, elliptic.P256())
	good, _ := Sign(k, map[string]any{"typ": "x", "x5c": []string{"AA"}}, []byte(`{"a":1}`))
	for _, s := range []string{good, "", ".", "..", "e30.e30.", "eyJhbGciOiJub25lIn0.e30."} {
		f.Add(s)
	}
	other := ecKey(f, elliptic.P256())
	f.Fuzz(func(t *testing.T, s string) {
		j, err := ParseJWS(s, 1<<16)
		if err != nil {
			return
		}
		var v any
		j.Header.Member("x5c", &v)
		if j.Verify(&other.PublicKey) == nil {
			t.Fatalf("verified under a key that never signed: %q", s)
		}
	})
}

// FuzzDecryptECDHES: hostile compact JWE never panics and never decrypts
// without the sender having used the recipient's key.
func FuzzDecryptECDHES(f *testing.F) {
	key, _ := ecdh.P256().GenerateKey(rand.Reader)
	f.Add(jwxEncrypt(f, key.PublicKey(), A128GCM, map[string]any{"kid": "k"}, []byte(`{"vp_token":{}}`)))
	f.Add(jwxEncrypt(f, key.PublicKey(), A256GCM, nil, []byte(`x`)))
	f.Add("....")
	other, _ := ecdh.P256().GenerateKey(rand.Reader)
	f.Fuzz(func(t *testing.T, s string) {
		DecryptECDHES(s, DecryptOptions{Key: key, Enc: []string{A128GCM, A256GCM}, MaxLen: 1 << 20})
		if _, err := DecryptECDHES(s, DecryptOptions{Key: other, Enc: []string{A128GCM, A256GCM}, MaxLen: 1 << 20}); err == nil {
			t.Fatalf("decrypted with a key nobody encrypted to: %q", s)
		}
	})
}

// FuzzParsePublicJWK: hostile JWKs never panic, and a key that parses
// marshals to a JWK that parses to the same thumbprint.
func FuzzParsePublicJWK(f *testing.F) {
	for _, pub := range []crypto.PublicKey{&ecKey(f, elliptic.P256()).PublicKey} {
		raw, _ := MarshalPublicJWK(pub)
		f.Add(raw)
	}
	f.Add([]byte(`{"kty":"RSA","e":"AQAB","n":"AAAA"}`))
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"","y":"","d":""}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		k, err := ParsePublicJWK(raw)
		if err != nil {
			return
		}
		again, err := MarshalPublicJWK(k.Key)
		if err != nil {
			t.Fatalf("parsed key does not marshal: %v", err)
		}
		k2, err := ParsePublicJWK(again)
		if err != nil || k2.Thumbprint != k.Thumbprint {
			t.Fatalf("round trip changed the key: %v", err)
		}
	})
}
