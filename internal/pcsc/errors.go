package pcsc

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/mynumber-mdoc/mnc/internal/errcode"
)

// Code is a stable reason for a failed PC/SC operation.
type Code string

// Error codes. Each has a sentinel Err… value for errors.Is.
const (
	// CodeNoService: pcscd is not reachable (not installed, not running,
	// or it went away).
	CodeNoService Code = "no_service"
	// CodeNoReader: the named reader does not exist (Error.Readers lists
	// those that do), or there is no reader at all.
	CodeNoReader Code = "no_reader"
	// CodeNoCard: no card came into the reader before the context ended.
	CodeNoCard Code = "no_card"
	// CodeCardRemoved: the card left the reader (or was reset or powered
	// down by someone else) during the session; the session is over.
	CodeCardRemoved Code = "card_removed"
	// CodeLimitExceeded: the command or its expected response is longer
	// than the reader's Limits; nothing was sent.
	CodeLimitExceeded Code = "limit_exceeded"
	// CodeCanceled: the context ended during the call; the session is
	// over (Error.Err is the context's error).
	CodeCanceled Code = "canceled"
	// CodeClosed: the card or context was closed.
	CodeClosed Code = "closed"
	// CodeFailed: any other PC/SC failure (Error.ReturnCode says which).
	CodeFailed Code = "failed"
)

// Error is a failed PC/SC operation. ReturnCode is the PC/SC return code
// (SCARD_E_…, SCARD_W_…) when pcscd gave one.
type Error struct {
	Op         string
	Code       Code
	Reader     string
	Readers    []string // for CodeNoReader: the readers that exist
	ReturnCode uint32
	Err        error
}

// serviceHint is the remedy for CodeNoService.
const serviceHint = "is pcscd installed and running? Install it with `apt-get install -y pcscd vsmartcard-vpcd` (the second package adds the virtual reader) and start it as root with `pcscd` (or `pcscd --foreground` to watch it)"

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("pcsc: ")
	b.WriteString(e.Op)
	if e.Reader != "" {
		fmt.Fprintf(&b, " (reader %q)", e.Reader)
	}
	b.WriteString(": ")
	switch e.Code {
	case CodeNoService:
		b.WriteString("pcscd not reachable: " + serviceHint)
	case CodeNoReader:
		if len(e.Readers) == 0 {
			b.WriteString("no such reader; pcscd has no readers")
		} else {
			fmt.Fprintf(&b, "no such reader; pcscd has %q", e.Readers)
		}
	case CodeNoCard:
		b.WriteString("no card in the reader")
	case CodeCardRemoved:
		b.WriteString("card removed")
	default:
		b.WriteString(string(e.Code))
	}
	if e.ReturnCode != 0 {
		fmt.Fprintf(&b, " (0x%08X)", e.ReturnCode)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches any *Error with the same Code.
func (e *Error) Is(target error) bool { return errcode.SameCode(target, e.Code, codeOf) }

func codeOf(e *Error) Code { return e.Code }

// Sentinels for errors.Is.
var (
	ErrNoService     = &Error{Code: CodeNoService}
	ErrNoReader      = &Error{Code: CodeNoReader}
	ErrNoCard        = &Error{Code: CodeNoCard}
	ErrCardRemoved   = &Error{Code: CodeCardRemoved}
	ErrLimitExceeded = &Error{Code: CodeLimitExceeded}
	ErrCanceled      = &Error{Code: CodeCanceled}
	ErrClosed        = &Error{Code: CodeClosed}
	ErrFailed        = &Error{Code: CodeFailed}
)

// PC/SC return codes this package acts on (pcsc-lite pcsclite.h, the
// values of the Windows SCard API).
const (
	scardENoSmartcard       uint32 = 0x8010000C
	scardEReaderUnavailable uint32 = 0x80100017
	scardENotTransacted     uint32 = 0x80100016
	scardEUnknownReader     uint32 = 0x80100009
	scardENoService         uint32 = 0x8010001D
	scardEServiceStopped    uint32 = 0x8010001E
	scardENoReaders         uint32 = 0x8010002E
	scardEInvalidHandle     uint32 = 0x80100003
	scardWUnresponsiveCard  uint32 = 0x80100066
	scardWUnpoweredCard     uint32 = 0x80100067
	scardWResetCard         uint32 = 0x80100068
	scardWRemovedCard       uint32 = 0x80100069
)

// go-libpcsclite reports return codes only inside fmt-formatted strings,
// in two shapes: "invalid return code: 8010000c (no smart card inserted)"
// (lower-case hex, no 0x) from most calls, and "invalid response code:
// expected 0, got 2148532253 (...)" (decimal) from EstablishContext.
var (
	hexCodeRE = regexp.MustCompile(`(?i)\bcode: (?:0x)?(80100[0-9a-f]{3})\b`)
	decCodeRE = regexp.MustCompile(`\bgot (\d{1,10})\b`)
)

// returnCode extracts the PC/SC return code from a go-libpcsclite error.
// Only codes in the SCARD_E/SCARD_W range (0x8010xxxx) count, so a
// decimal length in an unrelated message ("expected 12, got 8") is not
// mistaken for one.
func returnCode(err error) (uint32, bool) {
	if err == nil {
		return 0, false
	}
	s := err.Error()
	if m := hexCodeRE.FindStringSubmatch(s); m != nil {
		v, perr := strconv.ParseUint(m[1], 16, 32)
		return uint32(v), perr == nil
	}
	if m := decCodeRE.FindStringSubmatch(s); m != nil {
		v, perr := strconv.ParseUint(m[1], 10, 32)
		if perr == nil && v&0xFFFF0000 == 0x80100000 {
			return uint32(v), true
		}
	}
	return 0, false
}

// isRemoval reports whether rc means the card this session used is gone:
// removed, no card, reader gone, reset or powered down behind our back
// (both lose the card's session state just the same), or a card that
// stopped answering in the middle of an exchange (SCARD_E_NOT_TRANSACTED,
// what pcscd reports when the reader driver fails a transmission: the
// usual sign of a card or phone leaving an NFC field, and what the vpcd
// driver gives when the virtual card disconnects).
func isRemoval(rc uint32) bool {
	switch rc {
	case scardWRemovedCard, scardENoSmartcard, scardEReaderUnavailable, scardWResetCard, scardWUnpoweredCard, scardEInvalidHandle, scardENotTransacted:
		return true
	}
	return false
}

func isNoService(rc uint32) bool {
	return rc == scardENoService || rc == scardEServiceStopped
}
