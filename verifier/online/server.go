// Package online is the verifier's web server (gin): it asks wallets for
// presentations with OpenID4VP 1.0 (DCQL query in a signed request object,
// response mode direct_post.jwt, OpenID4VPHandover transcript) and with
// ISO/IEC 18013-7 Annex C (org-iso-mdoc: DeviceRequest with ReaderAuth and
// EncryptionInfo, HPKE-sealed response), keeps each request in a
// transaction store with expiry, verifies the answer with package verifier
// and a policy, and shows the request as a QR code on a minimal HTML page
// followed by the verdict. It also offers JPKI login (challenge, signed
// nonce, chain and CRL) and JPKI document-signature verification.
//
// Endpoints (BaseURL-relative):
//
//	GET  /                                  page: choose a check and protocol
//	POST /api/transactions                  create: {"protocol","purpose","ageOver","docType","elements"} → Created
//	GET  /api/transactions/{id}             status and verdict (Status), to the creator only (Created.Secret
//	                                        as Bearer or cookie, or ?response_code=); read once, then erased
//	GET  /tx/{id}                           page: QR code, then the verdict
//	GET  /tx/{id}/qr.svg                    the QR code
//	GET  /oid4vp/request/{id}               request object (application/oauth-authz-req+jwt)
//	POST /oid4vp/response/{id}              direct_post.jwt: form response=<JWE> → {"redirect_uri"} with #response_code=
//	GET  /annexc/request/{id}               {"deviceRequest","encryptionInfo"}
//	POST /annexc/request/{id}               {"response"} → {"redirect_uri"}
//	POST /jpki/challenge                    → {"id","nonce"}
//	POST /jpki/login                        {"id","certificate","signature"} → result
//	POST /jpki/signature                    {"data","signature","certificate"} → result
//
// Errors are JSON {"error","error_description","code"} with the status
// chosen in one place (httpStatus).
//
// Service holds the protocol logic and knows nothing of HTTP; Server's
// handlers (handlers.go) decode, call it and render, as the issuer's do.
// Transactions live in a Store (MemoryStore by default).
package online

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/mynumber-mdoc/mnc/internal/fsx"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vp"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
)

// Purposes of a transaction: what is asked and which policy judges it.
const (
	PurposeAge       = "age"       // age_over_NN only; only the yes/no is kept
	PurposeInsurance = "insurance" // insurance + identity document; the insurance policy
	PurposeElements  = "elements"  // the given elements of one docType; no policy
)

// Purpose describes what a transaction asks for.
type Purpose struct {
	Kind     string              `json:"purpose"`
	AgeOver  int                 `json:"ageOver,omitempty"`
	DocType  string              `json:"docType,omitempty"`
	Elements map[string][]string `json:"elements,omitempty"`
}

// Defaults and bounds.
const (
	DefaultTTL = 5 * time.Minute
	// MaxBody bounds request bodies: the largest is an Annex C or
	// direct_post.jwt response around one DeviceResponse.
	MaxBody = oid4vp.MaxResponseSize + 64<<10
	// MaxCreateBody bounds a create-transaction request.
	MaxCreateBody = 64 << 10
)

// Config configures the server.
type Config struct {
	// BaseURL is the externally visible URL of the server, e.g.
	// "http://127.0.0.1:8080". It forms response_uri and request URLs,
	// and its origin is the Annex C origin. Required.
	BaseURL string
	// Credentials are the reader certificate and key: they sign request
	// objects and ReaderAuth. Required.
	Credentials *trust.ReaderCredentials
	// ClientIDPrefix is oid4vp.ClientIDPrefixX509Hash (default) or
	// oid4vp.ClientIDPrefixX509SanDNS (the certificate must then carry the
	// BaseURL host as a dNSName).
	ClientIDPrefix string
	// Verify configures verification (Trust, Status, …); the server fills
	// in the transcript, the request and the time.
	Verify verifier.Options
	// JPKI verifies legacy JPKI logins and signatures; nil disables them.
	JPKI *jpki.Verifier
	// TTL is how long a transaction waits for its wallet (DefaultTTL).
	TTL time.Duration
	// Store keeps transactions (NewMemoryStore by default).
	Store Store
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger nil means slog.Default().
	Logger *slog.Logger
	// Outcome, when set, is told every judged presentation (the protocol,
	// whether it was valid and its error codes), once, after the outcome
	// is stored: the metrics of the server count verifications by code.
	Outcome func(protocol string, valid bool, codes []string)
}

