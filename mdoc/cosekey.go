package mdoc

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// COSE key parameters (RFC 9053 §7, IANA COSE registries).
const (
	KeyTypeOKP = 1
	KeyTypeEC2 = 2

	CurveP256    = 1
	CurveP384    = 2
	CurveP521    = 3
	CurveEd25519 = 6
)

// COSEKey is a public COSE_Key (RFC 9052 §7) of type EC2 (P-256, P-384,
// P-521) or OKP (Ed25519). Raw keeps the encoding as received; private
// parameters (-4) are rejected because a COSE_Key crossing this package
// boundary is always a public key (deviceKey, EDeviceKey, EReaderKey).
type COSEKey struct {
	Kty int64
	Crv int64
	X   []byte
	Y   []byte // empty for OKP; for EC2 always the full y coordinate
	Kid []byte
	// KidText is set when the key carried kid as a text string (the
	// text's bytes are in Kid). RFC 9052 §7.1 makes kid a bstr; see
	// DeviationKidText.
	KidText bool
	Alg     int64 // 0 when absent
	Raw     []byte

	pub crypto.PublicKey // parsed once, on decode or construction
}

// coseKeyWire is the CBOR map of a COSE_Key. Y is decoded as raw because it
// may be a bstr or a bool (point compression sign bit).
type coseKeyWire struct {
	Kty int64           `cbor:"1,keyasint"`
	Kid []byte          `cbor:"2,keyasint,omitempty"`
	Alg int64           `cbor:"3,keyasint,omitempty"`
	Crv int64           `cbor:"-1,keyasint"`
	X   []byte          `cbor:"-2,keyasint"`
	Y   cbor.RawMessage `cbor:"-3,keyasint,omitempty"`
	D   cbor.RawMessage `cbor:"-4,keyasint,omitempty"`
}

// coseKeyDecodeWire reads a COSE_Key; kid stays raw so that a text-string
// kid, which published wallets emit, can be told apart and reported.
type coseKeyDecodeWire struct {
	Kty int64           `cbor:"1,keyasint"`
	Kid cbor.RawMessage `cbor:"2,keyasint,omitempty"`
	Alg int64           `cbor:"3,keyasint,omitempty"`
	Crv int64           `cbor:"-1,keyasint"`
	X   []byte          `cbor:"-2,keyasint"`
	Y   cbor.RawMessage `cbor:"-3,keyasint,omitempty"`
	D   cbor.RawMessage `cbor:"-4,keyasint,omitempty"`
}

// NewCOSEKey returns the COSE_Key for a public key (*ecdsa.PublicKey,
// *ecdh.PublicKey on a NIST curve, or ed25519.PublicKey).
func NewCOSEKey(pub crypto.PublicKey) (*COSEKey, error) {
	var k COSEKey
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		crv, size, err := curveID(p.Curve)
		if err != nil {
			return nil, err
		}
		raw, err := p.Bytes()
		if err != nil {
			return nil, newError(CodeUnsupported, "public key: %v", err)
		}
		k = COSEKey{Kty: KeyTypeEC2, Crv: crv, X: raw[1 : 1+size], Y: raw[1+size:]}
	case *ecdh.PublicKey:
		var crv int64
		switch p.Curve() {
		case ecdh.P256():
			crv = CurveP256
		case ecdh.P384():
			crv = CurveP384
		case ecdh.P521():
			crv = CurveP521
		default:
			return nil, newError(CodeUnsupported, "ecdh curve %v", p.Curve())
		}
		raw := p.Bytes()
		size := (len(raw) - 1) / 2
		k = COSEKey{Kty: KeyTypeEC2, Crv: crv, X: raw[1 : 1+size], Y: raw[1+size:]}
	case ed25519.PublicKey:
		k = COSEKey{Kty: KeyTypeOKP, Crv: CurveEd25519, X: bytes.Clone(p)}
	default:
		return nil, newError(CodeUnsupported, "public key type %T", pub)
	}
	raw, err := k.marshal()
	if err != nil {
		return nil, err
	}
	k.Raw = raw
	return &k, nil
}

func curveID(c elliptic.Curve) (crv int64, size int, err error) {
	switch c {
	case elliptic.P256():
		return CurveP256, 32, nil
	case elliptic.P384():
		return CurveP384, 48, nil
	case elliptic.P521():
		return CurveP521, 66, nil
	}
	return 0, 0, newError(CodeUnsupported, "curve %v", c.Params().Name)
}

func curveByID(crv int64) (elliptic.Curve, ecdh.Curve, int, bool) {
	switch crv {
	case CurveP256:
		return elliptic.P256(), ecdh.P256(), 32, true
	case CurveP384:
		return elliptic.P384(), ecdh.P384(), 48, true
	case CurveP521:
		return elliptic.P521(), ecdh.P521(), 66, true
	}
	return nil, nil, 0, false
}

func (k *COSEKey) marshal() ([]byte, error) {
	w := coseKeyWire{Kty: k.Kty, Kid: k.Kid, Alg: k.Alg, Crv: k.Crv, X: k.X}
	if k.Kty == KeyTypeEC2 {
		y, err := Marshal(k.Y)
		if err != nil {
			return nil, err
		}
		w.Y = y
	}
	return Marshal(w)
}

// MarshalCBOR implements cbor.Marshaler; a parsed key is emitted verbatim.
func (k COSEKey) MarshalCBOR() ([]byte, error) {
	if len(k.Raw) > 0 {
		return k.Raw, nil
	}
	return k.marshal()
}

