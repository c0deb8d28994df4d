package status

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

// The JWT form of a Status List Token (draft-ietf-oauth-status-list,
// "Status List Token in JWT Format"): a compact JWS with typ
// "statuslist+jwt", the signer's chain in x5c, and claims sub, iat,
// optional exp and ttl, and status_list {bits, lst} where lst is the
// base64url of the zlib-compressed list. Issuers that also speak SD-JWT VC
// serve this form; this client reads it beside the CWT form.

// Media types of the two forms, as sent in Accept and Content-Type.
const (
	StatusListJWTMediaType = "application/statuslist+jwt"
	statusListJWTTyp       = "statuslist+jwt"
)

// MaxJWTHeader bounds the decoded JWS header (x5c of a few certificates).
const MaxJWTHeader = 64 << 10

// token is a parsed Status List Token in either form, not yet verified.
type token struct {
	claims mdoc.StatusListClaims
	list   *mdoc.StatusList
	chain  [][]byte
	// verify checks the signature with pub, sub against the referenced
	// uri, exp and iat at now.
	verify func(pub crypto.PublicKey, sub string, now time.Time) error
}

// parseToken reads either form: a JWT is ASCII and starts with the
// base64url of '{"', a CWT is a CBOR tag-18 item.
func parseToken(b []byte) (*token, error) {
	// Only the text form may carry surrounding whitespace (a file with a
	// trailing newline); a CWT's last bytes are signature bytes.
	if t := bytes.TrimSpace(b); bytes.HasPrefix(t, []byte("ey")) {
		return parseJWT(t)
	}
	t, err := mdoc.ParseStatusListToken(b)
	if err != nil {
		return nil, err
	}
	return &token{claims: t.Claims, list: t.List, chain: t.X5Chain, verify: t.Verify}, nil
}

type jwtHeader struct {
	Alg  string   `json:"alg"`
	Typ  string   `json:"typ"`
	X5C  []string `json:"x5c"`
	Crit []string `json:"crit"`
}

type jwtClaims struct {
	Sub        string   `json:"sub"`
	Iat        *float64 `json:"iat"`
	Exp        *float64 `json:"exp"`
	TTL        *float64 `json:"ttl"`
	StatusList *struct {
		Bits           int    `json:"bits"`
		Lst            string `json:"lst"`
		AggregationURI string `json:"aggregation_uri"`
	} `json:"status_list"`
}

func invalid(format string, args ...any) error {
	return &mdoc.Error{Code: mdoc.CodeStatusListInvalid, Detail: "status: JWT " + fmt.Sprintf(format, args...)}
}

