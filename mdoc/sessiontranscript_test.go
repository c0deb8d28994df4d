package mdoc

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The OpenID4VP 1.0 Appendix B.2.6 worked examples.
const (
	oid4vpClientID    = "x509_san_dns:example.com"
	oid4vpNonce       = "exc7gBkxjx1rdc9udRrveKvSsJIq80avlXeLHhGwqtA"
	oid4vpResponseURI = "https://example.com/response"
	oid4vpOrigin      = "https://example.com"
	oid4vpThumbprint  = "4283ec927ae0f208daaa2d026a814f2b22dca52cf85ffa8f3f8626c6bd669047"
)

func TestHandovers(t *testing.T) {
	thumb := unhex(t, oid4vpThumbprint)
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"QR", QRHandover(), "f6"},
		{"NFC static", NFCHandover([]byte{1, 2}, nil), "824201 02f6"},
		{"NFC negotiated", NFCHandover([]byte{1}, []byte{2}), "82410141 02"},
		{"OpenID4VP (B.2.6.1)", OpenID4VPHandover(oid4vpClientID, oid4vpNonce, thumb, oid4vpResponseURI),
			"82714f70656e494434565048616e646f7665725820048bc053c00442af9b8eed494cefdd9d95240d254b046b11b68013722aad38ac"},
		{"OpenID4VP DC API (B.2.6.2)", OpenID4VPDCAPIHandover(oid4vpOrigin, oid4vpNonce, thumb),
			"82764f70656e4944345650444341504948616e646f7665725820fbece366f4212f9762c74cfdbf83b8c69e371d5d68cea09cb4c48ca6daab761a"},
	} {
		want := unhex(t, unspace(tc.want))
		if !bytes.Equal(tc.got, want) {
			t.Errorf("%s:\n got %x\nwant %x", tc.name, tc.got, want)
		}
	}
	// A null thumbprint changes the hash.
	if bytes.Equal(OpenID4VPHandover(oid4vpClientID, oid4vpNonce, nil, oid4vpResponseURI),
		OpenID4VPHandover(oid4vpClientID, oid4vpNonce, thumb, oid4vpResponseURI)) {
		t.Error("thumbprint does not enter the OpenID4VP handover")
	}
	// Annex C: ["dcapi", SHA-256(CBOR([info, origin]))], different per origin.
	a := AnnexCHandover("gmVkY2FwaQ", "https://a.example")
	b := AnnexCHandover("gmVkY2FwaQ", "https://b.example")
	if bytes.Equal(a, b) || !bytes.HasPrefix(a, unhex(t, "826564636170695820")) || len(a) != 9+32 {
		t.Errorf("AnnexCHandover = %x", a)
	}
}

func unspace(s string) string { return string(bytes.ReplaceAll([]byte(s), []byte(" "), nil)) }

func TestOpenID4VPSessionTranscript(t *testing.T) {
	h := OpenID4VPHandover(oid4vpClientID, oid4vpNonce, unhex(t, oid4vpThumbprint), oid4vpResponseURI)
	st, err := NewSessionTranscript(nil, nil, h)
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, "83f6f682714f70656e494434565048616e646f7665725820048bc053c00442af9b8eed494cefdd9d95240d254b046b11b68013722aad38ac")
	if !bytes.Equal(st.Raw, want) {
		t.Fatalf("transcript %x, want %x", st.Raw, want)
	}
	if st.DeviceEngagementBytes != nil || st.EReaderKeyBytes != nil {
		t.Error("null elements parsed as present")
	}
	if de, err := st.DeviceEngagement(); de != nil || err != nil {
		t.Error("DeviceEngagement of a null transcript")
	}
	if k, err := st.EReaderKey(); k != nil || err != nil {
		t.Error("EReaderKey of a null transcript")
	}
	back, err := ParseSessionTranscriptBytes(st.Bytes())
	if err != nil || !bytes.Equal(back.Raw, want) || !bytes.Equal(back.Handover, h) {
		t.Fatalf("round trip: %v", err)
	}
}

func TestParseSessionTranscriptRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"not tag 24", "83f6f6f6"},
		{"tag 24 of non-array", "d81841f6"},
		{"two elements", "d8184382f6f6"},
		{"four elements", "d8184584f6f6f6f6"},
		{"element not tag 24", "d818458341a0f6f6"},
		{"trailing", "d8184483f6f6f600"},
	} {
		if _, err := ParseSessionTranscriptBytes(unhex(t, tc.in)); CodeOf(err) == "" {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	if _, err := NewSessionTranscript(nil, nil, nil); err == nil {
		t.Error("empty handover accepted")
	}
	if _, err := NewSessionTranscript(nil, nil, []byte{0xf6, 0xf6}); err == nil {
		t.Error("two-item handover accepted")
	}
	if _, err := NewSessionTranscript(&EncodedCBOR{}, nil, QRHandover()); err == nil {
		t.Error("empty EncodedCBOR accepted")
	}
}

func TestSessionTranscriptBytesVerbatim(t *testing.T) {
	// A non-shortest bstr length in the tag-24 wrapper is kept as received.
	raw := unhex(t, "83f6f6f6")
	long := append(unhex(t, "d8185900"), byte(len(raw)))
	long = append(long, raw...)
	st, err := ParseSessionTranscriptBytes(long)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(st.Bytes(), long) {
		t.Errorf("Bytes() = %x, want the received %x", st.Bytes(), long)
	}
}

func FuzzParseSessionTranscriptBytes(f *testing.F) {
	f.Add(annexD(f, "session_transcript_bytes"))
	f.Add(unhex(f, "d8184483f6f6f6"))
	f.Add(unhex(f, "d818582b83f6f682714f70656e494434565048616e646f7665725820048bc053c00442af9b8eed494cefdd9d95240d254b046b11b68013722aad38ac"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseSessionTranscriptBytes(b)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !bytes.Equal(st.Bytes(), b) {
			t.Fatal("Bytes() differs from the input")
		}
		again, err := ParseSessionTranscript(st.Raw)
		if err != nil || !bytes.Equal(again.Raw, st.Raw) {
			t.Fatalf("Raw does not parse again: %v", err)
		}
		_, _ = st.DeviceEngagement()
		_, _ = st.EReaderKey()
	})
}
