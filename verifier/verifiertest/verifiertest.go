// Package verifiertest builds the test material the verifier's tests share: an
// issuer (IACA, Document Signer, status-list signer) made with the mdoc
// Annex B constructors, a reader CA and reader certificate, documents
// issued with mdoc.Issue and presented with mdoc.Present as a wallet
// would, and an httptest Token Status List server. It is test support
// only; nothing in it is used in production code.
package verifiertest

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/cert"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

// Now is the fixed clock of the verifier tests.
var Now = time.Date(2025, 6, 1, 3, 0, 0, 0, time.UTC)

// Issuer is an IACA with its Document Signer and status-list signer.
type Issuer struct {
	IACAKey, DSKey, StatusKey *ecdsa.PrivateKey
	IACA, DS, StatusSigner    *x509.Certificate
}

func key() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// NewIssuer makes an issuer whose certificates are valid around Now.
func NewIssuer(name string) (*Issuer, error) {
	is := &Issuer{IACAKey: key(), DSKey: key(), StatusKey: key()}
	nb := Now.Add(-30 * 24 * time.Hour)
	var err error
	is.IACA, err = mdoc.NewIACACertificate(is.IACAKey, mdoc.CertificateOptions{
		Subject:   pkix.Name{CommonName: name + " IACA", Country: []string{"JP"}},
		NotBefore: nb, NotAfter: nb.Add(10 * 365 * 24 * time.Hour),
		IssuerAltNameURI: "https://" + name + ".example.jp", CRLDistributionPoint: "https://" + name + ".example.jp/iaca.crl",
	})
	if err != nil {
		return nil, err
	}
	is.DS, err = mdoc.NewDocumentSignerCertificate(is.DSKey.Public(), is.IACA, is.IACAKey, mdoc.CertificateOptions{
		Subject: pkix.Name{CommonName: name + " DS"}, NotBefore: nb, NotAfter: nb.Add(400 * 24 * time.Hour),
	})
	if err != nil {
		return nil, err
	}
	is.StatusSigner, err = mdoc.NewStatusListSignerCertificate(is.StatusKey.Public(), is.IACA, is.IACAKey, mdoc.CertificateOptions{
		Subject: pkix.Name{CommonName: name + " Status List Signer"}, NotBefore: nb, NotAfter: nb.Add(400 * 24 * time.Hour),
	})
	if err != nil {
		return nil, err
	}
	return is, nil
}

// Reader is a reader CA and one reader certificate.
type Reader struct {
	CAKey, Key *ecdsa.PrivateKey
	CA, Cert   *x509.Certificate
}

// NewReader makes a reader certificate with roles and, when dns is not
// empty, a dNSName subjectAltName (for OpenID4VP x509_san_dns).
func NewReader(roles mdoc.ReaderRoles, dns string) (*Reader, error) {
	r := &Reader{CAKey: key(), Key: key()}
	nb := Now.Add(-30 * 24 * time.Hour)
	var err error
	r.CA, err = mdoc.NewIACACertificate(r.CAKey, mdoc.CertificateOptions{
		Subject:   pkix.Name{CommonName: "Test Reader CA", Country: []string{"JP"}},
		NotBefore: nb, NotAfter: nb.Add(5 * 365 * 24 * time.Hour),
		IssuerAltNameURI: "https://readers.example.jp", CRLDistributionPoint: "https://readers.example.jp/ca.crl",
	})
	if err != nil {
		return nil, err
	}
	o := mdoc.CertificateOptions{
		Subject:   pkix.Name{CommonName: "Test Reader", Country: []string{"JP"}},
		NotBefore: nb, NotAfter: nb.Add(365 * 24 * time.Hour), Policies: roles.Policies(),
	}
	if dns != "" {
		v, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(dns)}})
		if err != nil {
			return nil, err
		}
		o.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: v}}
	}
	r.Cert, err = mdoc.NewReaderCertificate(r.Key.Public(), r.CA, r.CAKey, o)
	return r, err
}

