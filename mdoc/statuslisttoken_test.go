package mdoc

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/veraison/go-cose"
)

const statusListURI = "https://issuer.example/statuslists/1"

var statusListNow = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

func statusListFixture(t testing.TB) *StatusList {
	t.Helper()
	l, err := NewStatusList(2, 100)
	if err != nil {
		t.Fatal(err)
	}
	l.Set(3, StatusInvalid)
	l.Set(4, StatusSuspended)
	return l
}

func statusListClaims() StatusListClaims {
	return StatusListClaims{
		Subject:   statusListURI,
		IssuedAt:  statusListNow.Add(-time.Hour),
		ExpiresAt: statusListNow.Add(23 * time.Hour),
		TTL:       12 * time.Hour,
	}
}

func selfSigned(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "status list signer"},
		NotBefore:    statusListNow.Add(-time.Hour),
		NotAfter:     statusListNow.Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestStatusListTokenSignVerify(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		alg  cose.Algorithm
		opts StatusListTokenOptions
	}{
		{"ES256", p256, cose.AlgorithmES256, StatusListTokenOptions{}},
		{"ES384 with kid", p384, cose.AlgorithmES384, StatusListTokenOptions{KeyID: []byte("k1")}},
		{"EdDSA with x5chain", ed, cose.AlgorithmEdDSA, StatusListTokenOptions{X5Chain: [][]byte{selfSigned(t, ed)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := SignStatusListToken(tc.key, tc.opts, statusListClaims(), statusListFixture(t))
			if err != nil {
				t.Fatal(err)
			}
			if tok[0] != 0xd2 {
				t.Fatalf("token starts with %#x, want tag 18", tok[0])
			}
			p, err := ParseStatusListToken(tok)
			if err != nil {
				t.Fatal(err)
			}
			if p.Type != StatusListCWTType || p.Algorithm != tc.alg || !bytes.Equal(p.KeyID, tc.opts.KeyID) || !bytes.Equal(p.Raw, tok) {
				t.Fatalf("parsed typ %q alg %v kid %x", p.Type, p.Algorithm, p.KeyID)
			}
			c := p.Claims
			if c.Subject != statusListURI || !c.IssuedAt.Equal(statusListNow.Add(-time.Hour)) ||
				!c.ExpiresAt.Equal(statusListNow.Add(23*time.Hour)) || c.TTL != 12*time.Hour {
				t.Fatalf("claims %+v", c)
			}
			if err := p.Verify(tc.key.Public(), statusListURI, statusListNow); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			for idx, want := range map[uint64]uint8{0: StatusValid, 3: StatusInvalid, 4: StatusSuspended, 99: StatusValid} {
				if got, err := p.Status(idx); err != nil || got != want {
					t.Errorf("Status(%d) = %d, %v; want %d", idx, got, err, want)
				}
			}
			if _, err := p.Status(p.List.Len()); !errors.Is(err, ErrStatusListInvalid) {
				t.Errorf("Status out of range: %v", err)
			}
			if len(tc.opts.X5Chain) > 0 {
				certs, err := p.Certificates()
				if err != nil || len(certs) != 1 || !certs[0].PublicKey.(ed25519.PublicKey).Equal(tc.key.Public()) {
					t.Fatalf("Certificates: %v", err)
				}
			}
		})
	}
}

