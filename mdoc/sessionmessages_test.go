package mdoc

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"testing"
)

func TestSessionEstablishmentRoundTrip(t *testing.T) {
	key, _ := ecdh.P256().GenerateKey(rand.Reader)
	m, err := NewSessionEstablishment(key.PublicKey(), []byte{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSessionEstablishment(b)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := back.PublicKey()
	if err != nil || !pub.Equal(key.PublicKey()) || !bytes.Equal(back.Data, []byte{1, 2, 3}) || !bytes.Equal(back.Raw, b) {
		t.Fatalf("round trip: %v", err)
	}
	if !bytes.Equal(back.EReaderKey.Raw, m.EReaderKey.Raw) {
		t.Error("eReaderKey bytes changed")
	}
}

func TestParseSessionEstablishmentRejects(t *testing.T) {
	key, _ := ecdh.P256().GenerateKey(rand.Reader)
	ck, _ := NewCOSEKey(key.PublicKey())
	kb, _ := WrapEncodedCBOR(ck.Raw)
	offCurve, _ := WrapEncodedCBOR(engCBOR(t, map[int]any{1: 2, -1: 1, -2: make([]byte, 32), -3: make([]byte, 32)}))
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"array", engCBOR(t, []int{1})},
		{"no key", engCBOR(t, map[string]any{"data": []byte{1}})},
		{"no data", engCBOR(t, map[string]any{"eReaderKey": kb})},
		{"empty data", engCBOR(t, map[string]any{"eReaderKey": kb, "data": []byte{}})},
		{"key untagged", engCBOR(t, map[string]any{"eReaderKey": ck.Raw, "data": []byte{1}})},
		{"key off curve", engCBOR(t, map[string]any{"eReaderKey": offCurve, "data": []byte{1}})},
		{"data not bstr", engCBOR(t, map[string]any{"eReaderKey": kb, "data": "x"})},
		{"duplicate key", unhex(t, "a26464617461410164646174614102")},
	} {
		if _, err := ParseSessionEstablishment(tc.in); CodeOf(err) == "" {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

func TestSessionData(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  *SessionData
		hex  string
	}{
		{"termination", NewSessionStatus(SessionStatusTermination), "a166737461747573 14"},
		{"encryption error", NewSessionStatus(SessionStatusEncryptionError), "a166737461747573 0a"},
		{"decoding error", NewSessionStatus(SessionStatusDecodingError), "a166737461747573 0b"},
		{"data", &SessionData{Data: []byte{0xaa}}, "a164646174614 1aa"},
		{"data and status", func() *SessionData { s := uint(20); return &SessionData{Data: []byte{1}, Status: &s} }(), "a2646461746141016673746174757314"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.msg.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, unspace(tc.hex)); !bytes.Equal(b, want) {
				t.Fatalf("Encode = %x, want %x", b, want)
			}
			back, err := ParseSessionData(b)
			if err != nil {
				t.Fatal(err)
			}
			if (back.Status == nil) != (tc.msg.Status == nil) || back.Status != nil && *back.Status != *tc.msg.Status || !bytes.Equal(back.Data, tc.msg.Data) {
				t.Fatalf("round trip %+v", back)
			}
		})
	}
	for name, in := range map[string][]byte{
		"empty map":       {0xa0},
		"status negative": unhex(t, "a16673746174757320"),
		"status text":     unhex(t, "a166737461747573617a"),
		"not a map":       {0x80},
		"truncated":       unhex(t, "a1646461746142aa"),
		"empty data":      unhex(t, "a1646461746140"),
	} {
		if _, err := ParseSessionData(in); CodeOf(err) == "" {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := (&SessionData{}).Encode(); err == nil {
		t.Error("empty SessionData encoded")
	}
}

func FuzzParseSessionEstablishment(f *testing.F) {
	f.Add(annexD(f, "session_establishment"))
	f.Add(unhex(f, "a26464617461410164646174614102"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseSessionEstablishment(b)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if _, err := m.PublicKey(); err != nil {
			t.Fatalf("accepted message with unusable key: %v", err)
		}
		enc, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseSessionEstablishment(enc)
		if err != nil || !bytes.Equal(again.EReaderKey.Raw, m.EReaderKey.Raw) || !bytes.Equal(again.Data, m.Data) {
			t.Fatalf("re-encoded message differs: %v", err)
		}
	})
}

func FuzzParseSessionData(f *testing.F) {
	f.Add(annexD(f, "session_data"))
	f.Add(unhex(f, "a16673746174757314"))
	f.Add(unhex(f, "a2646461746141016673746174757314"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseSessionData(b)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if m.Data == nil && m.Status == nil {
			t.Fatal("accepted an empty SessionData")
		}
		if _, err := m.Encode(); err != nil {
			t.Fatal(err)
		}
	})
}
