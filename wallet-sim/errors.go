package walletsim

import (
	"errors"
	"fmt"

	"github.com/mynumber-mdoc/mnc/internal/errcode"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// Code is a stable reason for a failed wallet operation; the CLI prints it
// and puts it in JSON output as "code".
type Code string

const (
	CodeNotInitialised      Code = "wallet_not_initialised"
	CodeExists              Code = "wallet_exists"
	CodeUnsupportedProfile  Code = "unsupported_profile"
	CodeCredentialNotFound  Code = "credential_not_found"
	CodeCredentialRevoked   Code = "credential_revoked"
	CodeCredentialSuspended Code = "credential_suspended"
	CodeCredentialInvalid   Code = "credential_invalid"  // an issued credential failed the wallet's checks
	CodeReaderAuthInvalid   Code = "reader_auth_invalid" // missing, untrusted or bad ReaderAuth / request signature
	CodeSessionEncryption   Code = "session_encryption"  // a session message failed to decrypt (wrong key, replay, reorder)
	CodeSessionDecoding     Code = "session_decoding"    // a session message was not valid CBOR
	CodeSessionProtocol     Code = "session_protocol"    // unexpected message or transport failure
	CodeUserVerification    Code = "user_verification"   // PIN / biometric failed or refused
	CodeConsentDenied       Code = "consent_denied"      // the holder released nothing
	CodeNotEnrolled         Code = "not_enrolled"        // no device id from an issuer yet
	CodeIssuer              Code = "issuer_error"        // the issuer refused; Detail has its code and reason
	CodeDeviceNotAllowed    Code = "device_not_allowed"  // the issuer refuses this model / OS / rooted device
	CodeCard                Code = "card_error"          // reading or signing with the card failed
	CodeRequestInvalid      Code = "request_invalid"     // an online request could not be parsed or checked
	CodeJPKI                Code = "jpki_error"          // the phone's JPKI applet refused
	CodeRemoteDeleted       Code = "remote_deleted"      // the wallet processed a remote delete
	CodeWalletBusy          Code = "wallet_busy"         // another process holds the wallet's home (LockHome)
	CodeHistoryCorrupt      Code = "history_corrupt"     // the history log is damaged: lines missing, reordered, foreign or modified
	CodeHistorySound        Code = "history_sound"       // ResetHistory refused: the log is not damaged (force resets it anyway)
)

// Error is a failed wallet operation.
type Error struct {
	Op     string
	Code   Code
	Detail string
	Err    error
}

func (e *Error) Error() string {
	return errcode.Message("walletsim", e.Err, e.Op, string(e.Code), e.Detail)
}

// Is matches another *Error with the same Code.
func (e *Error) Is(target error) bool { return errcode.SameCode(target, e.Code, codeOf) }

func codeOf(e *Error) Code { return e.Code }

func (e *Error) Unwrap() error { return e.Err }

// Sentinels for errors.Is.
var (
	ErrNotInitialised      = &Error{Code: CodeNotInitialised}
	ErrCredentialNotFound  = &Error{Code: CodeCredentialNotFound}
	ErrCredentialRevoked   = &Error{Code: CodeCredentialRevoked}
	ErrCredentialSuspended = &Error{Code: CodeCredentialSuspended}
	ErrReaderAuthInvalid   = &Error{Code: CodeReaderAuthInvalid}
	ErrSessionEncryption   = &Error{Code: CodeSessionEncryption}
	ErrUserVerification    = &Error{Code: CodeUserVerification}
	ErrNotEnrolled         = &Error{Code: CodeNotEnrolled}
	ErrHistoryCorrupt      = &Error{Code: CodeHistoryCorrupt}
	ErrHistorySound        = &Error{Code: CodeHistorySound}
)

func newErr(op string, code Code, format string, args ...any) *Error {
	return &Error{Op: op, Code: code, Detail: fmt.Sprintf(format, args...)}
}

// CodeOf returns the most specific stable code in err's chain: a wallet
// code, else a secure-element code, else "".
func CodeOf(err error) string {
	var we *Error
	if errors.As(err, &we) {
		// A user-verification failure is more useful with the element's
		// reason (pin_locked, biometric_no_match, …).
		if we.Code == CodeUserVerification {
			if c := se.CodeOf(err); c != "" {
				return string(c)
			}
		}
		return string(we.Code)
	}
	if c := se.CodeOf(err); c != "" {
		return string(c)
	}
	return ""
}
