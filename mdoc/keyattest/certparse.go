package keyattest

import (
	"crypto/x509"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// parseCertificate parses one DER certificate. When Go's strict DER parser
// refuses it, it retries once with a normalised copy (see
// normaliseBooleans) and, if that parses, returns a certificate whose Raw
// and RawTBSCertificate are the original bytes, so signatures are checked
// over exactly what the device signed.
//
// Leniency (documented, tested with a recorded Solana Seeker chain): some
// KeyMint implementations encode an extension's critical flag TRUE as 0x01
// instead of DER's 0xFF (X.690 §11.1). BER allows any non-zero octet, and
// the X.509 parser behind Google's own attestation verifier (Bouncy Castle)
// accepts it, so we do too. Nothing else is relaxed.
func parseCertificate(der []byte) (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err == nil {
		return c, nil
	}
	norm, tbsStart, tbsEnd, ok := normaliseBooleans(der)
	if !ok {
		return nil, err
	}
	c2, err2 := x509.ParseCertificate(norm)
	if err2 != nil {
		return nil, err
	}
	c2.Raw = der
	c2.RawTBSCertificate = der[tbsStart:tbsEnd]
	return c2, nil
}

// normaliseBooleans returns a copy of der in which every extension's
// critical BOOLEAN with a non-zero value other than 0xFF is rewritten to
// 0xFF, with the offsets of the TBSCertificate. ok is false when nothing
// was rewritten or der is not a certificate shape.
func normaliseBooleans(der []byte) (out []byte, tbsStart, tbsEnd int, ok bool) {
	in := cryptobyte.String(der)
	var cert cryptobyte.String
	if !in.ReadASN1(&cert, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, 0, 0, false
	}
	tbsStart = len(der) - len(cert)
	var tbsElem, tbs cryptobyte.String
	if !cert.ReadASN1Element(&tbsElem, cbasn1.SEQUENCE) {
		return nil, 0, 0, false
	}
	tbsEnd = tbsStart + len(tbsElem)
	tbs = tbsElem
	if !tbs.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return nil, 0, 0, false
	}
	// version [0], serial, signature, issuer, validity, subject, spki,
	// issuerUniqueID [1], subjectUniqueID [2], extensions [3] (RFC 5280 §4.1).
	if !tbs.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, 0, 0, false
	}
	for i := 0; i < 6; i++ {
		var elem cryptobyte.String
		var tag cbasn1.Tag
		if !tbs.ReadAnyASN1Element(&elem, &tag) {
			return nil, 0, 0, false
		}
	}
	if !tbs.SkipOptionalASN1(cbasn1.Tag(1).ContextSpecific()) || !tbs.SkipOptionalASN1(cbasn1.Tag(2).ContextSpecific()) {
		return nil, 0, 0, false
	}
	var exts cryptobyte.String
	if !tbs.ReadASN1(&exts, cbasn1.Tag(3).Constructed().ContextSpecific()) || !exts.ReadASN1(&exts, cbasn1.SEQUENCE) {
		return nil, 0, 0, false
	}
	out = append([]byte(nil), der...)
	changed := false
	for !exts.Empty() {
		var ext cryptobyte.String
		if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) {
			return nil, 0, 0, false
		}
		var oid cryptobyte.String
		if !ext.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) {
			return nil, 0, 0, false
		}
		if ext.PeekASN1Tag(cbasn1.BOOLEAN) {
			var b cryptobyte.String
			if !ext.ReadASN1(&b, cbasn1.BOOLEAN) || len(b) != 1 {
				return nil, 0, 0, false
			}
			if b[0] != 0 && b[0] != 0xff {
				// The extensions are the last field of the TBSCertificate, so
				// this extension ends at tbsEnd-len(exts); what is left of it
				// (ext) is the extnValue after the BOOLEAN's one content octet.
				pos := tbsEnd - len(exts) - len(ext) - 1
				if pos < 0 || pos >= len(out) || out[pos] != b[0] {
					return nil, 0, 0, false
				}
				out[pos] = 0xff
				changed = true
			}
		}
	}
	return out, tbsStart, tbsEnd, changed
}
