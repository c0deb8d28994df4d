package mdoc

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mynumber-mdoc/mnc/internal/errcode"
)

// Code is a stable, machine-readable reason for a failed parse or check.
// Codes are part of the public contract: verifier JSON output carries them
// and callers branch on them, so they are never renamed.
type Code string

// Error codes. Each has a sentinel Err… value for use with errors.Is.
const (
	CodeMalformed              Code = "malformed"                // not well-formed CBOR/COSE, or a structure that breaks the CDDL
	CodeLimitExceeded          Code = "limit_exceeded"           // input over a named size, depth or count limit
	CodeUnsupported            Code = "unsupported"              // algorithm, curve or version this package does not implement
	CodeIssuerSignatureInvalid Code = "issuer_signature_invalid" // IssuerAuth signature does not verify
	CodeUntrustedIssuer        Code = "untrusted_issuer"         // x5chain does not lead to a trusted IACA
	CodeCertificateProfile     Code = "certificate_profile"      // IACA or Document Signer breaks the Annex B profile
	CodeDigestMismatch         Code = "digest_mismatch"          // an IssuerSignedItem does not match its digest in the MSO
	CodeDigestMissing          Code = "digest_missing"           // an IssuerSignedItem has no digest in the MSO
	CodeExpired                Code = "expired"                  // past validUntil (or a certificate's notAfter)
	CodeNotYetValid            Code = "not_yet_valid"            // before validFrom (or a certificate's notBefore)
	CodeDocTypeMismatch        Code = "doc_type_mismatch"        // docType in the Document differs from the MSO's
	CodeDeviceAuthInvalid      Code = "device_auth_invalid"      // deviceSignature or deviceMac does not verify
	CodeKeyAuthorization       Code = "key_authorization"        // device-signed element not authorised by keyAuthorizations
	CodeReaderAuthInvalid      Code = "reader_auth_invalid"      // ReaderAuth missing, untrusted or not verifying
	CodeSessionEncryption      Code = "session_encryption"       // session message failed to decrypt, or a counter was wrong
	CodeStatusInvalid          Code = "revoked"                  // status list says 1 (invalid)
	CodeStatusSuspended        Code = "suspended"                // status list says 2 (suspended)
	CodeStatusUnavailable      Code = "status_unavailable"       // status list could not be obtained or verified
	CodeStatusListInvalid      Code = "status_list_invalid"      // status list token malformed, wrongly signed, expired or mismatched
	CodeStatusStale            Code = "status_stale"             // only a status list token older than its ttl (plus grace), or older than one already seen, could be had
	CodeElementNotReturned     Code = "element_not_returned"     // a requested element was not in the response
	CodeElementNotRequested    Code = "element_not_requested"    // an element was returned that the reader did not ask for
	CodeNotMdocDevice          Code = "not_mdoc_device"          // NFC: the tapped device answers neither the NDEF nor the mdoc application
	CodeNFCStatus              Code = "nfc_status"               // NFC: the device answered a command with an unexpected status word
)

// Error is a failed parse or verification step. Code is stable; Detail is
// for people. DocType names the document when the step concerned one.
type Error struct {
	Code    Code
	DocType string
	Detail  string
	Err     error
}

func (e *Error) Error() string { return "mdoc: " + e.text("", "") }

// text renders e without the package prefix. code and docType are what an
// enclosing *Error has already said: a step that wraps a lower step's
// error for the same reason ("DeviceResponse" around a CBOR failure, both
// malformed) must not repeat the prefix and the code, which made messages
// like "mdoc: malformed: DeviceResponse: mdoc: malformed: cbor: …".
func (e *Error) text(code Code, docType string) string {
	var parts []string
	head := ""
	if e.Code != code {
		head = string(e.Code)
	}
	if e.DocType != "" && e.DocType != docType {
		if head != "" {
			head += " "
		}
		head += "(" + e.DocType + ")"
	}
	for _, p := range []string{head, e.Detail} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if e.Err != nil {
		var inner string
		if in, ok := e.Err.(*Error); ok {
			inner = in.text(e.Code, e.DocType)
		} else {
			// A foreign error that wraps one of ours (fmt.Errorf("…: %w"))
			// still starts its message with our prefix at most once.
			inner = strings.TrimPrefix(e.Err.Error(), "mdoc: ")
		}
		if inner != "" {
			parts = append(parts, inner)
		}
	}
	// At the top the code is never said already, so parts is never empty
	// there; nested, an error that adds nothing renders as nothing.
	return strings.Join(parts, ": ")
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same Code, so that
// errors.Is(err, mdoc.ErrDigestMismatch) works whatever the detail.
func (e *Error) Is(target error) bool { return errcode.SameCode(target, e.Code, codeOf) }

func codeOf(e *Error) Code { return e.Code }

// Sentinels for errors.Is.
var (
	ErrMalformed              = &Error{Code: CodeMalformed}
	ErrLimitExceeded          = &Error{Code: CodeLimitExceeded}
	ErrUnsupported            = &Error{Code: CodeUnsupported}
	ErrIssuerSignatureInvalid = &Error{Code: CodeIssuerSignatureInvalid}
	ErrUntrustedIssuer        = &Error{Code: CodeUntrustedIssuer}
	ErrCertificateProfile     = &Error{Code: CodeCertificateProfile}
	ErrDigestMismatch         = &Error{Code: CodeDigestMismatch}
	ErrDigestMissing          = &Error{Code: CodeDigestMissing}
	ErrExpired                = &Error{Code: CodeExpired}
	ErrNotYetValid            = &Error{Code: CodeNotYetValid}
	ErrDocTypeMismatch        = &Error{Code: CodeDocTypeMismatch}
	ErrDeviceAuthInvalid      = &Error{Code: CodeDeviceAuthInvalid}
	ErrKeyAuthorization       = &Error{Code: CodeKeyAuthorization}
	ErrReaderAuthInvalid      = &Error{Code: CodeReaderAuthInvalid}
	ErrSessionEncryption      = &Error{Code: CodeSessionEncryption}
	ErrStatusInvalid          = &Error{Code: CodeStatusInvalid}
	ErrStatusSuspended        = &Error{Code: CodeStatusSuspended}
	ErrStatusUnavailable      = &Error{Code: CodeStatusUnavailable}
	ErrStatusListInvalid      = &Error{Code: CodeStatusListInvalid}
	ErrStatusStale            = &Error{Code: CodeStatusStale}
	ErrElementNotReturned     = &Error{Code: CodeElementNotReturned}
	ErrElementNotRequested    = &Error{Code: CodeElementNotRequested}
)

// CodeOf returns the Code of the first *Error in err's chain, or "" when
// there is none.
func CodeOf(err error) Code { return errcode.Of(err, codeOf) }

func newError(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

func wrapError(code Code, err error, format string, args ...any) *Error {
	// Keep the innermost code when err already carries one from a lower step.
	var inner *Error
	if errors.As(err, &inner) && code == CodeMalformed {
		code = inner.Code
	}
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...), Err: err}
}
