package jose

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// ErrPrivateKey marks (with ErrUnsupported) a JWK that carries private or
// symmetric key material where a public key belongs.
var ErrPrivateKey = errors.New("jose: private key material")

// MaxJWKLen bounds one public JWK: an RSA-4096 key is under 1 KiB.
const MaxJWKLen = 4 << 10

// RSA modulus sizes a public JWK may carry: below 2048 bits is broken,
// above 4096 bits only makes verification a denial-of-service lever.
const (
	minRSABits = 2048
	maxRSABits = 4096
)

// jwkMembers are the members of a public JWK this package reads, plus
// those whose presence marks a private or symmetric key (RFC 7518 §6.2.2,
// §6.3.2, §6.4.1).
type jwkMembers struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	N   string `json:"n"`
	E   string `json:"e"`

	D   *jsontext.Value `json:"d"`
	P   *jsontext.Value `json:"p"`
	Q   *jsontext.Value `json:"q"`
	DP  *jsontext.Value `json:"dp"`
	DQ  *jsontext.Value `json:"dq"`
	QI  *jsontext.Value `json:"qi"`
	Oth *jsontext.Value `json:"oth"`
	K   *jsontext.Value `json:"k"`
}

// PublicJWK is a parsed public JSON Web Key.
type PublicJWK struct {
	// Key is *ecdsa.PublicKey on P-256 or *rsa.PublicKey of 2048–4096
	// bits.
	Key crypto.PublicKey
	// Thumbprint is the RFC 7638 SHA-256 thumbprint.
	Thumbprint [32]byte
}

// ParsePublicJWK parses a public JWK (RFC 7517): EC P-256 or RSA with a
// 2048–4096-bit modulus. A key with private members (d, p, q, …) or a
// symmetric key is refused, as are an EC point off the curve and
// coordinates of the wrong length. Members it does not use (kid, use, alg)
// are ignored, as RFC 7517 §4 asks.
func ParsePublicJWK(raw []byte) (*PublicJWK, error) {
	if len(raw) > MaxJWKLen {
		return nil, fmt.Errorf("%w: JWK of %d bytes, limit %d", ErrMalformed, len(raw), MaxJWKLen)
	}
	// json/v2 semantics, as for JOSE headers: member names match
	// case-sensitively (RFC 7517 §4) and a duplicate member is an error, so
	// "X" cannot stand in for "x" nor a second "x" replace the first in one
	// parser and not in another.
	var m jwkMembers
	if err := jsonv2.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: JWK: %v", ErrMalformed, err)
	}
	if m.D != nil || m.P != nil || m.Q != nil || m.DP != nil || m.DQ != nil || m.QI != nil || m.Oth != nil || m.K != nil {
		return nil, fmt.Errorf("%w: %w: JWK holds private or symmetric key material", ErrUnsupported, ErrPrivateKey)
	}
	switch m.Kty {
	case "EC":
		if m.Crv != "P-256" {
			return nil, fmt.Errorf("%w: EC curve %q, want P-256", ErrUnsupported, m.Crv)
		}
		x, errX := b64(m.X)
		y, errY := b64(m.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return nil, fmt.Errorf("%w: EC coordinates must be 32 bytes of base64url", ErrMalformed)
		}
		pt := append(append([]byte{4}, x...), y...)
		// crypto/ecdh refuses a point off the curve or at infinity.
		if _, err := ecdh.P256().NewPublicKey(pt); err != nil {
			return nil, fmt.Errorf("%w: not a P-256 point: %v", ErrMalformed, err)
		}
		pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
		return &PublicJWK{Key: pub, Thumbprint: ecThumbprint(m.X, m.Y)}, nil
	case "RSA":
		n, errN := b64(m.N)
		e, errE := b64(m.E)
		if errN != nil || errE != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("%w: RSA n and e must be base64url integers", ErrMalformed)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if bits := pub.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil, fmt.Errorf("%w: RSA key of %d bits", ErrUnsupported, bits)
		}
		if pub.E < 3 || pub.E&1 == 0 {
			return nil, fmt.Errorf("%w: RSA exponent %d", ErrMalformed, pub.E)
		}
		return &PublicJWK{Key: pub, Thumbprint: rsaThumbprint(pub)}, nil
	case "":
		return nil, fmt.Errorf("%w: JWK has no kty", ErrMalformed)
	}
	return nil, fmt.Errorf("%w: JWK kty %q", ErrUnsupported, m.Kty)
}

// MarshalPublicJWK returns the public JWK of pub (*ecdsa.PublicKey on
// P-256 or *rsa.PublicKey) with only its required members, so it is
// also the input of its RFC 7638 thumbprint.
func MarshalPublicJWK(pub crypto.PublicKey) ([]byte, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: EC curve %s", ErrUnsupported, k.Curve.Params().Name)
		}
		x, y := coords(k)
		return ecCanonical(x, y), nil
	case *rsa.PublicKey:
		return rsaCanonical(k), nil
	}
	return nil, fmt.Errorf("%w: key type %T", ErrUnsupported, pub)
}

func coords(k *ecdsa.PublicKey) (x, y string) {
	var xb, yb [32]byte
	k.X.FillBytes(xb[:])
	k.Y.FillBytes(yb[:])
	return base64.RawURLEncoding.EncodeToString(xb[:]), base64.RawURLEncoding.EncodeToString(yb[:])
}

// ecCanonical and rsaCanonical are the RFC 7638 §3 forms: the required
// members in lexicographic order, no whitespace. The base64url values need
// no JSON escaping.
func ecCanonical(x, y string) []byte {
	return []byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`)
}

func rsaCanonical(k *rsa.PublicKey) []byte {
	e := big.NewInt(int64(k.E)).Bytes()
	return []byte(`{"e":"` + base64.RawURLEncoding.EncodeToString(e) + `","kty":"RSA","n":"` + base64.RawURLEncoding.EncodeToString(k.N.Bytes()) + `"}`)
}

// ecThumbprint hashes the coordinates as received: ParsePublicJWK checked
// that they are strict base64url of exactly 32 bytes, the one encoding.
func ecThumbprint(x, y string) [32]byte { return sha256.Sum256(ecCanonical(x, y)) }

// rsaThumbprint re-encodes n and e without leading zero octets (RFC 7518
// §6.3.1.1), so a key sent with a padded modulus has the thumbprint of
// the key.
func rsaThumbprint(k *rsa.PublicKey) [32]byte { return sha256.Sum256(rsaCanonical(k)) }