// UnmarshalCBOR implements cbor.Unmarshaler and validates the key: the
// point must be on its curve, so later ECDH and signature checks never see
// an invalid key.
func (k *COSEKey) UnmarshalCBOR(data []byte) error {
	var w coseKeyDecodeWire
	if err := decMode.Unmarshal(data, &w); err != nil {
		return cborError(err)
	}
	if len(w.D) > 0 {
		return newError(CodeMalformed, "COSE_Key carries private parameter d")
	}
	nk := COSEKey{Kty: w.Kty, Crv: w.Crv, X: w.X, Alg: w.Alg, Raw: bytes.Clone(data)}
	if len(w.Kid) > 0 {
		// kid is only a hint for finding a key (RFC 9052 §3.1); nothing
		// here looks a key up by it, so a text kid changes no check. It
		// is kept, flagged, and reported as DeviationKidText.
		var text string
		switch {
		case decMode.Unmarshal(w.Kid, &nk.Kid) == nil && w.Kid[0]>>5 == 2:
		case decMode.Unmarshal(w.Kid, &text) == nil && w.Kid[0]>>5 == 3:
			nk.Kid, nk.KidText = []byte(text), true
		default:
			return newError(CodeMalformed, "COSE_Key kid is neither bstr nor tstr")
		}
	}
	switch w.Kty {
	case KeyTypeEC2:
		curve, _, size, ok := curveByID(w.Crv)
		if !ok {
			return newError(CodeUnsupported, "EC2 curve %d", w.Crv)
		}
		if len(w.X) != size {
			return newError(CodeMalformed, "EC2 x is %d bytes, want %d", len(w.X), size)
		}
		var y []byte
		var sign bool
		switch {
		case decMode.Unmarshal(w.Y, &y) == nil:
			if len(y) != size {
				return newError(CodeMalformed, "EC2 y is %d bytes, want %d", len(y), size)
			}
		case decMode.Unmarshal(w.Y, &sign) == nil:
			prefix := byte(2)
			if sign {
				prefix = 3
			}
			px, py := elliptic.UnmarshalCompressed(curve, append([]byte{prefix}, w.X...))
			if px == nil {
				return newError(CodeMalformed, "EC2 compressed point not on curve")
			}
			y = py.FillBytes(make([]byte, size))
		default:
			return newError(CodeMalformed, "EC2 key without y")
		}
		nk.Y = y
		pub, err := nk.ECDSA()
		if err != nil {
			return err
		}
		nk.pub = pub
	case KeyTypeOKP:
		if w.Crv != CurveEd25519 {
			return newError(CodeUnsupported, "OKP curve %d", w.Crv)
		}
		if len(w.X) != ed25519.PublicKeySize {
			return newError(CodeMalformed, "Ed25519 x is %d bytes", len(w.X))
		}
	default:
		return newError(CodeUnsupported, "COSE key type %d", w.Kty)
	}
	*k = nk
	return nil
}

// ParseCOSEKey decodes a COSE_Key.
func ParseCOSEKey(b []byte) (*COSEKey, error) {
	if len(b) > MaxMessageSize {
		return nil, newError(CodeLimitExceeded, "COSE_Key of %d bytes", len(b))
	}
	var k COSEKey
	if err := k.UnmarshalCBOR(b); err != nil {
		return nil, err
	}
	return &k, nil
}

// PublicKey returns the key as *ecdsa.PublicKey or ed25519.PublicKey.
func (k *COSEKey) PublicKey() (crypto.PublicKey, error) {
	if k.pub != nil {
		return k.pub, nil
	}
	if k.Kty == KeyTypeOKP {
		return ed25519.PublicKey(bytes.Clone(k.X)), nil
	}
	return k.ECDSA()
}

// ECDSA returns an EC2 key as *ecdsa.PublicKey, checking the point.
func (k *COSEKey) ECDSA() (*ecdsa.PublicKey, error) {
	if p, ok := k.pub.(*ecdsa.PublicKey); ok {
		return p, nil
	}
	curve, _, size, ok := curveByID(k.Crv)
	if k.Kty != KeyTypeEC2 || !ok {
		return nil, newError(CodeUnsupported, "not an EC2 key on a supported curve")
	}
	if len(k.X) != size || len(k.Y) != size {
		return nil, newError(CodeMalformed, "EC2 coordinates of the wrong size")
	}
	pt := make([]byte, 0, 1+2*size)
	pt = append(append(append(pt, 4), k.X...), k.Y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, pt)
	if err != nil {
		return nil, newError(CodeMalformed, "EC2 point: %v", err)
	}
	return pub, nil
}

// ECDH returns an EC2 key as *ecdh.PublicKey for key agreement.
func (k *COSEKey) ECDH() (*ecdh.PublicKey, error) {
	_, curve, size, ok := curveByID(k.Crv)
	if k.Kty != KeyTypeEC2 || !ok {
		return nil, newError(CodeUnsupported, "not an EC2 key on a supported curve")
	}
	if len(k.X) != size || len(k.Y) != size {
		return nil, newError(CodeMalformed, "EC2 coordinates of the wrong size")
	}
	pt := make([]byte, 0, 1+2*size)
	pt = append(append(append(pt, 4), k.X...), k.Y...)
	pub, err := curve.NewPublicKey(pt)
	if err != nil {
		return nil, newError(CodeMalformed, "EC2 point: %v", err)
	}
	return pub, nil
}

// Equal reports whether k and o are the same public key.
func (k *COSEKey) Equal(o *COSEKey) bool {
	return o != nil && k.Kty == o.Kty && k.Crv == o.Crv && bytes.Equal(k.X, o.X) && bytes.Equal(k.Y, o.Y)
}

// String describes the key type and curve.
func (k *COSEKey) String() string { return fmt.Sprintf("COSE_Key(kty=%d, crv=%d)", k.Kty, k.Crv) }
