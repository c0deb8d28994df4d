package mdoc

import (
	"bytes"
	"crypto/ecdh"
	"testing"
)

// presentResponse presents doc elements with the given device auth and
// returns the encoded DeviceResponse, as a wallet would send it.
func presentResponse(t testing.TB, is *IssuerSigned, sel map[string][]string, o PresentOptions) []byte {
	t.Helper()
	doc, err := Present(is, sel, o)
	if err != nil {
		t.Fatalf("Present: %v", err)
	}
	b, err := NewDeviceResponse([]Document{*doc}, nil).Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIssuePresentVerifyRoundTrip(t *testing.T) {
	p := fixturePKI(t)
	cases := []struct {
		name     string
		docType  string
		elements map[string][]Element
		sel      map[string][]string
		mac      bool
	}{
		{"mnc signature", DocTypeMNC, mncElements(), map[string][]string{NameSpaceISO23220: {"age_over_20"}}, false},
		{"mnc mac", DocTypeMNC, mncElements(), map[string][]string{NameSpaceISO23220: {"age_over_18", "family_name"}, NameSpaceJP: {"birth_date_unicode"}}, true},
		{"hic signature", DocTypeHIC, hicElements(), map[string][]string{NameSpaceHIC: {"insurer_number", "qualification_valid_until"}}, false},
		{"hic mac", DocTypeHIC, hicElements(), map[string][]string{NameSpaceHIC: {"insured_number", "copayment_ratio"}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dev := mustKey(t)
			is := issueFixture(t, p, tc.docType, tc.elements, dev, nil)
			// The credential survives its own transport encoding.
			enc, err := is.Encode()
			if err != nil {
				t.Fatal(err)
			}
			is, err = ParseIssuerSigned(enc)
			if err != nil {
				t.Fatal(err)
			}
			eReader, _ := ecdh.P256().GenerateKey(nil)
			st := testTranscript(t, eReader)
			po := PresentOptions{SessionTranscript: st, DeviceSigner: dev}
			if tc.mac {
				devECDH, _ := dev.ECDH()
				po = PresentOptions{SessionTranscript: st, DeviceKeyAgreement: devECDH, EReaderKey: eReader.PublicKey()}
			}
			raw := presentResponse(t, is, tc.sel, po)
			resp, err := ParseDeviceResponse(raw)
			if err != nil {
				t.Fatal(err)
			}
			opts := &VerifyOptions{Trust: p.trust(), CurrentTime: testNow, SessionTranscript: st, EReaderKey: eReader, Request: tc.sel}
			rr := VerifyDeviceResponse(resp, opts)
			if !rr.Valid {
				t.Fatalf("invalid: %v %v", rr.Errors, rr.Documents[0].Errors)
			}
			d := rr.Documents[0]
			want := "signature"
			if tc.mac {
				want = "mac"
			}
			if d.DeviceAuthMethod != want {
				t.Errorf("method %q, want %q", d.DeviceAuthMethod, want)
			}
			// Exactly the selected elements are disclosed, nothing else.
			disc := d.Disclosed()
			n := 0
			for ns, ids := range tc.sel {
				for _, id := range ids {
					if _, ok := disc[ns][id]; !ok {
						t.Errorf("%s/%s not disclosed", ns, id)
					}
					n++
				}
			}
			got := 0
			for _, m := range disc {
				got += len(m)
			}
			if got != n {
				t.Errorf("disclosed %d elements, want %d: %v", got, n, disc)
			}
			// Item bytes travel verbatim from issuance to presentation.
			for ns, items := range resp.Documents[0].IssuerSigned.NameSpaces {
				for _, it := range items {
					orig := is.Item(ns, it.Item.ElementIdentifier)
					if orig == nil || !bytes.Equal(orig.Raw, it.Raw) {
						t.Errorf("%s/%s bytes changed", ns, it.Item.ElementIdentifier)
					}
				}
			}
			if !bytes.Equal(resp.Documents[0].IssuerSigned.IssuerAuth.Raw, is.IssuerAuth.Raw) {
				t.Error("issuerAuth bytes changed")
			}
		})
	}
}

func TestIssueProperties(t *testing.T) {
	p := fixturePKI(t)
	is := issueFixture(t, p, DocTypeMNC, mncElements(), mustKey(t), nil)
	mso := is.IssuerAuth.MSO
	if mso.DocType != DocTypeMNC || mso.Version != "1.0" || mso.DigestAlgorithm != "SHA-256" {
		t.Errorf("MSO header %+v", mso)
	}
	if mso.Status == nil || mso.Status.StatusList.URI == "" || mso.Status.StatusList.Idx != 7 {
		t.Errorf("status %+v", mso.Status)
	}
	total := 0
	for ns, items := range is.NameSpaces {
		ids := map[uint64]bool{}
		for _, it := range items {
			total++
			if len(it.Item.Random) < MinRandomLength {
				t.Errorf("%s: random of %d bytes", it.Item.ElementIdentifier, len(it.Item.Random))
			}
			if ids[it.Item.DigestID] {
				t.Errorf("digestID %d repeated in %s", it.Item.DigestID, ns)
			}
			ids[it.Item.DigestID] = true
			if !bytes.HasPrefix(it.Raw, []byte{0xd8, 0x18}) {
				t.Errorf("item not tag 24: %x", it.Raw[:4])
			}
		}
	}
	if total != 12 {
		t.Errorf("%d items, want 12", total)
	}
	// tdates: tag 0, UTC, no fractional seconds.
	if !bytes.Contains(is.IssuerAuth.MSOBytes.Data, []byte("\xc0\x742026-04-01T08:00:00Z")) {
		t.Error("validityInfo tdate not encoded as tag 0 \"…Z\" without fraction")
	}
	// Unprotected header carries x5chain as a single bstr; protected is {1: -7}.
	if !bytes.Contains(is.IssuerAuth.Raw[:8], []byte{0x43, 0xa1, 0x01, 0x26}) {
		t.Errorf("protected header %x", is.IssuerAuth.Raw[:8])
	}
	// Two issuances of the same data differ in salts and digest IDs.
	is2 := issueFixture(t, p, DocTypeMNC, mncElements(), mustKey(t), nil)
	if bytes.Equal(is.NameSpaces[NameSpaceJP][0].Raw, is2.NameSpaces[NameSpaceJP][0].Raw) {
		t.Error("items repeat across issuances")
	}
}
