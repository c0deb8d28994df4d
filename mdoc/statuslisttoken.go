package mdoc

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"io"
	"math"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// StatusListCWTType is the typ (COSE header 16) of a Status List Token in
// CWT form (draft-ietf-oauth-status-list, "Status List Token in CWT
// Format").
const StatusListCWTType = "application/statuslist+cwt"

// COSE header labels read from a Status List Token (RFC 9052 §3.1).
const (
	coseHeaderKeyID = 4
	coseHeaderType  = 16
)

// MaxStatusListClockSkew is how far in the future a token's iat may lie
// before Verify rejects it: issuer and verifier clocks drift by seconds,
// not minutes.
const MaxStatusListClockSkew = 5 * time.Minute

// StatusListClaims are the claims of a Status List Token other than the
// list itself (draft-ietf-oauth-status-list, "Status List Token in CWT
// Format"; claim keys from RFC 8392 and the draft: sub 2, exp 4, iat 6,
// status_list 65533, ttl 65534).
type StatusListClaims struct {
	// Subject (sub, 2) is the URI the token is served at; referenced
	// tokens carry it as status.status_list.uri.
	Subject string
	// IssuedAt (iat, 6) is required.
	IssuedAt time.Time
	// ExpiresAt (exp, 4) is optional: zero means absent.
	ExpiresAt time.Time
	// TTL (ttl, 65534) is how long a relying party may cache the token,
	// in whole seconds; zero means absent.
	TTL time.Duration
	// AggregationURI (status_list.aggregation_uri) is optional.
	AggregationURI string
}

type statusListClaimsWire struct {
	Sub        string          `cbor:"2,keyasint"`
	Exp        *numericDate    `cbor:"4,keyasint,omitempty"`
	Iat        *numericDate    `cbor:"6,keyasint"`
	StatusList *statusListWire `cbor:"65533,keyasint"`
	TTL        *uint64         `cbor:"65534,keyasint,omitempty"`
}

type statusListWire struct {
	Bits           int    `cbor:"bits"`
	Lst            []byte `cbor:"lst"`
	AggregationURI string `cbor:"aggregation_uri,omitempty"`
}

// numericDate is a CWT NumericDate (RFC 8392 §2): seconds since the epoch,
// an integer when this package encodes it; a float is accepted on decode.
type numericDate int64

func (d numericDate) MarshalCBOR() ([]byte, error) { return Marshal(int64(d)) }

