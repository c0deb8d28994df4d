package mdoc

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/mynumber-mdoc/mnc/internal/apdu"
)

// NFC application identifiers (ISO/IEC 18013-5:2021 §8.2.2.1, §8.3.3.1.2).
// They are strings so they cannot be mutated; use []byte(NDEFApplicationAID).
const (
	// NDEFApplicationAID selects the NFC Forum Type 4 Tag NDEF application
	// that serves the Handover Select message during NFC engagement.
	NDEFApplicationAID = "\xD2\x76\x00\x00\x85\x01\x01"
	// MdocDataTransferAID selects the mdoc application for NFC data transfer.
	MdocDataTransferAID = "\xA0\x00\x00\x02\x48\x04\x00"
)

// NDEF record type name formats (NFC Forum NDEF 1.0, TNF field).
const (
	TNFEmpty       uint8 = 0x00
	TNFWellKnown   uint8 = 0x01
	TNFMedia       uint8 = 0x02
	TNFAbsoluteURI uint8 = 0x03
	TNFExternal    uint8 = 0x04
	TNFUnknown     uint8 = 0x05
	TNFUnchanged   uint8 = 0x06 // only in chunked records, which are rejected
)

// NDEF record header flags (NFC Forum NDEF 1.0 §3.2).
const (
	ndefMB      = 0x80 // message begin
	ndefME      = 0x40 // message end
	ndefCF      = 0x20 // chunk flag
	ndefSR      = 0x10 // short record: one-byte payload length
	ndefIL      = 0x08 // ID length present
	ndefTNFMask = 0x07
)

// Bounds on NDEF input.
const (
	// MaxNDEFMessageSize bounds an NDEF message. A Type 4 Tag NDEF file is
	// at most 32 KiB with short file IDs; a Handover Select with a
	// DeviceEngagement is a few hundred bytes.
	MaxNDEFMessageSize = 32 << 10
	// MaxNDEFRecords bounds the records in one NDEF message (Handover
	// Select: Hs, one record per carrier, the DeviceEngagement).
	MaxNDEFRecords = 32
	// maxNDEFTypeOrID is what the one-byte TYPE LENGTH and ID LENGTH fields
	// can express.
	maxNDEFTypeOrID = 0xff
)

// Record types of the connection handover (NFC Forum Connection Handover
// 1.5) and ISO/IEC 18013-5:2021 §8.2.2.1.
const (
	// HandoverVersion is Connection Handover 1.5, the version ISO/IEC
	// 18013-5 requires.
	HandoverVersion = 0x15
	// DeviceEngagementRecordType is the external type of the NDEF record
	// carrying the DeviceEngagement.
	DeviceEngagementRecordType = "iso.org:18013:deviceengagement"
	// DeviceEngagementRecordID is the ID of that record, which alternative
	// carrier records name as auxiliary data.
	DeviceEngagementRecordID = "mdoc"
	// NFCCarrierRecordType is the external type of the NFC data-transfer
	// carrier configuration record.
	NFCCarrierRecordType = "iso.org:18013:nfc"
	// BLECarrierRecordType is the media type of a BLE carrier
	// configuration record (Bluetooth LE OOB data).
	BLECarrierRecordType = "application/vnd.bluetooth.le.oob"
	// WiFiAwareCarrierRecordType is the media type of a Wi-Fi Aware
	// carrier configuration record.
	WiFiAwareCarrierRecordType = "application/vnd.wfa.nan"

	handoverSelectType    = "Hs"
	alternativeCarrierTyp = "ac"
)

// Carrier power states of an alternative carrier record (NFC Forum
// Connection Handover 1.5).
const (
	CarrierPowerInactive   uint8 = 0
	CarrierPowerActive     uint8 = 1
	CarrierPowerActivating uint8 = 2
	CarrierPowerUnknown    uint8 = 3
)

