package jose

import (
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// TestPublicJWKInterop: keys exported by jwx parse here to the same key
// and the same RFC 7638 thumbprint, and keys marshalled here parse in jwx.
func TestPublicJWKInterop(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for name, pub := range map[string]crypto.PublicKey{"P-256": &ecKey(t, elliptic.P256()).PublicKey, "RSA-2048": &rsaKey.PublicKey} {
		t.Run(name, func(t *testing.T) {
			k, err := jwk.Import(pub)
			if err != nil {
				t.Fatal(err)
			}
			k.Set(jwk.KeyIDKey, "kid-1") // extra members are ignored
			raw, _ := json.Marshal(k)
			got, err := ParsePublicJWK(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Key.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
				t.Fatal("parsed key differs")
			}
			want, _ := k.Thumbprint(crypto.SHA256)
			if string(got.Thumbprint[:]) != string(want) {
				t.Fatalf("thumbprint %x, jwx %x", got.Thumbprint, want)
			}
			mine, err := MarshalPublicJWK(pub)
			if err != nil {
				t.Fatal(err)
			}
			back, err := jwk.ParseKey(mine)
			if err != nil {
				t.Fatalf("jwx refuses %s: %v", mine, err)
			}
			tp, _ := back.Thumbprint(crypto.SHA256)
			if string(tp) != string(want) {
				t.Fatal("marshalled key has another thumbprint")
			}
		})
	}
}

// TestPublicJWKRFC7638 checks the thumbprint of RFC 7638 §3.1's example.
const rfcN = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"

func TestPublicJWKRFC7638(t *testing.T) {
	raw := `{"kty":"RSA","n":"` + rfcN + `","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`
	k, err := ParsePublicJWK([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.RawURLEncoding.EncodeToString(k.Thumbprint[:]); got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Fatalf("thumbprint %s", got)
	}
}

func TestPublicJWKRefuses(t *testing.T) {
	ec := ecKey(t, elliptic.P256())
	x, y := coords(&ec.PublicKey)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallJWK, _ := json.Marshal(map[string]string{"kty": "RSA", "e": "AQAB", "n": base64.RawURLEncoding.EncodeToString(small.N.Bytes())})
	p384 := ecKey(t, elliptic.P384())
	p384JWK, _ := jwk.Import(&p384.PublicKey)
	p384Raw, _ := json.Marshal(p384JWK)
	privJWK, _ := jwk.Import(ec)
	privRaw, _ := json.Marshal(privJWK)
	// y+1 leaves the curve.
	yb, _ := b64(y)
	yb[31] ^= 1
	off := base64.RawURLEncoding.EncodeToString(yb)
	for _, tc := range []struct {
		name, raw string
		want      error
	}{
		{"not json", `{"kty":`, ErrMalformed},
		{"no kty", `{"crv":"P-256"}`, ErrMalformed},
		{"oct", `{"kty":"oct","k":"AAAA"}`, ErrUnsupported},
		{"OKP", `{"kty":"OKP","crv":"Ed25519","x":"AAAA"}`, ErrUnsupported},
		{"private EC", string(privRaw), ErrPrivateKey},
		{"P-384", string(p384Raw), ErrUnsupported},
		{"off curve", `{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + off + `"}`, ErrMalformed},
		{"short x", `{"kty":"EC","crv":"P-256","x":"` + x[:40] + `","y":"` + y + `"}`, ErrMalformed},
		{"padded x", `{"kty":"EC","crv":"P-256","x":"` + x + `=","y":"` + y + `"}`, ErrMalformed},
		{"RSA-1024", string(smallJWK), ErrUnsupported},
		{"RSA even e", `{"kty":"RSA","e":"AAI","n":"` + rfcN + `"}`, ErrMalformed},
		{"RSA no n", `{"kty":"RSA","e":"AQAB"}`, ErrMalformed},
		{"huge", `{"kty":"EC","pad":"` + strings.Repeat("A", MaxJWKLen) + `"}`, ErrMalformed},
		// Member names are case-sensitive: "CRV" is not "crv", so the key
		// has no curve.
		{"case-variant member", `{"kty":"EC","CRV":"P-256","x":"` + x + `","y":"` + y + `"}`, ErrUnsupported},
		{"duplicate member", `{"kty":"EC","crv":"P-256","crv":"P-256","x":"` + x + `","y":"` + y + `"}`, ErrMalformed},
		{"invalid UTF-8", "{\"kty\":\"EC\",\"crv\":\"P-256\xff\",\"x\":\"" + x + "\",\"y\":\"" + y + "\"}", ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParsePublicJWK([]byte(tc.raw)); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}
