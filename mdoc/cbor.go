package mdoc

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Decoding limits. Every decoder in this package goes through decMode, so
// these bounds hold for all hostile input (DeviceResponses, requests,
// engagements, status lists, session messages).
const (
	// MaxMessageSize bounds any CBOR message handed to a parser. A
	// DeviceResponse with a portrait is tens of KiB; 4 MiB leaves room for
	// several documents without letting a peer make us allocate without bound.
	MaxMessageSize = 4 << 20
	// MaxNestingDepth bounds array/map/tag nesting. The deepest standard
	// structure (DeviceResponse → documents → Document → issuerSigned →
	// issuerAuth → unprotected → x5chain) is 8; element values such as
	// driving_privileges add a few more.
	MaxNestingDepth = 16
	// MaxArrayElements bounds every CBOR array (documents, items per
	// namespace, x5chain, …).
	MaxArrayElements = 4096
	// MaxMapPairs bounds every CBOR map (namespaces, valueDigests, …).
	MaxMapPairs = 4096
)

// CBOR tag numbers used by ISO 18013-5.
const (
	TagTDate       = 0    // tdate: RFC 3339 text
	TagEncodedCBOR = 24   // #6.24(bstr .cbor T)
	TagFullDate    = 1004 // full-date: RFC 3339 full-date text
	TagCOSESign1   = 18   // tagged COSE_Sign1 (status list CWTs)
)

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	tags := cbor.NewTagSet()
	if err := tags.Add(cbor.TagOptions{DecTag: cbor.DecTagRequired, EncTag: cbor.EncTagRequired},
		reflect.TypeOf(FullDate{}), TagFullDate); err != nil {
		panic(err)
	}
	eo := cbor.CoreDetEncOptions()
	eo.Time = cbor.TimeRFC3339
	eo.TimeTag = cbor.EncTagRequired
	var err error
	if encMode, err = eo.EncModeWithTags(tags); err != nil {
		panic(err)
	}
	do := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		MaxNestedLevels:  MaxNestingDepth,
		MaxArrayElements: MaxArrayElements,
		MaxMapPairs:      MaxMapPairs,
		TimeTag:          cbor.DecTagOptional,
		// Decode maps of unknown shape with any-typed keys so integer
		// labels (COSE) survive.
		DefaultMapType:    reflect.TypeOf(map[any]any(nil)),
		IntDec:            cbor.IntDecConvertSignedOrFail,
		UTF8:              cbor.UTF8RejectInvalid,
		ExtraReturnErrors: cbor.ExtraDecErrorNone,
		// Map keys are matched to struct fields exactly: the CDDL names
		// are case-sensitive text, and "DOCTYPE" is not "docType"
		// (RFC 8949 §5.6: keys are compared by their encoded bytes).
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
	}
	if decMode, err = do.DecModeWithTags(tags); err != nil {
		panic(err)
	}
}

// Marshal encodes v as core deterministic CBOR (RFC 8949 §4.2.1), the
// encoding this package emits everywhere.
func Marshal(v any) ([]byte, error) { return encMode.Marshal(v) }

// Unmarshal decodes one complete CBOR data item from data into v with the
// package's limits (MaxMessageSize, MaxNestingDepth, MaxArrayElements,
// MaxMapPairs), rejecting duplicate map keys, indefinite lengths, invalid
// UTF-8 and trailing bytes. Failures are *Error with CodeMalformed or
// CodeLimitExceeded.
func Unmarshal(data []byte, v any) error {
	if len(data) > MaxMessageSize {
		return newError(CodeLimitExceeded, "message of %d bytes exceeds %d", len(data), MaxMessageSize)
	}
	if err := decMode.Unmarshal(data, v); err != nil {
		return cborError(err)
	}
	return nil
}

