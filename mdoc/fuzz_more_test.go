package mdoc

import (
	"bytes"
	"crypto/ecdh"
	"testing"
)

// Fuzz targets for the decoders not covered elsewhere: Annex C messages,
// the NFC Handover Select and command APDUs.

func FuzzParseAnnexC(f *testing.F) {
	k, _ := ecdh.P256().GenerateKey(nil)
	ei, err := NewEncryptionInfo(bytes.Repeat([]byte{7}, 16), k.PublicKey())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ei.Raw)
	st, err := AnnexCSessionTranscript(ei.Base64(), "https://verifier.example")
	if err != nil {
		f.Fatal(err)
	}
	sealed, err := SealAnnexC(k.PublicKey(), st, annexD(f, "device_response"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Fuzz(func(t *testing.T, b []byte) {
		if ei, err := ParseEncryptionInfo(b); err == nil {
			if _, err := ei.PublicKey(); err != nil {
				t.Fatalf("parsed EncryptionInfo without a usable key: %v", err)
			}
		} else if CodeOf(err) == "" {
			t.Fatalf("untyped error %v", err)
		}
		if er, err := ParseEncryptedResponse(b); err == nil {
			if _, err := OpenAnnexC(k, st, er.Raw); err == nil && !bytes.Equal(b, sealed) {
				t.Fatal("a fuzzed ciphertext opened")
			}
		} else if CodeOf(err) == "" {
			t.Fatalf("untyped error %v", err)
		}
	})
}

func FuzzParseHandoverSelect(f *testing.F) {
	f.Add(annexD(f, "nfc_handover_select_ndef"))
	f.Add(annexD(f, "nfc_handover_request_ndef"))
	f.Fuzz(func(t *testing.T, b []byte) {
		hs, err := ParseHandoverSelect(b)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if hs.DeviceEngagement != nil {
			if _, err := hs.DeviceEngagement.EDeviceKey(); err != nil {
				t.Fatalf("engagement without a usable EDeviceKey: %v", err)
			}
		}
	})
}

// FuzzEnvelopeCommand feeds hostile command APDUs to the mdoc side of NFC
// data transfer: every failure, whether from the shared APDU codec or the
// envelope layer, carries a code, and a completed message respects the
// bound.
func FuzzEnvelopeCommand(f *testing.F) {
	for _, c := range EncodeEnvelopes(bytes.Repeat([]byte{1}, 600), 255, 0) {
		f.Add(c)
	}
	f.Add([]byte{0x00, 0xa4, 0x04, 0x00, 0x07, 0xa0, 0x00, 0x00, 0x02, 0x48, 0x04, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewEnvelopeReader(1024)
		done, err := r.WriteCommand(b)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if done {
			msg, err := r.Message()
			if err != nil || len(msg) > 1024 {
				t.Fatalf("completed message of %d bytes: %v", len(msg), err)
			}
		}
	})
}
