package oid4vp

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/mynumber-mdoc/mnc/internal/jose"
	"github.com/mynumber-mdoc/mnc/mdoc"
)

// Protocol constants of OpenID4VP 1.0 as profiled here.
const (
	// Scheme is the custom URL scheme of an authorization request sent to
	// a wallet by QR code or link (OpenID4VP 1.0 §13.1.2).
	Scheme = "openid4vp"
	// RequestObjectType is the typ header of a signed request object
	// (RFC 9101 §10.8, OpenID4VP 1.0 §5).
	RequestObjectType = "oauth-authz-req+jwt"
	// RequestObjectContentType is the media type a request_uri serves.
	RequestObjectContentType = "application/oauth-authz-req+jwt"
	// ResponseTypeVPToken is the only response_type used.
	ResponseTypeVPToken = "vp_token"
	// ResponseModeDirectPostJWT is the only response_mode used: the wallet
	// POSTs an encrypted response to response_uri (OpenID4VP 1.0 §8.3).
	ResponseModeDirectPostJWT = "direct_post.jwt"
	// AudienceSelfIssued is the aud of a request object for a wallet with
	// static discovery metadata (OpenID4VP 1.0 §5.8).
	AudienceSelfIssued = "https://self-issued.me/v2"
	// ClientIDPrefixX509SanDNS binds client_id to a dNSName SAN of the
	// request object's signing certificate (OpenID4VP 1.0 §5.9.3).
	ClientIDPrefixX509SanDNS = "x509_san_dns:"
	// ClientIDPrefixX509Hash binds client_id to the base64url SHA-256
	// hash of the signing certificate (OpenID4VP 1.0 §5.9.3).
	ClientIDPrefixX509Hash = "x509_hash:"
	// EncA128GCM and EncA256GCM are the content encryptions accepted for
	// direct_post.jwt; A128GCM is the default when the verifier states
	// none (OpenID4VP 1.0 §8.3).
	EncA128GCM = "A128GCM"
	EncA256GCM = "A256GCM"
)

// Bounds on request input.
const (
	// MaxRequestObjectSize bounds a request object JWT. A DCQL query for a
	// few documents, a JWK and a two-certificate x5c fit in a few KiB.
	MaxRequestObjectSize = 64 << 10
	// MaxAuthorizationRequestLength bounds an openid4vp:// URI.
	MaxAuthorizationRequestLength = 4096
	// MaxNonceLength bounds nonce and state.
	MaxNonceLength = 512
	// MaxRequestObjectClockSkew is how far in the future iat may lie.
	MaxRequestObjectClockSkew = 5 * time.Minute
)

// RequestObject is the signed authorization request (OpenID4VP 1.0 §5,
// RFC 9101) of this profile: vp_token by direct_post.jwt, a DCQL query for
// mso_mdoc credentials, and client_metadata carrying the verifier's
// ephemeral response-encryption key.
type RequestObject struct {
	Audience       string          `json:"aud,omitempty"`
	ClientID       string          `json:"client_id"`
	ResponseType   string          `json:"response_type"`
	ResponseMode   string          `json:"response_mode"`
	ResponseURI    string          `json:"response_uri"`
	Nonce          string          `json:"nonce"`
	State          string          `json:"state,omitempty"`
	DCQLQuery      *DCQLQuery      `json:"dcql_query"`
	ClientMetadata *ClientMetadata `json:"client_metadata"`
	IssuedAt       int64           `json:"iat,omitempty"`
	ExpiresAt      int64           `json:"exp,omitempty"`
}

// ClientMetadata is the verifier metadata passed in the request (OpenID4VP
// 1.0 §5.1, §11.1): the encryption key set and content encryptions for
// direct_post.jwt, and the formats and algorithms the verifier accepts.
type ClientMetadata struct {
	JWKS                                *JWKS                     `json:"jwks,omitempty"`
	EncryptedResponseEncValuesSupported []string                  `json:"encrypted_response_enc_values_supported,omitempty"`
	VPFormatsSupported                  map[string]MdocFormatInfo `json:"vp_formats_supported,omitempty"`
}

