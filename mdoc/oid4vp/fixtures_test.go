package oid4vp

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"sync"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type readerPKI struct {
	caKey, key *ecdsa.PrivateKey
	ca, cert   *x509.Certificate
}

var (
	pkiOnce sync.Once
	pkiVal  *readerPKI
	pkiErr  error
)

// sanDNS builds a subjectAltName extension with one dNSName.
func sanDNS(name string) pkix.Extension {
	v, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(name)}})
	if err != nil {
		panic(err)
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: v}
}

// fixtureReader returns a reader CA and a reader certificate for
// "verifier.example.jp" with the medical-institution role.
func fixtureReader(t testing.TB) *readerPKI {
	t.Helper()
	pkiOnce.Do(func() {
		p := &readerPKI{}
		p.caKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		p.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		nb := testNow.Add(-24 * time.Hour)
		p.ca, pkiErr = mdoc.NewIACACertificate(p.caKey, mdoc.CertificateOptions{
			Subject:   pkix.Name{CommonName: "Test Reader CA", Country: []string{"JP"}},
			NotBefore: nb, NotAfter: nb.Add(5 * 365 * 24 * time.Hour),
			IssuerAltNameURI: "https://verifier.example.jp", CRLDistributionPoint: "https://verifier.example.jp/ca.crl",
		})
		if pkiErr != nil {
			return
		}
		p.cert, pkiErr = mdoc.NewReaderCertificate(p.key.Public(), p.ca, p.caKey, mdoc.CertificateOptions{
			Subject:         pkix.Name{CommonName: "Test Clinic Reader", Country: []string{"JP"}},
			NotBefore:       nb,
			NotAfter:        nb.Add(365 * 24 * time.Hour),
			ExtraExtensions: []pkix.Extension{sanDNS("verifier.example.jp")},
			Policies:        mdoc.ReaderRoles{MedicalInstitution: true}.Policies(),
		})
		pkiVal = p
	})
	if pkiErr != nil {
		t.Fatalf("reader PKI: %v", pkiErr)
	}
	return pkiVal
}

func (p *readerPKI) trust() *mdoc.TrustStore {
	return mdoc.NewTrustStore(mdoc.PurposeReaderAuth, false, p.ca)
}

// newRequest returns a valid request object with a fresh encryption key.
func newRequest(t testing.TB, clientID string) (*RequestObject, *ecdh.PrivateKey) {
	t.Helper()
	ek, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := NewEncryptionJWK(ek.PublicKey(), "k1")
	if err != nil {
		t.Fatal(err)
	}
	q := NewMdocCredentialQuery("mnc", mdoc.DocTypeMNC, map[string][]string{mdoc.NameSpaceISO23220: {"age_over_20"}}, false)
	return &RequestObject{
		Audience:     AudienceSelfIssued,
		ClientID:     clientID,
		ResponseType: ResponseTypeVPToken,
		ResponseMode: ResponseModeDirectPostJWT,
		ResponseURI:  "https://verifier.example.jp/oid4vp/response/tx1",
		Nonce:        "n-0S6_WzA2Mj",
		State:        "tx1",
		DCQLQuery:    &DCQLQuery{Credentials: []CredentialQuery{q}},
		ClientMetadata: &ClientMetadata{
			JWKS:                                &JWKS{Keys: []JWK{jwk}},
			EncryptedResponseEncValuesSupported: []string{EncA128GCM, EncA256GCM},
		},
		IssuedAt:  testNow.Unix(),
		ExpiresAt: testNow.Add(5 * time.Minute).Unix(),
	}, ek
}

func pkixName(cn string) pkix.Name { return pkix.Name{CommonName: cn, Country: []string{"JP"}} }