// signRawStatusListToken signs an arbitrary protected header and payload,
// for tokens SignStatusListToken refuses to make.
func signRawStatusListToken(t testing.TB, key *ecdsa.PrivateKey, typ any, payload []byte) []byte {
	t.Helper()
	s, err := cose.NewSigner(cose.AlgorithmES256, key)
	if err != nil {
		t.Fatal(err)
	}
	prot := cose.ProtectedHeader{cose.HeaderLabelAlgorithm: cose.AlgorithmES256}
	if typ != nil {
		prot[cose.HeaderLabelType] = typ
	}
	b, err := cose.Sign1(rand.Reader, s, cose.Headers{Protected: prot}, payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStatusListTokenVerifyRejects(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sign := func(mod func(*StatusListClaims)) []byte {
		c := statusListClaims()
		if mod != nil {
			mod(&c)
		}
		tok, err := SignStatusListToken(key, StatusListTokenOptions{}, c, statusListFixture(t))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := sign(nil)
	p, _ := ParseStatusListToken(good)
	payload := p.msg.Payload

	tamperedSig := bytes.Clone(good)
	tamperedSig[len(tamperedSig)-1] ^= 1
	// Change a byte of the sub claim inside the signed payload.
	tamperedPayload := bytes.Replace(good, []byte("lists/1"), []byte("lists/2"), 1)

	for _, tc := range []struct {
		name   string
		tok    []byte
		pub    crypto.PublicKey
		sub    string
		now    time.Time
		detail string
	}{
		{"good", good, key.Public(), statusListURI, statusListNow, ""},
		{"good within skew", sign(func(c *StatusListClaims) { c.IssuedAt = statusListNow.Add(time.Minute) }), key.Public(), statusListURI, statusListNow, ""},
		{"no exp", sign(func(c *StatusListClaims) { c.ExpiresAt = time.Time{} }), key.Public(), statusListURI, statusListNow.Add(1000 * time.Hour), ""},
		{"tampered signature", tamperedSig, key.Public(), statusListURI, statusListNow, "signature"},
		{"tampered payload", tamperedPayload, key.Public(), "https://issuer.example/statuslists/2", statusListNow, "signature"},
		{"wrong key", good, other.Public(), statusListURI, statusListNow, "signature"},
		{"wrong key type", good, ed25519.PublicKey(make([]byte, 32)), statusListURI, statusListNow, "signature"},
		{"wrong sub", good, key.Public(), "https://issuer.example/statuslists/9", statusListNow, "sub"},
		{"expired", good, key.Public(), statusListURI, statusListNow.Add(23 * time.Hour), "expired"},
		{"issued in the future", sign(func(c *StatusListClaims) {
			c.IssuedAt = statusListNow.Add(MaxStatusListClockSkew + time.Second)
			c.ExpiresAt = c.IssuedAt.Add(time.Hour)
		}), key.Public(), statusListURI, statusListNow, "future"},
		{"typ missing", signRawStatusListToken(t, key, nil, payload), key.Public(), statusListURI, statusListNow, "typ"},
		{"typ of a JWT", signRawStatusListToken(t, key, "application/statuslist+jwt", payload), key.Public(), statusListURI, statusListNow, "typ"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseStatusListToken(tc.tok)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			err = p.Verify(tc.pub, tc.sub, tc.now)
			if tc.detail == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrStatusListInvalid) || !strings.Contains(err.Error(), tc.detail) {
				t.Fatalf("Verify = %v, want status_list_invalid mentioning %q", err, tc.detail)
			}
		})
	}
}

func TestParseStatusListTokenRejects(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good, err := SignStatusListToken(key, StatusListTokenOptions{}, statusListClaims(), statusListFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	lst, _ := statusListFixture(t).Encode()
	claims := func(m map[int]any) []byte { return signRawStatusListToken(t, key, StatusListCWTType, engCBOR(t, m)) }
	sl := map[string]any{"bits": 2, "lst": lst}
	for _, tc := range []struct {
		name string
		in   []byte
		code Code
	}{
		{"empty", nil, CodeStatusListInvalid},
		{"untagged", good[1:], CodeStatusListInvalid},
		{"other tag", append([]byte{0xd1}, good[1:]...), CodeStatusListInvalid},
		{"truncated", good[:len(good)-4], CodeStatusListInvalid},
		{"no sub", claims(map[int]any{6: 1, 65533: sl}), CodeStatusListInvalid},
		{"no iat", claims(map[int]any{2: statusListURI, 65533: sl}), CodeStatusListInvalid},
		{"no status_list", claims(map[int]any{2: statusListURI, 6: 1}), CodeStatusListInvalid},
		{"iat text", claims(map[int]any{2: statusListURI, 6: "now", 65533: sl}), CodeStatusListInvalid},
		{"bits 3", claims(map[int]any{2: statusListURI, 6: 1, 65533: map[string]any{"bits": 3, "lst": lst}}), CodeStatusListInvalid},
		{"lst not zlib", claims(map[int]any{2: statusListURI, 6: 1, 65533: map[string]any{"bits": 1, "lst": []byte("x")}}), CodeStatusListInvalid},
		{"payload not map", signRawStatusListToken(t, key, StatusListCWTType, []byte{0x80}), CodeStatusListInvalid},
		{"typ not text", signRawStatusListToken(t, key, uint64(61), engCBOR(t, map[int]any{2: statusListURI, 6: 1, 65533: sl})), CodeStatusListInvalid},
		{"oversized", append([]byte{0xd2}, make([]byte, MaxMessageSize)...), CodeLimitExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseStatusListToken(tc.in); CodeOf(err) != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
		})
	}
	// A float NumericDate is accepted (RFC 8392 §2).
	p, err := ParseStatusListToken(claims(map[int]any{2: statusListURI, 6: 1.5e9, 65533: sl}))
	if err != nil || p.Claims.IssuedAt.Unix() != 1500000000 {
		t.Fatalf("float iat: %v", err)
	}
}

func TestSignStatusListTokenRejects(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	l := statusListFixture(t)
	for name, mod := range map[string]func(*StatusListClaims){
		"no sub":         func(c *StatusListClaims) { c.Subject = "" },
		"no iat":         func(c *StatusListClaims) { c.IssuedAt = time.Time{} },
		"exp before iat": func(c *StatusListClaims) { c.ExpiresAt = c.IssuedAt.Add(-time.Second) },
		"negative ttl":   func(c *StatusListClaims) { c.TTL = -time.Second },
	} {
		c := statusListClaims()
		mod(&c)
		if _, err := SignStatusListToken(key, StatusListTokenOptions{}, c, l); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
	if _, err := SignStatusListToken(key, StatusListTokenOptions{}, statusListClaims(), nil); err == nil {
		t.Error("nil list signed")
	}
	enc, err := l.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, bits := range []int{0, 3, 16} {
		if _, err := SignStatusListToken(key, StatusListTokenOptions{Encoded: enc, Bits: bits}, statusListClaims(), nil); CodeOf(err) != CodeStatusListInvalid {
			t.Errorf("encoded list of %d bits: %v", bits, err)
		}
	}
}

// TestSignEncodedStatusList: a list re-signed from its compressed form
// alone (no StatusList at hand) gives the same statuses.
func TestSignEncodedStatusList(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	l := statusListFixture(t)
	enc, err := l.Encode()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := SignStatusListToken(key, StatusListTokenOptions{Encoded: enc, Bits: l.Bits}, statusListClaims(), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseStatusListToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(key.Public(), statusListURI, statusListNow); err != nil {
		t.Fatal(err)
	}
	for idx := range l.Len() {
		want, _ := l.Get(idx)
		if got, err := p.Status(idx); err != nil || got != want {
			t.Fatalf("Status(%d) = %d, %v; want %d", idx, got, err, want)
		}
	}
}

func FuzzParseStatusListToken(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	l, _ := NewStatusList(1, 16)
	l.Set(0, 1)
	tok, err := SignStatusListToken(key, StatusListTokenOptions{KeyID: []byte("k")}, StatusListClaims{Subject: "https://a.example/1", IssuedAt: time.Unix(1700000000, 0)}, l)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add([]byte{0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0x40, 0x40})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseStatusListToken(b)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if p.List == nil || p.Claims.Subject == "" {
			t.Fatal("accepted token without list or sub")
		}
		// Verification never panics; an error is always typed. (A mutant
		// may still verify: the unprotected header is not signed.)
		if err := p.Verify(key.Public(), p.Claims.Subject, time.Unix(1700000000, 0)); err != nil && CodeOf(err) == "" {
			t.Fatalf("untyped error %v", err)
		}
		_, _ = p.Status(0)
	})
}
