package mdoc

import (
	"testing"
)

func TestTNEPRecords(t *testing.T) {
	sp := ServiceParameter{Version: TNEPVersion, Service: TNEPHandoverService, WT: 0x10, NWait: 2, MaxNDEFSize: 0xFFFE}
	msg := EncodeNDEF([]NDEFRecord{sp.Record()})
	m, err := ParseTNEP(msg)
	if err != nil || !m.Offers(TNEPHandoverService) || m.ServiceParameters[0] != sp {
		t.Fatalf("service parameter: %+v %v", m, err)
	}
	if name, err := ParseServiceSelect(ServiceSelectRecord(TNEPHandoverService).Payload); err != nil || name != TNEPHandoverService {
		t.Fatalf("service select: %q %v", name, err)
	}
	if m, err := ParseTNEP(EncodeNDEF([]NDEFRecord{TNEPStatusRecord(TNEPStatusSuccess)})); err != nil || m.Status == nil || *m.Status != 0 {
		t.Fatalf("status: %+v %v", m, err)
	}
	for name, p := range map[string][]byte{
		"truncated":     sp.Record().Payload[:5],
		"trailing":      append(sp.Record().Payload, 0),
		"version 2.0":   append([]byte{0x20}, sp.Record().Payload[1:]...),
		"name too long": {0x10, 0xFF, 'a'},
	} {
		if _, err := ParseServiceParameter(p); err == nil {
			t.Errorf("service parameter %s accepted", name)
		}
	}
	if _, err := ParseServiceSelect([]byte{5, 'a'}); err == nil {
		t.Error("short service select accepted")
	}
}

func TestHandoverRequestRoundTrip(t *testing.T) {
	hr, err := NewHandoverRequest(0x1234, NFCCarrier(NFCOptions{MaxCommandDataLength: 0xFF, MaxResponseDataLength: 0x100}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseHandoverRequest(hr)
	if err != nil || p.Version != HandoverVersion || len(p.AlternativeCarriers) != 1 {
		t.Fatalf("%+v %v", p, err)
	}
	o, err := p.NFCCarrierOptions()
	if err != nil || o == nil || o.MaxResponseDataLength != 0x100 {
		t.Fatalf("nfc carrier %+v %v", o, err)
	}
	if _, err := NewHandoverRequest(1); err == nil {
		t.Error("request without carriers built")
	}
	// A Handover Select is not a request.
	hs, _ := NewHandoverSelect(testEngagement(t), NFCCarrier(NFCOptions{1, 1}))
	if _, err := ParseHandoverRequest(hs); err == nil {
		t.Error("handover select parsed as request")
	}
}

func FuzzParseTNEP(f *testing.F) {
	f.Add(EncodeNDEF([]NDEFRecord{ServiceParameter{Version: TNEPVersion, Service: TNEPHandoverService}.Record()}))
	f.Add(EncodeNDEF([]NDEFRecord{TNEPStatusRecord(0)}))
	hr, _ := NewHandoverRequest(7, NFCCarrier(NFCOptions{255, 256}))
	f.Add(hr)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseTNEP(b)
		if r, err := ParseHandoverRequest(b); err == nil {
			_, _ = r.NFCCarrierOptions()
		}
	})
}