// Service is the online verifier's protocol logic: it makes transactions,
// serves their requests to wallets, verifies and judges the answers and
// releases outcomes, with no HTTP in it. Server puts it on the web.
type Service struct {
	cfg    Config
	origin string
	log    *slog.Logger
	jpki   *jpkiService
}

// Server is the online verifier on HTTP: thin gin handlers over the
// Service it embeds (so Server.Create and Server.StatusOf are the
// Service's).
type Server struct {
	*Service
	engine *gin.Engine
}

// NewService checks cfg and builds the service.
func NewService(cfg Config) (*Service, error) {
	if cfg.Credentials == nil {
		return nil, errors.New("online: reader credentials are required")
	}
	if cfg.Verify.Trust == nil {
		return nil, errors.New("online: IACA trust is required")
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	origin, err := oid4vp.Origin(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("online: base URL: %w", err)
	}
	if cfg.ClientIDPrefix == "" {
		cfg.ClientIDPrefix = oid4vp.ClientIDPrefixX509Hash
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Service{cfg: cfg, origin: origin, log: cfg.Logger}
	if _, err := s.clientID(); err != nil {
		return nil, err
	}
	if cfg.JPKI != nil {
		s.jpki = newJPKIService(cfg.JPKI, cfg.Now, cfg.TTL)
	}
	return s, nil
}

// New checks cfg and builds the server.
func New(cfg Config) (*Server, error) {
	svc, err := NewService(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{Service: svc}
	s.engine = s.routes()
	return s, nil
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.engine }

// Run expires transactions every interval until ctx ends.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.cfg.Store.Expire(ctx, s.cfg.Now()); err != nil {
				s.log.ErrorContext(ctx, "online: expire transactions", "err", err)
			}
		}
	}
}

func (s *Service) clientID() (string, error) {
	switch s.cfg.ClientIDPrefix {
	case oid4vp.ClientIDPrefixX509Hash:
		return oid4vp.ClientIDX509Hash(s.cfg.Credentials.Chain[0]), nil
	case oid4vp.ClientIDPrefixX509SanDNS:
		u, _ := url.Parse(s.cfg.BaseURL)
		for _, n := range s.cfg.Credentials.Certificate.DNSNames {
			if n == u.Hostname() {
				return oid4vp.ClientIDPrefixX509SanDNS + n, nil
			}
		}
		return "", fmt.Errorf("online: reader certificate has no dNSName %q for x509_san_dns", u.Hostname())
	}
	return "", fmt.Errorf("online: unsupported client_id prefix %q", s.cfg.ClientIDPrefix)
}

func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("online: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// readBody reads a request body of at most max bytes. The server also caps
// every body at MaxBody (http.MaxBytesReader); either bound gives
// CodeLimitExceeded. A body that announced its length (sizedBody) is read
// into one buffer of that size.
func readBody(r io.Reader, max int64) ([]byte, error) {
	size := int64(-1)
	if sb, ok := r.(sizedBody); ok {
		size = sb.announced
	}
	b, err := fsx.ReadAllSized(r, max, size)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, &mdoc.Error{Code: mdoc.CodeLimitExceeded, Detail: "online: request body too large"}
	case errors.Is(err, fsx.ErrTooLarge):
		return nil, &mdoc.Error{Code: mdoc.CodeLimitExceeded, Detail: fmt.Sprintf("online: request body over %d bytes", max)}
	case err != nil:
		return nil, &mdoc.Error{Code: oid4vp.CodeInvalidRequest, Detail: "online: read body", Err: err}
	}
	return b, nil
}
