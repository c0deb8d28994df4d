package mdoc

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/mynumber-mdoc/mnc/internal/apdu"
)

func TestNDEFRoundTrip(t *testing.T) {
	recs := []NDEFRecord{
		{TNF: TNFWellKnown, Type: []byte("T"), Payload: []byte("\x02enhello")},
		{TNF: TNFMedia, Type: []byte("application/octet-stream"), ID: []byte("big"), Payload: bytes.Repeat([]byte{0x5a}, 300)},
		{TNF: TNFEmpty},
		{TNF: TNFUnknown, Payload: []byte{1}},
		{TNF: TNFExternal, Type: []byte(DeviceEngagementRecordType), ID: []byte("mdoc"), Payload: []byte{0xa0}},
	}
	b := EncodeNDEF(recs)
	// First header: MB|SR|TNF1; second: long record with IL, no SR.
	if b[0] != 0x91 {
		t.Errorf("first header %#x, want 0x91", b[0])
	}
	got, err := ParseNDEF(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("%d records", len(got))
	}
	for i := range recs {
		if got[i].TNF != recs[i].TNF || !bytes.Equal(got[i].Type, recs[i].Type) || !bytes.Equal(got[i].ID, recs[i].ID) || !bytes.Equal(got[i].Payload, recs[i].Payload) {
			t.Errorf("record %d: %+v, want %+v", i, got[i], recs[i])
		}
	}
	if !bytes.Equal(EncodeNDEF(got), b) {
		t.Error("re-encoding differs")
	}
	// A single record carries MB and ME.
	if one := EncodeNDEF(recs[:1]); one[0] != 0xd1 {
		t.Errorf("single record header %#x, want 0xd1", one[0])
	}
}

func TestParseNDEFRejects(t *testing.T) {
	rec := func(hdr byte, typ, id, payload string) []byte {
		b := []byte{hdr, byte(len(typ))}
		if hdr&ndefSR != 0 {
			b = append(b, byte(len(payload)))
		} else {
			b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
		}
		if hdr&ndefIL != 0 {
			b = append(b, byte(len(id)))
		}
		return append(append(append(b, typ...), id...), payload...)
	}
	only := ndefMB | ndefME | ndefSR
	tooMany := make([]NDEFRecord, MaxNDEFRecords+1)
	for i := range tooMany {
		tooMany[i] = NDEFRecord{TNF: TNFWellKnown, Type: []byte("T")}
	}
	for _, tc := range []struct {
		name string
		in   []byte
		code Code
	}{
		{"valid", rec(byte(only)|1, "T", "", "x"), ""},
		{"empty", nil, CodeMalformed},
		{"no MB", rec(ndefME|ndefSR|1, "T", "", "x"), CodeMalformed},
		{"no ME", rec(ndefMB|ndefSR|1, "T", "", "x"), CodeMalformed},
		{"MB twice", append(rec(ndefMB|ndefSR|1, "T", "", "x"), rec(byte(only)|1, "T", "", "x")...), CodeMalformed},
		{"after ME", append(rec(byte(only)|1, "T", "", "x"), 0), CodeMalformed},
		{"chunked", rec(byte(only)|ndefCF|1, "T", "", "x"), CodeUnsupported},
		{"unchanged", rec(byte(only)|6, "", "", "x"), CodeUnsupported},
		{"reserved TNF", rec(byte(only)|7, "T", "", "x"), CodeMalformed},
		{"empty with payload", rec(byte(only)|0, "", "", "x"), CodeMalformed},
		{"well-known without type", rec(byte(only)|1, "", "", "x"), CodeMalformed},
		{"unknown with type", rec(byte(only)|5, "T", "", "x"), CodeMalformed},
		{"payload past end", rec(byte(only)|1, "T", "", "xyz")[:6], CodeMalformed},
		{"huge long payload", []byte{ndefMB | ndefME | 1, 1, 0xff, 0xff, 0xff, 0xff, 'T'}, CodeMalformed},
		{"truncated header", []byte{byte(only) | 1}, CodeMalformed},
		{"truncated ID length", []byte{byte(only) | ndefIL | 1, 1, 0}, CodeMalformed},
		{"too many records", EncodeNDEF(tooMany), CodeLimitExceeded},
		{"oversized", make([]byte, MaxNDEFMessageSize+1), CodeLimitExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseNDEF(tc.in)
			if CodeOf(err) != tc.code {
				t.Fatalf("err = %v, want code %q", err, tc.code)
			}
		})
	}
}

