package mdoc

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/veraison/go-cose"
)

// reissueItem re-encodes an item with a new value but the same digestID
// and salt: what a holder tampering with a value would send.
func reissueItem(t testing.TB, b IssuerSignedItemBytes, value any) IssuerSignedItemBytes {
	t.Helper()
	it := b.Item
	v, err := Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	it.ElementValue = v
	enc, err := NewEncodedCBOR(it)
	if err != nil {
		t.Fatal(err)
	}
	return IssuerSignedItemBytes{Raw: enc.Raw, Item: it}
}

// resignedIssuerAuth returns issuerAuth with the MSO changed by mod but the
// original signature kept.
func tamperedIssuerAuth(t testing.TB, ia IssuerAuth, mod func(*MobileSecurityObject)) IssuerAuth {
	t.Helper()
	mso := ia.MSO
	mod(&mso)
	mb, err := NewEncodedCBOR(mso)
	if err != nil {
		t.Fatal(err)
	}
	var msg cose.UntaggedSign1Message
	if err := msg.UnmarshalCBOR(ia.Raw); err != nil {
		t.Fatal(err)
	}
	msg.Payload = mb.Raw
	raw, err := msg.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	out, err := ParseIssuerAuth(raw)
	if err != nil {
		t.Fatal(err)
	}
	return *out
}