// MNCElements is a My Number Card document (mdoc.DocTypeMNC) for a person
// born on birth.
func MNCElements(birth mdoc.FullDate, ageOver map[int]bool) map[string][]mdoc.Element {
	els := []mdoc.Element{
		{Identifier: "family_name", Value: "山田"},
		{Identifier: "given_name", Value: "太郎"},
		{Identifier: "birth_date", Value: birth},
		{Identifier: "sex", Value: 1},
		{Identifier: "issuing_country", Value: "JP"},
	}
	for nn, v := range ageOver {
		els = append(els, mdoc.Element{Identifier: mdoc.AgeOverID(nn), Value: v})
	}
	return map[string][]mdoc.Element{
		mdoc.NameSpaceISO23220: els,
		mdoc.NameSpaceJP: {
			{Identifier: "full_name_unicode", Value: "山田　太郎"},
			{Identifier: "resident_address_unicode", Value: "東京都千代田区霞が関二丁目1番2号"},
		},
	}
}

// HICElements is a health-insurance qualification document valid from
// from until until.
func HICElements(from, until mdoc.FullDate) map[string][]mdoc.Element {
	return map[string][]mdoc.Element{mdoc.NameSpaceHIC: {
		{Identifier: "insurer_number", Value: "06139999"},
		{Identifier: "insured_card_symbol", Value: "記号1"},
		{Identifier: "insured_number", Value: "12345"},
		{Identifier: "insured_branch_number", Value: "01"},
		{Identifier: "insured_relationship", Value: 1},
		{Identifier: "qualification_valid_from", Value: from},
		{Identifier: "qualification_valid_until", Value: until},
		{Identifier: "copayment_ratio", Value: 30},
	}}
}

// Issue issues docType bound to deviceKey, valid around Now, with an
// optional status reference; mod may change the options.
func (is *Issuer) Issue(docType string, elements map[string][]mdoc.Element, deviceKey *ecdsa.PrivateKey, status *mdoc.StatusListRef, mod func(*mdoc.IssueOptions)) (*mdoc.IssuerSigned, error) {
	o := mdoc.IssueOptions{
		DocType: docType, NameSpaces: elements, DeviceKey: deviceKey.Public(),
		Signed: Now.Add(-time.Hour), ValidFrom: Now.Add(-time.Hour), ValidUntil: Now.Add(30 * 24 * time.Hour),
		Status: status, Signer: is.DSKey, Chain: [][]byte{is.DS.Raw},
	}
	if mod != nil {
		mod(&o)
	}
	return mdoc.Issue(o)
}

// DeviceKey returns a fresh device (holder) key.
func DeviceKey() *ecdsa.PrivateKey { return key() }

// Present releases selection of each document with a device signature
// over transcript and returns the encoded DeviceResponse.
func Present(transcript []byte, docs ...Presented) ([]byte, error) {
	var out []mdoc.Document
	for _, p := range docs {
		o := mdoc.PresentOptions{SessionTranscript: transcript}
		if p.EReaderKey != nil {
			k, err := p.DeviceKey.ECDH()
			if err != nil {
				return nil, err
			}
			o.DeviceKeyAgreement, o.EReaderKey = k, p.EReaderKey
		} else {
			o.DeviceSigner = p.DeviceKey
		}
		d, err := mdoc.Present(p.IssuerSigned, p.Selection, o)
		if err != nil {
			return nil, err
		}
		out = append(out, *d)
	}
	return mdoc.NewDeviceResponse(out, nil).Encode()
}

// Presented is one document to present.
type Presented struct {
	IssuerSigned *mdoc.IssuerSigned
	Selection    map[string][]string
	DeviceKey    *ecdsa.PrivateKey
	// EReaderKey selects deviceMac instead of deviceSignature.
	EReaderKey *ecdh.PublicKey
}

// QRTranscript returns a proximity SessionTranscript (QR handover) for a
// fresh engagement and reader key, and the reader's ephemeral private key.
func QRTranscript() (*mdoc.SessionTranscript, *ecdh.PrivateKey, error) {
	ed, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	er, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	de, err := mdoc.NewDeviceEngagement(ed.PublicKey())
	if err != nil {
		return nil, nil, err
	}
	ek, err := mdoc.NewCOSEKey(er.PublicKey())
	if err != nil {
		return nil, nil, err
	}
	ekb, err := mdoc.NewEncodedCBOR(ek)
	if err != nil {
		return nil, nil, err
	}
	deb := de.Bytes()
	st, err := mdoc.NewSessionTranscript(&deb, &ekb, mdoc.QRHandover())
	return st, er, err
}

