package jose

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"
	"github.com/lestrrat-go/jwx/v3/jws"
)

func ecKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func jwxAlg(alg string) jwa.SignatureAlgorithm {
	a, _ := jwa.LookupSignatureAlgorithm(alg)
	return a
}

// TestJWSInterop signs with this package and verifies with jwx, and the
// other way round, for every algorithm it supports.
func TestJWSInterop(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		alg    string
		signer crypto.Signer
	}{
		{ES256, ecKey(t, elliptic.P256())},
		{ES384, ecKey(t, elliptic.P384())},
		{ES512, ecKey(t, elliptic.P521())},
		{RS256, rsaKey},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			payload := []byte(`{"iss":"https://issuer.example","n":1}`)
			ours, err := Sign(tc.signer, map[string]any{"typ": "test+jwt", "kid": "k1"}, payload)
			if err != nil {
				t.Fatal(err)
			}
			got, err := jws.Verify([]byte(ours), jws.WithKey(jwxAlg(tc.alg), tc.signer.Public()))
			if err != nil || string(got) != string(payload) {
				t.Fatalf("jwx rejects our %s JWS: %v", tc.alg, err)
			}
			theirs, err := jws.Sign(payload, jws.WithKey(jwxAlg(tc.alg), tc.signer))
			if err != nil {
				t.Fatal(err)
			}
			for name, compact := range map[string]string{"ours": ours, "jwx": string(theirs)} {
				j, err := ParseJWS(compact, 1<<16)
				if err != nil {
					t.Fatalf("%s: parse: %v", name, err)
				}
				if err := j.Verify(tc.signer.Public()); err != nil {
					t.Fatalf("%s: verify: %v", name, err)
				}
				if string(j.Payload) != string(payload) || j.Header.Alg != tc.alg {
					t.Fatalf("%s: payload %q alg %q", name, j.Payload, j.Header.Alg)
				}
			}
			j, _ := ParseJWS(ours, 1<<16)
			if kid, ok := j.Header.KeyID(); !ok || kid != "k1" || j.Header.Typ != "test+jwt" {
				t.Fatalf("header: kid %q %v typ %q", kid, ok, j.Header.Typ)
			}
		})
	}
}