func TestHandoverSelectRoundTrip(t *testing.T) {
	key, _ := ecdh.P256().GenerateKey(rand.Reader)
	de, err := NewDeviceEngagement(key.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	nfcCarrier := HandoverCarrier{
		Record:     NDEFRecord{TNF: TNFExternal, Type: []byte(NFCCarrierRecordType), ID: []byte("nfc"), Payload: []byte{0x01, 0x03, 0xff, 0xff, 0x01, 0x00}},
		PowerState: CarrierPowerActive,
	}
	ndef, err := NewHandoverSelect(de, nfcCarrier)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := ParseHandoverSelect(ndef)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hs.DeviceEngagement.Raw, de.Raw) || !bytes.Equal(hs.Raw, ndef) {
		t.Fatal("engagement or raw changed")
	}
	if len(hs.AlternativeCarriers) != 1 || string(hs.AlternativeCarriers[0].CarrierDataReference) != "nfc" {
		t.Fatalf("carriers %+v", hs.AlternativeCarriers)
	}
	if c := hs.Carrier([]byte("nfc")); c == nil || !bytes.Equal(c.Payload, nfcCarrier.Record.Payload) {
		t.Fatal("carrier record not found")
	}
	// Without carriers the Hs record holds just the version.
	bare, err := NewHandoverSelect(de)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DeviceEngagementFromHandoverSelect(bare); err != nil || !bytes.Equal(got.Raw, de.Raw) {
		t.Fatalf("bare handover select: %v", err)
	}

	// Rejections.
	if _, err := NewHandoverSelect(nil); err == nil {
		t.Error("nil engagement accepted")
	}
	if _, err := NewHandoverSelect(de, HandoverCarrier{Record: NDEFRecord{TNF: TNFMedia, Type: []byte("x/y")}}); err == nil {
		t.Error("carrier without ID accepted")
	}
	if _, err := NewHandoverSelect(de, HandoverCarrier{Record: NDEFRecord{TNF: TNFMedia, Type: []byte("x/y"), ID: []byte("mdoc")}}); err == nil {
		t.Error("carrier with the engagement's ID accepted")
	}
	deRec := NDEFRecord{TNF: TNFExternal, Type: []byte(DeviceEngagementRecordType), ID: []byte("mdoc"), Payload: de.Raw}
	hsRec := NDEFRecord{TNF: TNFWellKnown, Type: []byte("Hs"), Payload: []byte{HandoverVersion}}
	for name, msg := range map[string][]byte{
		"no Hs":        EncodeNDEF([]NDEFRecord{deRec}),
		"Hs v2":        EncodeNDEF([]NDEFRecord{{TNF: TNFWellKnown, Type: []byte("Hs"), Payload: []byte{0x20}}, deRec}),
		"no version":   EncodeNDEF([]NDEFRecord{{TNF: TNFWellKnown, Type: []byte("Hs")}, deRec}),
		"no DE":        EncodeNDEF([]NDEFRecord{hsRec}),
		"two DEs":      EncodeNDEF([]NDEFRecord{hsRec, deRec, deRec}),
		"bad DE":       EncodeNDEF([]NDEFRecord{hsRec, {TNF: TNFExternal, Type: []byte(DeviceEngagementRecordType), Payload: []byte{0xa0}}}),
		"bad inner":    EncodeNDEF([]NDEFRecord{{TNF: TNFWellKnown, Type: []byte("Hs"), Payload: []byte{HandoverVersion, 0x00}}, deRec}),
		"bad ac":       EncodeNDEF([]NDEFRecord{{TNF: TNFWellKnown, Type: []byte("Hs"), Payload: append([]byte{HandoverVersion}, EncodeNDEF([]NDEFRecord{{TNF: TNFWellKnown, Type: []byte("ac"), Payload: []byte{1, 5, 'a'}}})...)}, deRec}),
		"empty ac ref": EncodeNDEF([]NDEFRecord{{TNF: TNFWellKnown, Type: []byte("Hs"), Payload: append([]byte{HandoverVersion}, EncodeNDEF([]NDEFRecord{{TNF: TNFWellKnown, Type: []byte("ac"), Payload: []byte{1, 0, 0}}})...)}, deRec}),
	} {
		if _, err := ParseHandoverSelect(msg); CodeOf(err) == "" {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestEnvelopeCommandsRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, 126, 127, 128, 255, 256, 300, 65535, 70000} {
		for _, chunk := range []int{1, 7, 255, 261, 0} {
			if chunk == 1 && size > 300 {
				continue // 70,000 one-byte commands add nothing
			}
			t.Run(fmt.Sprintf("%d/%d", size, chunk), func(t *testing.T) {
				msg := make([]byte, size)
				for i := range msg {
					msg[i] = byte(i * 7)
				}
				cmds := EncodeEnvelopes(msg, chunk, 0)
				var r EnvelopeReader
				for i, c := range cmds {
					last := i == len(cmds)-1
					a, err := apdu.ParseCommand(c)
					if err != nil {
						t.Fatalf("command %d: %v", i, err)
					}
					wantCLA := byte(0x10)
					if last {
						wantCLA = 0
					}
					if a.CLA != wantCLA || a.INS != 0xC3 || a.P1 != 0 || a.P2 != 0 {
						t.Fatalf("command %d header % x", i, c[:4])
					}
					if chunk > 0 && len(a.Data) > chunk {
						t.Fatalf("command %d carries %d > %d bytes", i, len(a.Data), chunk)
					}
					if wantNe := map[bool]int{true: 65536, false: 0}[last]; a.Ne != wantNe {
						t.Fatalf("command %d Ne %d, want %d", i, a.Ne, wantNe)
					}
					done, err := r.WriteCommand(c)
					if err != nil {
						t.Fatalf("WriteCommand %d: %v", i, err)
					}
					if done != last {
						t.Fatalf("command %d done=%v", i, done)
					}
				}
				got, err := r.Message()
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("Message: %v", err)
				}
			})
		}
	}
}