// MdocFormatInfo is the mso_mdoc entry of vp_formats_supported (OpenID4VP
// 1.0 Appendix B.2.2): COSE algorithm identifiers accepted for IssuerAuth
// and DeviceAuth.
type MdocFormatInfo struct {
	IssuerAuthAlgValues []int `json:"issuerauth_alg_values,omitempty"`
	DeviceAuthAlgValues []int `json:"deviceauth_alg_values,omitempty"`
}

// EncValues returns encrypted_response_enc_values_supported, defaulting
// to [A128GCM].
func (m *ClientMetadata) EncValues() []string {
	if m == nil || len(m.EncryptedResponseEncValuesSupported) == 0 {
		return []string{EncA128GCM}
	}
	return m.EncryptedResponseEncValuesSupported
}

// ChooseEnc returns the content encryption a wallet uses: the first of the
// verifier's values that this package supports.
func (m *ClientMetadata) ChooseEnc() (string, error) {
	for _, e := range m.EncValues() {
		if e == EncA128GCM || e == EncA256GCM {
			return e, nil
		}
	}
	return "", errorf(mdoc.CodeUnsupported, "no supported value in encrypted_response_enc_values_supported %v", m.EncValues())
}

// Validate checks the parameters of the request object that do not need
// the signature: response type and mode, client_id prefix, an absolute
// http(s) response_uri, nonce and state sizes, the DCQL query, and the
// encryption metadata.
func (r *RequestObject) Validate() error {
	if r.ResponseType != ResponseTypeVPToken {
		return errorf(CodeInvalidRequest, "response_type %q (want %s)", r.ResponseType, ResponseTypeVPToken)
	}
	if r.ResponseMode != ResponseModeDirectPostJWT {
		return errorf(CodeInvalidRequest, "response_mode %q (want %s)", r.ResponseMode, ResponseModeDirectPostJWT)
	}
	if !strings.HasPrefix(r.ClientID, ClientIDPrefixX509SanDNS) && !strings.HasPrefix(r.ClientID, ClientIDPrefixX509Hash) {
		return errorf(CodeInvalidClient, "client_id %q has no supported prefix (x509_san_dns:, x509_hash:)", r.ClientID)
	}
	if err := checkHTTPURL(r.ResponseURI); err != nil {
		return wrap(CodeInvalidRequest, err, "response_uri")
	}
	if r.Nonce == "" || len(r.Nonce) > MaxNonceLength {
		return errorf(CodeInvalidRequest, "nonce missing or longer than %d", MaxNonceLength)
	}
	if len(r.State) > MaxNonceLength {
		return errorf(CodeInvalidRequest, "state longer than %d", MaxNonceLength)
	}
	if r.Audience != "" && r.Audience != AudienceSelfIssued {
		return errorf(CodeInvalidRequestObject, "aud %q (want %s)", r.Audience, AudienceSelfIssued)
	}
	if r.DCQLQuery == nil {
		return errorf(CodeInvalidRequest, "dcql_query missing")
	}
	if err := r.DCQLQuery.Validate(); err != nil {
		return err
	}
	if r.ClientMetadata == nil {
		return errorf(CodeInvalidRequest, "client_metadata missing: direct_post.jwt needs an encryption key")
	}
	if _, err := r.ClientMetadata.JWKS.EncryptionKey(); err != nil {
		return err
	}
	if len(r.ClientMetadata.EncryptedResponseEncValuesSupported) > 8 {
		return errorf(mdoc.CodeLimitExceeded, "too many encrypted_response_enc_values_supported")
	}
	if _, err := r.ClientMetadata.ChooseEnc(); err != nil {
		return err
	}
	return nil
}

func checkHTTPURL(s string) error {
	if len(s) > MaxAuthorizationRequestLength {
		return errorf(mdoc.CodeLimitExceeded, "URL longer than %d", MaxAuthorizationRequestLength)
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
		return errorf(CodeInvalidRequest, "%q is not an absolute http(s) URL without fragment", s)
	}
	return nil
}

// ClientIDX509Hash returns the x509_hash client identifier of a DER
// certificate: "x509_hash:" ‖ base64url(SHA-256(DER)).
func ClientIDX509Hash(der []byte) string {
	sum := sha256.Sum256(der)
	return ClientIDPrefixX509Hash + base64.RawURLEncoding.EncodeToString(sum[:])
}