func cborError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var maxNest *cbor.MaxNestedLevelError
	var maxArr *cbor.MaxArrayElementsError
	var maxMap *cbor.MaxMapPairsError
	// fxamacker/cbor's messages start with "cbor: " already; a Detail of
	// "cbor" on top of them read "cbor: cbor: …".
	detail := "cbor"
	if strings.HasPrefix(err.Error(), "cbor: ") {
		detail = ""
	}
	if errors.As(err, &maxNest) || errors.As(err, &maxArr) || errors.As(err, &maxMap) {
		return &Error{Code: CodeLimitExceeded, Detail: detail, Err: err}
	}
	return &Error{Code: CodeMalformed, Detail: detail, Err: err}
}

// TDate is a tdate (#6.0(tstr)): an instant with whole seconds, encoded in
// UTC with a "Z" suffix and no fractional seconds (ISO 18013-5 §9.1.2.4).
type TDate time.Time

// Time returns t as a time.Time.
func (t TDate) Time() time.Time { return time.Time(t) }

// MarshalCBOR implements cbor.Marshaler.
func (t TDate) MarshalCBOR() ([]byte, error) {
	s := time.Time(t).UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z")
	return encMode.Marshal(cbor.Tag{Number: TagTDate, Content: s})
}

// UnmarshalCBOR implements cbor.Unmarshaler. It requires tag 0 and accepts
// any RFC 3339 time (with offset or fraction) so that lenient issuers still
// parse; the value is normalised to UTC.
func (t *TDate) UnmarshalCBOR(data []byte) error {
	v, _, err := parseTDate(data)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// parseTDate decodes a tdate and also returns its text as received, which
// the MSO's profile check needs (§9.1.2.4 asks for whole seconds in UTC).
func parseTDate(data []byte) (TDate, string, error) {
	if len(data) < 2 || data[0] != 0xc0 {
		return TDate{}, "", fmt.Errorf("tdate: want tag 0")
	}
	// The text is read by hand: a tstr of definite length filling the
	// rest. Its content need not be checked for UTF-8 here: RFC 3339 is
	// ASCII and time.Parse refuses anything else.
	major, n, next, ok := readHead(data, 1)
	if !ok || major != 3 || n != uint64(len(data)-next) {
		return TDate{}, "", fmt.Errorf("tdate: tag 0 without a text string")
	}
	s := string(data[next:])
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return TDate{}, "", fmt.Errorf("tdate: %w", err)
	}
	return TDate(v.UTC()), s, nil
}

// FullDate is a full-date (#6.1004(tstr), "YYYY-MM-DD", RFC 8943) as used for
// birth_date, issue_date and expiry_date.
type FullDate struct {
	Year  int
	Month time.Month
	Day   int
}

// NewFullDate returns the calendar date of t in t's location.
func NewFullDate(t time.Time) FullDate {
	y, m, d := t.Date()
	return FullDate{y, m, d}
}

// ParseFullDate parses "YYYY-MM-DD".
func ParseFullDate(s string) (FullDate, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return FullDate{}, fmt.Errorf("full-date %q: %w", s, err)
	}
	return NewFullDate(t), nil
}

