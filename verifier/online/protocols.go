package online

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vp"
	"github.com/mynumber-mdoc/mnc/verifier"
)

func (s *Server) oid4vpRequest(c *gin.Context) {
	tx, err := s.pending(c, c.Param("id"), ProtocolOpenID4VP)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, oid4vp.RequestObjectContentType, tx.RequestJWT)
}

// oid4vpResponse receives a direct_post.jwt response (OpenID4VP 1.0
// §8.3.1). A response that does not decrypt under the transaction's key or
// carries another state leaves the transaction open; a decrypted one is
// judged and closes it, so a replay is refused.
func (s *Server) oid4vpResponse(c *gin.Context) {
	tx, err := s.pending(c, c.Param("id"), ProtocolOpenID4VP)
	if err != nil {
		s.fail(c, err)
		return
	}
	body, err := readBody(c, MaxBody)
	if err != nil {
		s.fail(c, err)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		s.fail(c, codeErr(oid4vp.CodeInvalidRequest, "form: "+err.Error()))
		return
	}
	if e := form.Get("error"); e != "" {
		// The wallet declined (OpenID4VP 1.0 §8.5). It must still match
		// the transaction's state.
		if form.Get("state") != tx.OAuthState {
			s.fail(c, codeErr(CodeStateMismatch, "error response for another state"))
			return
		}
		r := &verifier.Result{Documents: []*verifier.Document{}, Errors: []verifier.Error{{Code: "wallet_" + sanitizeCode(e), Message: "online: wallet answered " + e + ": " + form.Get("error_description")}}}
		s.finish(c, tx, r)
		return
	}
	resp, err := oid4vp.DecryptResponse([]byte(form.Get(oid4vp.ResponseFormField)), oid4vp.DecryptOptions{
		Key: tx.EncKey, Kid: tx.KeyID, Enc: []string{oid4vp.EncA128GCM, oid4vp.EncA256GCM}})
	if err != nil {
		s.fail(c, err)
		return
	}
	if resp.State != tx.OAuthState {
		s.fail(c, codeErr(CodeStateMismatch, "response state differs from the request's"))
		return
	}
	s.finish(c, tx, s.verifyVPToken(c, tx, resp))
}

// verifyVPToken verifies every presentation of the vp_token against the
// transcript of this transaction (client_id, nonce, key thumbprint,
// response_uri; computed when the transaction was made) and merges the
// results.
func (s *Server) verifyVPToken(c *gin.Context, tx *Transaction, resp *oid4vp.AuthorizationResponse) *verifier.Result {
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
			r := verifier.Verify(c, p, s.verifyOptions(st.Raw, verifier.Request{q.Meta.DoctypeValue: q.Elements()}))
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

func (s *Server) annexCRequest(c *gin.Context) {
	tx, err := s.pending(c, c.Param("id"), ProtocolAnnexC)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, tx.AnnexCRequest)
}

// annexCResponse receives the wallet's EncryptedResponse (ISO/IEC 18013-7
// Annex C). It opens only under this transaction's transcript — its
// EncryptionInfo and this server's origin — so a response made for another
// origin or request fails with session_encryption and leaves the
// transaction open.
func (s *Server) annexCResponse(c *gin.Context) {
	tx, err := s.pending(c, c.Param("id"), ProtocolAnnexC)
	if err != nil {
		s.fail(c, err)
		return
	}
	body, err := readBody(c, oid4vp.MaxAnnexCResponseSize)
	if err != nil {
		s.fail(c, err)
		return
	}
	enc, err := oid4vp.ParseAnnexCResponse(body)
	if err != nil {
		s.fail(c, err)
		return
	}
	plain, err := mdoc.OpenAnnexC(tx.EncKey, tx.Transcript, enc)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.finish(c, tx, verifier.Verify(c, plain, s.verifyOptions(tx.Transcript.Raw, tx.Request)))
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

func oid4vpInvocation(s *Server, tx *Transaction) string {
	return oid4vp.AuthorizationRequest{ClientID: tx.ClientID, RequestURI: s.cfg.BaseURL + "/oid4vp/request/" + tx.ID}.URI()
}

func annexCInvocation(s *Server, tx *Transaction) string {
	return oid4vp.AnnexCInvocation(s.cfg.BaseURL + "/annexc/request/" + tx.ID)
}