// StatusServer serves one issuer's Token Status List at /status/1.
type StatusServer struct {
	*httptest.Server
	Issuer *Issuer
	TTL    time.Duration
	Exp    time.Duration // 0: no exp
	Clock  func() time.Time

	mu   sync.Mutex
	list *mdoc.StatusList
	down atomic.Bool
	Hits atomic.Int64
	// SignWith, when set, signs with another issuer's status key and chain
	// (a token from the wrong IACA).
	SignWith *Issuer
	// JWT serves the JWT form (application/statuslist+jwt) instead of CWT.
	JWT bool
	// Replay, when set, is served verbatim instead of a freshly signed
	// token (an old token replayed by whoever sits on the path).
	Replay []byte
}

// NewStatusServer starts a status server with size entries, all valid.
func NewStatusServer(is *Issuer, size int) (*StatusServer, error) {
	l, err := mdoc.NewStatusList(2, size)
	if err != nil {
		return nil, err
	}
	s := &StatusServer{Issuer: is, list: l, TTL: 5 * time.Minute, Clock: func() time.Time { return Now }}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s, nil
}

// URI is the status list uri credentials reference.
func (s *StatusServer) URI() string { return s.URL + "/status/1" }

// Ref returns the status reference for index idx.
func (s *StatusServer) Ref(idx uint64) *mdoc.StatusListRef {
	return &mdoc.StatusListRef{Idx: idx, URI: s.URI()}
}

// Set sets the status of idx.
func (s *StatusServer) Set(idx uint64, status uint8) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.list.Set(idx, status)
}

// SetDown makes the server answer 503 (down) or serve again.
func (s *StatusServer) SetDown(down bool) { s.down.Store(down) }

func (s *StatusServer) serve(w http.ResponseWriter, r *http.Request) {
	s.Hits.Add(1)
	if s.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path != "/status/1" {
		http.NotFound(w, r)
		return
	}
	signer := s.Issuer
	if s.SignWith != nil {
		signer = s.SignWith
	}
	if s.Replay != nil {
		_, _ = w.Write(s.Replay)
		return
	}
	tok, err := s.Token(signer)
	if err != nil {
		http.Error(w, fmt.Sprint(err), http.StatusInternalServerError)
		return
	}
	if s.JWT {
		w.Header().Set("Content-Type", "application/statuslist+jwt")
	} else {
		w.Header().Set("Content-Type", mdoc.StatusListCWTType)
	}
	_, _ = w.Write(tok)
}

// Token signs the current list at Clock() in the server's form (CWT, or
// JWT when s.JWT) with signer's status key.
func (s *StatusServer) Token(signer *Issuer) ([]byte, error) {
	now := s.Clock()
	claims := mdoc.StatusListClaims{Subject: s.URI(), IssuedAt: now, TTL: s.TTL}
	if s.Exp > 0 {
		claims.ExpiresAt = now.Add(s.Exp)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.JWT {
		return StatusListJWT(signer, claims, s.list)
	}
	return mdoc.SignStatusListToken(signer.StatusKey, mdoc.StatusListTokenOptions{X5Chain: [][]byte{signer.StatusSigner.Raw}}, claims, s.list)
}

// StatusListJWT signs list and claims as a Status List Token in JWT form
// (draft-ietf-oauth-status-list, "Status List Token in JWT Format") with
// signer's status key, its certificate in x5c.
func StatusListJWT(signer *Issuer, claims mdoc.StatusListClaims, list *mdoc.StatusList) ([]byte, error) {
	lst, err := list.Encode()
	if err != nil {
		return nil, err
	}
	body := map[string]any{"sub": claims.Subject, "iat": claims.IssuedAt.Unix(),
		"status_list": map[string]any{"bits": list.Bits, "lst": base64.RawURLEncoding.EncodeToString(lst)}}
	if !claims.ExpiresAt.IsZero() {
		body["exp"] = claims.ExpiresAt.Unix()
	}
	if claims.TTL > 0 {
		body["ttl"] = int64(claims.TTL / time.Second)
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	var x5c cert.Chain
	if err := x5c.Add([]byte(base64.StdEncoding.EncodeToString(signer.StatusSigner.Raw))); err != nil {
		return nil, err
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, "statuslist+jwt"); err != nil {
		return nil, err
	}
	if err := hdr.Set(jws.X509CertChainKey, &x5c); err != nil {
		return nil, err
	}
	return jws.Sign(payload, jws.WithKey(jwa.ES256(), signer.StatusKey, jws.WithProtectedHeaders(hdr)))
}
