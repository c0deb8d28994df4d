package oid4vci

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"time"
)

// Online qualification confirmation (オンライン資格確認): a medical
// institution's reader that has authenticated a My Number Card (or a
// phone's JPKI applet) with its user-authentication certificate asks the
// issuer which health-insurance qualification that certificate is linked
// to. The link is made once by the holder (InsuranceRegistration, the
// マイナ保険証 registration: the card proves both of its keys) or by the
// issuer itself for the phone certificates it issued.
//
// Both messages bind the card's authentication to a fresh issuer nonce
// (PathNonce): the card signs the nonce with its auth key after the PIN,
// so a reader cannot replay a certificate it saw earlier.
const (
	// PathInsuranceRegistration takes an InsuranceRegistrationRequest.
	PathInsuranceRegistration = "/mnc/insurance-registration"
	// PathQualification takes a QualificationRequestBody and answers a
	// QualificationResponse.
	PathQualification = "/mnc/qualification"

	// TypInsuranceRegistration is signed by the card's signature key
	// (RS256, x5c = [card signature certificate]).
	TypInsuranceRegistration = "mnc-insurance-registration+jwt"
	// TypQualificationRequest is signed by the reader's key (ES256, x5c =
	// the reader certificate chain issued by the issuer's reader CA with
	// the medical-institution role).
	TypQualificationRequest = "mnc-qualification-request+jwt"

	// MaxReaderChain bounds the x5c of a qualification request.
	MaxReaderChain = 4
	// MaxCertificateLen bounds one base64 certificate claim.
	MaxCertificateLen = 8 << 10
)

// AuthProof is a JPKI user authentication over an issuer nonce: the auth
// certificate and the card's RSASSA-PKCS1-v1_5 SHA-256 signature over the
// nonce's bytes, both standard base64.
type AuthProof struct {
	AuthCertificate string `json:"auth_certificate"`
	AuthSignature   string `json:"auth_signature"`
}

// Decode returns the certificate DER and the signature.
func (p AuthProof) Decode(code string) (certDER, sig []byte, err error) {
	if len(p.AuthCertificate) > MaxCertificateLen || len(p.AuthSignature) > MaxCertificateLen {
		return nil, nil, NewError(code, ReasonTooLarge, "auth proof over %d bytes", MaxCertificateLen)
	}
	if certDER, err = base64.StdEncoding.DecodeString(p.AuthCertificate); err != nil || len(certDER) == 0 {
		return nil, nil, NewError(code, ReasonMalformed, "auth_certificate is not base64 DER")
	}
	if sig, err = base64.StdEncoding.DecodeString(p.AuthSignature); err != nil || len(sig) == 0 {
		return nil, nil, NewError(code, ReasonMalformed, "auth_signature is not base64")
	}
	return certDER, sig, nil
}

// NewAuthProof encodes a certificate and signature.
func NewAuthProof(certDER, sig []byte) AuthProof {
	return AuthProof{AuthCertificate: base64.StdEncoding.EncodeToString(certDER), AuthSignature: base64.StdEncoding.EncodeToString(sig)}
}

// InsuranceRegistration links the card's user-authentication certificate
// to the person of its signature certificate. The JWS signature proves the
// signature key; AuthProof over Nonce proves the auth key of the same card.
type InsuranceRegistration struct {
	Audience Audience `json:"aud"`
	Nonce    string   `json:"nonce"`
	IssuedAt int64    `json:"iat"`
	AuthProof
}

// InsuranceRegistrationRequest is the body of PathInsuranceRegistration.
type InsuranceRegistrationRequest struct {
	Registration string `json:"registration"`
}

// InsuranceRegistrationResponse confirms a registration.
type InsuranceRegistrationResponse struct {
	Linked bool `json:"linked"`
	// Qualified says whether a valid qualification is on record for the
	// person now (a registration may precede the insurer's data).
	Qualified bool `json:"qualified"`
}

// SignInsuranceRegistration signs r with the card's signature key.
func SignInsuranceRegistration(r *InsuranceRegistration, signCertDER []byte, signer crypto.Signer) (string, error) {
	if r.IssuedAt == 0 {
		r.IssuedAt = time.Now().Unix()
	}
	return signWithX5C(signer, TypInsuranceRegistration, r, signCertDER)
}

// ParseInsuranceRegistration decodes and checks the payload of a verified
// registration (aud, nonce present, iat).
func ParseInsuranceRegistration(payload []byte, o CheckOptions) (*InsuranceRegistration, error) {
	const code = CodeInvalidRequest
	if len(payload) > MaxJWTLen {
		return nil, NewError(code, ReasonTooLarge, "registration is %d bytes", len(payload))
	}
	var r InsuranceRegistration
	if err := decodeJSON(payload, &r); err != nil {
		return nil, wrapErr(code, ReasonMalformed, err, "decode insurance registration")
	}
	if err := checkCommon(r.Audience, r.Nonce, r.IssuedAt, o, code); err != nil {
		return nil, err
	}
	return &r, nil
}

// QualificationRequest is a medical institution reader's question: "which
// qualification is this authenticated card linked to?"
type QualificationRequest struct {
	Audience Audience `json:"aud"`
	Nonce    string   `json:"nonce"`
	IssuedAt int64    `json:"iat"`
	AuthProof
}

// QualificationRequestBody is the body of PathQualification.
type QualificationRequestBody struct {
	Request string `json:"request"`
}