func TestVerifyErrorCodes(t *testing.T) {
	p := fixturePKI(t)
	dev := mustKey(t)
	sel := map[string][]string{NameSpaceISO23220: {"age_over_20", "family_name"}}

	// A second, unrelated IACA for the wrong-anchor case.
	otherKey := mustKey(t)
	otherIACA, err := NewIACACertificate(otherKey, CertificateOptions{
		Subject:   pkix.Name{CommonName: "Test IACA", Country: []string{"JP"}},
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour * 24 * 365),
		IssuerAltNameURI: "https://other.example", CRLDistributionPoint: "https://other.example/crl",
	})
	if err != nil {
		t.Fatal(err)
	}
	// A Document Signer without the mdlDS EKU, signed by the right IACA.
	noEKUKey := mustKey(t)
	noEKUDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(99), Subject: pkix.Name{CommonName: "DS without EKU", Country: []string{"JP"}},
		NotBefore: testNow.Add(-48 * time.Hour), NotAfter: testNow.Add(100 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, AuthorityKeyId: p.iaca.SubjectKeyId,
	}, p.iaca, noEKUKey.Public(), p.iacaKey)
	if err != nil {
		t.Fatal(err)
	}

	type env struct {
		is    *IssuerSigned
		doc   *Document
		opts  *VerifyOptions
		trans []byte
	}
	cases := []struct {
		name  string
		issue func(*IssueOptions)
		mod   func(t *testing.T, e *env)
		want  Code
	}{
		{name: "valid", want: ""},
		{name: "tampered value", want: CodeDigestMismatch, mod: func(t *testing.T, e *env) {
			items := e.doc.IssuerSigned.NameSpaces[NameSpaceISO23220]
			for i := range items {
				if items[i].Item.ElementIdentifier == "family_name" {
					items[i] = reissueItem(t, items[i], "佐藤")
				}
			}
		}},
		{name: "tampered MSO", want: CodeIssuerSignatureInvalid, mod: func(t *testing.T, e *env) {
			e.doc.IssuerSigned.IssuerAuth = tamperedIssuerAuth(t, e.doc.IssuerSigned.IssuerAuth, func(m *MobileSecurityObject) {
				m.ValidityInfo.ValidUntil = TDate(testNow.Add(3650 * 24 * time.Hour))
			})
		}},
		{name: "wrong anchor", want: CodeUntrustedIssuer, mod: func(t *testing.T, e *env) {
			e.opts.Trust = NewTrustStore(PurposeDocumentSigner, true, otherIACA)
		}},
		{name: "DS without EKU", want: CodeCertificateProfile, issue: func(o *IssueOptions) {
			o.Signer, o.Chain = noEKUKey, [][]byte{noEKUDER}
		}},
		{name: "expired", want: CodeExpired, mod: func(t *testing.T, e *env) {
			e.opts.CurrentTime = testNow.Add(31 * 24 * time.Hour)
		}},
		{name: "not yet valid", want: CodeNotYetValid, issue: func(o *IssueOptions) {
			o.ValidFrom = testNow.Add(time.Hour)
		}},
		{name: "skew tolerates not yet valid", want: "", issue: func(o *IssueOptions) {
			o.ValidFrom = testNow.Add(time.Minute)
		}, mod: func(t *testing.T, e *env) { e.opts.ClockSkew = 5 * time.Minute }},
		{name: "wrong docType", want: CodeDocTypeMismatch, mod: func(t *testing.T, e *env) {
			e.doc.DocType = DocTypeHIC
		}},
		{name: "wrong transcript", want: CodeDeviceAuthInvalid, mod: func(t *testing.T, e *env) {
			other, _ := ecdh.P256().GenerateKey(nil)
			e.opts.SessionTranscript = testTranscript(t, other)
		}},
		{name: "item not in MSO", want: CodeDigestMissing, mod: func(t *testing.T, e *env) {
			items := e.doc.IssuerSigned.NameSpaces[NameSpaceISO23220]
			extra := reissueItem(t, items[0], "extra")
			extra.Item.DigestID = 1<<31 + 5
			extra.Item.ElementIdentifier = "nationality"
			enc, _ := NewEncodedCBOR(extra.Item)
			extra.Raw = enc.Raw
			e.doc.IssuerSigned.NameSpaces[NameSpaceISO23220] = append(items, extra)
			e.opts.Request = nil
		}},
		{name: "keyAuthorizations violated", want: CodeKeyAuthorization, mod: func(t *testing.T, e *env) {
			ds, err := NewDeviceSignedSignature(nil, dev, e.trans, DocTypeMNC, map[string]map[string]any{NameSpaceISO23220: {"age_over_20": true}})
			if err != nil {
				t.Fatal(err)
			}
			e.doc.DeviceSigned = *ds
		}},
		{name: "keyAuthorizations honoured", want: "", issue: func(o *IssueOptions) {
			o.KeyAuthorizations = &KeyAuthorizations{DataElements: map[string][]string{NameSpaceISO23220: {"age_over_20"}}}
		}, mod: func(t *testing.T, e *env) {
			ds, err := NewDeviceSignedSignature(nil, dev, e.trans, DocTypeMNC, map[string]map[string]any{NameSpaceISO23220: {"age_over_20": true}})
			if err != nil {
				t.Fatal(err)
			}
			e.doc.DeviceSigned = *ds
			e.opts.Request[NameSpaceISO23220] = append(e.opts.Request[NameSpaceISO23220], "age_over_20")
		}},
		{name: "element not requested", want: CodeElementNotRequested, mod: func(t *testing.T, e *env) {
			e.opts.Request = map[string][]string{NameSpaceISO23220: {"age_over_20"}}
		}},
		{name: "signature by another key", want: CodeDeviceAuthInvalid, mod: func(t *testing.T, e *env) {
			ds, err := NewDeviceSignedSignature(nil, mustKey(t), e.trans, DocTypeMNC, nil)
			if err != nil {
				t.Fatal(err)
			}
			e.doc.DeviceSigned = *ds
		}},
		{name: "mac without reader key", want: CodeDeviceAuthInvalid, mod: func(t *testing.T, e *env) {
			devECDH, _ := dev.ECDH()
			eReader, _ := ecdh.P256().GenerateKey(nil)
			ds, err := NewDeviceSignedMAC(devECDH, eReader.PublicKey(), e.trans, DocTypeMNC, nil)
			if err != nil {
				t.Fatal(err)
			}
			e.doc.DeviceSigned = *ds
		}},
		{name: "mac with the wrong reader key", want: CodeDeviceAuthInvalid, mod: func(t *testing.T, e *env) {
			devECDH, _ := dev.ECDH()
			eReader, _ := ecdh.P256().GenerateKey(nil)
			ds, err := NewDeviceSignedMAC(devECDH, eReader.PublicKey(), e.trans, DocTypeMNC, nil)
			if err != nil {
				t.Fatal(err)
			}
			e.doc.DeviceSigned = *ds
			e.opts.EReaderKey, _ = ecdh.P256().GenerateKey(nil)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := issueFixture(t, p, DocTypeMNC, mncElements(), dev, tc.issue)
			eReader, _ := ecdh.P256().GenerateKey(nil)
			trans := testTranscript(t, eReader)
			doc, err := Present(is, sel, PresentOptions{SessionTranscript: trans, DeviceSigner: dev})
			if err != nil {
				t.Fatal(err)
			}
			e := &env{is: is, doc: doc, trans: trans, opts: &VerifyOptions{
				Trust: p.trust(), CurrentTime: testNow, SessionTranscript: trans, EReaderKey: eReader,
				Request: map[string][]string{NameSpaceISO23220: {"age_over_20", "family_name"}},
			}}
			if tc.mod != nil {
				tc.mod(t, e)
			}
			raw, err := NewDeviceResponse([]Document{*e.doc}, nil).Encode()
			if err != nil {
				t.Fatal(err)
			}
			resp, err := ParseDeviceResponse(raw)
			if err != nil {
				t.Fatal(err)
			}
			rr := VerifyDeviceResponse(resp, e.opts)
			d := rr.Documents[0]
			if tc.want == "" {
				if !rr.Valid {
					t.Fatalf("want valid, got %v", d.Errors)
				}
				return
			}
			if rr.Valid || d.Valid {
				t.Fatalf("want %s, got valid", tc.want)
			}
			found := false
			for _, err := range d.Errors {
				if err.Code == tc.want {
					found = true
				}
				if err.DocType != e.doc.DocType {
					t.Errorf("error without docType: %v", err)
				}
			}
			if !found {
				t.Errorf("want code %s, got %v", tc.want, d.Errors)
			}
			if len(d.Disclosed()) != 0 {
				t.Error("an invalid document disclosed values")
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	deep := bytes.Repeat([]byte{0x81}, MaxNestingDepth+2)
	deep = append(deep, 0x00)
	cases := []struct {
		name string
		in   []byte
		want Code
	}{
		{"duplicate keys", []byte("\xa2\x67version\x631.0\x67version\x631.0"), CodeMalformed},
		{"indefinite length map", []byte("\xbf\x67version\x631.0\x66status\x00\xff"), CodeMalformed},
		{"indefinite length string", []byte("\xa2\x67version\x7f\x631.0\xff\x66status\x00"), CodeMalformed},
		{"oversize input", make([]byte, MaxMessageSize+1), CodeLimitExceeded},
		{"deep nesting", deep, CodeLimitExceeded},
		{"huge array", append([]byte{0x9a, 0x00, 0x01, 0x00, 0x00}, make([]byte, 65536)...), CodeLimitExceeded},
		{"trailing bytes", []byte("\xa2\x67version\x631.0\x66status\x00\x00"), CodeMalformed},
		{"not a map", []byte{0x01}, CodeMalformed},
		{"no version", []byte("\xa1\x66status\x00"), CodeMalformed},
		{"truncated", []byte("\xa2\x67version\x631."), CodeMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDeviceResponse(tc.in)
			if CodeOf(err) != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "mdoc: ") {
				t.Errorf("message %q lacks the mdoc: prefix", err)
			}
		})
	}
}

func TestTrustStoreChainCache(t *testing.T) {
	p := fixturePKI(t)
	ts := p.trust()
	chain := [][]byte{p.ds.Raw}
	a, err := ts.VerifyChain(chain, testNow)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ts.VerifyChain(chain, testNow)
	if err != nil || a != b {
		t.Fatalf("second lookup not served from cache (err %v)", err)
	}
	// Cached results still honour validity.
	if _, err := ts.VerifyChain(chain, p.ds.NotAfter.Add(time.Second)); CodeOf(err) != CodeExpired {
		t.Errorf("after notAfter: %v", err)
	}
	if _, err := ts.VerifyChain(chain, p.ds.NotBefore.Add(-time.Second)); CodeOf(err) != CodeNotYetValid {
		t.Errorf("before notBefore: %v", err)
	}
	// Replacing the roots drops cached trust.
	ts.SetRoots(nil)
	if _, err := ts.VerifyChain(chain, testNow); CodeOf(err) != CodeUntrustedIssuer {
		t.Errorf("after SetRoots(nil): %v", err)
	}
}

func TestIACARootGenerationsShareDN(t *testing.T) {
	// Two IACA generations with one DN: the chain is chosen by signature.
	p := fixturePKI(t)
	oldKey := mustKey(t)
	old, err := NewIACACertificate(oldKey, CertificateOptions{
		Subject:   p.iaca.Subject,
		NotBefore: testNow.Add(-48 * time.Hour), NotAfter: testNow.Add(365 * 24 * time.Hour),
		IssuerAltNameURI: "https://issuer.example.jp", CRLDistributionPoint: "https://issuer.example.jp/old.crl",
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := NewTrustStore(PurposeDocumentSigner, true, old, p.iaca)
	cr, err := ts.VerifyChain([][]byte{p.ds.Raw}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !cr.Anchor.Equal(p.iaca) {
		t.Error("wrong generation chosen")
	}
}

func TestStrictProfileRejects(t *testing.T) {
	p := fixturePKI(t)
	// A DS valid longer than 457 days is refused at creation time.
	_, err := NewDocumentSignerCertificate(mustKey(t).Public(), p.iaca, p.iacaKey, CertificateOptions{
		Subject: pkix.Name{CommonName: "too long"}, NotBefore: testNow, NotAfter: testNow.Add(500 * 24 * time.Hour),
	})
	if CodeOf(err) != CodeCertificateProfile {
		t.Errorf("458+ day DS: %v", err)
	}
	// A DS whose country differs from the IACA's.
	_, err = NewDocumentSignerCertificate(mustKey(t).Public(), p.iaca, p.iacaKey, CertificateOptions{
		Subject: pkix.Name{CommonName: "US DS", Country: []string{"US"}}, NotBefore: testNow, NotAfter: testNow.Add(24 * time.Hour),
	})
	if CodeOf(err) != CodeCertificateProfile {
		t.Errorf("country mismatch: %v", err)
	}
	// An IACA without issuerAltName.
	if _, err := NewIACACertificate(mustKey(t), CertificateOptions{Subject: pkix.Name{CommonName: "x", Country: []string{"JP"}}, NotAfter: testNow}); CodeOf(err) != CodeCertificateProfile {
		t.Errorf("IACA without IAN: %v", err)
	}
}

func TestReaderRoles(t *testing.T) {
	p := fixturePKI(t)
	for _, roles := range []ReaderRoles{{}, {MedicalInstitution: true}, {IndividualNumber: true}, {true, true}} {
		c, err := NewReaderCertificate(mustKey(t).Public(), p.readerCA, p.readerCAKey, CertificateOptions{
			Subject: pkix.Name{CommonName: "clinic"}, NotBefore: testNow, NotAfter: testNow.Add(time.Hour), Policies: roles.Policies(),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := ReaderRolesOf(c); got != roles {
			t.Errorf("roles %+v read back as %+v", roles, got)
		}
	}
}

func TestStatusListSignerTrust(t *testing.T) {
	p := fixturePKI(t)
	k := mustKey(t)
	c, err := NewStatusListSignerCertificate(k.Public(), p.iaca, p.iacaKey, CertificateOptions{
		Subject: pkix.Name{CommonName: "status lists"}, NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewTrustStore(PurposeStatusList, true, p.iaca).VerifyChain([][]byte{c.Raw}, testNow); err != nil {
		t.Fatalf("status list signer not trusted: %v", err)
	}
	// It is not a Document Signer: a DS trust store refuses it.
	if _, err := p.trust().VerifyChain([][]byte{c.Raw}, testNow); CodeOf(err) != CodeCertificateProfile {
		t.Errorf("status list signer accepted as DS: %v", err)
	}
}

func TestRequestedAgeOverNearestAnswer(t *testing.T) {
	p := fixturePKI(t)
	dev := mustKey(t)
	is := issueFixture(t, p, DocTypeMNC, mncElements(), dev, nil)
	eReader, _ := ecdh.P256().GenerateKey(nil)
	st := testTranscript(t, eReader)
	// Asked age_over_19, answered age_over_20 (§7.2.5): accepted.
	resp, err := ParseDeviceResponse(presentResponse(t, is, map[string][]string{NameSpaceISO23220: {"age_over_20"}}, PresentOptions{SessionTranscript: st, DeviceSigner: dev}))
	if err != nil {
		t.Fatal(err)
	}
	opts := &VerifyOptions{Trust: p.trust(), CurrentTime: testNow, SessionTranscript: st, Request: map[string][]string{NameSpaceISO23220: {"age_over_19"}}}
	rr := VerifyDeviceResponse(resp, opts)
	if !rr.Valid || len(rr.Documents[0].NotReturned) != 0 {
		t.Fatalf("nearest age answer refused: %v, not returned %v", rr.Documents[0].Errors, rr.Documents[0].NotReturned)
	}
	// But an age answer to a request that asked no age is still extra.
	opts.Request = map[string][]string{NameSpaceISO23220: {"family_name"}}
	if rr := VerifyDeviceResponse(resp, opts); rr.Valid {
		t.Fatal("unrequested age_over accepted")
	}
}

func TestParseCertificates(t *testing.T) {
	p := fixturePKI(t)
	bundle := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.iaca.Raw}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}})...)
	bundle = append(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.ds.Raw})...)
	cs, err := ParseCertificates(bundle)
	if err != nil || len(cs) != 2 || !cs[1].Equal(p.ds) {
		t.Fatalf("PEM bundle: %d certificates, %v", len(cs), err)
	}
	if cs, err := ParseCertificates(p.iaca.Raw); err != nil || len(cs) != 1 {
		t.Fatalf("DER: %v", err)
	}
	for _, bad := range [][]byte{nil, []byte("garbage"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2}})} {
		if _, err := ParseCertificates(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestRequestedAgeOverExact: a returned age_over_MM answers a request for
// age_over_NN only when its value settles the question.
func TestRequestedAgeOverExact(t *testing.T) {
	cases := []struct {
		name     string
		returned []ElementResult
		asked    string
		ok       bool
	}{
		{"same element", []ElementResult{{Identifier: "age_over_20", Value: false, Valid: true}}, "age_over_20", true},
		{"true above", []ElementResult{{Identifier: "age_over_21", Value: true, Valid: true}}, "age_over_20", true},
		{"false below", []ElementResult{{Identifier: "age_over_18", Value: false, Valid: true}}, "age_over_20", true},
		{"true below does not answer", []ElementResult{{Identifier: "age_over_18", Value: true, Valid: true}}, "age_over_20", false},
		{"false above does not answer", []ElementResult{{Identifier: "age_over_21", Value: false, Valid: true}}, "age_over_20", false},
		{"not a boolean", []ElementResult{{Identifier: "age_over_21", Value: "yes", Valid: true}}, "age_over_20", false},
	}
	for _, c := range cases {
		r := &DocumentResult{DocType: DocTypeMNC}
		for _, e := range c.returned {
			e.NameSpace = NameSpaceISO23220
			r.Elements = append(r.Elements, e)
		}
		checkRequested(r, map[string][]string{NameSpaceISO23220: {c.asked}})
		if got := len(r.NotReturned) == 0 && len(r.Errors) == 0; got != c.ok {
			t.Errorf("%s: answered=%v, want %v (not returned %v, errors %v)", c.name, got, c.ok, r.NotReturned, r.Errors)
		}
	}
}