func TestEnvelopeResponsesRoundTrip(t *testing.T) {
	for _, size := range []int{0, 10, 250, 300, 1000, 70000} {
		for _, chunk := range []int{256, 100, 0} {
			t.Run(fmt.Sprintf("%d/%d", size, chunk), func(t *testing.T) {
				msg := bytes.Repeat([]byte{0xab}, size)
				resps := EncodeEnvelopeResponses(msg, chunk)
				r := NewEnvelopeReader(0)
				for i, resp := range resps {
					last := i == len(resps)-1
					next, err := r.WriteResponse(resp)
					if err != nil {
						t.Fatalf("response %d: %v", i, err)
					}
					if last != (next == nil) {
						t.Fatalf("response %d: next %x", i, next)
					}
					if !last {
						rest := 0
						for _, rr := range resps[i+1:] {
							rest += len(rr) - 2
						}
						sw2 := resp[len(resp)-1]
						if rest >= 256 && sw2 != 0 || rest < 256 && int(sw2) != rest {
							t.Fatalf("response %d: SW 61%02X with %d bytes left", i, sw2, rest)
						}
						a, err := apdu.ParseCommand(next)
						if err != nil || a.INS != InsGetResponse || a.Ne < rest && a.Ne < 256 {
							t.Fatalf("GET RESPONSE %x: %+v %v", next, a, err)
						}
					}
				}
				if !r.Done() {
					t.Fatal("not done")
				}
				got, err := r.Message()
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("Message: %v", err)
				}
			})
		}
	}
}