// Qualification is the answer's qualification elements: only what a
// counter needs to bill, nothing else of the person.
type Qualification struct {
	InsurerNumber       string `json:"insurer_number"`
	InsuredCardSymbol   string `json:"insured_card_symbol"`
	InsuredNumber       string `json:"insured_number"`
	InsuredBranchNumber string `json:"insured_branch_number"`
	InsuredRelationship int    `json:"insured_relationship"`
	ValidFrom           string `json:"qualification_valid_from"`
	ValidUntil          string `json:"qualification_valid_until,omitempty"`
	CopaymentRatio      int    `json:"copayment_ratio"`
}

// Codes of QualificationResponse.Code.
const (
	QualificationOK          = "qualified"
	QualificationNotLinked   = "not_linked"  // the certificate was never registered for insurance use
	QualificationNoRecord    = "no_record"   // linked, but no qualification on record
	QualificationNotValid    = "not_valid"   // a qualification is on record but not valid today
	QualificationUnavailable = "unavailable" // this issuer keeps no links
)

// QualificationResponse answers a QualificationRequest.
type QualificationResponse struct {
	Qualified     bool           `json:"qualified"`
	Code          string         `json:"code"`
	Description   string         `json:"description,omitempty"`
	Qualification *Qualification `json:"qualification,omitempty"`
	// CheckedAt is the issuer's time of the check.
	CheckedAt time.Time `json:"checked_at"`
}

// SignQualificationRequest signs r with the reader's key; chain is the
// reader certificate first, then any intermediates.
func SignQualificationRequest(r *QualificationRequest, chain [][]byte, signer crypto.Signer) (string, error) {
	if r.IssuedAt == 0 {
		r.IssuedAt = time.Now().Unix()
	}
	x5c := make([]string, len(chain))
	for i, der := range chain {
		x5c[i] = base64.StdEncoding.EncodeToString(der)
	}
	return signJWS(signer, TypQualificationRequest, r, map[string]any{"x5c": x5c})
}

// VerifyQualificationOptions configure VerifyQualificationRequest.
type VerifyQualificationOptions struct {
	CheckOptions
	// Roots are the reader CAs whose certificates may ask. Required.
	Roots *x509.CertPool
	// CheckReader applies the caller's policy to the verified reader
	// certificate (role, revocation); nil accepts any.
	CheckReader func(leaf *x509.Certificate) error
}

// VerifyQualificationRequest checks a reader's request: typ, the x5c
// chain to Roots at Now with the mdoc reader-authentication EKU (ISO/IEC
// 18013-5:2021 Annex B.1.7, 1.0.18013.5.1.6), CheckReader, the ES256
// signature by the leaf, aud, nonce and iat. It returns the request and
// the reader certificate.
func VerifyQualificationRequest(compact string, o VerifyQualificationOptions) (*QualificationRequest, *x509.Certificate, error) {
	const code = CodeInvalidRequest
	p, err := parseJWS(compact, TypQualificationRequest, code)
	if err != nil {
		return nil, nil, err
	}
	certs, err := p.x5c(MaxReaderChain, code)
	if err != nil {
		return nil, nil, err
	}
	if o.Roots == nil {
		return nil, nil, NewError(code, ReasonUntrusted, "no reader CA configured")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: o.Roots, Intermediates: inter, CurrentTime: orNow(o.Now), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, nil, wrapErr(code, ReasonUntrusted, err, "reader certificate chain")
	}
	if !hasReaderAuthEKU(certs[0]) {
		return nil, nil, NewError(code, ReasonUntrusted, "the certificate is not an mdoc reader-authentication certificate")
	}
	if o.CheckReader != nil {
		if err := o.CheckReader(certs[0]); err != nil {
			return nil, nil, wrapErr(code, ReasonUntrusted, err, "reader")
		}
	}
	if err := p.verify(certs[0].PublicKey, code); err != nil {
		return nil, nil, err
	}
	var r QualificationRequest
	if err := decodeJSON(p.payload, &r); err != nil {
		return nil, nil, wrapErr(code, ReasonMalformed, err, "decode qualification request")
	}
	if err := checkCommon(r.Audience, r.Nonce, r.IssuedAt, o.CheckOptions, code); err != nil {
		return nil, nil, err
	}
	return &r, certs[0], nil
}

// hasReaderAuthEKU reports whether c carries the mdoc reader
// authentication extended key usage 1.0.18013.5.1.6.
func hasReaderAuthEKU(c *x509.Certificate) bool {
	for _, oid := range c.UnknownExtKeyUsage {
		if oid.String() == "1.0.18013.5.1.6" {
			return true
		}
	}
	return false
}

// RegisterInsurance sends a card-signed insurance registration.
func (c *Client) RegisterInsurance(ctx context.Context, registration string) (*InsuranceRegistrationResponse, error) {
	var out InsuranceRegistrationResponse
	return &out, c.postJSON(ctx, PathInsuranceRegistration, InsuranceRegistrationRequest{Registration: registration}, "", &out)
}

// ConfirmQualification sends a reader-signed qualification request.
func (c *Client) ConfirmQualification(ctx context.Context, request string) (*QualificationResponse, error) {
	var out QualificationResponse
	return &out, c.postJSON(ctx, PathQualification, QualificationRequestBody{Request: request}, "", &out)
}
