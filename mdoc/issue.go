package mdoc

import (
	"crypto"
	"crypto/rand"
	"encoding/binary"
	"io"
	"sort"
	"time"
)

// Element is one data element to issue.
type Element struct {
	Identifier string
	Value      any // encoded with the package's deterministic CBOR mode; dates as FullDate / TDate
}

// IssueOptions describes a document to issue. Zero values: DigestAlgorithm
// "" means SHA-256; Rand nil means crypto/rand; Signed zero means now.
type IssueOptions struct {
	DocType           string
	NameSpaces        map[string][]Element
	DeviceKey         crypto.PublicKey // the holder's key, from the secure element
	KeyAuthorizations *KeyAuthorizations
	Signed            time.Time
	ValidFrom         time.Time
	ValidUntil        time.Time
	ExpectedUpdate    time.Time // zero: absent
	Status            *StatusListRef
	DigestAlgorithm   string
	// Signer is the Document Signer key: any crypto.Signer, so a PKCS#11
	// key plugs in.
	Signer crypto.Signer
	// Chain is the x5chain: the Document Signer certificate first, DER.
	Chain [][]byte
	Rand  io.Reader
}

// Issue builds IssuerSigned (ISO/IEC 18013-5:2021 §9.1.2): each element
// becomes an IssuerSignedItem with a fresh 16+-byte random salt and a
// random digest ID (so IDs reveal neither order nor element), the MSO is
// built over their digests and signed into IssuerAuth.
func Issue(o IssueOptions) (*IssuerSigned, error) {
	if o.DocType == "" || len(o.NameSpaces) == 0 {
		return nil, newError(CodeMalformed, "issue: docType and namespaces are required")
	}
	if o.Signer == nil || len(o.Chain) == 0 || o.DeviceKey == nil {
		return nil, newError(CodeMalformed, "issue: signer, chain and device key are required")
	}
	rnd := o.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	alg := o.DigestAlgorithm
	if alg == "" {
		alg = DigestSHA256
	}
	deviceKey, err := NewCOSEKey(o.DeviceKey)
	if err != nil {
		return nil, err
	}
	signed := o.Signed
	if signed.IsZero() {
		signed = time.Now()
	}
	if o.ValidFrom.IsZero() || o.ValidUntil.IsZero() || !o.ValidUntil.After(o.ValidFrom) {
		return nil, newError(CodeMalformed, "issue: validFrom must precede validUntil")
	}
	mso := MobileSecurityObject{
		Version:         MSOVersion,
		DigestAlgorithm: alg,
		ValueDigests:    map[string]map[uint64][]byte{},
		DeviceKeyInfo:   DeviceKeyInfo{DeviceKey: *deviceKey, KeyAuthorizations: o.KeyAuthorizations},
		DocType:         o.DocType,
		ValidityInfo: ValidityInfo{
			Signed:     TDate(signed.UTC().Truncate(time.Second)),
			ValidFrom:  TDate(o.ValidFrom.UTC().Truncate(time.Second)),
			ValidUntil: TDate(o.ValidUntil.UTC().Truncate(time.Second)),
		},
	}
	if !o.ExpectedUpdate.IsZero() {
		eu := TDate(o.ExpectedUpdate.UTC().Truncate(time.Second))
		mso.ValidityInfo.ExpectedUpdate = &eu
	}
	if o.Status != nil {
		mso.Status = &StatusReference{StatusList: o.Status}
	}
	out := &IssuerSigned{NameSpaces: IssuerNameSpaces{}}
	names := make([]string, 0, len(o.NameSpaces))
	for ns := range o.NameSpaces {
		names = append(names, ns)
	}
	sort.Strings(names)
	for _, ns := range names {
		elems := o.NameSpaces[ns]
		ids, err := randomDigestIDs(rnd, len(elems))
		if err != nil {
			return nil, err
		}
		digests := make(map[uint64][]byte, len(elems))
		seen := map[string]bool{}
		for i, e := range elems {
			if e.Identifier == "" || seen[e.Identifier] {
				return nil, newError(CodeMalformed, "issue: empty or repeated element identifier %q in %s", e.Identifier, ns)
			}
			seen[e.Identifier] = true
			salt := make([]byte, MinRandomLength)
			if _, err := io.ReadFull(rnd, salt); err != nil {
				return nil, err
			}
			val, err := Marshal(e.Value)
			if err != nil {
				return nil, wrapError(CodeMalformed, err, "issue: encode %s/%s", ns, e.Identifier)
			}
			item := IssuerSignedItem{DigestID: ids[i], Random: salt, ElementIdentifier: e.Identifier, ElementValue: val}
			enc, err := NewEncodedCBOR(item)
			if err != nil {
				return nil, err
			}
			b := IssuerSignedItemBytes{Raw: enc.Raw, Item: item}
			d, err := b.Digest(alg)
			if err != nil {
				return nil, err
			}
			digests[ids[i]] = d
			out.NameSpaces[ns] = append(out.NameSpaces[ns], b)
		}
		mso.ValueDigests[ns] = digests
	}
	msoBytes, err := NewEncodedCBOR(mso)
	if err != nil {
		return nil, err
	}
	raw, err := sign1(rnd, o.Signer, msoBytes.Raw, o.Chain, nil, false, false)
	if err != nil {
		return nil, wrapError(CodeMalformed, err, "issue: sign MSO")
	}
	ia, err := ParseIssuerAuth(raw)
	if err != nil {
		return nil, err
	}
	out.IssuerAuth = *ia
	return out, nil
}

// randomDigestIDs returns n distinct random digest IDs below 2^31 (small
// enough for every peer's integer type).
func randomDigestIDs(r io.Reader, n int) ([]uint64, error) {
	ids := make([]uint64, 0, n)
	seen := make(map[uint64]bool, n)
	var b [4]byte
	for len(ids) < n {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, err
		}
		id := uint64(binary.BigEndian.Uint32(b[:]) & 0x7fffffff)
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}
