package mdoc

import (
	"encoding/binary"
)

// NFC Forum Type 4 Tag files and commands used for NFC engagement (NFC
// Forum Type 4 Tag Technical Specification 1.0 §5, ISO/IEC 18013-5:2021
// §8.2.2.1).
const (
	// CapabilityContainerFileID is the file identifier of the Capability
	// Container (T4T §5.1).
	CapabilityContainerFileID = 0xE103
	// DefaultNDEFFileID is the NDEF file identifier mdocs commonly use.
	DefaultNDEFFileID = 0xE104
	// CapabilityContainerLen is the length of a mapping version 2.0 CC with
	// one NDEF File Control TLV (T4T §5.1: CCLEN 000Fh).
	CapabilityContainerLen = 15
	// T4TMappingVersion is mapping version 2.0.
	T4TMappingVersion = 0x20

	// minMLe and minMLc are the smallest MLe and MLc a CC may declare (T4T
	// §5.1.2: MLe from 000Fh, MLc from 0001h).
	minMLe = 0x000F
	minMLc = 0x0001
	// minNDEFFileSize and maxNDEFFileSize bound the declared NDEF file
	// size (T4T §5.1.2.1: 0005h–FFFEh, the two-byte NLEN included).
	minNDEFFileSize = 0x0005
	maxNDEFFileSize = 0xFFFE
	// ndefFileControlTag, ndefFileControlLen: the NDEF File Control TLV.
	ndefFileControlTag = 0x04
	ndefFileControlLen = 0x06
	// AccessGranted is the read/write access byte 00h (no restriction);
	// AccessDenied (FFh) marks a read-only NDEF file.
	AccessGranted = 0x00
	AccessDenied  = 0xFF
)

// CapabilityContainer is the Type 4 Tag Capability Container (T4T §5.1):
// the largest data a READ BINARY may return (MLe) and an UPDATE BINARY may
// carry (MLc), and the NDEF file's identifier, maximum size and access
// conditions.
type CapabilityContainer struct {
	MappingVersion byte
	MLe, MLc       uint16
	NDEFFileID     uint16
	NDEFMaxSize    uint16
	ReadAccess     byte
	WriteAccess    byte
}

// Bytes encodes the CC (CCLEN 000Fh, one NDEF File Control TLV).
func (cc *CapabilityContainer) Bytes() []byte {
	b := make([]byte, 0, CapabilityContainerLen)
	b = binary.BigEndian.AppendUint16(b, CapabilityContainerLen)
	b = append(b, cc.MappingVersion)
	b = binary.BigEndian.AppendUint16(b, cc.MLe)
	b = binary.BigEndian.AppendUint16(b, cc.MLc)
	b = append(b, ndefFileControlTag, ndefFileControlLen)
	b = binary.BigEndian.AppendUint16(b, cc.NDEFFileID)
	b = binary.BigEndian.AppendUint16(b, cc.NDEFMaxSize)
	return append(b, cc.ReadAccess, cc.WriteAccess)
}

// ParseCapabilityContainer parses a CC as read from file E103h. It checks
// CCLEN against the bytes present, the mapping major version (2), MLe and
// MLc minima, the NDEF File Control TLV, a usable file identifier, the
// file size range and read access. Bytes after CCLEN (a tag may pad) are
// ignored, as are TLVs after the first (T4T §5.1.2 allows proprietary
// ones).
func ParseCapabilityContainer(b []byte) (*CapabilityContainer, error) {
	if len(b) < CapabilityContainerLen {
		return nil, newError(CodeMalformed, "capability container of %d bytes, want at least %d", len(b), CapabilityContainerLen)
	}
	ccLen := int(binary.BigEndian.Uint16(b))
	if ccLen < CapabilityContainerLen || ccLen > len(b) {
		return nil, newError(CodeMalformed, "capability container declares %d bytes, has %d", ccLen, len(b))
	}
	cc := &CapabilityContainer{
		MappingVersion: b[2],
		MLe:            binary.BigEndian.Uint16(b[3:]),
		MLc:            binary.BigEndian.Uint16(b[5:]),
	}
	if cc.MappingVersion>>4 != T4TMappingVersion>>4 {
		return nil, newError(CodeUnsupported, "type 4 tag mapping version %d.%d", cc.MappingVersion>>4, cc.MappingVersion&0xf)
	}
	if cc.MLe < minMLe || cc.MLc < minMLc {
		return nil, newError(CodeMalformed, "capability container MLe %d / MLc %d below the minimum", cc.MLe, cc.MLc)
	}
	if b[7] != ndefFileControlTag || b[8] != ndefFileControlLen {
		return nil, newError(CodeMalformed, "capability container without NDEF File Control TLV (T %02X L %02X)", b[7], b[8])
	}
	cc.NDEFFileID = binary.BigEndian.Uint16(b[9:])
	cc.NDEFMaxSize = binary.BigEndian.Uint16(b[11:])
	cc.ReadAccess, cc.WriteAccess = b[13], b[14]
	switch cc.NDEFFileID {
	case 0x0000, 0xE102, CapabilityContainerFileID, 0x3F00, 0x3FFF, 0xFFFF:
		return nil, newError(CodeMalformed, "NDEF file identifier %04X is reserved", cc.NDEFFileID)
	}
	if cc.NDEFMaxSize < minNDEFFileSize || cc.NDEFMaxSize > maxNDEFFileSize {
		return nil, newError(CodeMalformed, "NDEF file size %d outside %d–%d", cc.NDEFMaxSize, minNDEFFileSize, maxNDEFFileSize)
	}
	if cc.ReadAccess != AccessGranted {
		return nil, newError(CodeUnsupported, "NDEF file read access %02X", cc.ReadAccess)
	}
	return cc, nil
}

