package mdoc

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"testing"
)

func TestCapabilityContainerRoundTrip(t *testing.T) {
	cc := &CapabilityContainer{MappingVersion: T4TMappingVersion, MLe: 0xFF, MLc: 0xFF, NDEFFileID: DefaultNDEFFileID, NDEFMaxSize: 200, ReadAccess: AccessGranted, WriteAccess: AccessDenied}
	b := cc.Bytes()
	if len(b) != CapabilityContainerLen {
		t.Fatalf("CC of %d bytes", len(b))
	}
	// T4T 2.0 layout: CCLEN 000F, version 20, MLe, MLc, TLV 04 06 E104 00C8 00 FF.
	want := []byte{0x00, 0x0F, 0x20, 0x00, 0xFF, 0x00, 0xFF, 0x04, 0x06, 0xE1, 0x04, 0x00, 0xC8, 0x00, 0xFF}
	if !bytes.Equal(b, want) {
		t.Fatalf("CC % X, want % X", b, want)
	}
	got, err := ParseCapabilityContainer(b)
	if err != nil || *got != *cc {
		t.Fatalf("parse: %+v %v", got, err)
	}
}

func TestCapabilityContainerRejects(t *testing.T) {
	good := (&CapabilityContainer{MappingVersion: T4TMappingVersion, MLe: 0xFF, MLc: 0xFF, NDEFFileID: DefaultNDEFFileID, NDEFMaxSize: 200}).Bytes()
	mut := func(i int, v byte) []byte { b := bytes.Clone(good); b[i] = v; return b }
	for _, tc := range []struct {
		name string
		b    []byte
		code Code
	}{
		{"short", good[:14], CodeMalformed},
		{"CCLEN past the bytes", mut(1, 0x20), CodeMalformed},
		{"CCLEN too small", mut(1, 0x02), CodeMalformed},
		{"mapping version 3.0", mut(2, 0x30), CodeUnsupported},
		{"MLe below 15", mut(4, 0x0E), CodeMalformed},
		{"MLc zero", append(append(bytes.Clone(good[:5]), 0, 0), good[7:]...), CodeMalformed},
		{"no NDEF file control TLV", mut(7, 0x05), CodeMalformed},
		{"reserved file id E103", append(append(bytes.Clone(good[:9]), 0xE1, 0x03), good[11:]...), CodeMalformed},
		{"zero file size", append(append(bytes.Clone(good[:11]), 0, 0), good[13:]...), CodeMalformed},
		{"file size FFFF", append(append(bytes.Clone(good[:11]), 0xFF, 0xFF), good[13:]...), CodeMalformed},
		{"read protected", mut(13, 0x80), CodeUnsupported},
	} {
		if _, err := ParseCapabilityContainer(tc.b); CodeOf(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
}

func TestNFCCarrierRoundTrip(t *testing.T) {
	for _, o := range []NFCOptions{{0xFF, 0x100}, {0xFFFF, 0x10000}, {1, 1}, {0x1234, 0x8000}} {
		c := NFCCarrier(o)
		if string(c.Record.Type) != NFCCarrierRecordType || string(c.Record.ID) != NFCCarrierRecordID {
			t.Fatalf("record %q %q", c.Record.Type, c.Record.ID)
		}
		got, err := ParseNFCCarrier(c.Record.Payload)
		if err != nil || *got != o {
			t.Fatalf("%+v: %+v %v", o, got, err)
		}
	}
	// 65,536 as a response length needs three value bytes: 04 02 01 00 00.
	if p := NFCCarrier(NFCOptions{0xFFFF, 0x10000}).Record.Payload; !bytes.Equal(p, []byte{1, 3, 1, 0xFF, 0xFF, 4, 2, 1, 0, 0}) {
		t.Fatalf("payload % X", p)
	}
	for name, p := range map[string][]byte{
		"empty":            nil,
		"version 2":        {2, 2, 1, 0xFF, 2, 2, 0xFF},
		"types swapped":    {1, 2, 2, 0xFF, 2, 1, 0xFF},
		"truncated":        {1, 3, 1, 0xFF},
		"zero command":     {1, 2, 1, 0, 2, 2, 0xFF},
		"command 3 bytes":  {1, 4, 1, 1, 0, 0, 2, 2, 0xFF},
		"response too big": {1, 2, 1, 0xFF, 4, 2, 2, 0, 0},
	} {
		if _, err := ParseNFCCarrier(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestHandoverSelectNFCCarrier(t *testing.T) {
	de := testEngagement(t)
	hs, err := NewHandoverSelect(de, NFCCarrier(NFCOptions{0xFF, 0x100}))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseHandoverSelect(hs)
	if err != nil {
		t.Fatal(err)
	}
	o, err := parsed.NFCCarrierOptions()
	if err != nil || o == nil || o.MaxCommandDataLength != 0xFF {
		t.Fatalf("%+v %v", o, err)
	}
	// A Handover Select offering only BLE has no NFC carrier.
	ble, _ := NewHandoverSelect(de, HandoverCarrier{Record: NDEFRecord{TNF: TNFMedia, Type: []byte(BLECarrierRecordType), ID: []byte("0"), Payload: []byte{2, 0x1c, 0}}, PowerState: CarrierPowerActive})
	parsed, _ = ParseHandoverSelect(ble)
	if o, err := parsed.NFCCarrierOptions(); o != nil || err != nil {
		t.Fatalf("BLE-only: %+v %v", o, err)
	}
}

func FuzzParseCapabilityContainer(f *testing.F) {
	f.Add((&CapabilityContainer{MappingVersion: T4TMappingVersion, MLe: 0xFF, MLc: 0xFF, NDEFFileID: DefaultNDEFFileID, NDEFMaxSize: 200}).Bytes())
	f.Add([]byte{0, 0x0F, 0x20, 0, 0x0F, 0, 1, 4, 6, 0xE1, 4, 0, 5, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		cc, err := ParseCapabilityContainer(b)
		if err != nil {
			return
		}
		again, err := ParseCapabilityContainer(cc.Bytes())
		if err != nil || *again != *cc {
			t.Fatalf("re-encoded CC does not parse the same: %v", err)
		}
	})
}

func FuzzParseNFCCarrier(f *testing.F) {
	f.Add(NFCCarrier(NFCOptions{0xFFFF, 0x10000}).Record.Payload)
	f.Add([]byte{1, 2, 1, 0xFF, 2, 2, 0xFF})
	f.Fuzz(func(t *testing.T, p []byte) {
		o, err := ParseNFCCarrier(p)
		if err != nil {
			return
		}
		again, err := ParseNFCCarrier(NFCCarrier(*o).Record.Payload)
		if err != nil || *again != *o {
			t.Fatalf("round trip: %+v %v", again, err)
		}
	})
}

func testEngagement(t *testing.T) *DeviceEngagement {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	de, err := NewDeviceEngagement(k.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return de
}