// SignRequestObject signs ro as a request object JWT with the verifier's
// reader key: header {alg, typ: oauth-authz-req+jwt, x5c: chain}, chain
// the reader certificate first (DER). signer may be any crypto.Signer
// holding an ECDSA key (P-256 → ES256, P-384 → ES384, P-521 → ES512).
func SignRequestObject(signer crypto.Signer, chain [][]byte, ro *RequestObject) ([]byte, error) {
	if err := ro.Validate(); err != nil {
		return nil, err
	}
	if len(chain) == 0 || len(chain) > mdoc.MaxChainLength {
		return nil, errorf(CodeInvalidRequestObject, "x5c must hold 1 to %d certificates", mdoc.MaxChainLength)
	}
	if err := checkRequestKey(signer.Public()); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(ro)
	if err != nil {
		return nil, wrap(CodeInvalidRequestObject, err, "encode request object")
	}
	x5c := make([]string, len(chain))
	for i, der := range chain {
		x5c[i] = base64.StdEncoding.EncodeToString(der)
	}
	out, err := jose.Sign(signer, map[string]any{"typ": RequestObjectType, "x5c": x5c}, payload)
	if err != nil {
		return nil, wrap(CodeInvalidRequestObject, err, "sign request object")
	}
	return []byte(out), nil
}

// checkRequestKey admits the keys a request object may be signed with:
// ECDSA on P-256, P-384 or P-521 (ES256, ES384, ES512).
func checkRequestKey(pub crypto.PublicKey) error {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return errorf(mdoc.CodeUnsupported, "request object key must be ECDSA, got %T", pub)
	}
	switch k.Curve {
	case elliptic.P256(), elliptic.P384(), elliptic.P521():
		return nil
	}
	return errorf(mdoc.CodeUnsupported, "request object key curve %s", k.Curve.Params().Name)
}

// RequestObjectOptions configures VerifyRequestObject.
type RequestObjectOptions struct {
	// Trust anchors the x5c chain: the reader roots the wallet trusts
	// (mdoc.NewTrustStore(mdoc.PurposeReaderAuth, …)), the same as for
	// ReaderAuth in proximity. Required.
	Trust mdoc.Trust
	// CurrentTime is the verification time; zero means time.Now().
	CurrentTime time.Time
	// ClientID is the client_id of the authorization request that pointed
	// at the request object; it must equal the signed one. Empty skips the
	// comparison (request received other than by reference).
	ClientID string
}

// VerifiedRequest is a request object whose signature, certificate chain
// and client identifier were verified.
type VerifiedRequest struct {
	Object      *RequestObject
	Certificate *x509.Certificate // the verifier's reader certificate (x5c leaf)
	Chain       *mdoc.ChainResult
	// Roles are the reader roles the certificate asserts, to apply the
	// same release rules as in proximity (insurance numbers only to
	// medical institutions, …).
	Roles mdoc.ReaderRoles
	// EncryptionKey is the key to encrypt the response to, Thumbprint its
	// RFC 7638 thumbprint (for the SessionTranscript), Enc the content
	// encryption to use.
	EncryptionKey *JWK
	Thumbprint    []byte
	Enc           string
	Raw           []byte
}

