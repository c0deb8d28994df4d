package mdoc

import (
	"bytes"
	"encoding/binary"
)

// Negotiated handover (ISO/IEC 18013-5:2021 §8.2.2.1, NFC Forum Tag NDEF
// Exchange Protocol 1.0): the mdoc's NDEF file first holds a Service
// Parameter record offering the connection handover service; the reader
// writes a Service Select record, the mdoc answers with a Status record,
// the reader writes its Handover Request, and the mdoc answers with its
// Handover Select. The SessionTranscript's handover then carries both
// messages as exchanged: [HandoverSelect, HandoverRequest].
const (
	// TNEPHandoverService is the service name of connection handover.
	TNEPHandoverService = "urn:nfc:sn:handover"
	// TNEPVersion is TNEP 1.0 (major 1, minor 0).
	TNEPVersion = 0x10
	// TNEPStatusSuccess and TNEPStatusProtocolError are TNEP status
	// types (TNEP 1.0 §4.4).
	TNEPStatusSuccess       = 0x00
	TNEPStatusProtocolError = 0x01

	serviceParameterType = "Tp"
	serviceSelectType    = "Ts"
	tnepStatusType       = "Te"
	handoverRequestType  = "Hr"
	collisionType        = "cr"
)

// ServiceParameter is a TNEP Service Parameter record (TNEP 1.0 §4.1.2):
// a service the tag offers, with its communication mode, minimum waiting
// time (WT, coded as in §4.1.6), the number of waiting time extensions
// and the largest NDEF message it takes.
type ServiceParameter struct {
	Version     byte
	Service     string
	Mode        byte // 0: single response communication
	WT          byte
	NWait       byte
	MaxNDEFSize uint16
}

// Record encodes p as an NDEF record.
func (p ServiceParameter) Record() NDEFRecord {
	b := []byte{p.Version, byte(len(p.Service))}
	b = append(b, p.Service...)
	b = append(b, p.Mode, p.WT, p.NWait)
	b = binary.BigEndian.AppendUint16(b, p.MaxNDEFSize)
	return NDEFRecord{TNF: TNFWellKnown, Type: []byte(serviceParameterType), Payload: b}
}

// ParseServiceParameter parses a Service Parameter record payload.
func ParseServiceParameter(p []byte) (*ServiceParameter, error) {
	c := ndefCursor{b: p}
	v, ok := c.byte()
	n, ok2 := c.byte()
	name, ok3 := c.bytes(int(n))
	rest, ok4 := c.bytes(5)
	if !ok || !ok2 || !ok3 || !ok4 || len(c.b) != c.off {
		return nil, newError(CodeMalformed, "TNEP service parameter of %d bytes", len(p))
	}
	if v>>4 != TNEPVersion>>4 {
		return nil, newError(CodeUnsupported, "TNEP version %d.%d", v>>4, v&0xf)
	}
	return &ServiceParameter{Version: v, Service: string(name), Mode: rest[0], WT: rest[1], NWait: rest[2], MaxNDEFSize: binary.BigEndian.Uint16(rest[3:])}, nil
}

// ServiceSelectRecord is the TNEP Service Select record for a service.
func ServiceSelectRecord(service string) NDEFRecord {
	return NDEFRecord{TNF: TNFWellKnown, Type: []byte(serviceSelectType), Payload: append([]byte{byte(len(service))}, service...)}
}

// ParseServiceSelect returns the service a Service Select record names.
func ParseServiceSelect(p []byte) (string, error) {
	if len(p) == 0 || int(p[0]) != len(p)-1 {
		return "", newError(CodeMalformed, "TNEP service select of %d bytes", len(p))
	}
	return string(p[1:]), nil
}

// TNEPStatusRecord is the TNEP Status record with a status type.
func TNEPStatusRecord(status byte) NDEFRecord {
	return NDEFRecord{TNF: TNFWellKnown, Type: []byte(tnepStatusType), Payload: []byte{status}}
}

// TNEPMessage says what an NDEF message read from a tag is: a Service
// Parameter (negotiated handover offered), a Status, or neither (then
// ServiceParameter and Status are nil: a static Handover Select, say).
type TNEPMessage struct {
	ServiceParameters []ServiceParameter
	Status            *byte
}

