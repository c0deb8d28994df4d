package oid4vp

import (
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sort"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"

	"github.com/mynumber-mdoc/mnc/internal/jose"
	"github.com/mynumber-mdoc/mnc/mdoc"
)

// Bounds on response input.
const (
	// MaxResponseSize bounds the encrypted response (the JWE compact
	// serialisation). One DeviceResponse is at most mdoc.MaxMessageSize;
	// base64url in the vp_token and again in the JWE adds 4/3 twice.
	MaxResponseSize = mdoc.MaxMessageSize*16/9 + 64<<10
	// MaxPresentations bounds the presentations in one vp_token.
	MaxPresentations = 16
)

// ResponseFormField is the form field of a direct_post.jwt POST that holds
// the JWE (OpenID4VP 1.0 §8.3.1).
const ResponseFormField = "response"

// AuthorizationResponse is the wallet's answer (OpenID4VP 1.0 §8.1): the
// vp_token maps each DCQL credential query id to its presentations, for
// mso_mdoc the base64url (no padding) encoding of a DeviceResponse
// (Appendix B.2.4); state echoes the request's.
type AuthorizationResponse struct {
	VPToken map[string][]string `json:"vp_token"`
	State   string              `json:"state,omitempty"`
}

// AddPresentation appends a DeviceResponse as a presentation for the
// credential query id.
func (r *AuthorizationResponse) AddPresentation(id string, deviceResponse []byte) {
	if r.VPToken == nil {
		r.VPToken = map[string][]string{}
	}
	r.VPToken[id] = append(r.VPToken[id], base64.RawURLEncoding.EncodeToString(deviceResponse))
}

