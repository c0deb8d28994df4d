package jpki

import (
	"fmt"

	"github.com/mynumber-mdoc/mnc/internal/errcode"
)

// Code is a stable, machine-readable reason for a failed parse or check.
// Codes are part of the public contract: the issuer and the verifier put
// them in their JSON output and callers branch on them, so they are never
// renamed.
type Code string

// Error codes. Each has a sentinel Err… value for use with errors.Is.
const (
	CodeMalformed            Code = "malformed"               // not well-formed DER, APDU or JWS, or a value outside its syntax
	CodeProfile              Code = "profile"                 // a well-formed certificate that breaks the JPKI profile (key usage, policy, EKU, facts)
	CodeUnsupported          Code = "unsupported"             // key type or algorithm this package does not implement
	CodeUntrusted            Code = "untrusted"               // no configured root issued the certificate
	CodeTestRootInProduction Code = "test_root_in_production" // the certificate chains to a JPKI-TEST root in production mode
	CodeExpired              Code = "expired"                 // past notAfter of the certificate or its root
	CodeNotYetValid          Code = "not_yet_valid"           // before notBefore of the certificate or its root
	CodeRevoked              Code = "revoked"                 // listed on the CRL (or reported revoked by OCSP)
	CodeCRLStale             Code = "crl_stale"               // the CRL is outside thisUpdate … nextUpdate (+ grace)
	CodeCRLUnavailable       Code = "crl_unavailable"         // no source for the distribution point, fetch failed, or unparsable CRL
	CodeCRLSignature         Code = "crl_signature"           // the CRL is not signed by the certificate's root, or is for another distribution point
	CodeOCSPUnavailable      Code = "ocsp_unavailable"        // the OCSP responder could not be reached or gave no usable answer
	CodeSignatureInvalid     Code = "signature_invalid"       // a signature by the certificate's key does not verify
)

// Error is a failed parse or verification step. Code is stable; Detail is
// for people and may change.
type Error struct {
	Code   Code
	Detail string
	Err    error
	// Revocation is set on CodeRevoked errors: serial, time and reason.
	Revocation *Revocation
}

func (e *Error) Error() string { return errcode.Message("jpki", e.Err, string(e.Code), e.Detail) }

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same Code, so that
// errors.Is(err, jpki.ErrRevoked) works whatever the detail.
func (e *Error) Is(target error) bool { return errcode.SameCode(target, e.Code, codeOf) }

func codeOf(e *Error) Code { return e.Code }

// Sentinels for errors.Is.
var (
	ErrMalformed            = &Error{Code: CodeMalformed}
	ErrProfile              = &Error{Code: CodeProfile}
	ErrUnsupported          = &Error{Code: CodeUnsupported}
	ErrUntrusted            = &Error{Code: CodeUntrusted}
	ErrTestRootInProduction = &Error{Code: CodeTestRootInProduction}
	ErrExpired              = &Error{Code: CodeExpired}
	ErrNotYetValid          = &Error{Code: CodeNotYetValid}
	ErrRevoked              = &Error{Code: CodeRevoked}
	ErrCRLStale             = &Error{Code: CodeCRLStale}
	ErrCRLUnavailable       = &Error{Code: CodeCRLUnavailable}
	ErrCRLSignature         = &Error{Code: CodeCRLSignature}
	ErrOCSPUnavailable      = &Error{Code: CodeOCSPUnavailable}
	ErrSignatureInvalid     = &Error{Code: CodeSignatureInvalid}
)

// CodeOf returns the Code of the first *Error in err's chain, or "" when
// there is none.
func CodeOf(err error) Code { return errcode.Of(err, codeOf) }

func newError(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

func wrapError(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...), Err: err}
}
