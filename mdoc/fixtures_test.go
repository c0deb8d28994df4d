package mdoc

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"sync"
	"testing"
	"time"
)

// testNow is the fixed clock of the round-trip tests.
var testNow = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

type testPKI struct {
	iacaKey, dsKey *ecdsa.PrivateKey
	iaca, ds       *x509.Certificate
	readerCAKey    *ecdsa.PrivateKey
	readerCA       *x509.Certificate
	readerKey      *ecdsa.PrivateKey
	reader         *x509.Certificate
}

var (
	pkiOnce sync.Once
	pkiVal  *testPKI
	pkiErr  error
)

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fixturePKI returns an IACA, a Document Signer, a reader CA and a reader
// certificate made with the package's own Annex B constructors.
func fixturePKI(t testing.TB) *testPKI {
	t.Helper()
	pkiOnce.Do(func() {
		p := &testPKI{}
		gen := func() *ecdsa.PrivateKey { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k }
		p.iacaKey, p.dsKey, p.readerCAKey, p.readerKey = gen(), gen(), gen(), gen()
		nb := testNow.Add(-24 * time.Hour)
		p.iaca, pkiErr = NewIACACertificate(p.iacaKey, CertificateOptions{
			Subject:   pkix.Name{CommonName: "Test IACA", Country: []string{"JP"}},
			NotBefore: nb, NotAfter: nb.Add(10 * 365 * 24 * time.Hour),
			IssuerAltNameURI: "https://issuer.example.jp", CRLDistributionPoint: "https://issuer.example.jp/iaca.crl",
		})
		if pkiErr != nil {
			return
		}
		p.ds, pkiErr = NewDocumentSignerCertificate(p.dsKey.Public(), p.iaca, p.iacaKey, CertificateOptions{
			Subject:   pkix.Name{CommonName: "Test DS"},
			NotBefore: nb, NotAfter: nb.Add(365 * 24 * time.Hour),
		})
		if pkiErr != nil {
			return
		}
		p.readerCA, pkiErr = NewIACACertificate(p.readerCAKey, CertificateOptions{
			Subject:   pkix.Name{CommonName: "Test Reader CA", Country: []string{"JP"}},
			NotBefore: nb, NotAfter: nb.Add(10 * 365 * 24 * time.Hour),
			IssuerAltNameURI: "https://issuer.example.jp", CRLDistributionPoint: "https://issuer.example.jp/reader.crl",
		})
		if pkiErr != nil {
			return
		}
		p.reader, pkiErr = NewReaderCertificate(p.readerKey.Public(), p.readerCA, p.readerCAKey, CertificateOptions{
			Subject:   pkix.Name{CommonName: "Test Shop Reader", Country: []string{"JP"}},
			NotBefore: nb, NotAfter: nb.Add(365 * 24 * time.Hour),
		})
		pkiVal = p
	})
	if pkiErr != nil {
		t.Fatalf("fixture PKI: %v", pkiErr)
	}
	return pkiVal
}

func (p *testPKI) trust() *TrustStore {
	return NewTrustStore(PurposeDocumentSigner, true, p.iaca)
}

// mncElements is a My Number Card document (DocTypeMNC, 12 elements).
func mncElements() map[string][]Element {
	return map[string][]Element{
		NameSpaceISO23220: {
			{"family_name", "山田"},
			{"given_name", "太郎"},
			{"birth_date", FullDate{1990, 4, 1}},
			{"sex", 1},
			{"age_in_years", 35},
			{"age_birth_year", 1990},
			{"age_over_18", true},
			{"age_over_20", true},
			{"issuing_country", "JP"},
		},
		NameSpaceJP: {
			{"full_name_unicode", "山田　太郎"},
			{"resident_address_unicode", "東京都千代田区霞が関二丁目1番2号"},
			{"birth_date_unicode", "1990年4月1日"},
		},
	}
}

func hicElements() map[string][]Element {
	return map[string][]Element{
		NameSpaceHIC: {
			{"insurer_number", "06139999"},
			{"insured_card_symbol", "記号1"},
			{"insured_number", "12345"},
			{"insured_branch_number", "01"},
			{"insured_relationship", 1},
			{"qualification_valid_from", FullDate{2024, 4, 1}},
			{"qualification_valid_until", FullDate{2027, 3, 31}},
			{"copayment_ratio", 30},
		},
	}
}

// issueFixture issues docType with elements bound to deviceKey.
func issueFixture(t testing.TB, p *testPKI, docType string, elements map[string][]Element, deviceKey *ecdsa.PrivateKey, mod func(*IssueOptions)) *IssuerSigned {
	t.Helper()
	o := IssueOptions{
		DocType:    docType,
		NameSpaces: elements,
		DeviceKey:  deviceKey.Public(),
		Signed:     testNow.Add(-time.Hour),
		ValidFrom:  testNow.Add(-time.Hour),
		ValidUntil: testNow.Add(30 * 24 * time.Hour),
		Status:     &StatusListRef{Idx: 7, URI: "https://issuer.example.jp/status/1"},
		Signer:     p.dsKey,
		Chain:      [][]byte{p.ds.Raw},
	}
	if mod != nil {
		mod(&o)
	}
	is, err := Issue(o)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return is
}

// testTranscript is a QR-engagement style SessionTranscript with a fresh
// reader key: [DeviceEngagementBytes, EReaderKeyBytes, null].
func testTranscript(t testing.TB, eReader *ecdh.PrivateKey) []byte {
	t.Helper()
	ek, err := NewCOSEKey(eReader.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	ekb, err := NewEncodedCBOR(ek)
	if err != nil {
		t.Fatal(err)
	}
	de, err := WrapEncodedCBOR([]byte{0xa1, 0x00, 0x63, '1', '.', '0'})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := Marshal([]any{de, ekb, nil})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
