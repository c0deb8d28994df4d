package mdoc

import (
	"bytes"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// MSOVersion is the MobileSecurityObject version this package emits and
// accepts.
const MSOVersion = "1.0"

// MobileSecurityObject is the issuer-signed payload of IssuerAuth
// (ISO/IEC 18013-5:2021 §9.1.2.4), with the optional status reference of
// draft-ietf-oauth-status-list (§ "Referenced Token" in CBOR).
type MobileSecurityObject struct {
	Version         string           `cbor:"version"`
	DigestAlgorithm string           `cbor:"digestAlgorithm"`
	ValueDigests    ValueDigests     `cbor:"valueDigests"`
	DeviceKeyInfo   DeviceKeyInfo    `cbor:"deviceKeyInfo"`
	DocType         string           `cbor:"docType"`
	ValidityInfo    ValidityInfo     `cbor:"validityInfo"`
	Status          *StatusReference `cbor:"status,omitempty"`
}

// DeviceKeyInfo carries the device (holder) key bound to the document
// (§9.1.2.4).
type DeviceKeyInfo struct {
	DeviceKey         COSEKey            `cbor:"deviceKey"`
	KeyAuthorizations *KeyAuthorizations `cbor:"keyAuthorizations,omitempty"`
	KeyInfo           map[int64]any      `cbor:"keyInfo,omitempty"`
}

// KeyAuthorizations lists what the device key may sign in DeviceSigned:
// whole namespaces, or single data elements (§9.1.2.4). Absent means the
// device may sign nothing.
type KeyAuthorizations struct {
	NameSpaces   []string            `cbor:"nameSpaces,omitempty"`
	DataElements map[string][]string `cbor:"dataElements,omitempty"`
}

// Allows reports whether the device key may sign element id of namespace ns.
func (k *KeyAuthorizations) Allows(ns, id string) bool {
	if k == nil {
		return false
	}
	for _, n := range k.NameSpaces {
		if n == ns {
			return true
		}
	}
	for _, e := range k.DataElements[ns] {
		if e == id {
			return true
		}
	}
	return false
}

// ValidityInfo is the MSO's validity (§9.1.2.4): tdates in UTC with whole
// seconds.
type ValidityInfo struct {
	Signed         TDate  `cbor:"signed"`
	ValidFrom      TDate  `cbor:"validFrom"`
	ValidUntil     TDate  `cbor:"validUntil"`
	ExpectedUpdate *TDate `cbor:"expectedUpdate,omitempty"`

	// offProfile lists "name=text" for each received tdate that is not
	// in the §9.1.2.4 form (DeviationTDateForm).
	offProfile []string
}

// UnmarshalCBOR implements cbor.Unmarshaler. Beside decoding, it notes the
// tdates that are valid RFC 3339 but not "YYYY-MM-DDThh:mm:ssZ", while the
// text is at hand, so that the deviation is reported without decoding the
// MSO a second time.
func (v *ValidityInfo) UnmarshalCBOR(data []byte) error {
	var raw map[string]cbor.RawMessage
	if err := decMode.Unmarshal(data, &raw); err != nil {
		return err
	}
	var out ValidityInfo
	for _, f := range []struct {
		name string
		dst  *TDate
	}{{"signed", &out.Signed}, {"validFrom", &out.ValidFrom}, {"validUntil", &out.ValidUntil}, {"expectedUpdate", nil}} {
		r, ok := raw[f.name]
		if !ok {
			continue
		}
		dst := f.dst
		if dst == nil {
			out.ExpectedUpdate = new(TDate)
			dst = out.ExpectedUpdate
		}
		t, s, err := parseTDate(r)
		if err != nil {
			return fmt.Errorf("validityInfo.%s: %w", f.name, err)
		}
		*dst = t
		if !isStrictTDate(s) {
			out.offProfile = append(out.offProfile, f.name+"="+s)
		}
	}
	*v = out
	return nil
}

// StatusReference is the MSO `status` entry pointing at a Token Status List.
type StatusReference struct {
	StatusList *StatusListRef `cbor:"status_list,omitempty"`
}

// StatusListRef is a credential's index in the status list served at URI.
type StatusListRef struct {
	Idx uint64 `cbor:"idx"`
	URI string `cbor:"uri"`
}

// check rejects an MSO that breaks the CDDL (missing members, bad version).
// It is part of parsing; validity against a clock is checked in Verify.
func (m *MobileSecurityObject) check() error {
	switch {
	case m.Version != MSOVersion:
		return newError(CodeUnsupported, "MSO version %q", m.Version)
	case m.DocType == "":
		return newError(CodeMalformed, "MSO without docType")
	case len(m.ValueDigests) == 0:
		return newError(CodeMalformed, "MSO without valueDigests")
	case len(m.DeviceKeyInfo.DeviceKey.Raw) == 0:
		return newError(CodeMalformed, "MSO without deviceKey")
	case time.Time(m.ValidityInfo.ValidFrom).IsZero() || time.Time(m.ValidityInfo.ValidUntil).IsZero() || time.Time(m.ValidityInfo.Signed).IsZero():
		return newError(CodeMalformed, "MSO validityInfo incomplete")
	case m.ValidityInfo.ValidUntil.Time().Before(m.ValidityInfo.ValidFrom.Time()):
		return newError(CodeMalformed, "MSO validUntil before validFrom")
	}
	if _, err := newDigest(m.DigestAlgorithm); err != nil {
		return err
	}
	if m.Status != nil && m.Status.StatusList != nil && m.Status.StatusList.URI == "" {
		return newError(CodeMalformed, "MSO status_list without uri")
	}
	return nil
}

// ValueDigests maps each namespace to its digests by digest ID (§9.1.2.4:
// ValueDigests = {+ NameSpace => DigestIDs}, DigestIDs = {+ DigestID =>
// Digest}).
type ValueDigests map[string]map[uint64][]byte

// UnmarshalCBOR decodes valueDigests without reflection: it is the largest
// part of every MSO and every presentation parses one. It accepts exactly
// what the CDDL allows and what decoding into map[string]map[uint64][]byte
// with this package's options accepts (definite lengths, valid UTF-8, no
// duplicate keys, the map bounds), and is stricter in one way: a simple
// value (null, undefined, …), a float, a tag or an array where the CDDL has
// a map, a tstr, a uint or a bstr is an error here, where reflection would
// have read an empty map or slice, a simple value as an integer, an array
// of small integers as bytes, or dropped the tag for the wire profile to
// refuse (FuzzValueDigests holds the two to this).
func (v *ValueDigests) UnmarshalCBOR(data []byte) error {
	// One copy backs every digest: the caller's buffer is not ours to keep.
	data = bytes.Clone(data)
	off := 0
	// mapHead reads a map's head; ns names the namespace whose digests it
	// is, or is nil for valueDigests itself.
	mapHead := func(ns *string) (int, error) {
		major, n, next, ok := readHead(data, off)
		if !ok || major != 5 || n > MaxMapPairs {
			what := "valueDigests"
			if ns != nil {
				what = fmt.Sprintf("valueDigests: the digests of %q", *ns)
			}
			if ok && major == 5 {
				return 0, newError(CodeLimitExceeded, "%s has %d entries", what, n)
			}
			return 0, fmt.Errorf("%s is not a map", what)
		}
		off = next
		return int(n), nil
	}
	nns, err := mapHead(nil)
	if err != nil {
		return err
	}
	out := make(ValueDigests, nns)
	for range nns {
		major, n, next, ok := readHead(data, off)
		if !ok || major != 3 || n > uint64(len(data)-next) {
			return fmt.Errorf("valueDigests: a namespace is not a text string")
		}
		nsb := data[next : next+int(n)]
		if !utf8.Valid(nsb) {
			return fmt.Errorf("valueDigests: namespace is not valid UTF-8")
		}
		ns := string(nsb)
		if _, dup := out[ns]; dup {
			return fmt.Errorf("valueDigests: namespace %q twice", ns)
		}
		off = next + int(n)
		nids, err := mapHead(&ns)
		if err != nil {
			return err
		}
		ids := make(map[uint64][]byte, nids)
		for range nids {
			major, id, next, ok := readHead(data, off)
			if !ok || major != 0 {
				return fmt.Errorf("valueDigests: a digest ID of %q is not an unsigned integer", ns)
			}
			if _, dup := ids[id]; dup {
				return fmt.Errorf("valueDigests: digest ID %d of %q twice", id, ns)
			}
			major, n, next, ok = readHead(data, next)
			if !ok || major != 2 || n > uint64(len(data)-next) {
				return fmt.Errorf("valueDigests: digest %d of %q is not a byte string", id, ns)
			}
			end := next + int(n)
			ids[id] = data[next:end:end]
			off = next + int(n)
		}
		out[ns] = ids
	}
	if off != len(data) {
		return fmt.Errorf("valueDigests: %d bytes after the map", len(data)-off)
	}
	*v = out
	return nil
}