// NDEFRecord is one record of an NDEF message (NFC Forum NDEF 1.0 §3.2).
// The MB, ME, SR and IL flags are derived when encoding; chunked records
// are not supported.
type NDEFRecord struct {
	TNF     uint8
	Type    []byte
	ID      []byte
	Payload []byte
}

// ParseNDEF parses an NDEF message. It checks the MB/ME framing (first
// record begins, last ends, nothing after ME), rejects chunked records
// (CF, TNF unchanged) and the reserved TNF, and bounds every length by the
// bytes present. The returned records hold copies of their fields.
func ParseNDEF(b []byte) ([]NDEFRecord, error) {
	if len(b) > MaxNDEFMessageSize {
		return nil, newError(CodeLimitExceeded, "NDEF message of %d bytes exceeds %d", len(b), MaxNDEFMessageSize)
	}
	if len(b) == 0 {
		return nil, newError(CodeMalformed, "empty NDEF message")
	}
	var recs []NDEFRecord
	for off := 0; off < len(b); {
		if len(recs) == MaxNDEFRecords {
			return nil, newError(CodeLimitExceeded, "NDEF message has more than %d records", MaxNDEFRecords)
		}
		rec, n, last, err := parseNDEFRecord(b[off:], len(recs) == 0)
		if err != nil {
			return nil, wrapError(CodeMalformed, err, "NDEF record %d at offset %d", len(recs), off)
		}
		recs = append(recs, rec)
		off += n
		if last && off != len(b) {
			return nil, newError(CodeMalformed, "NDEF message has %d bytes after the ME record", len(b)-off)
		}
		if !last && off == len(b) {
			return nil, newError(CodeMalformed, "NDEF message ends without an ME record")
		}
	}
	return recs, nil
}

// parseNDEFRecord parses the record at the start of b and returns it with
// its encoded length and whether it carries ME.
func parseNDEFRecord(b []byte, first bool) (rec NDEFRecord, n int, last bool, err error) {
	c := ndefCursor{b: b}
	hdr, ok := c.byte()
	if !ok {
		return rec, 0, false, newError(CodeMalformed, "truncated header")
	}
	if (hdr&ndefMB != 0) != first {
		return rec, 0, false, newError(CodeMalformed, "MB flag %v on record that is first=%v", hdr&ndefMB != 0, first)
	}
	if hdr&ndefCF != 0 {
		return rec, 0, false, newError(CodeUnsupported, "chunked NDEF records")
	}
	tnf := hdr & ndefTNFMask
	typeLen, ok := c.byte()
	if !ok {
		return rec, 0, false, newError(CodeMalformed, "truncated type length")
	}
	var payloadLen uint64
	if hdr&ndefSR != 0 {
		l, ok := c.byte()
		if !ok {
			return rec, 0, false, newError(CodeMalformed, "truncated payload length")
		}
		payloadLen = uint64(l)
	} else {
		l, ok := c.bytes(4)
		if !ok {
			return rec, 0, false, newError(CodeMalformed, "truncated payload length")
		}
		payloadLen = uint64(binary.BigEndian.Uint32(l))
	}
	var idLen byte
	if hdr&ndefIL != 0 {
		if idLen, ok = c.byte(); !ok {
			return rec, 0, false, newError(CodeMalformed, "truncated ID length")
		}
	}
	if payloadLen > uint64(len(b)) {
		return rec, 0, false, newError(CodeMalformed, "payload length %d beyond the message", payloadLen)
	}
	typ, ok1 := c.bytes(int(typeLen))
	id, ok2 := c.bytes(int(idLen))
	payload, ok3 := c.bytes(int(payloadLen))
	if !ok1 || !ok2 || !ok3 {
		return rec, 0, false, newError(CodeMalformed, "record runs past the end of the message")
	}
	switch tnf {
	case TNFEmpty:
		if typeLen != 0 || idLen != 0 || payloadLen != 0 {
			return rec, 0, false, newError(CodeMalformed, "empty record with type, ID or payload")
		}
	case TNFWellKnown, TNFMedia, TNFAbsoluteURI, TNFExternal:
		if typeLen == 0 {
			return rec, 0, false, newError(CodeMalformed, "TNF %d record without type", tnf)
		}
	case TNFUnknown:
		if typeLen != 0 {
			return rec, 0, false, newError(CodeMalformed, "unknown-TNF record with a type")
		}
	case TNFUnchanged:
		return rec, 0, false, newError(CodeUnsupported, "TNF unchanged outside a chunked record")
	default:
		return rec, 0, false, newError(CodeMalformed, "reserved TNF %d", tnf)
	}
	rec = NDEFRecord{TNF: tnf, Type: bytes.Clone(typ), ID: bytes.Clone(id), Payload: bytes.Clone(payload)}
	return rec, c.off, hdr&ndefME != 0, nil
}

