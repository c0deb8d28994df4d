package issuer

import (
	"bytes"
	"crypto/subtle"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/gin-gonic/gin"

	"github.com/mynumber-mdoc/mnc/issuer/pki"
	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// Handler returns the issuer's HTTP handler (endpoints in the package
// documentation).
// PathVerifierUse is where verifiers report uses (see
// VerifierUseReportConfig).
const PathVerifierUse = "/mnc/verifier-use"

func (s *Service) Handler() http.Handler {
	r := gin.New()
	r.Use(gin.Recovery(), s.logRequests())
	limited := s.rateLimit()
	body := s.limitBody(s.cfg.MaxBody)

	r.GET(oid4vci.WellKnownIssuerPath, func(c *gin.Context) { c.JSON(http.StatusOK, s.Metadata()) })
	r.GET(oid4vci.WellKnownOAuthPath, func(c *gin.Context) { c.JSON(http.StatusOK, s.AuthorizationServerMetadata()) })
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.POST(oid4vci.PathNonce, limited, func(c *gin.Context) {
		n, err := s.Nonce(c.Request.Context())
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, oid4vci.NonceResponse{CNonce: n})
	})
	r.POST(oid4vci.PathToken, limited, body, func(c *gin.Context) {
		if err := c.Request.ParseForm(); err != nil {
			s.fail(c, bodyError(err))
			return
		}
		req, err := oid4vci.ParseTokenRequest(c.Request.PostForm)
		if err != nil {
			s.fail(c, err)
			return
		}
		resp, err := s.Token(c.Request.Context(), req)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, resp)
	})
	r.POST(oid4vci.PathCredential, body, func(c *gin.Context) {
		tok, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok || tok == "" || len(tok) > oid4vci.MaxCodeLen {
			c.Header("WWW-Authenticate", `Bearer error="invalid_token"`)
			s.fail(c, oid4vci.NewError(oid4vci.CodeInvalidToken, "", "Authorization: Bearer <access token> is required"))
			return
		}
		var req oid4vci.CredentialRequest
		if !s.decode(c, &req) {
			return
		}
		resp, err := s.Credential(c.Request.Context(), tok, &req)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, resp)
	})
	r.POST(PathVerifierUse, limited, body, func(c *gin.Context) {
		tok, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok || tok == "" || len(tok) > oid4vci.MaxCodeLen {
			s.fail(c, oid4vci.NewError(oid4vci.CodeUnauthorized, "", "Authorization: Bearer <verifier use-report credential> is required"))
			return
		}
		var req VerifierUseReport
		if !s.decode(c, &req) {
			return
		}
		if err := s.ReportUseAsVerifier(c.Request.Context(), tok, req); err != nil {
			s.fail(c, err)
			return
		}
		c.Status(http.StatusAccepted)
	})
	r.POST(oid4vci.PathNotification, body, func(c *gin.Context) {
		tok, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok || tok == "" || len(tok) > oid4vci.MaxCodeLen {
			c.Header("WWW-Authenticate", `Bearer error="invalid_token"`)
			s.fail(c, oid4vci.NewError(oid4vci.CodeInvalidToken, "", "Authorization: Bearer <access token> is required"))
			return
		}
		var req oid4vci.NotificationRequest
		if !s.decode(c, &req) {
			return
		}
		if err := s.Notify(c.Request.Context(), tok, &req); err != nil {
			s.fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	})
	r.POST(oid4vci.PathDevAttest, limited, body, func(c *gin.Context) {
		var req oid4vci.AttestRequest
		if !s.decode(c, &req) {
			return
		}
		ka, err := s.Attest(c.Request.Context(), &req)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, oid4vci.AttestResponse{KeyAttestation: ka})
	})
	r.POST(oid4vci.PathEnrol, limited, body, func(c *gin.Context) {
		var req oid4vci.EnrolRequest
		if !s.decode(c, &req) {
			return
		}
		resp, err := s.Enrol(c.Request.Context(), req.Application)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, resp)
	})
	r.POST(oid4vci.PathInsuranceRegistration, limited, body, func(c *gin.Context) {
		var req oid4vci.InsuranceRegistrationRequest
		if !s.decode(c, &req) {
			return
		}
		resp, err := s.RegisterInsurance(c.Request.Context(), req.Registration)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, resp)
	})
	r.POST(oid4vci.PathQualification, limited, body, func(c *gin.Context) {
		var req oid4vci.QualificationRequestBody
		if !s.decode(c, &req) {
			return
		}
		resp, err := s.ConfirmQualification(c.Request.Context(), req.Request)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, resp)
	})
	r.POST(oid4vci.PathCardRevoke, limited, body, func(c *gin.Context) {
		var req oid4vci.CardRevocationRequest
		if !s.decode(c, &req) {
			return
		}
		resp, err := s.RevokeWithCard(c.Request.Context(), req.Revocation)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, resp)
	})
	r.POST(oid4vci.PathDeviceRequest, limited, body, func(c *gin.Context) {
		var req oid4vci.DeviceRequestBody
		if !s.decode(c, &req) {
			return
		}
		resp, err := s.DeviceRequest(c.Request.Context(), req.Request, req.AppAttestAssertion)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, resp)
	})
	r.GET(oid4vci.PathStatusList+":id", func(c *gin.Context) {
		t, err := s.StatusList(c.Request.Context(), c.Param("id"))
		if err != nil {
			s.fail(c, err)
			return
		}
		// A cache (a CDN, a verifier) may keep the token until iat + ttl
		// (and never past exp) and no longer: max-age is what is left of
		// that, not the whole ttl, or a token re-signed at half its ttl
		// would be served up to one and a half ttl old. The form depends
		// on Accept, which a shared cache must key on too.
		now := s.now()
		left := min(t.IssuedAt.Add(t.TTL).Sub(now), t.ExpiresAt.Sub(now))
		left = min(max(left, 0), t.TTL)
		c.Header("Cache-Control", "public, max-age="+strconv.Itoa(int(left/time.Second)))
		c.Header("Vary", "Accept")
		c.Header("Last-Modified", t.IssuedAt.UTC().Format(http.TimeFormat))
		if strings.Contains(c.GetHeader("Accept"), MediaTypeStatusListJWT) {
			c.Data(http.StatusOK, MediaTypeStatusListJWT, t.JWT)
			return
		}
		c.Data(http.StatusOK, MediaTypeStatusListCWT, t.CWT)
	})
	pemCert := func(der func() []byte) gin.HandlerFunc {
		return func(c *gin.Context) {
			b := der()
			if b == nil {
				s.fail(c, oid4vci.NewError(oid4vci.CodeNotFound, "", "not available in this mode"))
				return
			}
			c.Data(http.StatusOK, "application/x-pem-file", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b}))
		}
	}
	crl := func(name string) gin.HandlerFunc {
		return func(c *gin.Context) {
			l, err := s.cfg.CA.CRL(name, s.now())
			if err != nil {
				s.fail(c, err)
				return
			}
			c.Header("Cache-Control", "public, max-age="+strconv.Itoa(int(max(l.NextUpdate.Sub(s.now())/2, 0)/time.Second)))
			c.Header("Last-Modified", l.ThisUpdate.UTC().Format(http.TimeFormat))
			c.Data(http.StatusOK, "application/pkix-crl", l.Raw)
		}
	}
	r.GET("/pki/iaca.crl", crl(pki.CRLIACA))
	r.GET("/pki/reader-ca.crl", crl(pki.CRLReaderCA))
	r.GET("/pki/iaca.pem", pemCert(s.caDER(pki.CRLIACA)))
	r.GET("/pki/reader-ca.pem", pemCert(s.caDER(pki.CRLReaderCA)))
	r.GET("/pki/attestation-ca.pem", pemCert(s.caDER(pki.CAAttestation)))

	admin := r.Group("/admin", s.requireAdmin())
	admin.POST("/devices/:id/:action", body, s.adminChange(func(c *gin.Context) AdminTarget { return AdminTarget{DeviceID: c.Param("id")} }))
	admin.POST("/persons/:id/:action", body, s.adminChange(func(c *gin.Context) AdminTarget { return AdminTarget{PersonID: c.Param("id")} }))
	admin.GET("/devices", func(c *gin.Context) {
		limit, _ := strconv.Atoi(c.Query("limit"))
		d, err := s.Devices(c.Request.Context(), c.Query("person"), min(limit, 1000))
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"devices": DeviceViews(d)})
	})
	admin.GET("/audit", func(c *gin.Context) {
		limit, _ := strconv.Atoi(c.Query("limit"))
		a, err := s.Audit(c.Request.Context(), c.Query("device"), c.Query("person"), min(limit, 1000))
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"audit": AuditViews(a)})
	})
	admin.GET("/blocks", func(c *gin.Context) {
		b, err := s.restrictions.Blocks(c.Request.Context())
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"blocks": b})
	})
	admin.POST("/blocks", body, func(c *gin.Context) {
		var req BlockRequest
		if !s.decode(c, &req) {
			return
		}
		resp, err := s.Block(c.Request.Context(), req, "admin")
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, resp)
	})
	admin.DELETE("/blocks/:kind/:value", func(c *gin.Context) {
		resp, err := s.Unblock(c.Request.Context(), c.Param("kind"), c.Param("value"), "admin")
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, resp)
	})
	admin.POST("/insurance", s.limitBody(MaxInsuranceCSV), func(c *gin.Context) {
		n, err := s.ImportInsurance(c.Request.Context(), c.Request.Body, "admin")
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"imported": n})
	})
	admin.POST("/reader-certificates", body, func(c *gin.Context) {
		var req ReaderCertificateRequest
		if !s.decode(c, &req) {
			return
		}
		p, err := s.IssueReaderCertificate(c.Request.Context(), req, "admin")
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"certificate_pem": string(p)})
	})
	admin.POST("/use", body, func(c *gin.Context) {
		var req VerifierUseReport
		if !s.decode(c, &req) {
			return
		}
		resp, err := s.ReportUseByVerifier(c.Request.Context(), req)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, resp)
	})
	admin.POST("/pki/revoke", body, func(c *gin.Context) {
		var req CertificateRevocationRequest
		if !s.decode(c, &req) {
			return
		}
		if err := s.RevokeIssuerCertificate(c.Request.Context(), req, "admin"); err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"revoked": true, "ca": req.CA})
	})
	admin.POST("/crl-poll", func(c *gin.Context) {
		n, err := s.PollCRLs(c.Request.Context())
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"devices_revoked": n})
	})
	r.NoRoute(func(c *gin.Context) {
		s.fail(c, oid4vci.NewError(oid4vci.CodeNotFound, "", "no endpoint %s %s", c.Request.Method, c.Request.URL.Path))
	})
	return r
}

