package keyattest

import (
	"fmt"

	"github.com/mynumber-mdoc/mnc/internal/errcode"
)

// Code is a stable, machine-readable reason for a refused attestation.
// Codes are part of the public contract (the issuer's error responses and
// `mdoc-issuer attestation check --json` carry them), so they are never
// renamed.
type Code string

// Error codes.
const (
	CodeMalformed         Code = "malformed"            // not well-formed DER/CBOR, wrong types, trailing data
	CodeTooLarge          Code = "too_large"            // input over a named limit
	CodeMissingExtension  Code = "missing_extension"    // leaf lacks the attestation extension
	CodeUntrusted         Code = "untrusted"            // chain does not reach a trusted root, or a signature in it fails
	CodeExpired           Code = "expired"              // a certificate is outside its validity at the verification time
	CodeRevoked           Code = "revoked"              // a certificate is on Google's attestation status list
	CodeStatusUnavailable Code = "status_unavailable"   // the status list could not be obtained
	CodeChallengeMismatch Code = "challenge_mismatch"   // attestationChallenge / nonce differs from the expected one
	CodeAppMismatch       Code = "app_mismatch"         // package name, signing digest or App ID differs
	CodeKeyMismatch       Code = "key_mismatch"         // key id or attested key differs from the expected one
	CodeEnvironment       Code = "environment_mismatch" // App Attest aaguid is for the other environment
	CodeSimulatedRoot     Code = "simulated_root"       // a development (simulated) root in production
	CodeSecurityLevel     Code = "security_level"       // software-only key, or below the required level
	CodeBootState         Code = "boot_state"           // verified boot state not Verified, or bootloader unlocked
	CodeCounter           Code = "counter"              // App Attest counter not 0 at attestation, or not increasing
	CodeSignature         Code = "signature_invalid"    // an assertion signature does not verify
	CodeUnsupported       Code = "unsupported"          // an attestation format or key type this package does not handle
)

// Formats.
const (
	FormatAndroidKey     = "android-key"
	FormatAppleAppAttest = "apple-appattest"
)

// Error is a refused attestation: Format says which platform's, Code why,
// Detail for people.
type Error struct {
	Format string
	Code   Code
	Detail string
	Err    error
}

func (e *Error) Error() string {
	head := string(e.Code)
	if e.Format != "" {
		head += " (" + e.Format + ")"
	}
	return errcode.Message("keyattest", e.Err, head, e.Detail)
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches an *Error with the same Code, so errors.Is(err,
// &keyattest.Error{Code: keyattest.CodeRevoked}) works.
func (e *Error) Is(target error) bool { return errcode.SameCode(target, e.Code, codeOf) }

func codeOf(e *Error) Code { return e.Code }

// CodeOf returns the Code of err, or "" when err is not an *Error.
func CodeOf(err error) Code { return errcode.Of(err, codeOf) }

func errf(format string, code Code, detail string, args ...any) *Error {
	return &Error{Format: format, Code: code, Detail: fmt.Sprintf(detail, args...)}
}

func wrapf(format string, code Code, err error, detail string, args ...any) *Error {
	return &Error{Format: format, Code: code, Detail: fmt.Sprintf(detail, args...), Err: err}
}
