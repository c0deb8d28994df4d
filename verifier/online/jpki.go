package online

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/jpkiauth"
)

type jpkiService struct {
	v   *jpki.Verifier
	svc *jpkiauth.Service
	now func() time.Time
}

func newJPKIService(v *jpki.Verifier, now func() time.Time, ttl time.Duration) *jpkiService {
	return &jpkiService{v: v, svc: jpkiauth.New(v, ttl, now), now: now}
}

// JPKIChallenge is the answer of POST /jpki/challenge; the nonce is
// base64 (standard).
type JPKIChallenge struct {
	ID    string `json:"id"`
	Nonce string `json:"nonce"`
}

// JPKILogin is the body of POST /jpki/login: base64 (standard) DER
// certificate and signature.
type JPKILogin struct {
	ID          string `json:"id"`
	Certificate string `json:"certificate"`
	Signature   string `json:"signature"`
}

// JPKISignature is the body of POST /jpki/signature (all base64).
type JPKISignature struct {
	Data        string `json:"data"`
	Signature   string `json:"signature"`
	Certificate string `json:"certificate"`
}

// jpkiEnabled fails when no JPKI verifier is configured.
func (s *Service) jpkiEnabled() error {
	if s.jpki == nil {
		return &mdoc.Error{Code: mdoc.CodeUnsupported, Detail: "online: JPKI is not configured (--jpki-roots)"}
	}
	return nil
}

// JPKIChallenge starts a JPKI login: a fresh nonce for the card to sign.
func (s *Service) JPKIChallenge() (*JPKIChallenge, error) {
	if err := s.jpkiEnabled(); err != nil {
		return nil, err
	}
	id, nonce, err := s.jpki.svc.Challenge()
	if err != nil {
		return nil, codeErr(CodeTooManyTransactions, err.Error())
	}
	return &JPKIChallenge{ID: id, Nonce: base64.StdEncoding.EncodeToString(nonce)}, nil
}

// JPKILogin checks the card's signature over challenge id's nonce with its
// user-authentication certificate (chain and CRL).
func (s *Service) JPKILogin(ctx context.Context, id string, certDER, signature []byte) (*verifier.Result, error) {
	if err := s.jpkiEnabled(); err != nil {
		return nil, err
	}
	return s.jpki.svc.Login(ctx, id, certDER, signature), nil
}

// JPKIVerifySignature checks a JPKI document signature over data with its
// signature certificate (chain and CRL).
func (s *Service) JPKIVerifySignature(ctx context.Context, data, signature, certDER []byte) (*verifier.Result, error) {
	if err := s.jpkiEnabled(); err != nil {
		return nil, err
	}
	return jpkiauth.VerifySignature(ctx, s.jpki.v, data, signature, certDER, s.jpki.now()), nil
}
