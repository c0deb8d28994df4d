package online

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vp"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/policy"
)

// Protocols.
const (
	ProtocolOpenID4VP = "openid4vp"
	ProtocolAnnexC    = "annexc"
)

// MaxRequestedElements bounds the elements of a PurposeElements request.
const MaxRequestedElements = 64

// CreateRequest is the body of POST /api/transactions.
type CreateRequest struct {
	Protocol string `json:"protocol"`
	Purpose
}

// Created is the answer of POST /api/transactions: the invocation to show
// the wallet (QR code or link) and where to follow the transaction.
//
// The ID is public — it is in the invocation, hence in the QR code — so it
// grants nothing. The outcome is released only to the holder of Secret,
// a random value unrelated to anything the wallet sees: the creating
// client sends it as "Authorization: Bearer <secret>", and a browser that
// created the transaction also holds it in an HttpOnly cookie scoped to the
// status URI. In a same-device flow the browser the wallet sends back
// holds the response_code of the redirect_uri instead (OpenID4VP 1.0
// §8.2), which grants the same single read.
type Created struct {
	ID         string    `json:"id"`
	Protocol   string    `json:"protocol"`
	Invocation string    `json:"invocation"`
	Page       string    `json:"page"`
	StatusURI  string    `json:"statusUri"`
	Secret     string    `json:"secret"`
	Expires    time.Time `json:"expires"`
}

// Status is the answer of GET /api/transactions/{id}.
type Status struct {
	ID       string           `json:"id"`
	Protocol string           `json:"protocol"`
	Purpose  Purpose          `json:"purpose"`
	State    string           `json:"state"`
	Expires  time.Time        `json:"expires"`
	Valid    bool             `json:"valid"`
	Codes    []string         `json:"codes,omitempty"`
	Decision *policy.Decision `json:"decision,omitempty"`
	Result   *verifier.Result `json:"result,omitempty"`
}

// items returns what a purpose asks for.
func (p *Purpose) items() ([]mdoc.ItemsRequest, error) {
	switch p.Kind {
	case PurposeAge:
		if p.AgeOver < 1 || p.AgeOver > 99 {
			return nil, codeErr(oid4vp.CodeInvalidRequest, "ageOver must be 1…99")
		}
		dt := p.DocType
		if dt == "" {
			dt = mdoc.DocTypeMNC
		}
		ns := mdoc.NameSpaceISO23220
		if dt == mdoc.DocTypeMDL {
			ns = mdoc.NameSpaceMDL
		}
		return []mdoc.ItemsRequest{verifier.Items(dt, map[string][]string{ns: {mdoc.AgeOverID(p.AgeOver)}})}, nil
	case PurposeInsurance:
		return []mdoc.ItemsRequest{
			verifier.Items(mdoc.DocTypeHIC, map[string][]string{mdoc.NameSpaceHIC: {
				"insurer_number", "insured_card_symbol", "insured_number", "insured_branch_number",
				"insured_relationship", "qualification_valid_from", "qualification_valid_until", "copayment_ratio"}}),
			verifier.Items(mdoc.DocTypeMNC, map[string][]string{mdoc.NameSpaceISO23220: {"family_name", "given_name", "birth_date"}}),
		}, nil
	case PurposeElements:
		n := 0
		for _, ids := range p.Elements {
			n += len(ids)
		}
		if p.DocType == "" || n == 0 || n > MaxRequestedElements || len(p.DocType) > oid4vp.MaxIdentifierLength {
			return nil, codeErr(oid4vp.CodeInvalidRequest, fmt.Sprintf("elements needs a docType and 1…%d elements", MaxRequestedElements))
		}
		return []mdoc.ItemsRequest{verifier.Items(p.DocType, p.Elements)}, nil
	}
	return nil, codeErr(oid4vp.CodeInvalidRequest, fmt.Sprintf("unknown purpose %q (age, insurance, elements)", p.Kind))
}

func queryID(docType string, i int) string {
	switch docType {
	case mdoc.DocTypeMNC:
		return "mnc"
	case mdoc.DocTypeHIC:
		return "hic"
	case mdoc.DocTypeMDL:
		return "mdl"
	}
	return fmt.Sprintf("doc%d", i)
}