func TestJWSRefuses(t *testing.T) {
	k := ecKey(t, elliptic.P256())
	other := ecKey(t, elliptic.P256())
	good, err := Sign(k, map[string]any{"typ": "x"}, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	h, p, s := splitJWS(good)
	enc := func(v string) string { return base64.RawURLEncoding.EncodeToString([]byte(v)) }
	sig, _ := base64.RawURLEncoding.DecodeString(s)
	for _, tc := range []struct {
		name    string
		compact string
		key     crypto.PublicKey
		want    error
	}{
		{"other key", good, &other.PublicKey, ErrSignature},
		{"payload changed", h + "." + enc(`{"a":2}`) + "." + s, &k.PublicKey, ErrSignature},
		{"alg none", enc(`{"alg":"none"}`) + "." + p + ".", &k.PublicKey, ErrAlgorithm},
		{"alg HS256", enc(`{"alg":"HS256"}`) + "." + p + "." + s, &k.PublicKey, ErrAlgorithm},
		{"alg ES384 for a P-256 key", enc(`{"alg":"ES384"}`) + "." + p + "." + s, &k.PublicKey, ErrAlgorithm},
		{"short signature", h + "." + p + "." + base64.RawURLEncoding.EncodeToString(sig[:63]), &k.PublicKey, ErrSignature},
		{"ASN.1 signature", h + "." + p + "." + base64.RawURLEncoding.EncodeToString(append([]byte{0x30}, sig...)), &k.PublicKey, ErrSignature},
		{"crit", enc(`{"alg":"ES256","crit":["b64"],"b64":false}`) + "." + p + "." + s, &k.PublicKey, ErrUnsupported},
		{"two parts", h + "." + p, &k.PublicKey, ErrMalformed},
		{"four parts", good + ".x", &k.PublicKey, ErrMalformed},
		{"padded", h + "=." + p + "." + s, &k.PublicKey, ErrMalformed},
		{"header not JSON", enc("alg") + "." + p + "." + s, &k.PublicKey, ErrMalformed},
		{"header an array", enc(`["ES256"]`) + "." + p + "." + s, &k.PublicKey, ErrMalformed},
		{"too long", good + strings.Repeat("A", 1<<16), &k.PublicKey, ErrMalformed},
		{"huge header", enc(`{"alg":"ES256","x":"`+strings.Repeat("a", MaxHeaderLen)+`"}`) + "." + p + "." + s, &k.PublicKey, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := ParseJWS(tc.compact, 1<<16)
			if err == nil {
				err = j.Verify(tc.key)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func splitJWS(c string) (string, string, string) {
	p := strings.Split(c, ".")
	return p[0], p[1], p[2]
}

func TestHeaderMember(t *testing.T) {
	k := ecKey(t, elliptic.P256())
	c, err := Sign(k, map[string]any{"key_attestation": "abc", "x5c": []string{"AAEC"}}, []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := ParseJWS(c, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	var ka string
	if ok, err := j.Header.Member("key_attestation", &ka); !ok || err != nil || ka != "abc" {
		t.Fatalf("key_attestation: %v %v %q", ok, err, ka)
	}
	var n int
	if ok, err := j.Header.Member("key_attestation", &n); !ok || !errors.Is(err, ErrMalformed) {
		t.Fatalf("wrong type: %v %v", ok, err)
	}
	if ok, _ := j.Header.Member("absent", &ka); ok {
		t.Fatal("absent member reported present")
	}
	if _, ok := j.Header.KeyID(); ok {
		t.Fatal("kid reported present")
	}
	if len(j.Header.X5C) != 1 || j.Header.X5C[0] != "AAEC" {
		t.Fatalf("x5c %v", j.Header.X5C)
	}
}

// jwxEncrypt makes a JWE as a peer wallet would, with jwx.
func jwxEncrypt(t testing.TB, pub *ecdh.PublicKey, enc string, hdr map[string]any, payload []byte) string {
	ce, _ := jwa.LookupContentEncryptionAlgorithm(enc)
	h := jwe.NewHeaders()
	for k, v := range hdr {
		if err := h.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	out, err := jwe.Encrypt(payload, jwe.WithKey(jwa.ECDH_ES(), pub), jwe.WithContentEncryption(ce), jwe.WithProtectedHeaders(h), jwe.WithCompact())
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestDecryptInterop(t *testing.T) {
	key, _ := ecdh.P256().GenerateKey(rand.Reader)
	payload := []byte(`{"vp_token":{"q":["abc"]}}`)
	for _, tc := range []struct {
		name string
		enc  string
		hdr  map[string]any
	}{
		{"A128GCM", A128GCM, map[string]any{"kid": "k"}},
		{"A256GCM", A256GCM, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := jwxEncrypt(t, key.PublicKey(), tc.enc, tc.hdr, payload)
			got, err := DecryptECDHES(c, DecryptOptions{Key: key, Enc: []string{A128GCM, A256GCM}, MaxLen: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Plaintext) != string(payload) || got.Header.Enc != tc.enc {
				t.Fatalf("plaintext %q enc %q", got.Plaintext, got.Header.Enc)
			}
		})
	}
}

func TestDecryptRefuses(t *testing.T) {
	key, _ := ecdh.P256().GenerateKey(rand.Reader)
	other, _ := ecdh.P256().GenerateKey(rand.Reader)
	good := jwxEncrypt(t, key.PublicKey(), A128GCM, nil, []byte(`{"a":1}`))
	parts := strings.Split(good, ".")
	hdrJSON, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var hdr map[string]any
	json.Unmarshal(hdrJSON, &hdr)
	withHeader := func(change func(map[string]any)) string {
		m := map[string]any{}
		for k, v := range hdr {
			m[k] = v
		}
		change(m)
		b, _ := json.Marshal(m)
		p := append([]string{}, parts...)
		p[0] = base64.RawURLEncoding.EncodeToString(b)
		return strings.Join(p, ".")
	}
	withPart := func(i int, v string) string {
		p := append([]string{}, parts...)
		p[i] = v
		return strings.Join(p, ".")
	}
	// An off-curve point: x of the generator with y+1.
	gx, gy := elliptic.P256().Params().Gx, elliptic.P256().Params().Gy
	bad := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	offCurve := map[string]any{"kty": "EC", "crv": "P-256", "x": bad(gx.FillBytes(make([]byte, 32))), "y": bad(new(big.Int).Add(gy, big.NewInt(1)).FillBytes(make([]byte, 32)))}
	for _, tc := range []struct {
		name    string
		compact string
		key     *ecdh.PrivateKey
		enc     []string
		want    error
	}{
		{"other key", good, other, nil, ErrDecrypt},
		{"enc not offered", good, key, []string{A256GCM}, ErrUnsupported},
		{"re-encoded header", withPart(0, base64.RawURLEncoding.EncodeToString(append(hdrJSON, ' '))), key, nil, ErrDecrypt},
		{"apu added", withHeader(func(m map[string]any) { m["apu"] = "QWxpY2U" }), key, nil, ErrDecrypt},
		{"alg RSA-OAEP", withHeader(func(m map[string]any) { m["alg"] = "RSA-OAEP" }), key, nil, ErrUnsupported},
		{"alg ECDH-ES+A128KW", withHeader(func(m map[string]any) { m["alg"] = "ECDH-ES+A128KW" }), key, nil, ErrUnsupported},
		{"enc A128CBC-HS256", withHeader(func(m map[string]any) { m["enc"] = "A128CBC-HS256" }), key, nil, ErrUnsupported},
		{"zip", withHeader(func(m map[string]any) { m["zip"] = "DEF" }), key, nil, ErrUnsupported},
		{"crit", withHeader(func(m map[string]any) { m["crit"] = []string{"x"} }), key, nil, ErrUnsupported},
		// RFC 7515 §4: a header names each member once; two parsers must
		// not read one header two ways.
		{"duplicate enc", withPart(0, base64.RawURLEncoding.EncodeToString(append([]byte(`{"enc":"A256GCM",`), hdrJSON[1:]...))), key, nil, ErrMalformed},
		{"no epk", withHeader(func(m map[string]any) { delete(m, "epk") }), key, nil, ErrMalformed},
		{"epk P-384", withHeader(func(m map[string]any) { m["epk"] = map[string]any{"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"} }), key, nil, ErrUnsupported},
		{"epk off the curve", withHeader(func(m map[string]any) { m["epk"] = offCurve }), key, nil, ErrDecrypt},
		{"encrypted key", withPart(1, "AAAA"), key, nil, ErrMalformed},
		{"short iv", withPart(2, "AAAA"), key, nil, ErrMalformed},
		{"short tag", withPart(4, "AAAA"), key, nil, ErrMalformed},
		{"ciphertext changed", withPart(3, "AAAA"+parts[3][4:]), key, nil, ErrDecrypt},
		{"four parts", strings.Join(parts[:4], "."), key, nil, ErrMalformed},
		{"too long", good + strings.Repeat("A", 1<<20), key, nil, ErrMalformed},
		{"no key", good, nil, nil, ErrDecrypt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := tc.enc
			if enc == nil {
				enc = []string{A128GCM, A256GCM}
			}
			_, err := DecryptECDHES(tc.compact, DecryptOptions{Key: tc.key, Enc: enc, MaxLen: 1 << 20})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestDecryptPartyInfo decrypts a JWE whose key derivation binds apu and
// apv (as ISO/IEC 18013-7 wallets send them). jwx 3 cannot make one (it
// writes apu and apv into the header but leaves them out of its own key
// derivation, and then fails to decrypt its own message), so the test
// encrypts by RFC 7518 §4.6 itself; TestConcatKDF anchors the derivation
// to the RFC's worked example.
func TestDecryptPartyInfo(t *testing.T) {
	key, _ := ecdh.P256().GenerateKey(rand.Reader)
	eph, _ := ecdh.P256().GenerateKey(rand.Reader)
	z, _ := eph.ECDH(key.PublicKey())
	apu, apv := []byte("wallet nonce"), []byte("verifier nonce")
	pt := eph.PublicKey().Bytes()
	enc := base64.RawURLEncoding.EncodeToString
	hdr, _ := json.Marshal(map[string]any{"alg": ECDHES, "enc": A256GCM, "apu": enc(apu), "apv": enc(apv),
		"epk": map[string]string{"kty": "EC", "crv": "P-256", "x": enc(pt[1:33]), "y": enc(pt[33:])}})
	h := enc(hdr)
	block, _ := aes.NewCipher(concatKDF(z, A256GCM, apu, apv, 32))
	gcm, _ := cipher.NewGCM(block)
	iv := make([]byte, 12)
	rand.Read(iv)
	sealed := gcm.Seal(nil, iv, []byte("bound"), []byte(h))
	c := h + ".." + enc(iv) + "." + enc(sealed[:len(sealed)-16]) + "." + enc(sealed[len(sealed)-16:])
	got, err := DecryptECDHES(c, DecryptOptions{Key: key, Enc: []string{A256GCM}, MaxLen: 1 << 20})
	if err != nil || string(got.Plaintext) != "bound" {
		t.Fatalf("decrypt: %v", err)
	}
}

// TestConcatKDF checks the KDF against the worked example of RFC 7518
// Appendix C (ECDH-ES with A128GCM, apu "Alice", apv "Bob").
func TestConcatKDF(t *testing.T) {
	d := func(s string) []byte { b, _ := base64.RawURLEncoding.DecodeString(s); return b }
	z := []byte{158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132,
		38, 156, 251, 49, 110, 163, 218, 128, 106, 72, 246, 218, 167, 121,
		140, 254, 144, 196}
	got := concatKDF(z, A128GCM, d("QWxpY2U"), d("Qm9i"), 16)
	if want := "VqqN6vgjbSBcIijNcacQGg"; base64.RawURLEncoding.EncodeToString(got) != want {
		t.Fatalf("CEK %s, want %s", base64.RawURLEncoding.EncodeToString(got), want)
	}
}