func (d FullDate) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// In returns midnight at the start of d in loc.
func (d FullDate) In(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// MarshalCBOR implements cbor.Marshaler.
func (d FullDate) MarshalCBOR() ([]byte, error) {
	return encMode.Marshal(cbor.Tag{Number: TagFullDate, Content: d.String()})
}

// UnmarshalCBOR implements cbor.Unmarshaler. The tag set registered in
// decMode strips tag 1004 before calling it; a bare call with the tag also
// works.
func (d *FullDate) UnmarshalCBOR(data []byte) error {
	var s string
	if len(data) > 0 && data[0]>>5 == 6 {
		var raw cbor.RawTag
		if err := decMode.Unmarshal(data, &raw); err != nil {
			return fmt.Errorf("full-date: %w", err)
		}
		if raw.Number != TagFullDate {
			return fmt.Errorf("full-date: tag %d, want 1004", raw.Number)
		}
		data = raw.Content
	}
	if err := decMode.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("full-date: %w", err)
	}
	v, err := ParseFullDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// EncodedCBOR is #6.24(bstr .cbor T): a CBOR data item embedded as a byte
// string. Raw keeps the whole encoding as received (tag header included) —
// the bytes that digests and transcripts are computed over — and Data the
// embedded item.
type EncodedCBOR struct {
	Raw  []byte
	Data []byte
}

// NewEncodedCBOR encodes v and wraps it in tag 24.
func NewEncodedCBOR(v any) (EncodedCBOR, error) {
	inner, err := Marshal(v)
	if err != nil {
		return EncodedCBOR{}, err
	}
	return WrapEncodedCBOR(inner)
}

// WrapEncodedCBOR wraps already-encoded CBOR bytes in tag 24.
func WrapEncodedCBOR(inner []byte) (EncodedCBOR, error) {
	raw, err := encMode.Marshal(cbor.Tag{Number: TagEncodedCBOR, Content: inner})
	if err != nil {
		return EncodedCBOR{}, err
	}
	return EncodedCBOR{Raw: raw, Data: inner}, nil
}

// MarshalCBOR implements cbor.Marshaler by emitting Raw verbatim.
func (e EncodedCBOR) MarshalCBOR() ([]byte, error) {
	if len(e.Raw) == 0 {
		return nil, errors.New("mdoc: empty EncodedCBOR")
	}
	return e.Raw, nil
}

// UnmarshalCBOR implements cbor.Unmarshaler; it keeps data verbatim.
func (e *EncodedCBOR) UnmarshalCBOR(data []byte) error {
	inner, err := unwrapTag24(data)
	if err != nil {
		return err
	}
	e.Raw = bytes.Clone(data)
	e.Data = e.Raw[len(e.Raw)-len(inner):]
	return nil
}

// ParseEncodedCBOR parses b as a tag-24 item.
func ParseEncodedCBOR(b []byte) (EncodedCBOR, error) {
	var e EncodedCBOR
	if len(b) > MaxMessageSize {
		return e, newError(CodeLimitExceeded, "message of %d bytes exceeds %d", len(b), MaxMessageSize)
	}
	if err := e.UnmarshalCBOR(b); err != nil {
		return e, err
	}
	return e, nil
}

// Decode decodes the embedded item into v.
func (e EncodedCBOR) Decode(v any) error { return Unmarshal(e.Data, v) }

// unwrapTag24 checks that data is exactly #6.24(bstr) and returns the bstr
// content as a sub-slice of data (no copy: this is on every item's path).
func unwrapTag24(data []byte) ([]byte, error) {
	if len(data) < 3 || data[0] != 0xd8 || data[1] != TagEncodedCBOR {
		return nil, newError(CodeMalformed, "expected #6.24(bstr .cbor)")
	}
	content, ok := byteStringContent(data[2:])
	if !ok {
		return nil, newError(CodeMalformed, "#6.24 does not hold exactly one definite-length bstr")
	}
	return content, nil
}

// byteStringContent returns the content of b when b is exactly one
// definite-length CBOR byte string in shortest or longer form.
func byteStringContent(b []byte) ([]byte, bool) {
	if len(b) == 0 || b[0]>>5 != 2 {
		return nil, false
	}
	ai := b[0] & 0x1f
	var n uint64
	var head int
	switch {
	case ai < 24:
		n, head = uint64(ai), 1
	case ai == 24 && len(b) >= 2:
		n, head = uint64(b[1]), 2
	case ai == 25 && len(b) >= 3:
		n, head = uint64(b[1])<<8|uint64(b[2]), 3
	case ai == 26 && len(b) >= 5:
		n, head = uint64(b[1])<<24|uint64(b[2])<<16|uint64(b[3])<<8|uint64(b[4]), 5
	case ai == 27 && len(b) >= 9:
		for i := 1; i <= 8; i++ {
			n = n<<8 | uint64(b[i])
		}
		head = 9
	default:
		return nil, false // indefinite length or truncated head
	}
	if uint64(len(b)-head) != n {
		return nil, false
	}
	return b[head:], true
}