// ndefCursor reads a byte slice front to back; reads report false instead
// of running past the end.
type ndefCursor struct {
	b   []byte
	off int
}

func (c *ndefCursor) byte() (byte, bool) {
	if c.off >= len(c.b) {
		return 0, false
	}
	c.off++
	return c.b[c.off-1], true
}

func (c *ndefCursor) bytes(n int) ([]byte, bool) {
	if n < 0 || n > len(c.b)-c.off {
		return nil, false
	}
	c.off += n
	return c.b[c.off-n : c.off], true
}

// EncodeNDEF encodes records as one NDEF message, setting MB on the first,
// ME on the last, SR when a payload is shorter than 256 bytes and IL when a
// record has an ID. Type and ID are limited to 255 bytes by the format;
// longer ones are a programming error and make EncodeNDEF panic (every
// record this package builds uses fixed, short types and IDs).
func EncodeNDEF(records []NDEFRecord) []byte {
	var out []byte
	for i, r := range records {
		if len(r.Type) > maxNDEFTypeOrID || len(r.ID) > maxNDEFTypeOrID {
			panic(fmt.Sprintf("mdoc: NDEF record %d: type or ID longer than 255 bytes", i))
		}
		hdr := r.TNF & ndefTNFMask
		if i == 0 {
			hdr |= ndefMB
		}
		if i == len(records)-1 {
			hdr |= ndefME
		}
		short := len(r.Payload) <= 0xff
		if short {
			hdr |= ndefSR
		}
		if len(r.ID) > 0 {
			hdr |= ndefIL
		}
		out = append(out, hdr, byte(len(r.Type)))
		if short {
			out = append(out, byte(len(r.Payload)))
		} else {
			out = binary.BigEndian.AppendUint32(out, uint32(len(r.Payload)))
		}
		if len(r.ID) > 0 {
			out = append(out, byte(len(r.ID)))
		}
		out = append(out, r.Type...)
		out = append(out, r.ID...)
		out = append(out, r.Payload...)
	}
	return out
}

// HandoverCarrier is an alternative carrier offered in a Handover Select:
// its carrier configuration record (whose ID the alternative carrier record
// references, e.g. a BLECarrierRecordType record with ID "0") and its power
// state.
type HandoverCarrier struct {
	Record     NDEFRecord
	PowerState uint8
}

// AlternativeCarrier is a parsed "ac" record (Connection Handover 1.5
// §6.3): the carrier power state, the ID of the carrier configuration
// record and the IDs of auxiliary data records (for ISO/IEC 18013-5, "mdoc").
type AlternativeCarrier struct {
	PowerState              uint8
	CarrierDataReference    []byte
	AuxiliaryDataReferences [][]byte
}

// HandoverSelect is a parsed Handover Select message (ISO/IEC 18013-5:2021
// §8.2.2.1): the Hs version, its alternative carriers, all records of the
// message (Records[0] is the Hs record) and the DeviceEngagement it
// carries. Raw is the NDEF message as received: the NFC handover of the
// SessionTranscript embeds exactly these bytes.
type HandoverSelect struct {
	Version             byte
	AlternativeCarriers []AlternativeCarrier
	Records             []NDEFRecord
	DeviceEngagement    *DeviceEngagement
	Raw                 []byte
}