// IDs returns the credential query ids answered, sorted.
func (r *AuthorizationResponse) IDs() []string {
	ids := make([]string, 0, len(r.VPToken))
	for id := range r.VPToken {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Presentations returns the DeviceResponse bytes presented for id, decoded
// strictly (base64url without padding) and bounded by
// mdoc.MaxMessageSize each.
func (r *AuthorizationResponse) Presentations(id string) ([][]byte, error) {
	ps := r.VPToken[id]
	if len(ps) > MaxPresentations {
		return nil, errorf(mdoc.CodeLimitExceeded, "%d presentations for %q, limit %d", len(ps), id, MaxPresentations)
	}
	out := make([][]byte, 0, len(ps))
	for i, p := range ps {
		if len(p) > base64.RawURLEncoding.EncodedLen(mdoc.MaxMessageSize) {
			return nil, errorf(mdoc.CodeLimitExceeded, "presentation %d for %q too large", i, id)
		}
		b, err := base64.RawURLEncoding.Strict().DecodeString(p)
		if err != nil {
			return nil, wrap(mdoc.CodeMalformed, err, "presentation %d for %q is not base64url", i, id)
		}
		out = append(out, b)
	}
	return out, nil
}

// Validate checks the shape of a decrypted response: a non-empty vp_token
// with at most MaxPresentations in all.
func (r *AuthorizationResponse) Validate() error {
	if len(r.VPToken) == 0 {
		return errorf(CodeInvalidRequest, "vp_token missing or empty")
	}
	n := 0
	for id, ps := range r.VPToken {
		if len(ps) == 0 {
			return errorf(CodeInvalidRequest, "vp_token entry %q is empty", id)
		}
		n += len(ps)
	}
	if n > MaxPresentations {
		return errorf(mdoc.CodeLimitExceeded, "%d presentations, limit %d", n, MaxPresentations)
	}
	return nil
}

func contentEncryption(enc string) (jwa.ContentEncryptionAlgorithm, error) {
	switch enc {
	case EncA128GCM:
		return jwa.A128GCM(), nil
	case EncA256GCM:
		return jwa.A256GCM(), nil
	}
	return jwa.ContentEncryptionAlgorithm{}, errorf(mdoc.CodeUnsupported, "content encryption %q", enc)
}

// EncryptResponse encrypts r to the verifier's key for direct_post.jwt
// (OpenID4VP 1.0 §8.3): a compact JWE with alg ECDH-ES, enc as chosen
// (A128GCM or A256GCM), and the key's kid in the header.
func EncryptResponse(r *AuthorizationResponse, key *JWK, enc string) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	pub, err := key.ECDH()
	if err != nil {
		return nil, err
	}
	ce, err := contentEncryption(enc)
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(r)
	if err != nil {
		return nil, wrap(mdoc.CodeMalformed, err, "encode response")
	}
	hdr := jwe.NewHeaders()
	if key.Kid != "" {
		if err := hdr.Set(jwe.KeyIDKey, key.Kid); err != nil {
			return nil, err
		}
	}
	out, err := jwe.Encrypt(payload,
		jwe.WithKey(jwa.ECDH_ES(), pub),
		jwe.WithContentEncryption(ce),
		jwe.WithProtectedHeaders(hdr),
		jwe.WithCompact())
	if err != nil {
		return nil, wrap(mdoc.CodeSessionEncryption, err, "encrypt response")
	}
	return out, nil
}

// DecryptOptions configures DecryptResponse.
type DecryptOptions struct {
	// Key is the verifier's ephemeral private key for this transaction.
	Key *ecdh.PrivateKey
	// Kid, when set, must equal the JWE kid if the JWE names one.
	Kid string
	// Enc lists the content encryptions the verifier offered; nil means
	// [A128GCM].
	Enc []string
}

// DecryptResponse decrypts a direct_post.jwt response (OpenID4VP 1.0
// §8.3). It bounds the input by MaxResponseSize, accepts only compact JWEs
// with alg ECDH-ES and an offered enc, refuses compression and critical
// headers, and validates the decrypted response. Decryption failures are
// CodeSessionEncryption; everything else malformed is CodeInvalidRequest.
func DecryptResponse(b []byte, o DecryptOptions) (*AuthorizationResponse, error) {
	if len(b) > MaxResponseSize {
		return nil, errorf(mdoc.CodeLimitExceeded, "response of %d bytes, limit %d", len(b), MaxResponseSize)
	}
	return DecryptResponseString(string(b), o)
}

// DecryptResponseString is DecryptResponse for the response form field as
// the verifier has it, a string: the JWE, kilobytes long, is then not
// copied on its way to decryption.
func DecryptResponseString(compact string, o DecryptOptions) (*AuthorizationResponse, error) {
	if len(compact) > MaxResponseSize {
		return nil, errorf(mdoc.CodeLimitExceeded, "response of %d bytes, limit %d", len(compact), MaxResponseSize)
	}
	if o.Key == nil {
		return nil, errorf(mdoc.CodeSessionEncryption, "no decryption key")
	}
	offered := o.Enc
	if len(offered) == 0 {
		offered = []string{EncA128GCM}
	}
	msg, err := jose.DecryptECDHES(strings.TrimSpace(compact), jose.DecryptOptions{Key: o.Key, Enc: offered, MaxLen: MaxResponseSize})
	switch {
	case errors.Is(err, jose.ErrUnsupported):
		return nil, wrap(mdoc.CodeUnsupported, err, "response encryption")
	case errors.Is(err, jose.ErrMalformed):
		return nil, wrap(CodeInvalidRequest, err, "response is not a valid compact JWE")
	case err != nil:
		return nil, wrap(mdoc.CodeSessionEncryption, err, "decrypt response")
	}
	// A kid is optional; when present it must name this transaction's key.
	if kid, ok := msg.Header.KeyID(); ok && o.Kid != "" && kid != "" && kid != o.Kid {
		return nil, errorf(mdoc.CodeSessionEncryption, "JWE kid %q is not this transaction's key", kid)
	}
	plain := msg.Plaintext
	// json/v2 semantics (go-json-experiment/json): exact member names, no
	// duplicate members and nothing after the object, so the response is
	// read one way only; and it decodes the kilobytes of base64url in
	// vp_token several times faster than encoding/json's Decoder.
	var r AuthorizationResponse
	if err := jsonv2.Unmarshal(plain, &r); err != nil {
		return nil, wrap(CodeInvalidRequest, err, "response payload")
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// ErrorResponse is what a wallet posts instead of a response when it
// declines (OpenID4VP 1.0 §8.5), as form fields error, error_description
// and state.
type ErrorResponse struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
	State            string `json:"state,omitempty"`
}

// DirectPostResult is the verifier's JSON answer to a direct_post(.jwt)
// POST (OpenID4VP 1.0 §8.2): where the wallet sends the user next, if
// anywhere.
type DirectPostResult struct {
	RedirectURI string `json:"redirect_uri,omitempty"`
}
