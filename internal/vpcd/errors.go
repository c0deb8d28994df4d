package vpcd

import (
	"fmt"

	"github.com/mynumber-mdoc/mnc/internal/errcode"
)

// Code is a stable reason for a failed vpcd session.
type Code string

// Error codes. Each has a sentinel Err… value for errors.Is.
const (
	// CodeNoDriver: nothing accepts connections at the driver address —
	// pcscd is not running, or runs without the vpcd driver.
	CodeNoDriver Code = "no_driver"
	// CodeDriverClosed: the driver closed the connection (pcscd stopped).
	CodeDriverClosed Code = "driver_closed"
	// CodeProtocol: the driver sent something the protocol does not allow.
	CodeProtocol Code = "protocol"
	// CodeIO: reading from or writing to the driver failed otherwise.
	CodeIO Code = "io"
)

// Error is a failed vpcd session.
type Error struct {
	Code Code
	Addr string
	Err  error
}

func (e *Error) Error() string {
	var msg string
	switch e.Code {
	case CodeNoDriver:
		msg = fmt.Sprintf("vpcd: no vpcd driver listening at %s: is pcscd running with vsmartcard-vpcd? (apt-get install pcscd vsmartcard-vpcd; start pcscd as root)", e.Addr)
	case CodeDriverClosed:
		msg = fmt.Sprintf("vpcd: driver at %s closed the connection", e.Addr)
	default:
		msg = fmt.Sprintf("vpcd: %s: %s", e.Addr, e.Code)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches any *Error with the same Code.
func (e *Error) Is(target error) bool { return errcode.SameCode(target, e.Code, codeOf) }

func codeOf(e *Error) Code { return e.Code }

// Sentinels for errors.Is.
var (
	ErrNoDriver     = &Error{Code: CodeNoDriver}
	ErrDriverClosed = &Error{Code: CodeDriverClosed}
	ErrProtocol     = &Error{Code: CodeProtocol}
	ErrIO           = &Error{Code: CodeIO}
)
