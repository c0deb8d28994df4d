package mdoc

import (
	"bytes"
	"crypto/ecdh"
	"testing"
)

// Fuzz targets for every decoder of this file set. Seeds are the Annex D
// messages and a freshly issued credential; the committed corpora live in
// testdata/fuzz/<FuzzName>/. The property is always: no panic, bounded
// work, and a parse that succeeds yields a structure verification can
// process without panicking.

func FuzzParseDeviceResponse(f *testing.F) {
	f.Add(annexD(f, "device_response"))
	f.Add([]byte{0xa1, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n'})
	trust := NewTrustStore(PurposeDocumentSigner, false, annexDCert(f, "iaca_certificate_der"))
	st := annexDTranscript(f)
	rk := annexDEReaderKey(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := ParseDeviceResponse(b)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		rr := VerifyDeviceResponse(resp, &VerifyOptions{Trust: trust, CurrentTime: annexDTime, SessionTranscript: st, EReaderKey: rk})
		if rr.Valid && !bytes.Equal(b, annexD(t, "device_response")) {
			// Only a byte-different encoding of the same signed content may
			// verify; the signed parts must then be the Annex D ones.
			ia := resp.Documents[0].IssuerSigned.IssuerAuth.Raw
			if !bytes.Contains(annexD(t, "device_response"), ia) {
				t.Fatal("a fuzzed response with a foreign issuerAuth verified")
			}
		}
	})
}

func FuzzParseDeviceRequest(f *testing.F) {
	f.Add(annexD(f, "device_request"))
	trust := NewTrustStore(PurposeReaderAuth, false, annexDCert(f, "reader_root_certificate_der"))
	st := annexDTranscript(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := ParseDeviceRequest(b)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for i := range req.DocRequests {
			_, _ = req.DocRequests[i].VerifyReaderAuth(trust, st, annexDTime)
			req.DocRequests[i].ItemsRequest.Elements()
		}
	})
}

func FuzzParseIssuerSigned(f *testing.F) {
	p := fixturePKI(f)
	is := issueFixture(f, p, DocTypeMNC, mncElements(), mustKey(f), nil)
	enc, err := is.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc)
	f.Fuzz(func(t *testing.T, b []byte) {
		is, err := ParseIssuerSigned(b)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		VerifyDigests(is.NameSpaces, &is.IssuerAuth.MSO)
		_, _ = VerifyIssuerAuth(&is.IssuerAuth, is.IssuerAuth.MSO.DocType, &VerifyOptions{Trust: p.trust(), CurrentTime: testNow})
	})
}

func FuzzParseSign1(f *testing.F) {
	resp, err := ParseDeviceResponse(annexD(f, "device_response"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(resp.Documents[0].IssuerSigned.IssuerAuth.Raw)
	req, err := ParseDeviceRequest(annexD(f, "device_request"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(req.DocRequests[0].ReaderAuth))
	pub := mustKey(f).Public()
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseSign1(b)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if m.Verify(pub, []byte("x")) == nil {
			t.Fatal("random key verified a fuzzed signature")
		}
	})
}

func FuzzParseCOSEKey(f *testing.F) {
	k, _ := ecdh.P256().GenerateKey(nil)
	ck, err := NewCOSEKey(k.PublicKey())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ck.Raw)
	f.Add([]byte{0xa3, 0x01, 0x01, 0x20, 0x06, 0x21, 0x58, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseCOSEKey(b)
		if err != nil {
			return
		}
		if _, err := k.PublicKey(); err != nil {
			t.Fatalf("parsed key has no public key: %v", err)
		}
		if k.Kty == KeyTypeEC2 {
			if _, err := k.ECDH(); err != nil {
				t.Fatalf("parsed EC2 key unusable for ECDH: %v", err)
			}
		}
	})
}

func FuzzParseEncodedCBOR(f *testing.F) {
	f.Add(annexD(f, "session_transcript_bytes"))
	f.Add([]byte{0xd8, 0x18, 0x41, 0xa0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEncodedCBOR(b)
		if err != nil {
			return
		}
		w, err := WrapEncodedCBOR(e.Data)
		if err != nil {
			t.Fatal(err)
		}
		// Shortest-form input must survive a rewrap byte for byte.
		if len(w.Raw) == len(b) && !bytes.Equal(w.Raw, b) {
			t.Fatalf("rewrap changed bytes: %x → %x", b, w.Raw)
		}
	})
}
