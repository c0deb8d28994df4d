package jose

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
)

// JWE algorithms (RFC 7518 §4.6, §5.3).
const (
	ECDHES  = "ECDH-ES"
	A128GCM = "A128GCM"
	A256GCM = "A256GCM"
)

// DecryptOptions says what a DecryptECDHES caller accepts.
type DecryptOptions struct {
	// Key is the recipient's P-256 private key.
	Key *ecdh.PrivateKey
	// Enc lists the content encryptions the recipient offered (A128GCM,
	// A256GCM); the JWE's enc must be one of them.
	Enc []string
	// MaxLen bounds the compact serialisation.
	MaxLen int
}

// JWE is a decrypted compact JWE.
type JWE struct {
	Header    *Header
	Plaintext []byte
}

// epk is the ephemeral public key of an ECDH-ES JWE (RFC 7518 §4.6.1.1).
type epk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// DecryptECDHES decrypts a compact JWE (RFC 7516 §7.1) with alg ECDH-ES
// (direct key agreement, RFC 7518 §4.6) to o.Key, and enc one of o.Enc.
// It refuses compression and critical headers, an encrypted key (ECDH-ES
// has none), an ephemeral key off the curve or not on P-256, and an IV or
// tag of the wrong length. Anything wrong with the cryptography is
// ErrDecrypt; with the form, ErrMalformed or ErrUnsupported.
func DecryptECDHES(compact string, o DecryptOptions) (*JWE, error) {
	if o.Key == nil || o.Key.Curve() != ecdh.P256() {
		return nil, fmt.Errorf("%w: no P-256 decryption key", ErrDecrypt)
	}
	if len(compact) > o.MaxLen {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(compact), o.MaxLen)
	}
	var parts [5]string
	rest := compact
	for i := range 4 {
		var ok bool
		if parts[i], rest, ok = strings.Cut(rest, "."); !ok {
			return nil, fmt.Errorf("%w: not a compact JWE (want five parts)", ErrMalformed)
		}
	}
	if strings.Contains(rest, ".") {
		return nil, fmt.Errorf("%w: not a compact JWE (want five parts)", ErrMalformed)
	}
	parts[4] = rest
	h, err := decodeHeader(parts[0])
	if err != nil {
		return nil, err
	}
	if h.Alg != ECDHES {
		return nil, fmt.Errorf("%w: JWE alg %q, want %s", ErrUnsupported, h.Alg, ECDHES)
	}
	var keyLen int
	switch h.Enc {
	case A128GCM:
		keyLen = 16
	case A256GCM:
		keyLen = 32
	default:
		return nil, fmt.Errorf("%w: JWE enc %q", ErrUnsupported, h.Enc)
	}
	if !slices.Contains(o.Enc, h.Enc) {
		return nil, fmt.Errorf("%w: JWE enc %q was not offered (%v)", ErrUnsupported, h.Enc, o.Enc)
	}
	if h.Zip != "" {
		return nil, fmt.Errorf("%w: JWE compression %q", ErrUnsupported, h.Zip)
	}
	if parts[1] != "" {
		return nil, fmt.Errorf("%w: ECDH-ES JWE with an encrypted key", ErrMalformed)
	}
	pub, err := parseEPK(h.EPK)
	if err != nil {
		return nil, err
	}
	apu, err := b64(h.APU)
	if err != nil {
		return nil, fmt.Errorf("%w: apu: %v", ErrMalformed, err)
	}
	apv, err := b64(h.APV)
	if err != nil {
		return nil, fmt.Errorf("%w: apv: %v", ErrMalformed, err)
	}
	iv, err := b64(parts[2])
	if err != nil || len(iv) != 12 {
		return nil, fmt.Errorf("%w: JWE iv must be 96 bits of base64url", ErrMalformed)
	}
	// Ciphertext and tag decoded into one buffer: GCM opens them in place.
	enc := base64.RawURLEncoding.Strict()
	sealed := make([]byte, enc.DecodedLen(len(parts[3]))+enc.DecodedLen(len(parts[4])))
	nct, err := enc.Decode(sealed, []byte(parts[3]))
	if err != nil {
		return nil, fmt.Errorf("%w: ciphertext encoding: %v", ErrMalformed, err)
	}
	ntag, err := enc.Decode(sealed[nct:], []byte(parts[4]))
	if err != nil || ntag != 16 {
		return nil, fmt.Errorf("%w: JWE tag must be 128 bits of base64url", ErrMalformed)
	}
	sealed = sealed[:nct+ntag]
	z, err := o.Key.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: key agreement: %v", ErrDecrypt, err)
	}
	cek := concatKDF(z, h.Enc, apu, apv, keyLen)
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	// RFC 7516 §5.2 step 14: the AAD is the protected header exactly as
	// sent (its base64url form), so a re-encoded header fails.
	plain, err := gcm.Open(sealed[:0], iv, sealed, []byte(parts[0]))
	if err != nil {
		return nil, fmt.Errorf("%w: authenticated decryption: %v", ErrDecrypt, err)
	}
	return &JWE{Header: h, Plaintext: plain}, nil
}

// parseEPK reads the ephemeral public key. crypto/ecdh checks that the
// point is on P-256, which stops invalid-curve attacks on the static key.
func parseEPK(raw json.RawMessage) (*ecdh.PublicKey, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: JWE has no epk", ErrMalformed)
	}
	var k epk
	if err := jsonv2.Unmarshal(raw, &k); err != nil {
		return nil, fmt.Errorf("%w: epk: %v", ErrMalformed, err)
	}
	if k.Kty != "EC" || k.Crv != "P-256" {
		return nil, fmt.Errorf("%w: epk %s %s, want EC P-256", ErrUnsupported, k.Kty, k.Crv)
	}
	x, errX := b64(k.X)
	y, errY := b64(k.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, fmt.Errorf("%w: epk coordinates must be 32 bytes of base64url", ErrMalformed)
	}
	pt := make([]byte, 0, 65)
	pt = append(append(append(pt, 4), x...), y...)
	pub, err := ecdh.P256().NewPublicKey(pt)
	if err != nil {
		return nil, fmt.Errorf("%w: epk is not a P-256 point: %v", ErrDecrypt, err)
	}
	return pub, nil
}

// concatKDF is the single-step KDF of NIST SP 800-56A §5.8.1 with SHA-256
// as RFC 7518 §4.6.2 uses it for direct key agreement: AlgorithmID is the
// enc value, PartyUInfo and PartyVInfo the apu and apv, SuppPubInfo the
// key length in bits. One round gives 256 bits, enough for both encs.
func concatKDF(z []byte, enc string, apu, apv []byte, keyLen int) []byte {
	var buf []byte
	buf = binary.BigEndian.AppendUint32(buf, 1)
	buf = append(buf, z...)
	for _, f := range [][]byte{[]byte(enc), apu, apv} {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(f)))
		buf = append(buf, f...)
	}
	buf = binary.BigEndian.AppendUint32(buf, uint32(keyLen*8))
	sum := sha256.Sum256(buf)
	return sum[:keyLen]
}
