package oid4vci

import (
	"fmt"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/errcode"
)

// Error codes of OpenID4VCI 1.0 (§6.3 token errors from RFC 6749 §5.2,
// §8.3.1.2 credential errors) and the project's enrolment and lifecycle
// endpoints. They are the `error` member of an ErrorResponse.
const (
	// RFC 6749 §5.2 (token endpoint).
	CodeInvalidRequest       = "invalid_request"
	CodeInvalidGrant         = "invalid_grant"
	CodeUnsupportedGrantType = "unsupported_grant_type"
	// RFC 6750 §3.1 (bearer access token).
	CodeInvalidToken = "invalid_token"
	// OpenID4VCI 1.0 §8.3.1.2 (credential endpoint).
	CodeInvalidCredentialRequest    = "invalid_credential_request"
	CodeUnknownCredentialConfig     = "unknown_credential_configuration"
	CodeInvalidProof                = "invalid_proof"
	CodeInvalidNonce                = "invalid_nonce"
	CodeCredentialRequestDenied     = "credential_request_denied"
	CodeUnsupportedCredentialFormat = "unsupported_credential_format"

	// Project codes (enrolment, lifecycle, administration).
	CodeInvalidApplication    = "invalid_application"     // card application malformed or its claims wrong
	CodeCardRejected          = "card_rejected"           // card certificate untrusted, revoked, expired, … (Reason: jpki code)
	CodeInvalidKeyAttestation = "invalid_key_attestation" // key attestation missing, untrusted, expired or not covering the keys
	CodeDeviceNotAllowed      = "device_not_allowed"      // model not on the allow-list, blocked model/OS, rooted device
	CodeDeviceUnknown         = "device_unknown"          // no such device
	CodeDeviceInactive        = "device_inactive"         // device revoked (or suspended, for refresh)
	CodeInvalidDeviceRequest  = "invalid_device_request"  // device-key-signed request malformed or not verifying
	CodeNotFound              = "not_found"
	CodeUnauthorized          = "unauthorized" // admin token missing or wrong
	CodeForbidden             = "forbidden"    // e.g. a dev endpoint in production mode
	CodeRateLimited           = "rate_limited"
	CodeRequestTooLarge       = "request_too_large"
	CodeServerError           = "server_error"
	// CodeTemporarilyUnavailable: the issuer cannot reach its database (or
	// it is overloaded); answered with 503 and Retry-After. The name is
	// OAuth 2.0's for the same condition (RFC 6749 §4.1.2.1).
	CodeTemporarilyUnavailable = "temporarily_unavailable"
)

// Reasons refine a code. They are the `reason` member of an ErrorResponse
// and stable like the codes.
const (
	ReasonMalformed        = "malformed"
	ReasonTooLarge         = "too_large"
	ReasonWrongType        = "wrong_typ"
	ReasonWrongAlgorithm   = "wrong_alg"
	ReasonSignature        = "signature_invalid"
	ReasonWrongAudience    = "wrong_audience"
	ReasonNonceMissing     = "nonce_missing"
	ReasonNonceUnknown     = "nonce_unknown_or_used"
	ReasonStale            = "stale"            // iat too old
	ReasonFuture           = "issued_in_future" // iat in the future
	ReasonExpired          = "expired"
	ReasonUntrusted        = "untrusted"
	ReasonKeyNotAttested   = "key_not_attested"
	ReasonKeyMismatch      = "key_mismatch"
	ReasonMissingKey       = "missing_key"
	ReasonWrongKeyType     = "wrong_key_type"
	ReasonPrivateKey       = "private_key"
	ReasonRooted           = "rooted"
	ReasonModelNotAllowed  = "model_not_allowed"
	ReasonModelBlocked     = "model_blocked"
	ReasonOSBlocked        = "os_version_blocked"
	ReasonAttestationModel = "attestation_mismatch" // application claims differ from the attestation
	ReasonContactRequired  = "contact_required"     // tx_code delivery needs contact_email
	ReasonContactInvalid   = "contact_invalid"      // contact_email is not a plain e-mail address
)

// Error is a refused request. Code is an OpenID4VCI or project error code,
// Reason a finer stable code (may be empty), Description human-readable.
// Status is the HTTP status the issuer answered with (0 when the error was
// made locally); RetryAfter is how long it asked the client to wait before
// sending the request again (its Retry-After, on 429 and 503), or 0.
type Error struct {
	Code        string
	Reason      string
	Description string
	Status      int
	RetryAfter  time.Duration
	Err         error
}

func (e *Error) Error() string {
	s := "oid4vci: " + e.Code
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Err != nil && e.Description == "" {
		s += ": " + e.Err.Error()
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches another *Error with the same Code (and the same Reason when the
// target has one), so errors.Is(err, &Error{Code: CodeInvalidProof}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return t.Code == e.Code && (t.Reason == "" || t.Reason == e.Reason)
}

// Response returns the wire form.
func (e *Error) Response() ErrorResponse {
	return ErrorResponse{Error: e.Code, ErrorDescription: e.Description, Reason: e.Reason}
}

// NewError returns an *Error with a formatted description.
func NewError(code, reason, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Description: fmt.Sprintf(format, args...)}
}

func wrapErr(code, reason string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Description: fmt.Sprintf(format, args...) + ": " + err.Error(), Err: err}
}

// CodeOf returns the Code of the first *Error in err's chain, or "".
func CodeOf(err error) string { return errcode.Of(err, func(e *Error) string { return e.Code }) }

// ReasonOf returns the Reason of the first *Error in err's chain, or "".
func ReasonOf(err error) string { return errcode.Of(err, func(e *Error) string { return e.Reason }) }

// ErrorResponse is the JSON body of every error answer (RFC 6749 §5.2,
// OpenID4VCI 1.0 §8.3.1.2) with the project's `reason` member.
type ErrorResponse struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
	Reason           string `json:"reason,omitempty"`
}
