package online

import (
	"context"
	"fmt"
	"io"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vp"
	"github.com/mynumber-mdoc/mnc/verifier"
)

// RequestObject returns the signed request object of a pending OpenID4VP
// transaction (the wallet fetches it at request_uri).
func (s *Service) RequestObject(ctx context.Context, id string) ([]byte, error) {
	tx, err := s.pending(ctx, id, ProtocolOpenID4VP)
	if err != nil {
		return nil, err
	}
	return tx.RequestJWT, nil
}

// RespondOpenID4VP takes a direct_post.jwt response (OpenID4VP 1.0
// §8.3.1), the form body read from body. A response that does not decrypt
// under the transaction's key or carries another state leaves the
// transaction open; a decrypted one is judged and closes it, so a replay is
// refused.
func (s *Service) RespondOpenID4VP(ctx context.Context, id string, body io.Reader) (*oid4vp.DirectPostResult, error) {
	tx, err := s.pending(ctx, id, ProtocolOpenID4VP)
	if err != nil {
		return nil, err
	}
	b, err := readBody(body, MaxBody)
	if err != nil {
		return nil, err
	}
	form, err := parseForm(string(b))
	if err != nil {
		return nil, codeErr(oid4vp.CodeInvalidRequest, "form: "+err.Error())
	}
	if e := form.Get("error"); e != "" {
		// The wallet declined (OpenID4VP 1.0 §8.5). It must still match
		// the transaction's state.
		if form.Get("state") != tx.OAuthState {
			return nil, codeErr(CodeStateMismatch, "error response for another state")
		}
		r := &verifier.Result{Documents: []*verifier.Document{}, Errors: []verifier.Error{{Code: "wallet_" + sanitizeCode(e), Message: "online: wallet answered " + e + ": " + form.Get("error_description")}}}
		return s.finish(ctx, tx, r)
	}
	resp, err := oid4vp.DecryptResponseString(form.Get(oid4vp.ResponseFormField), oid4vp.DecryptOptions{
		Key: tx.EncKey, Kid: tx.KeyID, Enc: []string{oid4vp.EncA128GCM, oid4vp.EncA256GCM}})
	if err != nil {
		return nil, err
	}
	if resp.State != tx.OAuthState {
		return nil, codeErr(CodeStateMismatch, "response state differs from the request's")
	}
	return s.finish(ctx, tx, s.verifyVPToken(ctx, tx, resp))
}

// verifyVPToken verifies every presentation of the vp_token against the
// transcript of this transaction (client_id, nonce, key thumbprint,
// response_uri; computed when the transaction was made) and merges the
// results.
func (s *Service) verifyVPToken(ctx context.Context, tx *Transaction, resp *oid4vp.AuthorizationResponse) *verifier.Result {
	out := &verifier.Result{Documents: []*verifier.Document{}, Errors: []verifier.Error{}}
	fail := func(code mdoc.Code, format string, args ...any) {
		out.Errors = append(out.Errors, verifier.Error{Code: string(code), Message: "online: " + fmt.Sprintf(format, args...)})
	}
	st := tx.Transcript
	if st == nil {
		fail(mdoc.CodeMalformed, "transaction without session transcript")
		return out
	}
	for _, id := range resp.IDs() {
		if tx.Query.Credential(id) == nil {
			fail(mdoc.CodeMalformed, "vp_token answers unknown credential query %q", id)
		}
	}
	for _, q := range tx.Query.Credentials {
		ps, err := resp.Presentations(q.ID)
		if err != nil {
			out.Errors = append(out.Errors, verifier.NewError(err))
			continue
		}
		if len(ps) == 0 {
			fail(mdoc.CodeElementNotReturned, "credential query %q not answered", q.ID)
			continue
		}
		if len(ps) > 1 && !q.Multiple {
			fail(mdoc.CodeMalformed, "credential query %q answered %d times", q.ID, len(ps))
			continue
		}
		for _, p := range ps {
			r := verifier.Verify(ctx, p, s.verifyOptions(st.Raw, verifier.Request{q.Meta.DoctypeValue: q.Elements()}))
			out.Documents = append(out.Documents, r.Documents...)
			out.Errors = append(out.Errors, r.Errors...)
		}
	}
	out.Valid = len(out.Errors) == 0 && len(out.Documents) > 0
	for _, d := range out.Documents {
		out.Valid = out.Valid && d.Valid
	}
	return out
}

// AnnexCRequest returns the DeviceRequest and EncryptionInfo of a pending
// Annex C transaction.
func (s *Service) AnnexCRequest(ctx context.Context, id string) (*oid4vp.AnnexCRequest, error) {
	tx, err := s.pending(ctx, id, ProtocolAnnexC)
	if err != nil {
		return nil, err
	}
	return tx.AnnexCRequest, nil
}

// RespondAnnexC takes the wallet's EncryptedResponse (ISO/IEC 18013-7
// Annex C) read from body. It opens only under this transaction's
// transcript — its EncryptionInfo and this server's origin — so a response
// made for another origin or request fails with session_encryption and
// leaves the transaction open.
func (s *Service) RespondAnnexC(ctx context.Context, id string, body io.Reader) (*oid4vp.DirectPostResult, error) {
	tx, err := s.pending(ctx, id, ProtocolAnnexC)
	if err != nil {
		return nil, err
	}
	b, err := readBody(body, oid4vp.MaxAnnexCResponseSize)
	if err != nil {
		return nil, err
	}
	enc, err := oid4vp.ParseAnnexCResponse(b)
	if err != nil {
		return nil, err
	}
	plain, err := mdoc.OpenAnnexC(tx.EncKey, tx.Transcript, enc)
	if err != nil {
		return nil, err
	}
	return s.finish(ctx, tx, verifier.Verify(ctx, plain, s.verifyOptions(tx.Transcript.Raw, tx.Request)))
}

func sanitizeCode(s string) string {
	b := []byte(s)
	if len(b) > 64 {
		b = b[:64]
	}
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

func oid4vpInvocation(s *Service, tx *Transaction) string {
	return oid4vp.AuthorizationRequest{ClientID: tx.ClientID, RequestURI: s.cfg.BaseURL + "/oid4vp/request/" + tx.ID}.URI()
}

func annexCInvocation(s *Service, tx *Transaction) string {
	return oid4vp.AnnexCInvocation(s.cfg.BaseURL + "/annexc/request/" + tx.ID)
}