// Carrier returns the carrier configuration record with the given ID, or
// nil.
func (hs *HandoverSelect) Carrier(id []byte) *NDEFRecord {
	for i := 1; i < len(hs.Records); i++ {
		if bytes.Equal(hs.Records[i].ID, id) {
			return &hs.Records[i]
		}
	}
	return nil
}

// NewHandoverSelect builds the Handover Select NDEF message of NFC static
// handover (ISO/IEC 18013-5:2021 §8.2.2.1): an Hs record (version 1.5)
// with one alternative carrier record per carrier, each naming the
// DeviceEngagement record as auxiliary data, then the carrier
// configuration records, then the DeviceEngagement record (external type
// DeviceEngagementRecordType, ID "mdoc") holding de.Raw verbatim.
func NewHandoverSelect(de *DeviceEngagement, carriers ...HandoverCarrier) ([]byte, error) {
	if de == nil || len(de.Raw) == 0 {
		return nil, newError(CodeMalformed, "handover select without device engagement")
	}
	if len(carriers)+2 > MaxNDEFRecords {
		return nil, newError(CodeLimitExceeded, "%d carriers exceed %d records", len(carriers), MaxNDEFRecords)
	}
	acs := make([]NDEFRecord, 0, len(carriers))
	recs := make([]NDEFRecord, 0, len(carriers)+2)
	recs = append(recs, NDEFRecord{})
	for i, c := range carriers {
		id := c.Record.ID
		if len(id) == 0 || len(id) > maxNDEFTypeOrID || len(c.Record.Type) == 0 || len(c.Record.Type) > maxNDEFTypeOrID {
			return nil, newError(CodeMalformed, "carrier %d: record needs a type and an ID of 1–255 bytes", i)
		}
		if c.PowerState > CarrierPowerUnknown {
			return nil, newError(CodeMalformed, "carrier %d: power state %d", i, c.PowerState)
		}
		if string(id) == DeviceEngagementRecordID {
			return nil, newError(CodeMalformed, "carrier %d: ID %q is the device engagement's", i, id)
		}
		ac := []byte{c.PowerState, byte(len(id))}
		ac = append(ac, id...)
		ac = append(ac, 1, byte(len(DeviceEngagementRecordID)))
		ac = append(ac, DeviceEngagementRecordID...)
		acs = append(acs, NDEFRecord{TNF: TNFWellKnown, Type: []byte(alternativeCarrierTyp), Payload: ac})
		recs = append(recs, c.Record)
	}
	hs := []byte{HandoverVersion}
	if len(acs) > 0 {
		hs = append(hs, EncodeNDEF(acs)...)
	}
	recs[0] = NDEFRecord{TNF: TNFWellKnown, Type: []byte(handoverSelectType), Payload: hs}
	recs = append(recs, NDEFRecord{
		TNF:     TNFExternal,
		Type:    []byte(DeviceEngagementRecordType),
		ID:      []byte(DeviceEngagementRecordID),
		Payload: de.Raw,
	})
	msg := EncodeNDEF(recs)
	if len(msg) > MaxNDEFMessageSize {
		return nil, newError(CodeLimitExceeded, "handover select of %d bytes exceeds %d", len(msg), MaxNDEFMessageSize)
	}
	return msg, nil
}