func TestEnvelopeReaderRejects(t *testing.T) {
	msg := []byte("hello")
	good := EncodeEnvelopes(msg, 0, 0)[0]
	withCLA := func(cla byte) []byte { c := bytes.Clone(good); c[0] = cla; return c }
	withINS := func(ins byte) []byte { c := bytes.Clone(good); c[1] = ins; return c }
	// A TLV that declares more than the reader's bound.
	huge := []byte{0x10, 0xC3, 0, 0, 0, 0, 5, 0x53, 0x83, 0x7f, 0xff, 0xff}
	for _, tc := range []struct {
		name string
		max  int
		cmds [][]byte
		code Code
	}{
		{"good", 0, [][]byte{good}, ""},
		{"wrong INS", 0, [][]byte{withINS(0xB0)}, CodeMalformed},
		{"wrong CLA", 0, [][]byte{withCLA(0x80)}, CodeMalformed},
		{"wrong tag", 0, [][]byte{{0x00, 0xC3, 0, 0, 3, 0x54, 1, 0}}, CodeMalformed},
		{"short TLV", 0, [][]byte{{0x00, 0xC3, 0, 0, 3, 0x53, 5, 0}}, CodeMalformed},
		{"trailing", 0, [][]byte{{0x00, 0xC3, 0, 0, 4, 0x53, 1, 0, 0}}, CodeMalformed},
		{"indefinite length", 0, [][]byte{{0x00, 0xC3, 0, 0, 3, 0x53, 0x80, 0}}, CodeMalformed},
		{"declared over max", 100, [][]byte{huge}, CodeLimitExceeded},
		{"body over max", 10, EncodeEnvelopes(make([]byte, 64), 16, 0), CodeLimitExceeded},
		{"after done", 0, [][]byte{good, good}, CodeMalformed},
		{"bad APDU", 0, [][]byte{{0x00, 0xC3}}, CodeMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewEnvelopeReader(tc.max)
			var err error
			for _, c := range tc.cmds {
				if _, err = r.WriteCommand(c); err != nil {
					break
				}
			}
			if err == nil {
				_, err = r.Message()
			}
			if CodeOf(err) != tc.code {
				t.Fatalf("err = %v, want code %q", err, tc.code)
			}
			if err != nil {
				// The reader stays failed.
				if _, err2 := r.WriteCommand(good); err2 == nil {
					t.Fatal("reader accepted input after an error")
				}
			}
		})
	}
	// Responses: an error status word is reported.
	r := NewEnvelopeReader(0)
	if _, err := r.WriteResponse([]byte{0x6A, 0x82}); CodeOf(err) != CodeMalformed {
		t.Fatalf("6A82: err = %v", err)
	}
	if _, err := NewEnvelopeReader(0).WriteResponse([]byte{0x90}); CodeOf(err) != CodeMalformed {
		t.Fatalf("1-byte response: err = %v", err)
	}
	if _, err := NewEnvelopeReader(0).Message(); err == nil {
		t.Fatal("Message before completion succeeded")
	}
}

// TestEnvelopeAPDUErrors checks that failures of the shared APDU codec
// surface with this package's codes: over-long input is a limit, broken
// encodings are malformed.
func TestEnvelopeAPDUErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		code Code
	}{
		{"3 bytes", []byte{0, 0xC3, 0}, CodeMalformed},
		{"extended Le without Lc data", []byte{0, 0xC3, 0, 0, 0, 0, 2, 1, 2, 0}, CodeMalformed},
		{"short Lc overruns", []byte{0, 0xC3, 0, 0, 2, 0x53}, CodeMalformed},
		{"extended Lc 0", []byte{0, 0xC3, 0, 0, 0, 0, 0, 1}, CodeMalformed},
		{"over the longest APDU", make([]byte, apdu.MaxCommandLen+1), CodeLimitExceeded},
	} {
		if _, err := NewEnvelopeReader(0).WriteCommand(tc.in); CodeOf(err) != tc.code || !errors.Is(err, apdu.ErrMalformed) && tc.code == CodeMalformed {
			t.Errorf("%s: err = %v, want code %q wrapping apdu.ErrMalformed", tc.name, err, tc.code)
		}
	}
	big := make([]byte, apdu.MaxResponseLen+1)
	if _, err := NewEnvelopeReader(0).WriteResponse(big); CodeOf(err) != CodeLimitExceeded {
		t.Errorf("over-long response: err = %v", err)
	}
	// The GET RESPONSE after 61XX asks for XX; after 6100 for what the
	// reader takes: 65,536 (Le 0000) by default, 256 for a short reader.
	for _, tc := range []struct {
		maxResponse int
		sw2         byte
		want        []byte
	}{
		{0, 0x20, []byte{0, 0xC0, 0, 0, 0x20}},
		{0, 0xFF, []byte{0, 0xC0, 0, 0, 0xFF}},
		{0, 0x00, []byte{0, 0xC0, 0, 0, 0, 0, 0}},
		{256, 0x00, []byte{0, 0xC0, 0, 0, 0}},
	} {
		r := NewEnvelopeReader(0)
		r.MaxResponse = tc.maxResponse
		got, err := r.WriteResponse([]byte{0x53, 0x81, 0x61, tc.sw2})
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("after 61%02X (max %d): % x %v, want % x", tc.sw2, tc.maxResponse, got, err, tc.want)
		}
	}
}

