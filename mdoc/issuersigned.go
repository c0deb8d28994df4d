package mdoc

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"hash"

	"github.com/fxamacker/cbor/v2"
)

// IssuerSignedItem is one data element with its salt and digest ID
// (ISO/IEC 18013-5:2021 §8.3.2.1.2.2).
type IssuerSignedItem struct {
	DigestID          uint64          `cbor:"digestID"`
	Random            []byte          `cbor:"random"`
	ElementIdentifier string          `cbor:"elementIdentifier"`
	ElementValue      cbor.RawMessage `cbor:"elementValue"`
}

// Value decodes the element value (tag 1004 → FullDate, tag 0 → time.Time,
// maps → map[any]any).
func (it *IssuerSignedItem) Value() (any, error) {
	var v any
	if err := Unmarshal(it.ElementValue, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// MinRandomLength is the minimum salt length of an IssuerSignedItem
// (§9.1.2.5: at least 16 bytes).
const MinRandomLength = 16

// IssuerSignedItemBytes is #6.24(bstr .cbor IssuerSignedItem). Raw is the
// whole tag-24 encoding as received: the value digest is SHA over Raw, and a
// wallet presents Raw verbatim.
type IssuerSignedItemBytes struct {
	Raw  []byte
	Item IssuerSignedItem
}

// MarshalCBOR emits Raw verbatim.
func (b IssuerSignedItemBytes) MarshalCBOR() ([]byte, error) { return b.Raw, nil }

// UnmarshalCBOR keeps the tag-24 bytes and decodes the embedded item.
func (b *IssuerSignedItemBytes) UnmarshalCBOR(data []byte) error {
	inner, err := unwrapTag24(data)
	if err != nil {
		return wrapError(CodeMalformed, err, "IssuerSignedItemBytes")
	}
	var it IssuerSignedItem
	if err := decMode.Unmarshal(inner, &it); err != nil {
		return wrapError(CodeMalformed, cborError(err), "IssuerSignedItem")
	}
	if err := checkTags(inner, issuerSignedItemTags); err != nil {
		return err
	}
	if it.ElementIdentifier == "" || len(it.ElementValue) == 0 {
		return newError(CodeMalformed, "IssuerSignedItem without elementIdentifier or elementValue")
	}
	b.Raw = bytes.Clone(data)
	b.Item = it
	return nil
}

// Digest returns the value digest of the item: the digest algorithm over
// the whole tag-24 encoding (§9.1.2.5).
func (b *IssuerSignedItemBytes) Digest(alg string) ([]byte, error) {
	h, err := newDigest(alg)
	if err != nil {
		return nil, err
	}
	h.Write(b.Raw)
	return h.Sum(nil), nil
}

// Digest algorithms allowed in the MSO (§9.1.2.5).
const (
	DigestSHA256 = "SHA-256"
	DigestSHA384 = "SHA-384"
	DigestSHA512 = "SHA-512"
)

func newDigest(alg string) (hash.Hash, error) {
	switch alg {
	case DigestSHA256:
		return sha256.New(), nil
	case DigestSHA384:
		return sha512.New384(), nil
	case DigestSHA512:
		return sha512.New(), nil
	}
	return nil, newError(CodeUnsupported, "digest algorithm %q", alg)
}

// IssuerNameSpaces maps a namespace to its issuer-signed items.
type IssuerNameSpaces map[string][]IssuerSignedItemBytes

// IssuerSigned is the issuer-signed part of a document (§8.3.2.1.2.2):
// the released items and the IssuerAuth that covers them.
type IssuerSigned struct {
	NameSpaces IssuerNameSpaces `cbor:"nameSpaces,omitempty"`
	IssuerAuth IssuerAuth       `cbor:"issuerAuth"`
}

// ParseIssuerSigned decodes an IssuerSigned structure (for example the
// OpenID4VCI `mso_mdoc` credential after base64url decoding).
func ParseIssuerSigned(b []byte) (*IssuerSigned, error) {
	var is IssuerSigned
	if err := Unmarshal(b, &is); err != nil {
		return nil, wrapError(CodeMalformed, err, "IssuerSigned")
	}
	if err := checkTags(b, issuerSignedTags); err != nil {
		return nil, err
	}
	if len(is.IssuerAuth.Raw) == 0 {
		return nil, newError(CodeMalformed, "IssuerSigned without issuerAuth")
	}
	return &is, nil
}

// Encode returns the CBOR encoding; item and issuerAuth bytes are copied
// verbatim.
func (is *IssuerSigned) Encode() ([]byte, error) { return Marshal(is) }

// Item returns the issuer-signed item for (ns, id), or nil.
func (is *IssuerSigned) Item(ns, id string) *IssuerSignedItemBytes {
	for i := range is.NameSpaces[ns] {
		if is.NameSpaces[ns][i].Item.ElementIdentifier == id {
			return &is.NameSpaces[ns][i]
		}
	}
	return nil
}

// Select returns a copy of is holding only the requested elements
// (namespace → identifiers) that it has, with item and issuerAuth bytes
// copied verbatim — what a wallet releases after consent. Elements the
// request names that is lacks are returned in missing.
func (is *IssuerSigned) Select(request map[string][]string) (out *IssuerSigned, missing map[string][]string) {
	out = &IssuerSigned{IssuerAuth: is.IssuerAuth}
	for ns, ids := range request {
		for _, id := range ids {
			it := is.Item(ns, id)
			if it == nil {
				if missing == nil {
					missing = map[string][]string{}
				}
				missing[ns] = append(missing[ns], id)
				continue
			}
			if out.NameSpaces == nil {
				out.NameSpaces = IssuerNameSpaces{}
			}
			out.NameSpaces[ns] = append(out.NameSpaces[ns], *it)
		}
	}
	return out, missing
}
