package keyattest

import "math/big"

// Bounds on DER parsing (ITU-T X.690). Android's KeyDescription uses
// context-specific tags up to 724 (high-tag-number form, X.690 §8.1.2.4) and
// nests only a few levels; these limits keep hostile input cheap.
const (
	// maxTagBytes bounds a high-tag-number identifier: 3 bytes carry tags up
	// to 2^14-1, far above the largest KeyMint tag (Tag::MODULE_HASH, 724).
	maxTagBytes = 3
	// maxLenBytes bounds the long-form length: 4 bytes (< 4 GiB), and inputs
	// are bounded far below that by MaxChainBytes.
	maxLenBytes = 4
	// maxIntBytes bounds an INTEGER we turn into an int64.
	maxIntBytes = 8
)

// DER classes (X.690 §8.1.2.2).
const (
	classUniversal = 0
	classContext   = 2
)

// Universal tag numbers used here (X.680 §8.4).
const (
	tagBoolean     = 1
	tagInteger     = 2
	tagOctetString = 4
	tagNull        = 5
	tagEnumerated  = 10
	tagSequence    = 16
	tagSet         = 17
)

// tlv is one parsed DER element.
type tlv struct {
	class       int
	constructed bool
	tag         int
	content     []byte
}

// derReader is a cursor over DER bytes in the manner of
// golang.org/x/crypto/cryptobyte, extended to high-tag-number identifiers
// (which cryptobyte does not read) since KeyMint's AuthorizationList needs
// them. Reads return false on malformed input; callers add context.
type derReader []byte

func (r *derReader) empty() bool { return len(*r) == 0 }

// read reads one element. It accepts only definite, minimal lengths (DER,
// X.690 §10.1) and tags in the minimal high-tag form.
func (r *derReader) read(out *tlv) bool {
	b := *r
	if len(b) < 2 {
		return false
	}
	id := b[0]
	out.class = int(id >> 6)
	out.constructed = id&0x20 != 0
	i := 1
	if id&0x1f != 0x1f {
		out.tag = int(id & 0x1f)
	} else {
		tag := 0
		for n := 0; ; n++ {
			if n >= maxTagBytes || i >= len(b) {
				return false
			}
			c := b[i]
			i++
			if n == 0 && c == 0x80 { // non-minimal (X.690 §8.1.2.4.2 c)
				return false
			}
			tag = tag<<7 | int(c&0x7f)
			if c&0x80 == 0 {
				break
			}
		}
		if tag < 31 { // must have used the low form
			return false
		}
		out.tag = tag
	}
	if i >= len(b) {
		return false
	}
	l := int(b[i])
	i++
	if l&0x80 != 0 {
		n := l & 0x7f
		if n == 0 || n > maxLenBytes || i+n > len(b) { // n == 0: indefinite, not DER
			return false
		}
		l = 0
		for k := 0; k < n; k++ {
			l = l<<8 | int(b[i+k])
		}
		if b[i] == 0 || l < 0x80 { // non-minimal length
			return false
		}
		i += n
	}
	if l < 0 || l > len(b)-i {
		return false
	}
	out.content = b[i : i+l]
	*r = b[i+l:]
	return true
}

// readExpect reads an element that must have the given class, tag and
// constructed bit.
func (r *derReader) readExpect(class, tag int, constructed bool, out *[]byte) bool {
	var t tlv
	if !r.read(&t) || t.class != class || t.tag != tag || t.constructed != constructed {
		return false
	}
	*out = t.content
	return true
}

func (r *derReader) readSequence(out *derReader) bool {
	var c []byte
	if !r.readExpect(classUniversal, tagSequence, true, &c) {
		return false
	}
	*out = derReader(c)
	return true
}

func (r *derReader) readOctetString(out *[]byte) bool {
	return r.readExpect(classUniversal, tagOctetString, false, out)
}

func (r *derReader) readBool(out *bool) bool {
	var c []byte
	if !r.readExpect(classUniversal, tagBoolean, false, &c) || len(c) != 1 {
		return false
	}
	switch c[0] {
	case 0x00:
		*out = false
	case 0xff:
		*out = true
	default: // DER requires 0xFF for TRUE (X.690 §11.1)
		return false
	}
	return true
}

func (r *derReader) readIntTag(tag int, out *int64) bool {
	var c []byte
	if !r.readExpect(classUniversal, tag, false, &c) {
		return false
	}
	return parseInt64(c, out)
}

func (r *derReader) readInt(out *int64) bool { return r.readIntTag(tagInteger, out) }

func (r *derReader) readEnum(out *int64) bool { return r.readIntTag(tagEnumerated, out) }

// parseInt64 decodes a minimal two's-complement INTEGER content of at most
// maxIntBytes (X.690 §8.3).
func parseInt64(c []byte, out *int64) bool {
	if len(c) == 0 || len(c) > maxIntBytes+1 {
		return false
	}
	if len(c) > 1 && ((c[0] == 0 && c[1]&0x80 == 0) || (c[0] == 0xff && c[1]&0x80 != 0)) {
		return false
	}
	v := new(big.Int).SetBytes(c)
	if c[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(c))))
	}
	if !v.IsInt64() {
		return false
	}
	*out = v.Int64()
	return true
}
