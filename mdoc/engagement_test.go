package mdoc

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func engCBOR(t testing.TB, v any) []byte {
	t.Helper()
	b, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDeviceEngagementRoundTrip(t *testing.T) {
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ble, err := NewBLERetrieval(BLEOptions{PeripheralServerMode: true, PeripheralServerUUID: bytes.Repeat([]byte{7}, 16), PeripheralServerAddress: []byte{1, 2, 3, 4, 5, 6}})
	if err != nil {
		t.Fatal(err)
	}
	nfc, err := NewNFCRetrieval(NFCOptions{MaxCommandDataLength: 255, MaxResponseDataLength: 256})
	if err != nil {
		t.Fatal(err)
	}
	de, err := NewDeviceEngagement(key.PublicKey(), ble, nfc)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseDeviceEngagement(de.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if back.Version != DeviceEngagementVersion || len(back.DeviceRetrievalMethods) != 2 {
		t.Fatalf("parsed %+v", back)
	}
	got, err := back.EDeviceKey()
	if err != nil || !got.Equal(key.PublicKey()) {
		t.Fatalf("EDeviceKey = %v, %v", got, err)
	}
	bo, err := back.DeviceRetrievalMethods[0].BLEOptions()
	if err != nil || !bo.PeripheralServerMode || bo.CentralClientMode || len(bo.PeripheralServerAddress) != 6 {
		t.Fatalf("BLE options %+v, %v", bo, err)
	}
	no, err := back.DeviceRetrievalMethods[1].NFCOptions()
	if err != nil || no.MaxCommandDataLength != 255 || no.MaxResponseDataLength != 256 {
		t.Fatalf("NFC options %+v, %v", no, err)
	}
	if _, err := back.DeviceRetrievalMethods[1].BLEOptions(); err == nil {
		t.Error("BLEOptions on an NFC method succeeded")
	}
	// Bytes is the tag-24 wrap of Raw.
	b := de.Bytes()
	e, err := ParseEncodedCBOR(b.Raw)
	if err != nil || !bytes.Equal(e.Data, de.Raw) {
		t.Fatalf("Bytes() = %x", b.Raw)
	}
}

func TestParseDeviceEngagementRejects(t *testing.T) {
	key, _ := ecdh.P256().GenerateKey(rand.Reader)
	ck, _ := NewCOSEKey(key.PublicKey())
	kb, _ := WrapEncodedCBOR(ck.Raw)
	sec := []any{1, cbor.RawMessage(kb.Raw)}
	badKey, _ := WrapEncodedCBOR(engCBOR(t, map[int]any{1: 2, -1: 1, -2: make([]byte, 32), -3: make([]byte, 32)}))
	valid := engCBOR(t, map[int]any{0: "1.0", 1: sec})
	for _, tc := range []struct {
		name string
		in   []byte
		code Code
	}{
		{"empty", nil, CodeMalformed},
		{"not a map", engCBOR(t, []any{"1.0"}), CodeMalformed},
		{"no version", engCBOR(t, map[int]any{1: sec}), CodeMalformed},
		{"version 2", engCBOR(t, map[int]any{0: "2.0", 1: sec}), CodeUnsupported},
		{"version not text", engCBOR(t, map[int]any{0: 1, 1: sec}), CodeMalformed},
		{"no security", engCBOR(t, map[int]any{0: "1.0"}), CodeMalformed},
		{"cipher suite 2", engCBOR(t, map[int]any{0: "1.0", 1: []any{2, cbor.RawMessage(kb.Raw)}}), CodeUnsupported},
		{"security of 3", engCBOR(t, map[int]any{0: "1.0", 1: []any{1, cbor.RawMessage(kb.Raw), 0}}), CodeMalformed},
		{"key not tag 24", engCBOR(t, map[int]any{0: "1.0", 1: []any{1, ck.Raw}}), CodeMalformed},
		{"key off curve", engCBOR(t, map[int]any{0: "1.0", 1: []any{1, cbor.RawMessage(badKey.Raw)}}), CodeMalformed},
		{"method options not map", engCBOR(t, map[int]any{0: "1.0", 1: sec, 2: []any{[]any{2, 1, 5}}}), CodeMalformed},
		{"method too short", engCBOR(t, map[int]any{0: "1.0", 1: sec, 2: []any{[]any{2, 1}}}), CodeMalformed},
		{"too many methods", engCBOR(t, map[int]any{0: "1.0", 1: sec, 2: func() []any {
			m := make([]any, MaxRetrievalMethods+1)
			for i := range m {
				m[i] = []any{1, 1, map[int]int{0: 1, 1: 1}}
			}
			return m
		}()}), CodeLimitExceeded},
		{"trailing bytes", append(bytes.Clone(valid), 0), CodeMalformed},
		{"oversized", make([]byte, MaxDeviceEngagementSize+1), CodeLimitExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDeviceEngagement(tc.in)
			if CodeOf(err) != tc.code {
				t.Fatalf("err = %v, want code %s", err, tc.code)
			}
		})
	}
	// Unknown integer keys are allowed, and Raw is kept verbatim.
	withExtra := engCBOR(t, map[int]any{0: "1.1", 1: sec, 99: "future"})
	de, err := ParseDeviceEngagement(withExtra)
	if err != nil || !bytes.Equal(de.Raw, withExtra) {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestRetrievalOptionsRejects(t *testing.T) {
	if _, err := NewBLERetrieval(BLEOptions{}); err == nil {
		t.Error("BLE with no mode accepted")
	}
	if _, err := NewBLERetrieval(BLEOptions{CentralClientMode: true, CentralClientUUID: []byte{1}}); err == nil {
		t.Error("BLE with a 1-byte UUID accepted")
	}
	if _, err := NewNFCRetrieval(NFCOptions{MaxCommandDataLength: 0, MaxResponseDataLength: 1}); err == nil {
		t.Error("NFC with zero command length accepted")
	}
	m := DeviceRetrievalMethod{Type: RetrievalBLE, Version: 1, Options: engCBOR(t, map[int]any{0: true, 1: false, 10: []byte{1, 2}})}
	if _, err := m.BLEOptions(); err == nil {
		t.Error("parsed BLE options with a 2-byte UUID")
	}
}

func TestParseQR(t *testing.T) {
	key, _ := ecdh.P256().GenerateKey(rand.Reader)
	de, err := NewDeviceEngagement(key.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	qr := EncodeQR(de)
	if !strings.HasPrefix(qr, "mdoc:") || strings.ContainsAny(qr, "=+/") {
		t.Fatalf("EncodeQR = %q", qr)
	}
	body := qr[len("mdoc:"):]
	padded := body + strings.Repeat("=", (4-len(body)%4)%4)
	if padded == body {
		// The key makes the length vary; force a padded form either way.
		padded = body + "=="
	}
	for _, tc := range []struct {
		name string
		in   string
		code Code
	}{
		{"valid", qr, ""},
		{"upper-case scheme", "MDOC:" + body, ""},
		{"mixed-case scheme", "mDoC:" + body, ""},
		{"wrong scheme", "mdl:" + body, CodeMalformed},
		{"no scheme", body, CodeMalformed},
		{"empty", "", CodeMalformed},
		{"scheme only", "mdoc:", CodeMalformed},
		{"padded", "mdoc:" + padded, CodeMalformed},
		{"standard alphabet", "mdoc:" + strings.NewReplacer("-", "+", "_", "/").Replace(body) + "+/", CodeMalformed},
		{"newline", "mdoc:" + body[:10] + "\n" + body[10:], CodeMalformed},
		{"space", "mdoc: " + body, CodeMalformed},
		{"truncated", qr[:len(qr)-5], CodeMalformed},
		{"not an engagement", "mdoc:" + base64.RawURLEncoding.EncodeToString([]byte{0xa0}), CodeMalformed},
		{"too long", "mdoc:" + strings.Repeat("A", MaxQRLength), CodeLimitExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseQR(tc.in)
			if CodeOf(err) != tc.code {
				t.Fatalf("err = %v, want code %q", err, tc.code)
			}
			if err == nil && !bytes.Equal(got.Raw, de.Raw) {
				t.Fatal("ParseQR changed the bytes")
			}
		})
	}
}

func FuzzParseDeviceEngagement(f *testing.F) {
	f.Add(annexD(f, "device_engagement"))
	de, _ := DeviceEngagementFromHandoverSelect(annexD(f, "nfc_handover_select_ndef"))
	f.Add(de.Raw)
	f.Add([]byte{0xa2, 0x00, 0x63, '1', '.', '0', 0x01, 0x82, 0x01, 0xf6})
	f.Fuzz(func(t *testing.T, b []byte) {
		de, err := ParseDeviceEngagement(b)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !bytes.Equal(de.Raw, b) || de.Security.EDeviceKey == nil {
			t.Fatal("accepted engagement without its bytes or key")
		}
		if _, err := de.EDeviceKey(); err != nil {
			t.Fatalf("accepted engagement with unusable key: %v", err)
		}
		back, err := ParseQR(EncodeQR(de))
		if err != nil && CodeOf(err) != CodeLimitExceeded {
			t.Fatalf("QR round trip: %v", err)
		}
		if err == nil && !bytes.Equal(back.Raw, b) {
			t.Fatal("QR round trip changed the bytes")
		}
	})
}

func FuzzParseQR(f *testing.F) {
	de, _ := ParseDeviceEngagement(annexD(f, "device_engagement"))
	f.Add(EncodeQR(de))
	f.Add("MDOC:" + EncodeQR(de)[5:])
	f.Add("mdoc:owBjMS4w")
	f.Add("mdoc:====")
	f.Fuzz(func(t *testing.T, s string) {
		de, err := ParseQR(s)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// One engagement has one spelling (up to the scheme's case).
		if got := EncodeQR(de); !strings.EqualFold(got[:5], s[:5]) || got[5:] != s[5:] {
			t.Fatalf("re-encoding %q gives %q", s, got)
		}
	})
}