// NDEF carrier record for NFC data retrieval (ISO/IEC 18013-5:2021
// §8.2.2.2): version 01h, then two length-type-value fields, type 01h the
// maximum command data length and type 02h the maximum response data
// length, each a big-endian integer.
const (
	nfcCarrierVersion        = 0x01
	nfcCarrierMaxCommandData = 0x01
	nfcCarrierMaxResponse    = 0x02
	// NFCCarrierRecordID is the ID of the NFC carrier configuration
	// record in a Handover Select.
	NFCCarrierRecordID = "nfc"
)

// NFCCarrier returns the carrier configuration record announcing NFC data
// retrieval with the given limits, for NewHandoverSelect.
func NFCCarrier(o NFCOptions) HandoverCarrier {
	p := []byte{nfcCarrierVersion}
	p = appendNFCCarrierField(p, nfcCarrierMaxCommandData, o.MaxCommandDataLength)
	p = appendNFCCarrierField(p, nfcCarrierMaxResponse, o.MaxResponseDataLength)
	return HandoverCarrier{
		Record:     NDEFRecord{TNF: TNFExternal, Type: []byte(NFCCarrierRecordType), ID: []byte(NFCCarrierRecordID), Payload: p},
		PowerState: CarrierPowerActive,
	}
}

// appendNFCCarrierField appends length ‖ type ‖ value with the value in
// the fewest big-endian bytes (one to three).
func appendNFCCarrierField(b []byte, typ byte, v uint) []byte {
	switch {
	case v < 0x100:
		return append(b, 2, typ, byte(v))
	case v < 0x10000:
		return append(b, 3, typ, byte(v>>8), byte(v))
	default:
		return append(b, 4, typ, byte(v>>16), byte(v>>8), byte(v))
	}
}

// ParseNFCCarrier parses the payload of an NFC carrier configuration
// record (ISO/IEC 18013-5:2021 §8.2.2.2). The command length takes one or
// two bytes (an extended Lc), the response length one to three (an
// extended Le of 65,536 needs three).
func ParseNFCCarrier(p []byte) (*NFCOptions, error) {
	c := ndefCursor{b: p}
	v, ok := c.byte()
	if !ok || v != nfcCarrierVersion {
		return nil, newError(CodeUnsupported, "NFC carrier record version %d", v)
	}
	cmd, err := readNFCCarrierField(&c, nfcCarrierMaxCommandData, 2)
	if err != nil {
		return nil, err
	}
	resp, err := readNFCCarrierField(&c, nfcCarrierMaxResponse, 3)
	if err != nil {
		return nil, err
	}
	if cmd == 0 || resp == 0 || cmd > maxExtendedCommandData || resp > maxExtendedResponseData {
		return nil, newError(CodeMalformed, "NFC carrier limits %d/%d out of range", cmd, resp)
	}
	return &NFCOptions{MaxCommandDataLength: cmd, MaxResponseDataLength: resp}, nil
}

// maxExtendedCommandData and maxExtendedResponseData are the largest data
// fields of extended-length APDUs (ISO/IEC 7816-4 §5.1).
const (
	maxExtendedCommandData  = 0xFFFF
	maxExtendedResponseData = 0x10000
)

func readNFCCarrierField(c *ndefCursor, typ byte, maxValueLen int) (uint, error) {
	l, ok := c.byte()
	if !ok || l < 2 || int(l)-1 > maxValueLen {
		return 0, newError(CodeMalformed, "NFC carrier field %d: length %d", typ, l)
	}
	t, _ := c.byte()
	if t != typ {
		return 0, newError(CodeMalformed, "NFC carrier field type %d, want %d", t, typ)
	}
	val, ok := c.bytes(int(l) - 1)
	if !ok {
		return 0, newError(CodeMalformed, "NFC carrier field %d truncated", typ)
	}
	var v uint
	for _, x := range val {
		v = v<<8 | uint(x)
	}
	return v, nil
}

// NFCCarrierOptions returns the NFC data retrieval limits a Handover
// Select offers, or nil when it offers no NFC carrier.
func (hs *HandoverSelect) NFCCarrierOptions() (*NFCOptions, error) {
	for _, ac := range hs.AlternativeCarriers {
		rec := hs.Carrier(ac.CarrierDataReference)
		if rec == nil || rec.TNF != TNFExternal || string(rec.Type) != NFCCarrierRecordType {
			continue
		}
		return ParseNFCCarrier(rec.Payload)
	}
	return nil, nil
}

// EncodeEnvelopeTLV wraps a session message in the BER-TLV data object 53
// that ENVELOPE commands and their responses carry (ISO/IEC 18013-5:2021
// §8.3.3.1.2); the mdoc cuts it into response chunks by each command's Le.
func EncodeEnvelopeTLV(payload []byte) []byte { return appendEnvelopeTLV(nil, payload) }
