package online

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vp"
)

// The handlers only decode, call the Service and render; errors go through
// fail, which picks the status in one place (httpStatus). They pass the
// gin.Context on as the request's context.

func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(gin.Recovery(), s.bodyLimit)
	e.GET("/", s.index)
	e.POST("/api/transactions", s.create)
	e.GET("/api/transactions/:id", s.status)
	e.GET("/tx/:id", s.page)
	e.GET("/tx/:id/qr.svg", s.qrSVG)
	e.GET("/oid4vp/request/:id", s.oid4vpRequest)
	e.POST("/oid4vp/response/:id", s.oid4vpResponse)
	e.GET("/annexc/request/:id", s.annexCRequest)
	e.POST("/annexc/request/:id", s.annexCResponse)
	e.POST("/jpki/challenge", s.jpkiChallenge)
	e.POST("/jpki/login", s.jpkiLogin)
	e.POST("/jpki/signature", s.jpkiSignature)
	return e
}

func (s *Server) bodyLimit(c *gin.Context) {
	c.Request.Body = sizedBody{http.MaxBytesReader(c.Writer, c.Request.Body, MaxBody), c.Request.ContentLength}
	c.Next()
}

// sizedBody is a request body with its announced length (Content-Length,
// or -1), which readBody uses to read it into one buffer of that size.
type sizedBody struct {
	io.ReadCloser
	announced int64
}

func (s *Server) fail(c *gin.Context, err error) {
	st := httpStatus(err)
	if st >= 500 {
		s.log.ErrorContext(c, "online: request failed", "path", c.FullPath(), "err", err)
	} else {
		s.log.InfoContext(c, "online: request refused", "path", c.FullPath(), "code", mdoc.CodeOf(err), "err", err)
	}
	c.Header("Cache-Control", "no-store")
	if st == http.StatusServiceUnavailable {
		// The store is unreachable or full: the same request may be sent
		// again after a while (RFC 9110 §10.2.3).
		c.Header("Retry-After", retryAfterSeconds)
	}
	c.JSON(st, bodyOf(err))
}

// retryAfterSeconds is the Retry-After of a 503: long enough for a
// reconnect to the database or for expired transactions to be swept.
const retryAfterSeconds = "5"

// noStoreJSON renders v; nothing the server answers may be cached.
func noStoreJSON(c *gin.Context, status int, v any) {
	c.Header("Cache-Control", "no-store")
	c.JSON(status, v)
}

// decodeJSON reads a JSON body of at most max bytes into v.
func decodeJSON(c *gin.Context, max int64, v any) error {
	b, err := readBody(c.Request.Body, max)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return codeErr(oid4vp.CodeInvalidRequest, "body: "+err.Error())
	}
	return nil
}

func (s *Server) create(c *gin.Context) {
	var req CreateRequest
	if err := decodeJSON(c, MaxCreateBody, &req); err != nil {
		s.fail(c, err)
		return
	}
	out, err := s.Create(c, req)
	if err != nil {
		s.fail(c, err)
		return
	}
	// The creating browser keeps the secret in a cookie only its status
	// requests carry; script on the page never sees it.
	http.SetCookie(c.Writer, &http.Cookie{Name: secretCookie(out.ID), Value: out.Secret, Path: "/api/transactions/" + out.ID,
		MaxAge: int((s.cfg.TTL + s.cfg.Store.Retention()) / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: strings.HasPrefix(s.cfg.BaseURL, "https://")})
	noStoreJSON(c, http.StatusCreated, out)
}

// secretCookie names the cookie holding a transaction's read secret.
func secretCookie(id string) string { return "mdoc_tx_" + id }

// grantOf collects the credentials of a status request.
func grantOf(c *gin.Context, id string) Grant {
	var g Grant
	if h := c.GetHeader("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		g.Secret = strings.TrimSpace(h[7:])
	} else if ck, err := c.Request.Cookie(secretCookie(id)); err == nil {
		g.Secret = ck.Value
	}
	g.ResponseCode = c.Query("response_code")
	return g
}

func (s *Server) status(c *gin.Context) {
	st, err := s.StatusOf(c, c.Param("id"), grantOf(c, c.Param("id")))
	if err != nil {
		s.fail(c, err)
		return
	}
	noStoreJSON(c, http.StatusOK, st)
}

func (s *Server) oid4vpRequest(c *gin.Context) {
	jwt, err := s.RequestObject(c, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, oid4vp.RequestObjectContentType, jwt)
}

func (s *Server) oid4vpResponse(c *gin.Context) {
	out, err := s.RespondOpenID4VP(c, c.Param("id"), c.Request.Body)
	if err != nil {
		s.fail(c, err)
		return
	}
	noStoreJSON(c, http.StatusOK, out)
}

func (s *Server) annexCRequest(c *gin.Context) {
	req, err := s.AnnexCRequest(c, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	noStoreJSON(c, http.StatusOK, req)
}

func (s *Server) annexCResponse(c *gin.Context) {
	out, err := s.RespondAnnexC(c, c.Param("id"), c.Request.Body)
	if err != nil {
		s.fail(c, err)
		return
	}
	noStoreJSON(c, http.StatusOK, out)
}

func (s *Server) jpkiChallenge(c *gin.Context) {
	ch, err := s.JPKIChallenge()
	if err != nil {
		s.fail(c, err)
		return
	}
	noStoreJSON(c, http.StatusOK, ch)
}

// b64 decodes base64 (standard) fields, none of which may be empty.
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
	if err := s.jpkiEnabled(); err != nil {
		s.fail(c, err)
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
	res, err := s.JPKILogin(c, req.ID, f[0], f[1])
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}

func (s *Server) jpkiSignature(c *gin.Context) {
	if err := s.jpkiEnabled(); err != nil {
		s.fail(c, err)
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
	res, err := s.JPKIVerifySignature(c, f[0], f[1], f[2])
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}