// TestEnvelopeCommandForms pins the encoding of the ENVELOPE chain: short
// commands while the data fits, the last one extended for Le 0000.
func TestEnvelopeCommandForms(t *testing.T) {
	cmds := EncodeEnvelopes(bytes.Repeat([]byte{7}, 300), 255, 0)
	if len(cmds) != 2 {
		t.Fatalf("%d commands", len(cmds))
	}
	if want := []byte{0x10, 0xC3, 0, 0, 0xFF, 0x53, 0x82, 0x01, 0x2C}; !bytes.Equal(cmds[0][:len(want)], want) || len(cmds[0]) != 5+255 {
		t.Errorf("first command % x… (%d bytes)", cmds[0][:9], len(cmds[0]))
	}
	// 304-byte TLV: 255 + 49; the last is 3E-with-Le (case 4E).
	if want := []byte{0x00, 0xC3, 0, 0, 0, 0, 49}; !bytes.Equal(cmds[1][:7], want) || !bytes.Equal(cmds[1][len(cmds[1])-2:], []byte{0, 0}) || len(cmds[1]) != 7+49+2 {
		t.Errorf("last command % x (%d bytes)", cmds[1], len(cmds[1]))
	}
}

func FuzzParseNDEF(f *testing.F) {
	f.Add(annexD(f, "nfc_handover_select_ndef"))
	f.Add(annexD(f, "nfc_handover_request_ndef"))
	f.Add([]byte{0xd1, 0x01, 0x01, 'T', 'x'})
	f.Add([]byte{0xc1, 0x01, 0x00, 0x00, 0x01, 0x00, 'T', 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := ParseNDEF(b)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(recs) == 0 || len(recs) > MaxNDEFRecords {
			t.Fatalf("%d records", len(recs))
		}
		// Re-encoding is canonical (SR/IL chosen minimally), so it may be
		// shorter than b but must parse back to the same records.
		again, err := ParseNDEF(EncodeNDEF(recs))
		if err != nil || len(again) != len(recs) {
			t.Fatalf("re-encoded message does not parse: %v", err)
		}
		for i := range recs {
			if again[i].TNF != recs[i].TNF || !bytes.Equal(again[i].Payload, recs[i].Payload) {
				t.Fatalf("record %d changed", i)
			}
		}
		if hs, err := ParseHandoverSelect(b); err == nil && hs.DeviceEngagement == nil {
			t.Fatal("handover select without engagement")
		}
	})
}

func FuzzEnvelopeReader(f *testing.F) {
	msg := annexD(f, "session_establishment")
	cmds := EncodeEnvelopes(msg, 255, 0)
	f.Add(cmds[0], cmds[1], false)
	resps := EncodeEnvelopeResponses(msg, 256)
	f.Add(resps[0], resps[1], true)
	f.Add([]byte{0x00, 0xC3, 0, 0, 3, 0x53, 1, 0}, []byte(nil), false)
	f.Add([]byte{0x53, 0x84, 0xff, 0xff, 0xff, 0xff, 0x61, 0x00}, []byte{0x90, 0x00}, true)
	f.Fuzz(func(t *testing.T, a, b []byte, response bool) {
		r := NewEnvelopeReader(1 << 16)
		var err error
		for _, p := range [][]byte{a, b} {
			if r.Done() || p == nil {
				break
			}
			if response {
				_, err = r.WriteResponse(p)
			} else {
				_, err = r.WriteCommand(p)
			}
			if err != nil {
				break
			}
		}
		if err != nil && CodeOf(err) == "" {
			t.Fatalf("untyped error %v", err)
		}
		if r.Done() {
			m, err := r.Message()
			if err != nil || len(m) > 1<<16 {
				t.Fatalf("done reader: %d bytes, %v", len(m), err)
			}
		}
		if len(r.buf) > 1<<16+6 {
			t.Fatalf("buffered %d bytes past the bound", len(r.buf))
		}
		// ParseEnvelopeData on raw input never panics and respects bounds.
		if v, err := ParseEnvelopeData(a); err == nil && len(v) > len(a) {
			t.Fatal("value longer than input")
		}
	})
}
