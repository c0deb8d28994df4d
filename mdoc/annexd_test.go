package mdoc

import (
	"bytes"
	"crypto/ecdh"
	"crypto/x509"
	"testing"
)

func annexDTranscript(t testing.TB) []byte {
	t.Helper()
	stb, err := ParseEncodedCBOR(annexD(t, "session_transcript_bytes"))
	if err != nil {
		t.Fatal(err)
	}
	return stb.Data
}

func annexDCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(annexD(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func annexDEReaderKey(t testing.TB) *ecdh.PrivateKey {
	t.Helper()
	k, err := ecdh.P256().NewPrivateKey(annexD(t, "ereader_key_d"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestAnnexDDeviceRequestReaderAuth(t *testing.T) {
	req, err := ParseDeviceRequest(annexD(t, "device_request"))
	if err != nil {
		t.Fatal(err)
	}
	if len(req.DocRequests) != 1 {
		t.Fatalf("docRequests = %d", len(req.DocRequests))
	}
	dr := &req.DocRequests[0]
	if dr.ItemsRequest.DocType != "org.iso.18013.5.1.mDL" {
		t.Errorf("docType = %q", dr.ItemsRequest.DocType)
	}
	if got := dr.ItemsRequest.NameSpaces["org.iso.18013.5.1"]; len(got) != 6 || got["family_name"] != true || got["portrait"] != false {
		t.Errorf("requested elements = %v", got)
	}
	// ReaderAuthenticationBytes must be byte-identical to the vector.
	rab, err := ReaderAuthenticationBytes(annexDTranscript(t), dr.ItemsRequestBytes)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rab, annexD(t, "reader_authentication_bytes")) {
		t.Fatal("ReaderAuthenticationBytes differ from Annex D")
	}
	trust := NewTrustStore(PurposeReaderAuth, false, annexDCert(t, "reader_root_certificate_der"))
	res, err := dr.VerifyReaderAuth(trust, annexDTranscript(t), annexDTime)
	if err != nil {
		t.Fatalf("VerifyReaderAuth: %v", err)
	}
	if res.Certificate.Subject.CommonName == "" {
		t.Error("no reader certificate subject")
	}
	// Re-encoding keeps the signed ItemsRequestBytes and ReaderAuth verbatim.
	enc, err := req.Encode()
	if err != nil || !bytes.Contains(enc, dr.ItemsRequestBytes.Raw) || !bytes.Contains(enc, dr.ReaderAuth) {
		t.Errorf("DeviceRequest re-encoding lost signed bytes (err %v)", err)
	}
	// A different transcript, or a different trust anchor, fails.
	other := bytes.Clone(annexDTranscript(t))
	other[len(other)-1] ^= 1
	if _, err := dr.VerifyReaderAuth(trust, other, annexDTime); CodeOf(err) != CodeReaderAuthInvalid {
		t.Errorf("wrong transcript: got %v", err)
	}
	wrong := NewTrustStore(PurposeReaderAuth, false, annexDCert(t, "iaca_certificate_der"))
	if _, err := dr.VerifyReaderAuth(wrong, annexDTranscript(t), annexDTime); CodeOf(err) != CodeReaderAuthInvalid {
		t.Errorf("wrong anchor: got %v", err)
	}
}

func annexDOptions(t testing.TB) *VerifyOptions {
	return &VerifyOptions{
		Trust:             NewTrustStore(PurposeDocumentSigner, false, annexDCert(t, "iaca_certificate_der")),
		CurrentTime:       annexDTime,
		SessionTranscript: annexDTranscript(t),
		EReaderKey:        annexDEReaderKey(t),
	}
}

func TestAnnexDDeviceResponse(t *testing.T) {
	resp, err := ParseDeviceResponse(annexD(t, "device_response"))
	if err != nil {
		t.Fatal(err)
	}
	rr := VerifyDeviceResponse(resp, annexDOptions(t))
	if !rr.Valid {
		for _, d := range rr.Documents {
			t.Errorf("document errors: %v", d.Errors)
		}
		t.Fatalf("Annex D response invalid: %v", rr.Errors)
	}
	d := rr.Documents[0]
	if d.DeviceAuthMethod != "mac" || !d.DeviceAuthValid || !d.IssuerAuthValid {
		t.Errorf("device auth %q valid=%v issuer=%v", d.DeviceAuthMethod, d.DeviceAuthValid, d.IssuerAuthValid)
	}
	vals := d.Disclosed()["org.iso.18013.5.1"]
	if vals["family_name"] != "Doe" {
		t.Errorf("family_name = %v", vals["family_name"])
	}
	if bd, ok := vals["issue_date"].(FullDate); !ok || bd.String() != "2019-10-20" {
		t.Errorf("issue_date = %#v", vals["issue_date"])
	}
	if len(d.Elements) != 6 {
		t.Errorf("elements = %d, want 6", len(d.Elements))
	}
	// Presenting the parsed document again copies every signed byte.
	raw := annexD(t, "device_response")
	for _, items := range resp.Documents[0].IssuerSigned.NameSpaces {
		for _, it := range items {
			if !bytes.Contains(raw, it.Raw) {
				t.Errorf("item %s not kept verbatim", it.Item.ElementIdentifier)
			}
		}
	}
	if !bytes.Contains(raw, resp.Documents[0].IssuerSigned.IssuerAuth.Raw) {
		t.Error("issuerAuth not kept verbatim")
	}
}

func TestAnnexDDeviceAuthPrefix(t *testing.T) {
	// device_authentication_prefix is the start of the deviceAuth map as
	// printed in the standard: {"deviceMac": [h'a10105', {}, null, h'e995…']}.
	resp, err := ParseDeviceResponse(annexD(t, "device_response"))
	if err != nil {
		t.Fatal(err)
	}
	da, err := Marshal(resp.Documents[0].DeviceSigned.DeviceAuth)
	if err != nil {
		t.Fatal(err)
	}
	prefix := annexD(t, "device_authentication_prefix")
	if !bytes.HasPrefix(da, prefix) {
		t.Errorf("deviceAuth %x does not start with %x", da[:len(prefix)], prefix)
	}
}