// ParseHandoverSelect parses a Handover Select NDEF message and the
// DeviceEngagement in it (ISO/IEC 18013-5:2021 §8.2.2.1). The first record
// must be Hs with major version 1; exactly one record must have the
// external type DeviceEngagementRecordType.
func ParseHandoverSelect(ndef []byte) (*HandoverSelect, error) {
	recs, err := ParseNDEF(ndef)
	if err != nil {
		return nil, err
	}
	hsRec := recs[0]
	if hsRec.TNF != TNFWellKnown || string(hsRec.Type) != handoverSelectType {
		return nil, newError(CodeMalformed, "first NDEF record is not Handover Select")
	}
	if len(hsRec.Payload) == 0 {
		return nil, newError(CodeMalformed, "handover select without version")
	}
	hs := &HandoverSelect{Version: hsRec.Payload[0], Records: recs, Raw: bytes.Clone(ndef)}
	if hs.Version>>4 != HandoverVersion>>4 {
		return nil, newError(CodeUnsupported, "handover version %d.%d", hs.Version>>4, hs.Version&0xf)
	}
	if len(hsRec.Payload) > 1 {
		inner, err := ParseNDEF(hsRec.Payload[1:])
		if err != nil {
			return nil, wrapError(CodeMalformed, err, "handover select records")
		}
		for _, r := range inner {
			if r.TNF != TNFWellKnown || string(r.Type) != alternativeCarrierTyp {
				continue // e.g. an error record; nothing to act on
			}
			ac, err := parseAlternativeCarrier(r.Payload)
			if err != nil {
				return nil, err
			}
			hs.AlternativeCarriers = append(hs.AlternativeCarriers, ac)
		}
	}
	for _, r := range recs[1:] {
		if r.TNF != TNFExternal || string(r.Type) != DeviceEngagementRecordType {
			continue
		}
		if hs.DeviceEngagement != nil {
			return nil, newError(CodeMalformed, "handover select carries two device engagements")
		}
		de, err := ParseDeviceEngagement(r.Payload)
		if err != nil {
			return nil, wrapError(CodeMalformed, err, "handover select")
		}
		hs.DeviceEngagement = de
	}
	if hs.DeviceEngagement == nil {
		return nil, newError(CodeMalformed, "handover select without a %s record", DeviceEngagementRecordType)
	}
	return hs, nil
}

// parseAlternativeCarrier parses the payload of an "ac" record.
func parseAlternativeCarrier(p []byte) (AlternativeCarrier, error) {
	c := ndefCursor{b: p}
	var ac AlternativeCarrier
	cps, ok := c.byte()
	if !ok {
		return ac, newError(CodeMalformed, "empty alternative carrier record")
	}
	ac.PowerState = cps & 0x03
	n, ok := c.byte()
	ref, ok2 := c.bytes(int(n))
	if !ok || !ok2 || n == 0 {
		return ac, newError(CodeMalformed, "alternative carrier without carrier data reference")
	}
	ac.CarrierDataReference = bytes.Clone(ref)
	count, ok := c.byte()
	if !ok {
		return ac, newError(CodeMalformed, "alternative carrier without auxiliary data count")
	}
	for i := 0; i < int(count); i++ {
		n, ok := c.byte()
		ref, ok2 := c.bytes(int(n))
		if !ok || !ok2 {
			return ac, newError(CodeMalformed, "truncated auxiliary data reference %d", i)
		}
		ac.AuxiliaryDataReferences = append(ac.AuxiliaryDataReferences, bytes.Clone(ref))
	}
	return ac, nil
}

// DeviceEngagementFromHandoverSelect returns the DeviceEngagement carried
// in a Handover Select NDEF message, with Raw equal to the record payload.
func DeviceEngagementFromHandoverSelect(ndef []byte) (*DeviceEngagement, error) {
	hs, err := ParseHandoverSelect(ndef)
	if err != nil {
		return nil, err
	}
	return hs.DeviceEngagement, nil
}

