package se

import (
	"fmt"

	"github.com/mynumber-mdoc/mnc/internal/errcode"
)

// Code is a stable reason for a refused secure-element operation. Codes are
// part of the CLI's JSON output and never renamed.
type Code string

const (
	CodeWrongPIN           Code = "pin_wrong"               // PIN did not match; TriesLeft says how many remain
	CodePINLocked          Code = "pin_locked"              // too many wrong PINs: user keys are unusable
	CodeBiometricNoMatch   Code = "biometric_no_match"      // the biometric check did not match
	CodeBiometricLocked    Code = "biometric_locked"        // too many failed matches
	CodeMethodNotAllowed   Code = "auth_method_not_allowed" // e.g. a PIN on an Apple-profile element
	CodeAuthRequired       Code = "auth_required"           // the key needs a valid Grant
	CodeKeyNotFound        Code = "key_not_found"           // no key with that ID (wiped or never made)
	CodeSealedState        Code = "sealed_state_invalid"    // sealed file unreadable: wrong device key or tampered
	CodeNotInitialised     Code = "not_initialised"         // no element in that directory
	CodeExists             Code = "already_initialised"     // Create on an existing element
	CodeInvalidPolicy      Code = "invalid_policy"          // bad policy or PIN format at Create
	CodeJPKINotProvisioned Code = "jpki_not_provisioned"    // no JPKI applet (or no pending keys) yet
)

// Error is a refused or failed operation.
type Error struct {
	Op        string
	Code      Code
	TriesLeft int // for CodeWrongPIN and CodeBiometricNoMatch
	Detail    string
	Err       error
}

func (e *Error) Error() string {
	code := string(e.Code)
	if e.Code == CodeWrongPIN || e.Code == CodeBiometricNoMatch {
		code += fmt.Sprintf(" (%d tries left)", e.TriesLeft)
	}
	return errcode.Message("se", e.Err, e.Op, code, e.Detail)
}

// Is matches any *Error with the same Code.
func (e *Error) Is(target error) bool { return errcode.SameCode(target, e.Code, codeOf) }

func codeOf(e *Error) Code { return e.Code }

func (e *Error) Unwrap() error { return e.Err }

// Sentinels for errors.Is.
var (
	ErrWrongPIN           = &Error{Code: CodeWrongPIN}
	ErrPINLocked          = &Error{Code: CodePINLocked}
	ErrBiometricNoMatch   = &Error{Code: CodeBiometricNoMatch}
	ErrBiometricLocked    = &Error{Code: CodeBiometricLocked}
	ErrMethodNotAllowed   = &Error{Code: CodeMethodNotAllowed}
	ErrAuthRequired       = &Error{Code: CodeAuthRequired}
	ErrKeyNotFound        = &Error{Code: CodeKeyNotFound}
	ErrSealedState        = &Error{Code: CodeSealedState}
	ErrNotInitialised     = &Error{Code: CodeNotInitialised}
	ErrJPKINotProvisioned = &Error{Code: CodeJPKINotProvisioned}
)

// CodeOf returns the Code of the first *Error in err's chain, or "".
func CodeOf(err error) Code { return errcode.Of(err, codeOf) }

func newErr(op string, code Code, detail string, args ...any) *Error {
	if len(args) > 0 {
		detail = fmt.Sprintf(detail, args...)
	}
	return &Error{Op: op, Code: code, Detail: detail}
}
