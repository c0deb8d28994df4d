package online

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vp"
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

func (s *Server) jpkiEnabled(c *gin.Context) bool {
	if s.jpki == nil {
		s.fail(c, &mdoc.Error{Code: mdoc.CodeUnsupported, Detail: "online: JPKI is not configured (--jpki-roots)"})
		return false
	}
	return true
}

func (s *Server) jpkiChallenge(c *gin.Context) {
	if !s.jpkiEnabled(c) {
		return
	}
	id, nonce, err := s.jpki.svc.Challenge()
	if err != nil {
		s.fail(c, codeErr(CodeTooManyTransactions, err.Error()))
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, JPKIChallenge{ID: id, Nonce: base64.StdEncoding.EncodeToString(nonce)})
}

func decodeJSON(c *gin.Context, max int64, v any) error {
	b, err := readBody(c, max)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return codeErr(oid4vp.CodeInvalidRequest, "body: "+err.Error())
	}
	return nil
}

func b64(fields ...string) ([][]byte, error) {
	out := make([][]byte, len(fields))
	for i, f := range fields {
		b, err := base64.StdEncoding.DecodeString(f)
		if err != nil || len(b) == 0 {
			return nil, codeErr(oid4vp.CodeInvalidRequest, "a field is not base64")
		}
		out[i] = b
	}
	return out, nil
}

func (s *Server) jpkiLogin(c *gin.Context) {
	if !s.jpkiEnabled(c) {
		return
	}
	var req JPKILogin
	if err := decodeJSON(c, 64<<10, &req); err != nil {
		s.fail(c, err)
		return
	}
	f, err := b64(req.Certificate, req.Signature)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s.jpki.svc.Login(c, req.ID, f[0], f[1]))
}

func (s *Server) jpkiSignature(c *gin.Context) {
	if !s.jpkiEnabled(c) {
		return
	}
	var req JPKISignature
	if err := decodeJSON(c, 16<<20, &req); err != nil {
		s.fail(c, err)
		return
	}
	f, err := b64(req.Data, req.Signature, req.Certificate)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, jpkiauth.VerifySignature(c, s.jpki.v, f[0], f[1], f[2], s.jpki.now()))
}