func (s *Service) adminChange(target func(*gin.Context) AdminTarget) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req struct {
			Reason string `json:"reason"`
		}
		if c.Request.ContentLength != 0 && !s.decode(c, &req) {
			return
		}
		if len(req.Reason) > 512 {
			s.fail(c, oid4vci.NewError(oid4vci.CodeInvalidRequest, "", "reason over 512 bytes"))
			return
		}
		resp, err := s.AdminChange(c.Request.Context(), target(c), c.Param("action"), req.Reason, "admin")
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, resp)
	}
}

// DeviceView is the admin listing of a device.
type DeviceView struct {
	ID            string    `json:"id"`
	PersonID      string    `json:"person_id"`
	State         string    `json:"state"`
	StateReason   string    `json:"state_reason,omitempty"`
	Model         string    `json:"model"`
	OSVersion     string    `json:"os_version"`
	WalletProfile string    `json:"wallet_profile"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	ValidUntil    time.Time `json:"valid_until"`
}

// DeviceViews converts store devices for JSON output (no keys, no e-mail).
func DeviceViews(ds []storeDevice) []DeviceView {
	out := make([]DeviceView, 0, len(ds))
	for _, d := range ds {
		out = append(out, DeviceView{ID: d.ID, PersonID: d.PersonID, State: d.State, StateReason: d.StateReason, Model: d.Model, OSVersion: d.OSVersion,
			WalletProfile: d.WalletProfile, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, ValidUntil: d.ValidUntil})
	}
	return out
}

// AuditView is the admin listing of an audit entry.
type AuditView struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	PersonID string    `json:"person_id,omitempty"`
	DeviceID string    `json:"device_id,omitempty"`
	Detail   string    `json:"detail,omitempty"`
}

// AuditViews converts audit entries for JSON output.
func AuditViews(a []storeAudit) []AuditView {
	out := make([]AuditView, 0, len(a))
	for _, e := range a {
		out = append(out, AuditView{ID: e.ID, At: e.At, Actor: e.Actor, Action: e.Action, PersonID: e.PersonID, DeviceID: e.DeviceID, Detail: e.Detail})
	}
	return out
}

// decode reads a JSON request body into v, answering the error itself,
// with json/v2 semantics (go-json-experiment/json): one reading only — no
// duplicate members, nothing after the value, a member name in another
// case taken for an unknown member rather than the member — and several
// times faster than encoding/json on the proofs and attestations of a
// credential request. The body is bounded by the server's MaxBytesReader.
func (s *Service) decode(c *gin.Context, v any) bool {
	b, err := io.ReadAll(c.Request.Body)
	if err == nil && len(bytes.TrimSpace(b)) == 0 {
		err = io.EOF
	}
	if err == nil {
		err = jsonv2.Unmarshal(b, v)
	}
	if err != nil {
		s.fail(c, bodyError(err))
		return false
	}
	return true
}

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return oid4vci.NewError(oid4vci.CodeRequestTooLarge, oid4vci.ReasonTooLarge, "request body over %d bytes", mbe.Limit)
	}
	if errors.Is(err, io.EOF) {
		return oid4vci.NewError(oid4vci.CodeInvalidRequest, oid4vci.ReasonMalformed, "empty request body")
	}
	return &oid4vci.Error{Code: oid4vci.CodeInvalidRequest, Reason: oid4vci.ReasonMalformed, Description: "request body: " + err.Error(), Err: err}
}

// statusOf is the one place that maps error codes to HTTP statuses.
func statusOf(code string) int {
	switch code {
	case oid4vci.CodeInvalidToken, oid4vci.CodeUnauthorized:
		return http.StatusUnauthorized
	case oid4vci.CodeForbidden, oid4vci.CodeCredentialRequestDenied, oid4vci.CodeDeviceNotAllowed, oid4vci.CodeCardRejected, oid4vci.CodeDeviceInactive:
		return http.StatusForbidden
	case oid4vci.CodeNotFound, oid4vci.CodeDeviceUnknown:
		return http.StatusNotFound
	case oid4vci.CodeRateLimited:
		return http.StatusTooManyRequests
	case oid4vci.CodeRequestTooLarge:
		return http.StatusRequestEntityTooLarge
	case oid4vci.CodeServerError:
		return http.StatusInternalServerError
	case oid4vci.CodeTemporarilyUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// retryAfterSeconds is the Retry-After of a 503: long enough for a
// restarted database or a reconnect, short enough for a waiting wallet.
const retryAfterSeconds = "5"

// fail renders err as {"error", "error_description", "reason"}. An
// *oid4vci.Error is answered as it is: it names its own condition, even
// when it wraps a network error (a CRL or an attestation status list that
// could not be fetched, a request body cut short). Of the other errors, a
// database that cannot be reached (store.Unavailable) is 503
// temporarily_unavailable with Retry-After: the request may be repeated
// as it is. The rest are internal: logged, and answered without detail.
func (s *Service) fail(c *gin.Context, err error) {
	var e *oid4vci.Error
	switch {
	case errors.As(err, &e):
		// A refusal that names its condition: answered as it is.
	case store.Unavailable(err):
		s.cfg.Logger.WarnContext(c.Request.Context(), "database unavailable", "path", c.Request.URL.Path, "err", err)
		e = &oid4vci.Error{Code: oid4vci.CodeTemporarilyUnavailable, Description: "the issuer cannot reach its database; retry later"}
		c.Header("Retry-After", retryAfterSeconds)
	default:
		s.cfg.Logger.ErrorContext(c.Request.Context(), "internal error", "path", c.Request.URL.Path, "err", err)
		e = &oid4vci.Error{Code: oid4vci.CodeServerError, Description: "internal error"}
	}
	if e.Code == oid4vci.CodeServerError && e.Description == "" {
		e.Description = "internal error"
	}
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(statusOf(e.Code), e.Response())
}

func (s *Service) limitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > n {
			s.fail(c, oid4vci.NewError(oid4vci.CodeRequestTooLarge, oid4vci.ReasonTooLarge, "request body of %d bytes is over %d", c.Request.ContentLength, n))
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		c.Next()
	}
}

func (s *Service) requireAdmin() gin.HandlerFunc {
	return func(c *gin.Context) {
		tok, _ := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if s.cfg.AdminToken == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.AdminToken)) != 1 {
			s.fail(c, oid4vci.NewError(oid4vci.CodeUnauthorized, "", "admin token required (Authorization: Bearer <token from the data directory>)"))
			return
		}
		c.Next()
	}
}

// caDER returns the DER of the named CA's certificate, nil when this
// issuer does not run it (the attestation CA in production).
func (s *Service) caDER(name string) func() []byte {
	return func() []byte {
		if c := s.cfg.CA.CACertificate(name); c != nil {
			return c.Raw
		}
		return nil
	}
}

func (s *Service) logRequests() gin.HandlerFunc {
	return func(c *gin.Context) {
		// Latency is elapsed wall time (monotonic), not protocol time:
		// the injected clock does not apply.
		start := time.Now()
		c.Next()
		lvl := slog.LevelDebug
		if c.Writer.Status() >= 500 {
			lvl = slog.LevelError
		}
		s.cfg.Logger.Log(c.Request.Context(), lvl, "http", "method", c.Request.Method, "path", c.Request.URL.Path, "status", c.Writer.Status(), "dur", time.Since(start))
	}
}

// rateLimit is a per-client-IP token bucket: RateLimit requests per minute
// with a burst of the same size. The table is bounded: when it grows past
// maxClients, full buckets are dropped.
func (s *Service) rateLimit() gin.HandlerFunc {
	if s.cfg.RateLimit < 0 {
		return func(c *gin.Context) { c.Next() }
	}
	const maxClients = 100000
	type bucket struct {
		tokens float64
		last   time.Time
	}
	var mu sync.Mutex
	buckets := map[string]*bucket{}
	capacity := float64(s.cfg.RateLimit)
	perSec := capacity / 60
	return func(c *gin.Context) {
		ip, _, err := net.SplitHostPort(c.Request.RemoteAddr)
		if err != nil {
			ip = c.Request.RemoteAddr
		}
		now := s.now()
		mu.Lock()
		b := buckets[ip]
		if b == nil {
			if len(buckets) >= maxClients {
				for k, v := range buckets {
					if v.tokens+now.Sub(v.last).Seconds()*perSec >= capacity {
						delete(buckets, k)
					}
				}
			}
			b = &bucket{tokens: capacity, last: now}
			buckets[ip] = b
		}
		b.tokens = min(capacity, b.tokens+now.Sub(b.last).Seconds()*perSec)
		b.last = now
		ok := b.tokens >= 1
		if ok {
			b.tokens--
		}
		mu.Unlock()
		if !ok {
			c.Header("Retry-After", strconv.Itoa(int(1/perSec)+1))
			s.fail(c, oid4vci.NewError(oid4vci.CodeRateLimited, "", "too many requests from %s; retry later", ip))
			return
		}
		c.Next()
	}
}
