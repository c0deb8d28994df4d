package mdoc

import (
	"bytes"
	"crypto/ecdh"

	"github.com/fxamacker/cbor/v2"
)

// cborNull is the encoding of CBOR null (RFC 8949 §3.3).
var cborNull = []byte{0xf6}

// SessionTranscript binds every signature, MAC and session key to one
// engagement (ISO/IEC 18013-5:2021 §9.1.5.1):
//
//	SessionTranscript = [DeviceEngagementBytes / null, EReaderKeyBytes / null, Handover]
//
// DeviceEngagementBytes and EReaderKeyBytes are the tag-24 items as
// exchanged, nil when the transcript carries null (OpenID4VP and ISO/IEC
// 18013-7 Annex C). Handover is the encoded handover (see QRHandover,
// NFCHandover, OpenID4VPHandover, OpenID4VPDCAPIHandover, AnnexCHandover).
// Raw is the encoded array — the SessionTranscript that DeviceAuthentication
// and ReaderAuthentication embed and HPKE uses as info — kept verbatim when
// parsed.
type SessionTranscript struct {
	DeviceEngagementBytes *EncodedCBOR
	EReaderKeyBytes       *EncodedCBOR
	Handover              cbor.RawMessage
	Raw                   []byte

	// tagged is SessionTranscriptBytes as received by
	// ParseSessionTranscriptBytes, so Bytes returns it unchanged.
	tagged []byte
}

// NewSessionTranscript builds a SessionTranscript. de and eReaderKey are
// embedded verbatim (nil encodes null); handover must be one complete CBOR
// data item.
func NewSessionTranscript(de, eReaderKey *EncodedCBOR, handover []byte) (*SessionTranscript, error) {
	if err := Unmarshal(handover, new(cbor.RawMessage)); err != nil {
		return nil, wrapError(CodeMalformed, err, "session transcript handover")
	}
	items := make([]any, 3)
	for i, e := range []*EncodedCBOR{de, eReaderKey} {
		if e == nil {
			items[i] = nil
			continue
		}
		if len(e.Raw) == 0 {
			return nil, newError(CodeMalformed, "session transcript element %d is empty", i)
		}
		items[i] = cbor.RawMessage(e.Raw)
	}
	items[2] = cbor.RawMessage(handover)
	raw, err := Marshal(items)
	if err != nil {
		return nil, err
	}
	return ParseSessionTranscript(raw)
}

// ParseSessionTranscript parses an encoded SessionTranscript array,
// keeping raw verbatim.
func ParseSessionTranscript(raw []byte) (*SessionTranscript, error) {
	var parts []cbor.RawMessage
	if err := Unmarshal(raw, &parts); err != nil {
		return nil, wrapError(CodeMalformed, err, "session transcript")
	}
	if len(parts) != 3 {
		return nil, newError(CodeMalformed, "session transcript has %d elements, want 3", len(parts))
	}
	st := &SessionTranscript{Raw: bytes.Clone(raw)}
	for i, dst := range []**EncodedCBOR{&st.DeviceEngagementBytes, &st.EReaderKeyBytes} {
		if bytes.Equal(parts[i], cborNull) {
			continue
		}
		e, err := ParseEncodedCBOR(parts[i])
		if err != nil {
			return nil, wrapError(CodeMalformed, err, "session transcript element %d", i)
		}
		*dst = &e
	}
	st.Handover = bytes.Clone(parts[2])
	return st, nil
}

// ParseSessionTranscriptBytes parses SessionTranscriptBytes =
// #6.24(bstr .cbor SessionTranscript), keeping b verbatim for Bytes.
func ParseSessionTranscriptBytes(b []byte) (*SessionTranscript, error) {
	e, err := ParseEncodedCBOR(b)
	if err != nil {
		return nil, wrapError(CodeMalformed, err, "session transcript bytes")
	}
	st, err := ParseSessionTranscript(e.Data)
	if err != nil {
		return nil, err
	}
	st.tagged = bytes.Clone(b)
	return st, nil
}

// Bytes returns SessionTranscriptBytes = #6.24(bstr .cbor SessionTranscript)
// (ISO/IEC 18013-5:2021 §9.1.5.1), whose SHA-256 is the HKDF salt of the
// session keys and of EMacKey: the bytes received by
// ParseSessionTranscriptBytes, else the shortest tag-24 wrap of Raw.
func (st *SessionTranscript) Bytes() []byte {
	if st.tagged != nil {
		return bytes.Clone(st.tagged)
	}
	return tag24(st.Raw).Raw
}

// DeviceEngagement parses the embedded DeviceEngagement, or returns nil
// when the transcript carries null.
func (st *SessionTranscript) DeviceEngagement() (*DeviceEngagement, error) {
	if st.DeviceEngagementBytes == nil {
		return nil, nil
	}
	return ParseDeviceEngagement(st.DeviceEngagementBytes.Data)
}

// EReaderKey returns the reader's ephemeral key, or nil when the transcript
// carries null.
func (st *SessionTranscript) EReaderKey() (*ecdh.PublicKey, error) {
	if st.EReaderKeyBytes == nil {
		return nil, nil
	}
	k, err := ParseCOSEKey(st.EReaderKeyBytes.Data)
	if err != nil {
		return nil, err
	}
	return k.ECDH()
}
