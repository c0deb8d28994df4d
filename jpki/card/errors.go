package card

import (
	"errors"
	"fmt"

	"github.com/mynumber-mdoc/mnc/internal/errcode"
)

// Code is a stable reason for a failed card operation.
type Code string

// Error codes. Each has a sentinel Err… value for use with errors.Is.
const (
	CodeWrongPIN       Code = "wrong_pin"       // VERIFY failed; TriesLeft says how many remain (63Cx, x > 0)
	CodeLocked         Code = "pin_locked"      // the PIN or password is blocked (6983, or 63C0)
	CodeNotFound       Code = "not_found"       // application or file not found (6A82): not a JPKI card?
	CodeSecurityStatus Code = "security_status" // the PIN or password has not been verified (6982)
	CodeInvalidPIN     Code = "invalid_pin"     // the value breaks the PIN/password rule; nothing was sent
	CodeMalformed      Code = "malformed"       // the card answered something unparsable
	CodeTransport      Code = "transport"       // the transport failed (reader gone, context done)
	CodeCard           Code = "card_error"      // any other status word
)

// Error is a failed card operation. SW is the status word when the card
// answered one.
type Error struct {
	Op        string
	Code      Code
	SW        uint16
	TriesLeft int
	Err       error
}

func (e *Error) Error() string {
	var msg string
	switch e.Code {
	case CodeWrongPIN:
		msg = fmt.Sprintf("wrong PIN or password, %d tries left", e.TriesLeft)
	case CodeLocked:
		msg = "PIN or password blocked (too many wrong tries)"
	case CodeNotFound:
		msg = "not found"
	case CodeSecurityStatus:
		msg = "PIN or password not verified"
	default:
		msg = string(e.Code)
	}
	if e.SW != 0 {
		msg += fmt.Sprintf(" (SW %04X)", e.SW)
	}
	return errcode.Message("jpki: card", e.Err, e.Op, msg)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches any *Error with the same Code.
func (e *Error) Is(target error) bool { return errcode.SameCode(target, e.Code, codeOf) }

func codeOf(e *Error) Code { return e.Code }

// Sentinels for errors.Is.
var (
	ErrWrongPIN       = &Error{Code: CodeWrongPIN}
	ErrLocked         = &Error{Code: CodeLocked}
	ErrNotFound       = &Error{Code: CodeNotFound}
	ErrSecurityStatus = &Error{Code: CodeSecurityStatus}
	ErrInvalidPIN     = &Error{Code: CodeInvalidPIN}
	ErrMalformed      = &Error{Code: CodeMalformed}
	ErrTransport      = &Error{Code: CodeTransport}
	ErrCard           = &Error{Code: CodeCard}
)

// TriesLeft returns the tries left reported by a CodeWrongPIN error (0 for
// CodeLocked).
func TriesLeft(err error) (int, bool) {
	var e *Error
	if !errors.As(err, &e) {
		return 0, false
	}
	switch e.Code {
	case CodeWrongPIN:
		return e.TriesLeft, true
	case CodeLocked:
		return 0, true
	}
	return 0, false
}
