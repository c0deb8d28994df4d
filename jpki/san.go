package jpki

import (
	"encoding/asn1"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Bounds on subjectAltName parsing. A JPKI signature certificate carries
// six short otherNames; the limits leave ample room while keeping a hostile
// extension from costing more than a few kilobytes of work.
const (
	// MaxSubjectAltNameLen bounds the DER length of the extension value.
	MaxSubjectAltNameLen = 16 << 10
	// MaxGeneralNames bounds the number of GeneralName entries.
	MaxGeneralNames = 64
	// MaxOtherNameValueLen bounds one otherName string value in bytes
	// (a 200-character address in UTF-8 is about 600 bytes).
	MaxOtherNameValueLen = 2048
)

var (
	tagOtherName      = cbasn1.Tag(0).ContextSpecific().Constructed()
	tagExplicit0      = cbasn1.Tag(0).ContextSpecific().Constructed()
	tagDirectoryName  = cbasn1.Tag(4).ContextSpecific().Constructed()
	tagURI            = cbasn1.Tag(6).ContextSpecific()
	tagDPFullName     = cbasn1.Tag(0).ContextSpecific().Constructed()
	tagDPRelativeName = cbasn1.Tag(1).ContextSpecific().Constructed()
)

// OtherName is one otherName entry of a GeneralNames value (RFC 5280
// §4.2.1.6): a type id and, for JPKI, a UTF8String in [0] EXPLICIT.
type OtherName struct {
	TypeID asn1.ObjectIdentifier
	// Value is the string value; set only when IsUTF8String.
	Value string
	// IsUTF8String reports whether the value was a UTF8String. Other value
	// types are kept in RawValue but are not JPKI facts.
	IsUTF8String bool
	// RawValue is the DER of the value inside [0] EXPLICIT.
	RawValue []byte
}

// ParseOtherNames returns the otherName entries of a subjectAltName
// extension value (extension 2.5.29.17), in order. Other GeneralName kinds
// are skipped. crypto/x509 drops otherName entries, so JPKI facts have to be
// read this way.
func ParseOtherNames(sanDER []byte) ([]OtherName, error) {
	if len(sanDER) > MaxSubjectAltNameLen {
		return nil, newError(CodeMalformed, "subjectAltName is %d bytes, over the %d-byte limit", len(sanDER), MaxSubjectAltNameLen)
	}
	input := cryptobyte.String(sanDER)
	var seq cryptobyte.String
	if !input.ReadASN1(&seq, cbasn1.SEQUENCE) || !input.Empty() {
		return nil, newError(CodeMalformed, "subjectAltName is not a single DER SEQUENCE")
	}
	var out []OtherName
	for n := 0; !seq.Empty(); n++ {
		if n >= MaxGeneralNames {
			return nil, newError(CodeMalformed, "subjectAltName has more than %d names", MaxGeneralNames)
		}
		var gn cryptobyte.String
		var tag cbasn1.Tag
		if !seq.ReadAnyASN1(&gn, &tag) {
			return nil, newError(CodeMalformed, "subjectAltName entry %d is not DER", n)
		}
		if tag != tagOtherName {
			continue
		}
		on, err := parseOtherName(gn)
		if err != nil {
			return nil, wrapError(CodeMalformed, err, "subjectAltName entry %d", n)
		}
		out = append(out, on)
	}
	return out, nil
}

func parseOtherName(gn cryptobyte.String) (OtherName, error) {
	var on OtherName
	if !gn.ReadASN1ObjectIdentifier(&on.TypeID) {
		return on, fmt.Errorf("otherName type-id is not an OBJECT IDENTIFIER")
	}
	var explicit cryptobyte.String
	if !gn.ReadASN1(&explicit, tagExplicit0) || !gn.Empty() {
		return on, fmt.Errorf("otherName %s: value is not a single [0] EXPLICIT", on.TypeID)
	}
	var raw cryptobyte.String
	var tag cbasn1.Tag
	if !explicit.ReadAnyASN1Element(&raw, &tag) || !explicit.Empty() {
		return on, fmt.Errorf("otherName %s: value is not a single DER element", on.TypeID)
	}
	on.RawValue = append([]byte(nil), raw...)
	if tag != cbasn1.UTF8String {
		return on, nil
	}
	var val cryptobyte.String
	if !raw.ReadASN1(&val, cbasn1.UTF8String) {
		return on, fmt.Errorf("otherName %s: bad UTF8String", on.TypeID)
	}
	if len(val) > MaxOtherNameValueLen {
		return on, fmt.Errorf("otherName %s: value is %d bytes, over the %d-byte limit", on.TypeID, len(val), MaxOtherNameValueLen)
	}
	if !utf8.Valid(val) {
		return on, fmt.Errorf("otherName %s: value is not valid UTF-8", on.TypeID)
	}
	on.Value = string(val)
	on.IsUTF8String = true
	return on, nil
}

// MarshalOtherNames encodes a subjectAltName extension value holding only
// otherName entries with UTF8String values, the form JPKI uses for the
// basic facts. It is the inverse of ParseOtherNames for such input.
func MarshalOtherNames(names []OtherName) ([]byte, error) {
	if len(names) > MaxGeneralNames {
		return nil, fmt.Errorf("jpki: %d otherNames, over the limit of %d", len(names), MaxGeneralNames)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, on := range names {
			b.AddASN1(tagOtherName, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(on.TypeID)
				b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) {
						b.AddBytes([]byte(on.Value))
					})
				})
			})
		}
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("jpki: marshal subjectAltName: %w", err)
	}
	return der, nil
}
