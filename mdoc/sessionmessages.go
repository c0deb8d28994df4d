package mdoc

import (
	"bytes"
	"crypto/ecdh"
)

// SessionData status codes (ISO/IEC 18013-5:2021 §9.1.1).
const (
	// SessionStatusEncryptionError: the message could not be decrypted;
	// the session ends.
	SessionStatusEncryptionError uint = 10
	// SessionStatusDecodingError: the decrypted message was not valid CBOR;
	// the session ends.
	SessionStatusDecodingError uint = 11
	// SessionStatusTermination: the sender ends the session.
	SessionStatusTermination uint = 20
)

// SessionEstablishment is the reader's first message (ISO/IEC
// 18013-5:2021 §9.1.1):
//
//	SessionEstablishment = {"eReaderKey": EReaderKeyBytes, "data": bstr}
//
// EReaderKey is #6.24(bstr .cbor COSE_Key) as received — the
// SessionTranscript embeds it verbatim — and Data the encrypted
// DeviceRequest. Raw is the message as received (empty when built locally).
type SessionEstablishment struct {
	EReaderKey EncodedCBOR
	Data       []byte
	Raw        []byte

	key *COSEKey
}

type sessionEstablishmentWire struct {
	EReaderKey EncodedCBOR `cbor:"eReaderKey"`
	Data       []byte      `cbor:"data"`
}

// NewSessionEstablishment builds a SessionEstablishment for the reader's
// ephemeral key and an encrypted DeviceRequest.
func NewSessionEstablishment(eReaderKey *ecdh.PublicKey, data []byte) (*SessionEstablishment, error) {
	if eReaderKey == nil {
		return nil, newError(CodeMalformed, "nil EReaderKey")
	}
	k, err := NewCOSEKey(eReaderKey)
	if err != nil {
		return nil, err
	}
	kb, err := WrapEncodedCBOR(k.Raw)
	if err != nil {
		return nil, err
	}
	return &SessionEstablishment{EReaderKey: kb, Data: data, key: k}, nil
}

// ParseSessionEstablishment parses a SessionEstablishment, checking that
// eReaderKey is a valid EC2 COSE_Key and data is present.
func ParseSessionEstablishment(b []byte) (*SessionEstablishment, error) {
	var w sessionEstablishmentWire
	if err := Unmarshal(b, &w); err != nil {
		return nil, wrapError(CodeMalformed, err, "session establishment")
	}
	if len(w.EReaderKey.Raw) == 0 {
		return nil, newError(CodeMalformed, "session establishment without eReaderKey")
	}
	if len(w.Data) == 0 {
		return nil, newError(CodeMalformed, "session establishment without data")
	}
	k, err := ParseCOSEKey(w.EReaderKey.Data)
	if err != nil {
		return nil, wrapError(CodeMalformed, err, "eReaderKey")
	}
	if _, err := k.ECDH(); err != nil {
		return nil, wrapError(CodeMalformed, err, "eReaderKey")
	}
	return &SessionEstablishment{EReaderKey: w.EReaderKey, Data: w.Data, Raw: bytes.Clone(b), key: k}, nil
}

// Key returns the parsed EReaderKey.
func (m *SessionEstablishment) Key() (*COSEKey, error) {
	if m.key != nil {
		return m.key, nil
	}
	return ParseCOSEKey(m.EReaderKey.Data)
}

// PublicKey returns EReaderKey for ECDH.
func (m *SessionEstablishment) PublicKey() (*ecdh.PublicKey, error) {
	k, err := m.Key()
	if err != nil {
		return nil, err
	}
	return k.ECDH()
}

// Encode encodes the message; EReaderKey is emitted verbatim.
func (m *SessionEstablishment) Encode() ([]byte, error) {
	if len(m.EReaderKey.Raw) == 0 || len(m.Data) == 0 {
		return nil, newError(CodeMalformed, "session establishment needs eReaderKey and data")
	}
	return Marshal(sessionEstablishmentWire{EReaderKey: m.EReaderKey, Data: m.Data})
}

// SessionData carries every later message of a session, and its end
// (ISO/IEC 18013-5:2021 §9.1.1):
//
//	SessionData = {? "data": bstr, ? "status": uint}
//
// Data is an encrypted DeviceRequest or DeviceResponse; Status, when set,
// is one of the SessionStatus… codes. At least one is present. Raw is the
// message as received.
type SessionData struct {
	Data   []byte
	Status *uint
	Raw    []byte
}

type sessionDataWire struct {
	Data   []byte `cbor:"data,omitempty"`
	Status *uint  `cbor:"status,omitempty"`
}

// NewSessionStatus returns a SessionData carrying only a status, e.g.
// SessionStatusTermination.
func NewSessionStatus(status uint) *SessionData { return &SessionData{Status: &status} }

// ParseSessionData parses a SessionData. A message with neither data nor
// status, or with empty data, is malformed.
func ParseSessionData(b []byte) (*SessionData, error) {
	var w sessionDataWire
	if err := Unmarshal(b, &w); err != nil {
		return nil, wrapError(CodeMalformed, err, "session data")
	}
	if w.Data == nil && w.Status == nil {
		return nil, newError(CodeMalformed, "session data with neither data nor status")
	}
	if w.Data != nil && len(w.Data) == 0 {
		// An AES-GCM ciphertext is never empty: it has at least its tag.
		return nil, newError(CodeMalformed, "session data with empty data")
	}
	return &SessionData{Data: w.Data, Status: w.Status, Raw: bytes.Clone(b)}, nil
}

// Encode encodes the message.
func (m *SessionData) Encode() ([]byte, error) {
	if len(m.Data) == 0 && m.Status == nil {
		return nil, newError(CodeMalformed, "session data needs data or status")
	}
	return Marshal(sessionDataWire{Data: m.Data, Status: m.Status})
}
