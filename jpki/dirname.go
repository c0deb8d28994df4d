package jpki

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Bounds on distribution point parsing.
const (
	// MaxDistributionPointsLen bounds the DER length of a
	// cRLDistributionPoints or issuingDistributionPoint value.
	MaxDistributionPointsLen = 16 << 10
	// MaxDistributionPoints bounds the number of names read from one
	// extension.
	MaxDistributionPoints = 32
)

// DistributionPoints holds the names of a cRLDistributionPoints extension
// (2.5.29.31). JPKI names its CRLs by directory name (one per
// municipality), not by URL; a URI entry is kept for other PKIs.
type DistributionPoints struct {
	// DirNames are the directoryName entries in string form (see
	// DirNameString), the keys of a CRLSources map.
	DirNames []string
	// URIs are the uniformResourceIdentifier entries.
	URIs []string
}

// DirNameString returns the string form of a DER Name used to key CRL
// sources: RFC 2253 order as produced by pkix.RDNSequence.String, e.g.
// "CN=Chiyoda-ku CRLDP,OU=CRL Distribution Points,OU=JPKI for digital signature,O=JPKI,C=JP".
func DirNameString(nameDER []byte) (string, error) {
	var rdns pkix.RDNSequence
	rest, err := asn1.Unmarshal(nameDER, &rdns)
	if err != nil {
		return "", fmt.Errorf("directory name: %w", err)
	}
	if len(rest) != 0 {
		return "", fmt.Errorf("directory name: trailing data")
	}
	return rdns.String(), nil
}

// ParseDistributionPoints reads the names of a cRLDistributionPoints
// extension value. Entries naming a CRL issuer or a name relative to it are
// skipped: JPKI does not use them.
func ParseDistributionPoints(der []byte) (*DistributionPoints, error) {
	if len(der) > MaxDistributionPointsLen {
		return nil, newError(CodeMalformed, "cRLDistributionPoints is %d bytes, over the %d-byte limit", len(der), MaxDistributionPointsLen)
	}
	input := cryptobyte.String(der)
	var seq cryptobyte.String
	if !input.ReadASN1(&seq, cbasn1.SEQUENCE) || !input.Empty() {
		return nil, newError(CodeMalformed, "cRLDistributionPoints is not a single DER SEQUENCE")
	}
	out := &DistributionPoints{}
	for !seq.Empty() {
		var dp cryptobyte.String
		if !seq.ReadASN1(&dp, cbasn1.SEQUENCE) {
			return nil, newError(CodeMalformed, "DistributionPoint is not a SEQUENCE")
		}
		var dpName cryptobyte.String
		var present bool
		if !dp.ReadOptionalASN1(&dpName, &present, tagExplicit0) {
			return nil, newError(CodeMalformed, "bad distributionPoint field")
		}
		if !present {
			continue
		}
		if err := readDistributionPointName(dpName, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readDistributionPointName reads a DistributionPointName CHOICE and adds
// the fullName's directory names and URIs to out.
func readDistributionPointName(dpName cryptobyte.String, out *DistributionPoints) error {
	var full cryptobyte.String
	var tag cbasn1.Tag
	if !dpName.ReadAnyASN1(&full, &tag) || !dpName.Empty() {
		return newError(CodeMalformed, "bad DistributionPointName")
	}
	if tag == tagDPRelativeName {
		return nil
	}
	if tag != tagDPFullName {
		return newError(CodeMalformed, "unknown DistributionPointName choice")
	}
	for !full.Empty() {
		if len(out.DirNames)+len(out.URIs) >= MaxDistributionPoints {
			return newError(CodeMalformed, "more than %d distribution point names", MaxDistributionPoints)
		}
		var gn cryptobyte.String
		var gtag cbasn1.Tag
		if !full.ReadAnyASN1(&gn, &gtag) {
			return newError(CodeMalformed, "bad GeneralName in distribution point")
		}
		switch gtag {
		case tagDirectoryName:
			var name cryptobyte.String
			if !gn.ReadASN1Element(&name, cbasn1.SEQUENCE) || !gn.Empty() {
				return newError(CodeMalformed, "bad directoryName in distribution point")
			}
			s, err := DirNameString(name)
			if err != nil {
				return wrapError(CodeMalformed, err, "distribution point")
			}
			out.DirNames = append(out.DirNames, s)
		case tagURI:
			out.URIs = append(out.URIs, string(gn))
		}
	}
	return nil
}

// ParseIssuingDistributionPoint returns the directory names of the
// distributionPoint field of an issuingDistributionPoint CRL extension
// (2.5.29.28, RFC 5280 §5.2.5).
func ParseIssuingDistributionPoint(der []byte) (*DistributionPoints, error) {
	if len(der) > MaxDistributionPointsLen {
		return nil, newError(CodeMalformed, "issuingDistributionPoint is %d bytes, over the %d-byte limit", len(der), MaxDistributionPointsLen)
	}
	input := cryptobyte.String(der)
	var seq cryptobyte.String
	if !input.ReadASN1(&seq, cbasn1.SEQUENCE) || !input.Empty() {
		return nil, newError(CodeMalformed, "issuingDistributionPoint is not a single DER SEQUENCE")
	}
	out := &DistributionPoints{}
	var dpName cryptobyte.String
	var present bool
	if !seq.ReadOptionalASN1(&dpName, &present, tagExplicit0) {
		return nil, newError(CodeMalformed, "bad issuingDistributionPoint distributionPoint")
	}
	if present {
		if err := readDistributionPointName(dpName, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// MarshalDistributionPoints encodes a cRLDistributionPoints extension value
// with one DistributionPoint per directory name (each a DER Name), the JPKI
// form.
func MarshalDistributionPoints(nameDERs ...[]byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, n := range nameDERs {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				addDistributionPointName(b, n)
			})
		}
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("jpki: marshal cRLDistributionPoints: %w", err)
	}
	return der, nil
}

// MarshalIssuingDistributionPoint encodes an issuingDistributionPoint CRL
// extension value naming the directory name nameDER, which partitions the
// CRL to the certificates with that distribution point.
func MarshalIssuingDistributionPoint(nameDER []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addDistributionPointName(b, nameDER)
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("jpki: marshal issuingDistributionPoint: %w", err)
	}
	return der, nil
}

func addDistributionPointName(b *cryptobyte.Builder, nameDER []byte) {
	b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) {
		b.AddASN1(tagDPFullName, func(b *cryptobyte.Builder) {
			b.AddASN1(tagDirectoryName, func(b *cryptobyte.Builder) {
				b.AddBytes(nameDER)
			})
		})
	})
}