func parseJWT(b []byte) (*token, error) {
	if len(b) > MaxTokenSize {
		return nil, &mdoc.Error{Code: mdoc.CodeLimitExceeded, Detail: fmt.Sprintf("status: token over %d bytes", MaxTokenSize)}
	}
	parts := bytes.Split(b, []byte("."))
	if len(parts) != 3 {
		return nil, invalid("is not a compact JWS")
	}
	if len(parts[0]) > MaxJWTHeader {
		return nil, &mdoc.Error{Code: mdoc.CodeLimitExceeded, Detail: "status: JWT header too large"}
	}
	hb, err := base64.RawURLEncoding.Strict().DecodeString(string(parts[0]))
	if err != nil {
		return nil, invalid("header encoding: %v", err)
	}
	var h jwtHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, invalid("header: %v", err)
	}
	if h.Typ != statusListJWTTyp {
		return nil, invalid("typ %q, want %q", h.Typ, statusListJWTTyp)
	}
	if len(h.Crit) > 0 {
		return nil, invalid("critical header parameters %v not understood", h.Crit)
	}
	if len(h.X5C) == 0 || len(h.X5C) > mdoc.MaxChainLength {
		return nil, invalid("x5c must hold 1 to %d certificates", mdoc.MaxChainLength)
	}
	chain := make([][]byte, len(h.X5C))
	for i, s := range h.X5C {
		// x5c is standard base64 with padding (RFC 7515 §4.1.6).
		if chain[i], err = base64.StdEncoding.DecodeString(s); err != nil {
			return nil, invalid("x5c[%d]: %v", i, err)
		}
	}
	pb, err := base64.RawURLEncoding.Strict().DecodeString(string(parts[1]))
	if err != nil {
		return nil, invalid("payload encoding: %v", err)
	}
	var c jwtClaims
	if err := json.Unmarshal(pb, &c); err != nil {
		return nil, invalid("claims: %v", err)
	}
	switch {
	case c.Sub == "":
		return nil, invalid("without sub")
	case c.Iat == nil:
		return nil, invalid("without iat")
	case c.StatusList == nil:
		return nil, invalid("without status_list")
	}
	t := &token{chain: chain, claims: mdoc.StatusListClaims{Subject: c.Sub, AggregationURI: c.StatusList.AggregationURI}}
	if t.claims.IssuedAt, err = numericDate(*c.Iat); err != nil {
		return nil, err
	}
	if c.Exp != nil {
		if t.claims.ExpiresAt, err = numericDate(*c.Exp); err != nil {
			return nil, err
		}
	}
	if c.TTL != nil {
		if *c.TTL < 0 || *c.TTL > float64(math.MaxInt64/int64(time.Second)) {
			return nil, invalid("ttl %v out of range", *c.TTL)
		}
		t.claims.TTL = time.Duration(*c.TTL) * time.Second
	}
	lst, err := base64.RawURLEncoding.DecodeString(c.StatusList.Lst)
	if err != nil {
		return nil, invalid("lst encoding: %v", err)
	}
	if t.list, err = mdoc.DecodeStatusList(c.StatusList.Bits, lst, 0); err != nil {
		return nil, err
	}
	alg := h.Alg
	t.verify = func(pub crypto.PublicKey, sub string, now time.Time) error {
		want, err := jwsAlgFor(pub)
		if err != nil {
			return err
		}
		if alg != want.String() {
			return invalid("alg %q does not fit the signer's key (%s)", alg, want)
		}
		if _, err := jws.Verify(b, jws.WithKey(want, pub)); err != nil {
			return &mdoc.Error{Code: mdoc.CodeStatusListInvalid, Detail: "status: JWT signature", Err: err}
		}
		return checkClaims(t.claims, sub, now)
	}
	return t, nil
}

func numericDate(f float64) (time.Time, error) {
	if math.IsNaN(f) || f < 0 || f > 1<<40 {
		return time.Time{}, invalid("NumericDate %v out of range", f)
	}
	return time.Unix(int64(f), 0).UTC(), nil
}

func jwsAlgFor(pub crypto.PublicKey) (jwa.SignatureAlgorithm, error) {
	if k, ok := pub.(*ecdsa.PublicKey); ok {
		switch k.Curve {
		case elliptic.P256():
			return jwa.ES256(), nil
		case elliptic.P384():
			return jwa.ES384(), nil
		case elliptic.P521():
			return jwa.ES512(), nil
		}
	}
	return jwa.SignatureAlgorithm{}, &mdoc.Error{Code: mdoc.CodeUnsupported, Detail: fmt.Sprintf("status: JWT signer key %T", pub)}
}

// checkClaims applies the validation rules of the draft that do not depend
// on the form: sub is the referenced uri, exp has not passed, iat is not in
// the future beyond mdoc.MaxStatusListClockSkew. (mdoc applies the same
// rules to the CWT form in StatusListToken.Verify.)
func checkClaims(c mdoc.StatusListClaims, sub string, now time.Time) error {
	if c.Subject != sub {
		return invalid("sub %q does not match the referenced uri %q", c.Subject, sub)
	}
	if !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt) {
		return invalid("expired at %s", c.ExpiresAt.Format(time.RFC3339))
	}
	if c.IssuedAt.After(now.Add(mdoc.MaxStatusListClockSkew)) {
		return invalid("issued in the future (%s)", c.IssuedAt.Format(time.RFC3339))
	}
	return nil
}