// ParseTNEP reads the TNEP records of an NDEF message.
func ParseTNEP(ndef []byte) (*TNEPMessage, error) {
	recs, err := ParseNDEF(ndef)
	if err != nil {
		return nil, err
	}
	m := &TNEPMessage{}
	for _, r := range recs {
		if r.TNF != TNFWellKnown {
			continue
		}
		switch string(r.Type) {
		case serviceParameterType:
			sp, err := ParseServiceParameter(r.Payload)
			if err != nil {
				return nil, err
			}
			m.ServiceParameters = append(m.ServiceParameters, *sp)
		case tnepStatusType:
			if len(r.Payload) != 1 {
				return nil, newError(CodeMalformed, "TNEP status of %d bytes", len(r.Payload))
			}
			s := r.Payload[0]
			m.Status = &s
		}
	}
	return m, nil
}

// Offers reports whether the message offers the service.
func (m *TNEPMessage) Offers(service string) bool {
	for _, p := range m.ServiceParameters {
		if p.Service == service {
			return true
		}
	}
	return false
}

// NewHandoverRequest builds the Handover Request of negotiated handover
// (NFC Forum Connection Handover 1.5 §6.1): an Hr record (version 1.5)
// holding a collision resolution record with the random number and one
// alternative carrier record per carrier, then the carrier configuration
// records.
func NewHandoverRequest(random uint16, carriers ...HandoverCarrier) ([]byte, error) {
	if len(carriers) == 0 || len(carriers)+1 > MaxNDEFRecords {
		return nil, newError(CodeMalformed, "handover request with %d carriers", len(carriers))
	}
	inner := []NDEFRecord{{TNF: TNFWellKnown, Type: []byte(collisionType), Payload: binary.BigEndian.AppendUint16(nil, random)}}
	recs := []NDEFRecord{{}}
	for i, c := range carriers {
		if len(c.Record.ID) == 0 || len(c.Record.ID) > maxNDEFTypeOrID {
			return nil, newError(CodeMalformed, "carrier %d: record needs an ID of 1–255 bytes", i)
		}
		ac := append([]byte{c.PowerState, byte(len(c.Record.ID))}, c.Record.ID...)
		ac = append(ac, 0) // no auxiliary data
		inner = append(inner, NDEFRecord{TNF: TNFWellKnown, Type: []byte(alternativeCarrierTyp), Payload: ac})
		recs = append(recs, c.Record)
	}
	recs[0] = NDEFRecord{TNF: TNFWellKnown, Type: []byte(handoverRequestType), Payload: append([]byte{HandoverVersion}, EncodeNDEF(inner)...)}
	msg := EncodeNDEF(recs)
	if len(msg) > MaxNDEFMessageSize {
		return nil, newError(CodeLimitExceeded, "handover request of %d bytes", len(msg))
	}
	return msg, nil
}

// HandoverRequest is a parsed Handover Request; Raw is the message as
// received (the transcript embeds it).
type HandoverRequest struct {
	Version             byte
	AlternativeCarriers []AlternativeCarrier
	Records             []NDEFRecord
	Raw                 []byte
}

// ParseHandoverRequest parses a Handover Request NDEF message.
func ParseHandoverRequest(ndef []byte) (*HandoverRequest, error) {
	recs, err := ParseNDEF(ndef)
	if err != nil {
		return nil, err
	}
	hr := recs[0]
	if hr.TNF != TNFWellKnown || string(hr.Type) != handoverRequestType || len(hr.Payload) < 2 {
		return nil, newError(CodeMalformed, "first NDEF record is not a Handover Request")
	}
	out := &HandoverRequest{Version: hr.Payload[0], Records: recs, Raw: bytes.Clone(ndef)}
	if out.Version>>4 != HandoverVersion>>4 {
		return nil, newError(CodeUnsupported, "handover version %d.%d", out.Version>>4, out.Version&0xf)
	}
	inner, err := ParseNDEF(hr.Payload[1:])
	if err != nil {
		return nil, wrapError(CodeMalformed, err, "handover request records")
	}
	for _, r := range inner {
		if r.TNF == TNFWellKnown && string(r.Type) == alternativeCarrierTyp {
			ac, err := parseAlternativeCarrier(r.Payload)
			if err != nil {
				return nil, err
			}
			out.AlternativeCarriers = append(out.AlternativeCarriers, ac)
		}
	}
	return out, nil
}

// NFCCarrierOptions returns the NFC data retrieval limits the reader
// offers in its Handover Request, or nil when it offers none.
func (hr *HandoverRequest) NFCCarrierOptions() (*NFCOptions, error) {
	for _, ac := range hr.AlternativeCarriers {
		for _, rec := range hr.Records[1:] {
			if bytes.Equal(rec.ID, ac.CarrierDataReference) && rec.TNF == TNFExternal && string(rec.Type) == NFCCarrierRecordType {
				return ParseNFCCarrier(rec.Payload)
			}
		}
	}
	return nil, nil
}