// NFC data transfer APDUs (ISO/IEC 18013-5:2021 §8.3.3.1.2, ISO/IEC 7816-4).
// The APDU encoding itself, its length limits and the status words are
// internal/apdu's; this file adds only what is specific to the mdoc
// application: ENVELOPE chaining, the BER-TLV 53 data object and GET
// RESPONSE.
const (
	// InsEnvelope is the ENVELOPE instruction carrying session messages.
	InsEnvelope = 0xC3
	// InsGetResponse fetches the rest of a response announced by SW 61XX.
	InsGetResponse = apdu.InsGetResponse
	// claChaining marks a command that is followed by more of the same
	// message (ISO/IEC 7816-4 §5.3.3 command chaining, CLA bit b5);
	// claLast ends it.
	claChaining = apdu.CLAChaining
	claLast     = 0x00
	// envelopeTag is the BER-TLV tag of the data object holding a session
	// message in ENVELOPE commands and their responses.
	envelopeTag = 0x53
	// maxBERLengthBytes bounds the long-form BER length octets: four cover
	// any message under MaxMessageSize with room to spare.
	maxBERLengthBytes = 4
)

// parseCommand parses a command APDU with internal/apdu and maps its
// failures to this package's codes: over-long input is CodeLimitExceeded,
// anything else that breaks ISO/IEC 7816-4 §5.1 is CodeMalformed.
func parseCommand(b []byte) (*apdu.Command, error) {
	if len(b) > apdu.MaxCommandLen {
		return nil, newError(CodeLimitExceeded, "APDU of %d bytes exceeds %d", len(b), apdu.MaxCommandLen)
	}
	c, err := apdu.ParseCommand(b)
	if err != nil {
		return nil, wrapError(CodeMalformed, err, "command APDU")
	}
	return c, nil
}

// appendEnvelopeTLV appends the BER-TLV data object 53 holding payload.
func appendEnvelopeTLV(b, payload []byte) []byte {
	b = append(b, envelopeTag)
	n := len(payload)
	switch {
	case n < 0x80:
		b = append(b, byte(n))
	case n <= 0xff:
		b = append(b, 0x81, byte(n))
	case n <= 0xffff:
		b = append(b, 0x82, byte(n>>8), byte(n))
	case n <= 0xffffff:
		b = append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		b = append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, payload...)
}

// parseEnvelopeHeader reads the tag and length of a BER-TLV 53 object at
// the start of b. ok is false when b is too short to tell yet.
func parseEnvelopeHeader(b []byte) (hdrLen, valueLen int, ok bool, err error) {
	if len(b) < 2 {
		return 0, 0, false, nil
	}
	if b[0] != envelopeTag {
		return 0, 0, false, newError(CodeMalformed, "envelope data object has tag %02X, want 53", b[0])
	}
	l := b[1]
	if l < 0x80 {
		return 2, int(l), true, nil
	}
	n := int(l & 0x7f)
	if n == 0 || n > maxBERLengthBytes {
		return 0, 0, false, newError(CodeMalformed, "envelope BER length form %02X", l)
	}
	if len(b) < 2+n {
		return 0, 0, false, nil
	}
	v := 0
	for _, c := range b[2 : 2+n] {
		v = v<<8 | int(c)
	}
	return 2 + n, v, true, nil
}

// ParseEnvelopeData returns the session message inside a complete BER-TLV
// data object with tag 53, as carried by ENVELOPE commands and responses
// (ISO/IEC 18013-5:2021 §8.3.3.1.2). The object must span tlv exactly and
// hold at most MaxMessageSize bytes. The result aliases tlv.
func ParseEnvelopeData(tlv []byte) ([]byte, error) {
	hdr, n, ok, err := parseEnvelopeHeader(tlv)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, newError(CodeMalformed, "truncated envelope data object")
	}
	if n > MaxMessageSize {
		return nil, newError(CodeLimitExceeded, "envelope of %d bytes exceeds %d", n, MaxMessageSize)
	}
	if len(tlv)-hdr != n {
		return nil, newError(CodeMalformed, "envelope declares %d bytes, has %d", n, len(tlv)-hdr)
	}
	return tlv[hdr:], nil
}