// Create makes a transaction for protocol and purpose and returns how to
// invoke the wallet.
func (s *Service) Create(ctx context.Context, req CreateRequest) (*Created, error) {
	items, err := req.Purpose.items()
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	secret := randomID(32)
	tx := &Transaction{ID: randomID(16), Protocol: req.Protocol, Purpose: req.Purpose, Created: now,
		Expires: now.Add(s.cfg.TTL), State: StatePending, Items: items, Request: verifier.Request{},
		ReadSecret: sha256.Sum256([]byte(secret))}
	for _, it := range items {
		tx.Request[it.DocType] = it.Elements()
	}
	if tx.EncKey, err = ecdh.P256().GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	var invocation string
	switch req.Protocol {
	case ProtocolOpenID4VP:
		invocation, err = s.prepareOpenID4VP(tx)
	case ProtocolAnnexC:
		invocation, err = s.prepareAnnexC(tx)
	default:
		return nil, codeErr(oid4vp.CodeInvalidRequest, fmt.Sprintf("unknown protocol %q (openid4vp, annexc)", req.Protocol))
	}
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Store.Put(ctx, tx); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "online: transaction created", "id", tx.ID, "protocol", tx.Protocol, "purpose", tx.Purpose.Kind)
	return &Created{ID: tx.ID, Protocol: tx.Protocol, Invocation: invocation, Secret: secret,
		Page: s.cfg.BaseURL + "/tx/" + tx.ID, StatusURI: s.cfg.BaseURL + "/api/transactions/" + tx.ID, Expires: tx.Expires}, nil
}

func (s *Service) prepareOpenID4VP(tx *Transaction) (string, error) {
	clientID, err := s.clientID()
	if err != nil {
		return "", err
	}
	tx.ClientID, tx.Nonce, tx.OAuthState, tx.KeyID = clientID, randomID(32), randomID(16), randomID(8)
	tx.ResponseURI = s.cfg.BaseURL + "/oid4vp/response/" + tx.ID
	jwk, err := oid4vp.NewEncryptionJWK(tx.EncKey.PublicKey(), tx.KeyID)
	if err != nil {
		return "", err
	}
	// The OpenID4VPHandover transcript (OpenID4VP 1.0 Appendix B.2.6.1)
	// depends only on the request: computed once here, not per response.
	thumb, err := jwk.Thumbprint()
	if err != nil {
		return "", err
	}
	if tx.Transcript, err = oid4vp.SessionTranscript(tx.ClientID, tx.Nonce, thumb, tx.ResponseURI); err != nil {
		return "", err
	}
	q := &oid4vp.DCQLQuery{}
	for i, it := range tx.Items {
		q.Credentials = append(q.Credentials, oid4vp.NewMdocCredentialQuery(queryID(it.DocType, i), it.DocType, it.Elements(), false))
	}
	tx.Query = q
	ro := &oid4vp.RequestObject{
		Audience: oid4vp.AudienceSelfIssued, ClientID: clientID,
		ResponseType: oid4vp.ResponseTypeVPToken, ResponseMode: oid4vp.ResponseModeDirectPostJWT,
		ResponseURI: tx.ResponseURI, Nonce: tx.Nonce, State: tx.OAuthState, DCQLQuery: q,
		ClientMetadata: &oid4vp.ClientMetadata{
			JWKS:                                &oid4vp.JWKS{Keys: []oid4vp.JWK{jwk}},
			EncryptedResponseEncValuesSupported: []string{oid4vp.EncA128GCM, oid4vp.EncA256GCM},
			VPFormatsSupported: map[string]oid4vp.MdocFormatInfo{oid4vp.FormatMsoMdoc: {
				IssuerAuthAlgValues: []int{-7, -35, -36, -8}, DeviceAuthAlgValues: []int{-7, -35, -36, -8}}},
		},
		IssuedAt: tx.Created.Unix(), ExpiresAt: tx.Expires.Unix(),
	}
	if tx.RequestJWT, err = oid4vp.SignRequestObject(s.cfg.Credentials.Key, s.cfg.Credentials.Chain, ro); err != nil {
		return "", err
	}
	return oid4vp.AuthorizationRequest{ClientID: clientID, RequestURI: s.cfg.BaseURL + "/oid4vp/request/" + tx.ID}.URI(), nil
}

func (s *Service) prepareAnnexC(tx *Transaction) (string, error) {
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	ei, err := mdoc.NewEncryptionInfo(nonce, tx.EncKey.PublicKey())
	if err != nil {
		return "", err
	}
	if tx.Transcript, err = mdoc.AnnexCSessionTranscript(ei.Base64(), s.origin); err != nil {
		return "", err
	}
	dr, err := verifier.NewDeviceRequest(tx.Items, s.cfg.Credentials, tx.Transcript.Raw, nil)
	if err != nil {
		return "", err
	}
	if tx.AnnexCRequest, err = oid4vp.NewAnnexCRequest(dr, ei); err != nil {
		return "", err
	}
	return oid4vp.AnnexCInvocation(s.cfg.BaseURL + "/annexc/request/" + tx.ID), nil
}