func (d *numericDate) UnmarshalCBOR(data []byte) error {
	var i int64
	if err := decMode.Unmarshal(data, &i); err == nil {
		*d = numericDate(i)
		return nil
	}
	var f float64
	if err := decMode.Unmarshal(data, &f); err != nil {
		return newError(CodeStatusListInvalid, "NumericDate is neither integer nor float")
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f < math.MinInt64 || f >= math.MaxInt64 {
		return newError(CodeStatusListInvalid, "NumericDate %v out of range", f)
	}
	*d = numericDate(math.Floor(f))
	return nil
}

func (d numericDate) time() time.Time { return time.Unix(int64(d), 0).UTC() }

// StatusListTokenOptions are the optional parts of SignStatusListToken.
type StatusListTokenOptions struct {
	// X5Chain is the DER certificate chain of the signing key, leaf first,
	// put in the unprotected header (label 33). Optional.
	X5Chain [][]byte
	// KeyID goes in the unprotected header (label 4). Optional.
	KeyID []byte
	// Rand is the randomness for ECDSA; nil means crypto/rand.
	Rand io.Reader
	// Encoded is list.Encode() when the caller already has it: an issuer
	// that publishes the same list as a CWT and a JWT compresses it once
	// (compression, not the signature, dominates the cost of a large
	// list). Nil means SignStatusListToken encodes the list itself.
	Encoded []byte
	// Bits is the list's bits per entry when list is nil: an issuer that
	// re-signs an unchanged list keeps only its Encoded form, not the
	// list (a few KB rather than tens).
	Bits int
}

// SignStatusListToken signs list and claims as a Status List Token in CWT
// form (draft-ietf-oauth-status-list, "Status List Token in CWT Format"):
// a tagged COSE_Sign1 (tag 18) with protected header {1: alg, 16:
// "application/statuslist+cwt"} and the claims map as payload. signer is any crypto.Signer (an HSM key works);
// the algorithm follows its key: ES256/ES384/ES512 by curve, EdDSA for
// Ed25519. list may be nil when opts gives Encoded and Bits.
func SignStatusListToken(signer crypto.Signer, opts StatusListTokenOptions, claims StatusListClaims, list *StatusList) ([]byte, error) {
	bits := opts.Bits
	switch {
	case signer == nil:
		return nil, newError(CodeStatusListInvalid, "missing signer")
	case list != nil:
		bits = list.Bits
	case opts.Encoded == nil:
		return nil, newError(CodeStatusListInvalid, "missing list")
	case bits != 1 && bits != 2 && bits != 4 && bits != 8:
		return nil, newError(CodeStatusListInvalid, "bits %d (want 1, 2, 4 or 8)", bits)
	}
	if claims.Subject == "" {
		return nil, newError(CodeStatusListInvalid, "status list token without sub")
	}
	if claims.IssuedAt.IsZero() {
		return nil, newError(CodeStatusListInvalid, "status list token without iat")
	}
	if !claims.ExpiresAt.IsZero() && !claims.ExpiresAt.After(claims.IssuedAt) {
		return nil, newError(CodeStatusListInvalid, "exp %v not after iat %v", claims.ExpiresAt, claims.IssuedAt)
	}
	if claims.TTL < 0 {
		return nil, newError(CodeStatusListInvalid, "negative ttl")
	}
	if len(opts.X5Chain) > MaxChainLength {
		return nil, newError(CodeLimitExceeded, "x5chain of %d certificates exceeds %d", len(opts.X5Chain), MaxChainLength)
	}
	lst := opts.Encoded
	if lst == nil {
		var err error
		if lst, err = list.Encode(); err != nil {
			return nil, err
		}
	}
	iat := numericDate(claims.IssuedAt.Unix())
	w := statusListClaimsWire{
		Sub:        claims.Subject,
		Iat:        &iat,
		StatusList: &statusListWire{Bits: bits, Lst: lst, AggregationURI: claims.AggregationURI},
	}
	if !claims.ExpiresAt.IsZero() {
		exp := numericDate(claims.ExpiresAt.Unix())
		w.Exp = &exp
	}
	if claims.TTL > 0 {
		ttl := uint64((claims.TTL + time.Second - 1) / time.Second)
		w.TTL = &ttl
	}
	payload, err := Marshal(w)
	if err != nil {
		return nil, err
	}
	alg, err := AlgorithmFor(signer.Public())
	if err != nil {
		return nil, err
	}
	s, err := cose.NewSigner(alg, signer)
	if err != nil {
		return nil, wrapError(CodeUnsupported, err, "cose signer")
	}
	hdr := cose.Headers{
		Protected:   cose.ProtectedHeader{cose.HeaderLabelAlgorithm: alg, cose.HeaderLabelType: StatusListCWTType},
		Unprotected: cose.UnprotectedHeader{},
	}
	switch len(opts.X5Chain) {
	case 0:
	case 1:
		hdr.Unprotected[cose.HeaderLabelX5Chain] = opts.X5Chain[0]
	default:
		chain := make([]any, len(opts.X5Chain))
		for i, c := range opts.X5Chain {
			chain[i] = c
		}
		hdr.Unprotected[cose.HeaderLabelX5Chain] = chain
	}
	if len(opts.KeyID) > 0 {
		hdr.Unprotected[cose.HeaderLabelKeyID] = opts.KeyID
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	out, err := cose.Sign1(rnd, s, hdr, payload, nil)
	if err != nil {
		return nil, wrapError(CodeStatusListInvalid, err, "sign status list token")
	}
	return out, nil
}

// StatusListToken is a parsed Status List Token in CWT form
// (draft-ietf-oauth-status-list, "Status List Token in CWT Format").
// Parsing checks structure only; call Verify before trusting Claims, List
// or Status.
type StatusListToken struct {
	Type      string // protected typ (16)
	Algorithm cose.Algorithm
	KeyID     []byte   // kid (4), protected or unprotected; nil when absent
	X5Chain   [][]byte // DER certificates of label 33, leaf first; nil when absent
	Claims    StatusListClaims
	List      *StatusList
	Raw       []byte

	msg *Sign1
}

// ParseStatusListToken parses a Status List Token CWT: a tagged COSE_Sign1
// whose payload holds sub, iat, optional exp and ttl, and status_list
// {bits, lst}. The list is decompressed within MaxStatusListBytes. Failures
// are CodeStatusListInvalid, or CodeLimitExceeded for oversized input.
func ParseStatusListToken(b []byte) (*StatusListToken, error) {
	if len(b) == 0 || b[0] != 0xc0|TagCOSESign1 {
		return nil, newError(CodeStatusListInvalid, "status list token is not a tagged COSE_Sign1 (tag 18)")
	}
	msg, err := ParseSign1(b)
	if err != nil {
		return nil, statusListError(err, "status list token")
	}
	t := &StatusListToken{Raw: bytes.Clone(b), Algorithm: msg.Alg, X5Chain: msg.X5Chain, msg: msg}
	var prot map[any]cbor.RawMessage
	if err := Unmarshal(msg.Protected, &prot); err != nil {
		return nil, statusListError(err, "status list token protected header")
	}
	if raw, ok := prot[int64(coseHeaderType)]; ok {
		if err := Unmarshal(raw, &t.Type); err != nil {
			return nil, newError(CodeStatusListInvalid, "typ is not a text string")
		}
	}
	kid, ok := prot[int64(coseHeaderKeyID)]
	if !ok {
		kid, ok = msg.Unprotected[int64(coseHeaderKeyID)]
	}
	if ok {
		if err := Unmarshal(kid, &t.KeyID); err != nil {
			return nil, newError(CodeStatusListInvalid, "kid is not a byte string")
		}
	}
	if len(msg.Payload) == 0 {
		return nil, newError(CodeStatusListInvalid, "status list token without payload")
	}
	var w statusListClaimsWire
	if err := Unmarshal(msg.Payload, &w); err != nil {
		return nil, statusListError(err, "status list token claims")
	}
	if w.Sub == "" {
		return nil, newError(CodeStatusListInvalid, "status list token without sub")
	}
	if w.Iat == nil {
		return nil, newError(CodeStatusListInvalid, "status list token without iat")
	}
	if w.StatusList == nil {
		return nil, newError(CodeStatusListInvalid, "status list token without status_list")
	}
	t.Claims = StatusListClaims{Subject: w.Sub, IssuedAt: w.Iat.time(), AggregationURI: w.StatusList.AggregationURI}
	if w.Exp != nil {
		t.Claims.ExpiresAt = w.Exp.time()
	}
	if w.TTL != nil {
		if *w.TTL > uint64(math.MaxInt64/int64(time.Second)) {
			return nil, newError(CodeStatusListInvalid, "ttl %d out of range", *w.TTL)
		}
		t.Claims.TTL = time.Duration(*w.TTL) * time.Second
	}
	if t.List, err = DecodeStatusList(w.StatusList.Bits, w.StatusList.Lst, 0); err != nil {
		return nil, err
	}
	return t, nil
}

// statusListError wraps err as CodeStatusListInvalid unless it already
// says a limit was exceeded.
func statusListError(err error, what string) error {
	if CodeOf(err) == CodeLimitExceeded {
		return wrapError(CodeLimitExceeded, err, "%s", what)
	}
	return wrapError(CodeStatusListInvalid, err, "%s", what)
}

// Verify checks the token (draft-ietf-oauth-status-list, "Validation Rules"): typ is
// StatusListCWTType, the signature verifies with pub (the key of a
// certificate the caller trusts), sub equals expectedSub — the uri the
// referenced credential names —, exp (if any) has not passed at now, and
// iat is not more than MaxStatusListClockSkew after now. A zero now means
// time.Now(). Every failure is CodeStatusListInvalid with a specific
// detail.
func (t *StatusListToken) Verify(pub crypto.PublicKey, expectedSub string, now time.Time) error {
	if t.msg == nil {
		return newError(CodeStatusListInvalid, "status list token was not parsed")
	}
	if t.Type != StatusListCWTType {
		return newError(CodeStatusListInvalid, "typ %q, want %q", t.Type, StatusListCWTType)
	}
	if err := t.msg.Verify(pub, nil); err != nil {
		return wrapError(CodeStatusListInvalid, err, "status list token signature")
	}
	if t.Claims.Subject != expectedSub {
		return newError(CodeStatusListInvalid, "sub %q does not match the referenced uri %q", t.Claims.Subject, expectedSub)
	}
	if now.IsZero() {
		now = time.Now()
	}
	if !t.Claims.ExpiresAt.IsZero() && !now.Before(t.Claims.ExpiresAt) {
		return newError(CodeStatusListInvalid, "status list token expired at %s", t.Claims.ExpiresAt.Format(time.RFC3339))
	}
	if t.Claims.IssuedAt.After(now.Add(MaxStatusListClockSkew)) {
		return newError(CodeStatusListInvalid, "status list token issued in the future (%s)", t.Claims.IssuedAt.Format(time.RFC3339))
	}
	return nil
}

// Status returns the status of the referenced token at idx; an index
// outside the list is CodeStatusListInvalid. Call Verify first.
func (t *StatusListToken) Status(idx uint64) (uint8, error) {
	if t.List == nil {
		return 0, newError(CodeStatusListInvalid, "status list token without list")
	}
	return t.List.Get(idx)
}

// Certificates parses X5Chain.
func (t *StatusListToken) Certificates() ([]*x509.Certificate, error) {
	out := make([]*x509.Certificate, 0, len(t.X5Chain))
	for i, der := range t.X5Chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, wrapError(CodeStatusListInvalid, err, "x5chain certificate %d", i)
		}
		out = append(out, c)
	}
	return out, nil
}