// EncodeEnvelopes splits a session message into the ENVELOPE command APDUs
// an mdoc reader sends (ISO/IEC 18013-5:2021 §8.3.3.1.2): the message is
// wrapped in BER-TLV tag 53 and cut into data fields of at most maxChunk
// bytes (use the mdoc's NFCOptions.MaxCommandDataLength, or the reader's
// limit if smaller); every command but the last has CLA 10 (chaining),
// the last has CLA 00 and Le = maxResponse, the largest response data
// field both sides take (≤ 0 or above 65,536: 65,536, Le 0000, the
// extended form ISO/IEC 18013-5 requires mdocs to support). Each command
// uses the short form when its lengths fit (ISO/IEC 7816-4 §5.1), so a
// reader limited to short APDUs passes maxChunk 255 and maxResponse 256.
// maxChunk ≤ 0 or above apdu.MaxExtendedNc means apdu.MaxExtendedNc.
func EncodeEnvelopes(payload []byte, maxChunk, maxResponse int) [][]byte {
	if maxChunk <= 0 || maxChunk > apdu.MaxExtendedNc {
		maxChunk = apdu.MaxExtendedNc
	}
	if maxResponse <= 0 || maxResponse > apdu.MaxExtendedNe {
		maxResponse = apdu.MaxExtendedNe
	}
	cmds, err := apdu.Chain(apdu.Command{CLA: claLast, INS: InsEnvelope, Data: appendEnvelopeTLV(nil, payload), Ne: maxResponse}, maxChunk)
	if err != nil {
		// The chunk size is clamped and the class is interindustry.
		panic("mdoc: " + err.Error())
	}
	return cmds
}

// EncodeEnvelopeResponses splits a session message into the response APDUs
// an mdoc returns (ISO/IEC 18013-5:2021 §8.3.3.1.2): the BER-TLV 53 object
// is cut into data fields of at most maxChunk bytes (at most the reader's
// Ne); each but the last ends in SW 61XX (XX = bytes remaining, 00 for 256
// or more), answered by GET RESPONSE; the last ends in 9000. maxChunk ≤ 0 or
// above apdu.MaxExtendedNe means apdu.MaxExtendedNe.
func EncodeEnvelopeResponses(payload []byte, maxChunk int) [][]byte {
	if maxChunk <= 0 || maxChunk > apdu.MaxExtendedNe {
		maxChunk = apdu.MaxExtendedNe
	}
	tlv := appendEnvelopeTLV(nil, payload)
	var resps [][]byte
	for len(tlv) > 0 {
		n := min(len(tlv), maxChunk)
		r := apdu.Response{Data: tlv[:n], SW: apdu.SWOK}
		if rest := len(tlv) - n; rest > 0 {
			r.SW = apdu.BytesAvailable(rest)
		}
		resps = append(resps, r.Bytes())
		tlv = tlv[n:]
	}
	return resps
}

// EnvelopeReader reassembles one session message received in pieces over
// NFC (ISO/IEC 18013-5:2021 §8.3.3.1.2): on the mdoc side from chained
// ENVELOPE commands (WriteCommand), on the reader side from a response and
// its GET RESPONSE continuations (WriteResponse). It bounds the message
// by Max before buffering and fails for good after the first error. The
// zero value is ready to use with Max = MaxMessageSize; use one reader
// per message.
type EnvelopeReader struct {
	// Max bounds the session message inside the envelope; 0 means
	// MaxMessageSize.
	Max int
	// MaxResponse is the reader's largest response data field, the Le of
	// the GET RESPONSE that follows a 6100 ("256 or more"); 0 means
	// 65,536 (extended length).
	MaxResponse int
	buf         []byte
	done        bool
	err         error
}

// NewEnvelopeReader returns an EnvelopeReader accepting messages of at
// most maxMessage bytes (≤ 0: MaxMessageSize).
func NewEnvelopeReader(maxMessage int) *EnvelopeReader {
	return &EnvelopeReader{Max: maxMessage}
}

func (r *EnvelopeReader) limit() int {
	if r.Max <= 0 {
		return MaxMessageSize
	}
	return r.Max
}