// judge applies the purpose's policy to a verification and records the
// outcome on tx. Age checks keep only the answer: the result with its
// elements is dropped.
func (s *Service) judge(tx *Transaction, r *verifier.Result) {
	tx.Valid, tx.Codes = r.Valid, r.Codes()
	switch tx.Purpose.Kind {
	case PurposeAge:
		d := policy.AgeOver(r, tx.Purpose.AgeOver, s.cfg.Now())
		tx.Decision, tx.Result = &d, nil
	case PurposeInsurance:
		d := policy.Insurance(r, s.cfg.Now(), policy.InsuranceOptions{})
		tx.Decision, tx.Result = &d, r
	default:
		tx.Result = r
	}
}

func (s *Service) verifyOptions(transcript []byte, req verifier.Request) verifier.Options {
	o := s.cfg.Verify
	o.SessionTranscript, o.EReaderKey, o.Request = transcript, nil, req
	o.CurrentTime = s.cfg.Now()
	return o
}

// finish stores the outcome exactly once (replays fail) and answers the
// wallet with where to send the user: the transaction page with a fresh
// response_code in the fragment (OpenID4VP 1.0 §8.2), so that in a
// same-device flow the browser the wallet returns to can read the outcome
// once, and nobody who only saw the QR code can.
func (s *Service) finish(ctx context.Context, tx *Transaction, r *verifier.Result) (*oid4vp.DirectPostResult, error) {
	code := randomID(32)
	err := s.cfg.Store.Take(ctx, tx.ID, s.cfg.Now(), func(t *Transaction) {
		s.judge(t, r)
		t.ResponseCode = sha256.Sum256([]byte(code))
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "online: presentation judged", "id", tx.ID, "valid", r.Valid, "codes", r.Codes())
	if s.cfg.Outcome != nil {
		s.cfg.Outcome(tx.Protocol, r.Valid, r.Codes())
	}
	return &oid4vp.DirectPostResult{RedirectURI: s.cfg.BaseURL + "/tx/" + tx.ID + "#response_code=" + code}, nil
}

// Grant is what a caller presents to read a transaction's outcome: the
// secret given at creation, or the response_code of the redirect_uri.
type Grant struct {
	Secret       string
	ResponseCode string
}

// authorize admits a grant that matches the transaction's secret, or its
// response_code once the wallet has answered. Only hashes are stored and
// they are compared in constant time.
func (g Grant) authorize(tx *Transaction) error {
	if g.Secret != "" {
		h := sha256.Sum256([]byte(g.Secret))
		if subtle.ConstantTimeCompare(h[:], tx.ReadSecret[:]) == 1 {
			return nil
		}
	}
	if g.ResponseCode != "" && tx.ResponseCode != ([32]byte{}) {
		h := sha256.Sum256([]byte(g.ResponseCode))
		if subtle.ConstantTimeCompare(h[:], tx.ResponseCode[:]) == 1 {
			return nil
		}
	}
	return codeErr(CodeTransactionForbidden, "the outcome goes only to whoever created the transaction (secret) or to the browser the wallet returned to (response_code)")
}

// StatusOf returns the state of a transaction to the holder of g. A
// final state (done or expired) is returned once: the transaction and its
// outcome are erased as they are read.
func (s *Service) StatusOf(ctx context.Context, id string, g Grant) (*Status, error) {
	tx, err := s.cfg.Store.Collect(ctx, id, s.cfg.Now(), g.authorize)
	if err != nil {
		return nil, err
	}
	return &Status{ID: tx.ID, Protocol: tx.Protocol, Purpose: tx.Purpose, State: tx.State, Expires: tx.Expires,
		Valid: tx.Valid, Codes: tx.Codes, Decision: tx.Decision, Result: tx.Result}, nil
}

// pending returns the transaction for a wallet request: it must exist, use
// protocol and still wait for an answer.
func (s *Service) pending(ctx context.Context, id, protocol string) (*Transaction, error) {
	tx, err := s.cfg.Store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if tx.Protocol != protocol {
		return nil, codeErr(CodeWrongProtocol, "transaction uses "+tx.Protocol)
	}
	if tx.State == StateDone {
		return nil, codeErr(CodeTransactionConsumed, "transaction already answered (replay)")
	}
	if tx.State == StateExpired || !s.cfg.Now().Before(tx.Expires) {
		return nil, codeErr(CodeTransactionExpired, "transaction expired")
	}
	return tx, nil
}