// VerifyRequestObject verifies a request object JWT as a wallet does
// (OpenID4VP 1.0 §5, §5.9.3): the size bound, typ oauth-authz-req+jwt,
// the x5c chain against opts.Trust (reader authentication profile), the
// signature by the leaf, the client_id prefix rule (x509_san_dns: a dNSName
// of the leaf that is also the host of response_uri; x509_hash: the hash of
// the leaf), client_id equal to opts.ClientID, exp and iat, and Validate.
// Signature, chain and client failures are CodeReaderAuthInvalid or
// CodeInvalidClient, so a wallet refuses the request as it would a failed
// ReaderAuth.
func VerifyRequestObject(jwt []byte, opts RequestObjectOptions) (*VerifiedRequest, error) {
	if len(jwt) > MaxRequestObjectSize {
		return nil, errorf(mdoc.CodeLimitExceeded, "request object of %d bytes, limit %d", len(jwt), MaxRequestObjectSize)
	}
	if opts.Trust == nil {
		return nil, errorf(mdoc.CodeReaderAuthInvalid, "no reader trust configured")
	}
	now := opts.CurrentTime
	if now.IsZero() {
		now = time.Now()
	}
	jwt = bytes.TrimSpace(jwt)
	parsed, err := jose.ParseJWS(string(jwt), MaxRequestObjectSize)
	if errors.Is(err, jose.ErrUnsupported) {
		return nil, wrap(CodeInvalidRequestObject, err, "header parameters not understood")
	}
	if err != nil {
		return nil, wrap(CodeInvalidRequestObject, err, "request object")
	}
	h := parsed.Header
	if h.Typ != RequestObjectType {
		return nil, errorf(CodeInvalidRequestObject, "typ %q (want %s)", h.Typ, RequestObjectType)
	}
	if len(h.X5C) == 0 || len(h.X5C) > mdoc.MaxChainLength {
		return nil, errorf(CodeInvalidRequestObject, "x5c must hold 1 to %d certificates", mdoc.MaxChainLength)
	}
	chain := make([][]byte, len(h.X5C))
	for i, s := range h.X5C {
		// x5c is standard base64 with padding (RFC 7515 §4.1.6).
		if chain[i], err = base64.StdEncoding.DecodeString(s); err != nil {
			return nil, wrap(CodeInvalidRequestObject, err, "x5c[%d]", i)
		}
	}
	cr, err := opts.Trust.VerifyChain(chain, now)
	if err != nil {
		return nil, wrap(mdoc.CodeReaderAuthInvalid, err, "request object certificate")
	}
	leaf := cr.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(chain[0]); err != nil {
			return nil, wrap(mdoc.CodeReaderAuthInvalid, err, "x5c leaf")
		}
	}
	if err := checkRequestKey(leaf.PublicKey); err != nil {
		return nil, err
	}
	if err := parsed.Verify(leaf.PublicKey); errors.Is(err, jose.ErrAlgorithm) {
		return nil, wrap(mdoc.CodeReaderAuthInvalid, err, "alg does not fit the certificate key")
	} else if err != nil {
		return nil, wrap(mdoc.CodeReaderAuthInvalid, err, "request object signature")
	}
	payload := parsed.Payload
	// json/v2 semantics, as for the response: exact member names and no
	// duplicate members, so that the signed request reads one way only (a
	// second response_uri or nonce is refused, not silently taken).
	var ro RequestObject
	if err := jsonv2.Unmarshal(payload, &ro); err != nil {
		return nil, wrap(CodeInvalidRequestObject, err, "request object claims")
	}
	if err := ro.Validate(); err != nil {
		return nil, err
	}
	if opts.ClientID != "" && opts.ClientID != ro.ClientID {
		return nil, errorf(CodeInvalidClient, "client_id %q in the request differs from %q in the request object", opts.ClientID, ro.ClientID)
	}
	if err := checkClientID(ro.ClientID, ro.ResponseURI, leaf, chain[0]); err != nil {
		return nil, err
	}
	if ro.ExpiresAt != 0 && !now.Before(time.Unix(ro.ExpiresAt, 0)) {
		return nil, errorf(CodeInvalidRequestObject, "request object expired at %s", time.Unix(ro.ExpiresAt, 0).UTC().Format(time.RFC3339))
	}
	if ro.IssuedAt != 0 && time.Unix(ro.IssuedAt, 0).After(now.Add(MaxRequestObjectClockSkew)) {
		return nil, errorf(CodeInvalidRequestObject, "request object issued in the future")
	}
	key, err := ro.ClientMetadata.JWKS.EncryptionKey()
	if err != nil {
		return nil, err
	}
	thumb, err := key.Thumbprint()
	if err != nil {
		return nil, err
	}
	enc, err := ro.ClientMetadata.ChooseEnc()
	if err != nil {
		return nil, err
	}
	return &VerifiedRequest{
		Object: &ro, Certificate: leaf, Chain: cr, Roles: mdoc.ReaderRolesOf(leaf),
		EncryptionKey: key, Thumbprint: thumb, Enc: enc, Raw: slices.Clone(jwt),
	}, nil
}