// add appends a piece of the BER-TLV object and checks the declared length
// against the bound and the bytes so far.
func (r *EnvelopeReader) add(p []byte) error {
	if r.done {
		return newError(CodeMalformed, "envelope data after the last piece")
	}
	max := r.limit()
	if len(r.buf)+len(p) > 2+maxBERLengthBytes+max {
		return newError(CodeLimitExceeded, "envelope exceeds %d bytes", max)
	}
	r.buf = append(r.buf, p...)
	hdr, n, ok, err := parseEnvelopeHeader(r.buf)
	if err != nil {
		return err
	}
	if ok {
		if n > max {
			return newError(CodeLimitExceeded, "envelope declares %d bytes, limit %d", n, max)
		}
		if len(r.buf) > hdr+n {
			return newError(CodeMalformed, "%d bytes after the envelope data object", len(r.buf)-hdr-n)
		}
	}
	return nil
}

func (r *EnvelopeReader) fail(err error) error {
	r.err = err
	return err
}

// finish checks that the buffered object is complete.
func (r *EnvelopeReader) finish() error {
	if _, err := ParseEnvelopeData(r.buf); err != nil {
		return err
	}
	r.done = true
	return nil
}

// WriteCommand takes one ENVELOPE command APDU received by the mdoc. It
// reports done after the last command (CLA 00); the mdoc answers earlier
// ones with 9000.
func (r *EnvelopeReader) WriteCommand(command []byte) (done bool, err error) {
	if r.err != nil {
		return false, r.err
	}
	a, err := parseCommand(command)
	if err != nil {
		return false, r.fail(err)
	}
	if a.INS != InsEnvelope || a.P1 != 0 || a.P2 != 0 {
		return false, r.fail(newError(CodeMalformed, "not an ENVELOPE command: INS %02X P1P2 %02X%02X", a.INS, a.P1, a.P2))
	}
	if a.CLA != claChaining && a.CLA != claLast {
		return false, r.fail(newError(CodeMalformed, "ENVELOPE with CLA %02X", a.CLA))
	}
	if err := r.add(a.Data); err != nil {
		return false, r.fail(err)
	}
	if a.CLA == claChaining {
		return false, nil
	}
	if err := r.finish(); err != nil {
		return false, r.fail(err)
	}
	return true, nil
}

// WriteResponse takes one response APDU (data ‖ SW1 SW2) received by the
// reader. It returns the GET RESPONSE command to send next while the mdoc
// answers 61XX, and nil once 9000 completes the message. Any other status
// word is an error carrying it.
func (r *EnvelopeReader) WriteResponse(response []byte) (getResponse []byte, err error) {
	if r.err != nil {
		return nil, r.err
	}
	resp, err := apdu.ParseResponse(response)
	if err != nil {
		code := CodeMalformed
		if len(response) > apdu.MaxResponseLen {
			code = CodeLimitExceeded
		}
		return nil, r.fail(wrapError(code, err, "response APDU"))
	}
	more, moreOK := apdu.MoreAvailable(resp.SW)
	if !moreOK && resp.SW != apdu.SWOK {
		return nil, r.fail(newError(CodeMalformed, "mdoc answered status word %04X", resp.SW))
	}
	if err := r.add(resp.Data); err != nil {
		return nil, r.fail(err)
	}
	if moreOK {
		mr := r.MaxResponse
		if mr <= 0 {
			mr = apdu.MaxExtendedNe
		}
		return apdu.GetResponse(more, mr), nil
	}
	if err := r.finish(); err != nil {
		return nil, r.fail(err)
	}
	return nil, nil
}

// Done reports whether a complete message has been received.
func (r *EnvelopeReader) Done() bool { return r.done }

// Message returns the session message once Done.
func (r *EnvelopeReader) Message() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	if !r.done {
		return nil, newError(CodeMalformed, "envelope incomplete")
	}
	return ParseEnvelopeData(r.buf)
}
