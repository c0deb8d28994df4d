package mdoc

import (
	"bytes"
	"crypto/ecdh"
	"encoding/base64"
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// DeviceEngagementVersion is the DeviceEngagement version this package
// emits. Parsing accepts any "1.x": minor versions only add optional keys
// (ISO/IEC 18013-5:2021 §8.2.1.1).
const DeviceEngagementVersion = "1.0"

// CipherSuite1 is the only cipher suite ISO/IEC 18013-5:2021 §9.1.1
// defines: ECDH on the curve of EDeviceKey, HKDF-SHA256 and AES-256-GCM.
const CipherSuite1 = 1

// Device retrieval method types (ISO/IEC 18013-5:2021 §8.2.1.1).
const (
	RetrievalNFC       uint = 1
	RetrievalBLE       uint = 2
	RetrievalWiFiAware uint = 3
)

// RetrievalMethodVersion is the version of every device retrieval method
// ISO/IEC 18013-5:2021 defines.
const RetrievalMethodVersion uint = 1

// Bounds on device engagement input.
const (
	// MaxDeviceEngagementSize bounds an encoded DeviceEngagement. The
	// largest QR code holds 2,953 bytes and an NFC Handover Select is read
	// in one NDEF message; 8 KiB leaves room for originInfos and
	// capabilities without letting a peer make us parse megabytes.
	MaxDeviceEngagementSize = 8 << 10
	// MaxRetrievalMethods bounds deviceRetrievalMethods and originInfos.
	// Three transports are defined; nobody offers more than a handful.
	MaxRetrievalMethods = 16
	// MaxQRLength bounds an "mdoc:" URI. It is above the byte capacity of
	// the largest QR code (2,953), so any real code passes.
	MaxQRLength = 4096
)

// QRScheme is the URI scheme of a QR device engagement (ISO/IEC
// 18013-5:2021 §8.2.2).
const QRScheme = "mdoc:"

// DeviceEngagement is the structure an mdoc shows (QR code) or serves (NFC
// Handover Select) to start a proximity session (ISO/IEC 18013-5:2021
// §8.2.1.1):
//
//	DeviceEngagement = {0: tstr, 1: Security, ? 2: DeviceRetrievalMethods,
//	  ? 3: ServerRetrievalMethods, ? 4: ProtocolInfo, ? 5: OriginInfos,
//	  ? 6: Capabilities, * int => any}
//
// Raw keeps the encoding as received: the SessionTranscript embeds exactly
// these bytes (see Bytes), so a DeviceEngagement is never re-encoded.
// ServerRetrievalMethods, ProtocolInfo and Capabilities are kept as raw CBOR
// because this package does not act on them.
type DeviceEngagement struct {
	Version                string
	Security               Security
	DeviceRetrievalMethods []DeviceRetrievalMethod
	ServerRetrievalMethods cbor.RawMessage
	ProtocolInfo           cbor.RawMessage
	OriginInfos            []OriginInfo
	Capabilities           cbor.RawMessage
	Raw                    []byte
}

// deviceEngagementWire is the CBOR map of a DeviceEngagement. Unknown
// integer keys are ignored, as the CDDL's "* int => any" allows.
type deviceEngagementWire struct {
	Version                string                  `cbor:"0,keyasint"`
	Security               *Security               `cbor:"1,keyasint"`
	DeviceRetrievalMethods []DeviceRetrievalMethod `cbor:"2,keyasint,omitempty"`
	ServerRetrievalMethods cbor.RawMessage         `cbor:"3,keyasint,omitempty"`
	ProtocolInfo           cbor.RawMessage         `cbor:"4,keyasint,omitempty"`
	OriginInfos            []OriginInfo            `cbor:"5,keyasint,omitempty"`
	Capabilities           cbor.RawMessage         `cbor:"6,keyasint,omitempty"`
}

// Security is [cipherSuiteIdentifier, EDeviceKeyBytes] with
// EDeviceKeyBytes = #6.24(bstr .cbor COSE_Key) (ISO/IEC 18013-5:2021
// §8.2.1.1). EDeviceKeyBytes keeps the tag-24 encoding as received;
// EDeviceKey is its parsed, validated key.
type Security struct {
	CipherSuite     int
	EDeviceKeyBytes EncodedCBOR
	EDeviceKey      *COSEKey
}

type securityWire struct {
	_               struct{} `cbor:",toarray"`
	CipherSuite     int
	EDeviceKeyBytes EncodedCBOR
}

// MarshalCBOR implements cbor.Marshaler.
func (s Security) MarshalCBOR() ([]byte, error) {
	if len(s.EDeviceKeyBytes.Raw) == 0 {
		return nil, newError(CodeMalformed, "security without EDeviceKeyBytes")
	}
	return Marshal(securityWire{CipherSuite: s.CipherSuite, EDeviceKeyBytes: s.EDeviceKeyBytes})
}

// UnmarshalCBOR implements cbor.Unmarshaler. It rejects a cipher suite other
// than CipherSuite1 (CodeUnsupported) and an EDeviceKey that cannot do ECDH.
func (s *Security) UnmarshalCBOR(data []byte) error {
	var w securityWire
	if err := decMode.Unmarshal(data, &w); err != nil {
		return wrapError(CodeMalformed, cborError(err), "security")
	}
	if w.CipherSuite != CipherSuite1 {
		return newError(CodeUnsupported, "cipher suite %d", w.CipherSuite)
	}
	key, err := ParseCOSEKey(w.EDeviceKeyBytes.Data)
	if err != nil {
		return wrapError(CodeMalformed, err, "EDeviceKey")
	}
	if _, err := key.ECDH(); err != nil {
		return wrapError(CodeMalformed, err, "EDeviceKey")
	}
	*s = Security{CipherSuite: w.CipherSuite, EDeviceKeyBytes: w.EDeviceKeyBytes, EDeviceKey: key}
	return nil
}

// DeviceRetrievalMethod is [type, version, RetrievalOptions] (ISO/IEC
// 18013-5:2021 §8.2.1.1). Options keeps the options map as received; use
// BLEOptions or NFCOptions to read it.
type DeviceRetrievalMethod struct {
	Type    uint
	Version uint
	Options cbor.RawMessage
}

type retrievalMethodWire struct {
	_       struct{} `cbor:",toarray"`
	Type    uint
	Version uint
	Options cbor.RawMessage
}

// MarshalCBOR implements cbor.Marshaler. Empty Options encode as an empty
// map, since RetrievalOptions is required.
func (m DeviceRetrievalMethod) MarshalCBOR() ([]byte, error) {
	opts := m.Options
	if len(opts) == 0 {
		opts = cbor.RawMessage{0xa0}
	}
	return Marshal(retrievalMethodWire{Type: m.Type, Version: m.Version, Options: opts})
}

// UnmarshalCBOR implements cbor.Unmarshaler. Options must be a map; its
// contents are checked only by the typed accessors, so a method of an
// unknown type still parses.
func (m *DeviceRetrievalMethod) UnmarshalCBOR(data []byte) error {
	var w retrievalMethodWire
	if err := decMode.Unmarshal(data, &w); err != nil {
		return wrapError(CodeMalformed, cborError(err), "device retrieval method")
	}
	if len(w.Options) == 0 || w.Options[0]>>5 != 5 {
		return newError(CodeMalformed, "device retrieval method %d: options are not a map", w.Type)
	}
	*m = DeviceRetrievalMethod{Type: w.Type, Version: w.Version, Options: bytes.Clone(w.Options)}
	return nil
}

// BLEOptions are the BLE retrieval options (ISO/IEC 18013-5:2021
// §8.2.1.1, BleOptions): which GATT roles the mdoc supports and the service
// UUIDs (16 bytes, big-endian as printed) and address (6 bytes) to use.
type BLEOptions struct {
	PeripheralServerMode    bool   // key 0: mdoc peripheral server mode supported
	CentralClientMode       bool   // key 1: mdoc central client mode supported
	PeripheralServerUUID    []byte // key 10, optional
	CentralClientUUID       []byte // key 11, optional
	PeripheralServerAddress []byte // key 20, optional BLE device address
}

type bleOptionsWire struct {
	PeripheralServerMode    bool   `cbor:"0,keyasint"`
	CentralClientMode       bool   `cbor:"1,keyasint"`
	PeripheralServerUUID    []byte `cbor:"10,keyasint,omitempty"`
	CentralClientUUID       []byte `cbor:"11,keyasint,omitempty"`
	PeripheralServerAddress []byte `cbor:"20,keyasint,omitempty"`
}

// Sizes of BLE option values.
const (
	bleUUIDSize    = 16
	bleAddressSize = 6
)

func (o *BLEOptions) check() error {
	if !o.PeripheralServerMode && !o.CentralClientMode {
		return newError(CodeMalformed, "BLE options: neither peripheral server nor central client mode")
	}
	for _, u := range [][]byte{o.PeripheralServerUUID, o.CentralClientUUID} {
		if u != nil && len(u) != bleUUIDSize {
			return newError(CodeMalformed, "BLE options: UUID of %d bytes", len(u))
		}
	}
	if o.PeripheralServerAddress != nil && len(o.PeripheralServerAddress) != bleAddressSize {
		return newError(CodeMalformed, "BLE options: address of %d bytes", len(o.PeripheralServerAddress))
	}
	return nil
}

// NewBLERetrieval returns the BLE DeviceRetrievalMethod for opts.
func NewBLERetrieval(opts BLEOptions) (DeviceRetrievalMethod, error) {
	if err := opts.check(); err != nil {
		return DeviceRetrievalMethod{}, err
	}
	raw, err := Marshal(bleOptionsWire(opts))
	if err != nil {
		return DeviceRetrievalMethod{}, err
	}
	return DeviceRetrievalMethod{Type: RetrievalBLE, Version: RetrievalMethodVersion, Options: raw}, nil
}

// BLEOptions decodes the options of a BLE retrieval method.
func (m DeviceRetrievalMethod) BLEOptions() (*BLEOptions, error) {
	if m.Type != RetrievalBLE {
		return nil, newError(CodeMalformed, "retrieval method %d is not BLE", m.Type)
	}
	var w bleOptionsWire
	if err := Unmarshal(m.Options, &w); err != nil {
		return nil, wrapError(CodeMalformed, err, "BLE options")
	}
	o := BLEOptions(w)
	if err := o.check(); err != nil {
		return nil, err
	}
	return &o, nil
}

// NFCOptions are the NFC retrieval options (ISO/IEC 18013-5:2021 §8.2.1.1,
// NfcOptions): the largest command and response data fields the mdoc
// accepts, which bound the ENVELOPE chunks (see EncodeEnvelopes).
type NFCOptions struct {
	MaxCommandDataLength  uint // key 0
	MaxResponseDataLength uint // key 1
}

type nfcOptionsWire struct {
	MaxCommandDataLength  uint `cbor:"0,keyasint"`
	MaxResponseDataLength uint `cbor:"1,keyasint"`
}

// NewNFCRetrieval returns the NFC DeviceRetrievalMethod for opts.
func NewNFCRetrieval(opts NFCOptions) (DeviceRetrievalMethod, error) {
	if opts.MaxCommandDataLength == 0 || opts.MaxResponseDataLength == 0 {
		return DeviceRetrievalMethod{}, newError(CodeMalformed, "NFC options: zero maximum length")
	}
	raw, err := Marshal(nfcOptionsWire(opts))
	if err != nil {
		return DeviceRetrievalMethod{}, err
	}
	return DeviceRetrievalMethod{Type: RetrievalNFC, Version: RetrievalMethodVersion, Options: raw}, nil
}

// NFCOptions decodes the options of an NFC retrieval method.
func (m DeviceRetrievalMethod) NFCOptions() (*NFCOptions, error) {
	if m.Type != RetrievalNFC {
		return nil, newError(CodeMalformed, "retrieval method %d is not NFC", m.Type)
	}
	var w nfcOptionsWire
	if err := Unmarshal(m.Options, &w); err != nil {
		return nil, wrapError(CodeMalformed, err, "NFC options")
	}
	if w.MaxCommandDataLength == 0 || w.MaxResponseDataLength == 0 {
		return nil, newError(CodeMalformed, "NFC options: zero maximum length")
	}
	o := NFCOptions(w)
	return &o, nil
}

// OriginInfo tells the reader where the engagement came from (ISO/IEC
// 18013-7, DeviceEngagement key 5): a category, a type and type-specific
// details, kept as raw CBOR.
type OriginInfo struct {
	Cat     uint            `cbor:"cat"`
	Type    uint            `cbor:"type"`
	Details cbor.RawMessage `cbor:"details,omitempty"`
}

// NewDeviceEngagement returns the DeviceEngagement an mdoc shows for its
// ephemeral key eDeviceKey, with version DeviceEngagementVersion, cipher
// suite 1 and the given retrieval methods (none for NFC static handover,
// where the Handover Select carries the carriers).
func NewDeviceEngagement(eDeviceKey *ecdh.PublicKey, methods ...DeviceRetrievalMethod) (*DeviceEngagement, error) {
	if eDeviceKey == nil {
		return nil, newError(CodeMalformed, "nil EDeviceKey")
	}
	if len(methods) > MaxRetrievalMethods {
		return nil, newError(CodeLimitExceeded, "%d retrieval methods exceed %d", len(methods), MaxRetrievalMethods)
	}
	key, err := NewCOSEKey(eDeviceKey)
	if err != nil {
		return nil, err
	}
	keyBytes, err := WrapEncodedCBOR(key.Raw)
	if err != nil {
		return nil, err
	}
	sec := Security{CipherSuite: CipherSuite1, EDeviceKeyBytes: keyBytes, EDeviceKey: key}
	w := deviceEngagementWire{Version: DeviceEngagementVersion, Security: &sec, DeviceRetrievalMethods: methods}
	raw, err := Marshal(w)
	if err != nil {
		return nil, err
	}
	return ParseDeviceEngagement(raw)
}

// ParseDeviceEngagement parses an encoded DeviceEngagement (ISO/IEC
// 18013-5:2021 §8.2.1.1), keeping b verbatim in Raw. It rejects malformed
// CBOR, a missing or non-1.x version, a cipher suite other than 1 and an
// EDeviceKey that is not a valid EC2 key.
func ParseDeviceEngagement(b []byte) (*DeviceEngagement, error) {
	if len(b) > MaxDeviceEngagementSize {
		return nil, newError(CodeLimitExceeded, "device engagement of %d bytes exceeds %d", len(b), MaxDeviceEngagementSize)
	}
	var w deviceEngagementWire
	if err := Unmarshal(b, &w); err != nil {
		return nil, wrapError(CodeMalformed, err, "device engagement")
	}
	if w.Version == "" {
		return nil, newError(CodeMalformed, "device engagement without version")
	}
	if !strings.HasPrefix(w.Version, "1.") {
		return nil, newError(CodeUnsupported, "device engagement version %q", w.Version)
	}
	if w.Security == nil {
		return nil, newError(CodeMalformed, "device engagement without security")
	}
	if len(w.DeviceRetrievalMethods) > MaxRetrievalMethods || len(w.OriginInfos) > MaxRetrievalMethods {
		return nil, newError(CodeLimitExceeded, "device engagement lists more than %d methods", MaxRetrievalMethods)
	}
	return &DeviceEngagement{
		Version:                w.Version,
		Security:               *w.Security,
		DeviceRetrievalMethods: w.DeviceRetrievalMethods,
		ServerRetrievalMethods: bytes.Clone(w.ServerRetrievalMethods),
		ProtocolInfo:           bytes.Clone(w.ProtocolInfo),
		OriginInfos:            w.OriginInfos,
		Capabilities:           bytes.Clone(w.Capabilities),
		Raw:                    bytes.Clone(b),
	}, nil
}

// Bytes returns DeviceEngagementBytes = #6.24(bstr .cbor DeviceEngagement)
// over Raw, the first element of the SessionTranscript (ISO/IEC
// 18013-5:2021 §9.1.5.1).
func (de *DeviceEngagement) Bytes() EncodedCBOR { return tag24(de.Raw) }

// EDeviceKey returns the mdoc's ephemeral key for ECDH.
func (de *DeviceEngagement) EDeviceKey() (*ecdh.PublicKey, error) {
	if de.Security.EDeviceKey == nil {
		return nil, newError(CodeMalformed, "device engagement without EDeviceKey")
	}
	return de.Security.EDeviceKey.ECDH()
}

// EncodeQR returns the QR code content for de: "mdoc:" followed by the
// base64url encoding, without padding, of Raw (ISO/IEC 18013-5:2021
// §8.2.2).
func EncodeQR(de *DeviceEngagement) string {
	return QRScheme + base64.RawURLEncoding.EncodeToString(de.Raw)
}

// ParseQR parses the content of a QR device engagement. The scheme is
// matched case-insensitively (RFC 3986 §3.1); the rest must be strict
// base64url without padding or whitespace, because the decoded bytes are
// hashed into the SessionTranscript and two spellings of one engagement
// must not exist.
func ParseQR(uri string) (*DeviceEngagement, error) {
	if len(uri) > MaxQRLength {
		return nil, newError(CodeLimitExceeded, "QR content of %d characters exceeds %d", len(uri), MaxQRLength)
	}
	if len(uri) < len(QRScheme) || !strings.EqualFold(uri[:len(QRScheme)], QRScheme) {
		return nil, newError(CodeMalformed, "QR content does not start with %q", QRScheme)
	}
	data := uri[len(QRScheme):]
	if data == "" {
		return nil, newError(CodeMalformed, "QR content has no device engagement")
	}
	if strings.HasSuffix(data, "=") {
		return nil, newError(CodeMalformed, "QR device engagement is padded; base64url without padding is required")
	}
	// The base64 decoder skips CR and LF; reject them (and anything else
	// outside the alphabet) here so that one engagement has one spelling.
	if i := strings.IndexFunc(data, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}); i >= 0 {
		return nil, newError(CodeMalformed, "QR device engagement has a character outside base64url at offset %d", i)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(data)
	if err != nil {
		return nil, newError(CodeMalformed, "QR device engagement is not base64url: %v", err)
	}
	return ParseDeviceEngagement(b)
}

// tag24 wraps already-encoded CBOR in #6.24(bstr) without the error path
// of WrapEncodedCBOR: a byte string header cannot fail to encode.
func tag24(inner []byte) EncodedCBOR {
	raw := make([]byte, 0, 2+9+len(inner))
	raw = append(raw, 0xd8, TagEncodedCBOR)
	raw = appendBstrHead(raw, uint64(len(inner)))
	raw = append(raw, inner...)
	return EncodedCBOR{Raw: raw, Data: raw[len(raw)-len(inner):]}
}

// appendBstrHead appends the shortest CBOR head of a byte string of n bytes
// (RFC 8949 §3, §4.2.1).
func appendBstrHead(b []byte, n uint64) []byte {
	const major = 2 << 5
	switch {
	case n < 24:
		return append(b, major|byte(n))
	case n <= 0xff:
		return append(b, major|24, byte(n))
	case n <= 0xffff:
		return append(b, major|25, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		return append(b, major|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, major|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
		byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}