// checkClientID applies the client identifier prefix rules of OpenID4VP
// 1.0 §5.9.3.
func checkClientID(clientID, responseURI string, leaf *x509.Certificate, leafDER []byte) error {
	switch {
	case strings.HasPrefix(clientID, ClientIDPrefixX509SanDNS):
		name := strings.TrimPrefix(clientID, ClientIDPrefixX509SanDNS)
		if !slices.Contains(leaf.DNSNames, name) {
			return errorf(CodeInvalidClient, "client_id DNS name %q is not a dNSName of the certificate", name)
		}
		u, err := url.Parse(responseURI)
		if err != nil || u.Hostname() != name {
			return errorf(CodeInvalidClient, "response_uri host differs from client_id DNS name %q", name)
		}
		return nil
	case strings.HasPrefix(clientID, ClientIDPrefixX509Hash):
		if clientID != ClientIDX509Hash(leafDER) {
			return errorf(CodeInvalidClient, "client_id hash does not match the certificate")
		}
		return nil
	}
	return errorf(CodeInvalidClient, "client_id %q has no supported prefix", clientID)
}

// SessionTranscript returns the mdoc SessionTranscript for this request
// (OpenID4VP 1.0 Appendix B.2.6.1): [null, null, OpenID4VPHandover] over
// client_id, nonce, the encryption key thumbprint and response_uri.
func (v *VerifiedRequest) SessionTranscript() (*mdoc.SessionTranscript, error) {
	return SessionTranscript(v.Object.ClientID, v.Object.Nonce, v.Thumbprint, v.Object.ResponseURI)
}

// SessionTranscript returns [null, null, OpenID4VPHandover(clientID, nonce,
// jwkThumbprint, responseURI)] (OpenID4VP 1.0 Appendix B.2.6.1), the
// transcript both sides compute for an mso_mdoc presentation.
func SessionTranscript(clientID, nonce string, jwkThumbprint []byte, responseURI string) (*mdoc.SessionTranscript, error) {
	return mdoc.NewSessionTranscript(nil, nil, mdoc.OpenID4VPHandover(clientID, nonce, jwkThumbprint, responseURI))
}

// AuthorizationRequest is the by-reference authorization request a
// verifier shows as a QR code or link (OpenID4VP 1.0 §5, RFC 9101 §5.2):
// openid4vp://?client_id=…&request_uri=…
type AuthorizationRequest struct {
	ClientID   string
	RequestURI string
}

// URI returns the openid4vp:// URI of the request.
func (a AuthorizationRequest) URI() string {
	v := url.Values{}
	v.Set("client_id", a.ClientID)
	v.Set("request_uri", a.RequestURI)
	return Scheme + "://?" + v.Encode()
}

// ParseAuthorizationRequest parses an openid4vp:// URI. Only requests by
// reference are supported: client_id and an http(s) request_uri are
// required, an inline request is CodeUnsupported, and a repeated
// parameter is CodeInvalidRequest.
func ParseAuthorizationRequest(s string) (*AuthorizationRequest, error) {
	if len(s) > MaxAuthorizationRequestLength {
		return nil, errorf(mdoc.CodeLimitExceeded, "authorization request longer than %d", MaxAuthorizationRequestLength)
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, wrap(CodeInvalidRequest, err, "authorization request")
	}
	if !strings.EqualFold(u.Scheme, Scheme) {
		return nil, errorf(CodeInvalidRequest, "scheme %q (want %s)", u.Scheme, Scheme)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, wrap(CodeInvalidRequest, err, "authorization request query")
	}
	for k, vs := range q {
		if len(vs) > 1 {
			return nil, errorf(CodeInvalidRequest, "parameter %q repeated", k)
		}
	}
	if q.Has("request") {
		return nil, errorf(mdoc.CodeUnsupported, "request by value is not supported; use request_uri")
	}
	if m := q.Get("request_uri_method"); m != "" && m != "get" {
		return nil, errorf(mdoc.CodeUnsupported, "request_uri_method %q", m)
	}
	a := &AuthorizationRequest{ClientID: q.Get("client_id"), RequestURI: q.Get("request_uri")}
	if a.ClientID == "" {
		return nil, errorf(CodeInvalidRequest, "client_id missing")
	}
	if err := checkHTTPURL(a.RequestURI); err != nil {
		return nil, wrap(CodeInvalidRequest, err, "request_uri")
	}
	return a, nil
}
