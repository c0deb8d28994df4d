package jpki

import (
	"context"
	"crypto/x509"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// RevocationChecker reports whether cert, issued by root, is revoked at
// now. It returns a *Error with CodeRevoked when it is, another code when
// the status cannot be established, and the evidence used when it is not.
type RevocationChecker interface {
	CheckRevocation(ctx context.Context, cert, root *x509.Certificate, now time.Time) (*RevocationStatus, error)
}

// RevocationStatus is the evidence that a certificate was not revoked.
type RevocationStatus struct {
	// Method is "crl" or "ocsp".
	Method string
	// DistributionPoint is the CRL distribution point (DirName string
	// form) or the OCSP responder URL that answered.
	DistributionPoint string
	// ThisUpdate and NextUpdate are those of the CRL or OCSP response.
	ThisUpdate time.Time
	NextUpdate time.Time
	// CRLNumber is the CRL's number (nil for OCSP).
	CRLNumber *big.Int
}

// Revocation is why and when a certificate was revoked; errors with
// CodeRevoked carry it in Error.Revocation.
type Revocation struct {
	SerialNumber *big.Int
	RevokedAt    time.Time
	// Reason is the RFC 5280 CRLReason code (0 when absent).
	Reason int
	// Source is "crl" or "ocsp".
	Source string
}

// RevokedDetail returns the revocation of err's *Error, if it is a
// CodeRevoked error that carries one.
func RevokedDetail(err error) (*Revocation, bool) {
	var e *Error
	if errors.As(err, &e) && e.Code == CodeRevoked && e.Revocation != nil {
		return e.Revocation, true
	}
	return nil, false
}

// RFC 5280 §5.3.1 CRLReason codes.
const (
	ReasonUnspecified          = 0
	ReasonKeyCompromise        = 1
	ReasonCACompromise         = 2
	ReasonAffiliationChanged   = 3
	ReasonSuperseded           = 4
	ReasonCessationOfOperation = 5
	ReasonCertificateHold      = 6
	ReasonRemoveFromCRL        = 8
	ReasonPrivilegeWithdrawn   = 9
	ReasonAACompromise         = 10
)

var reasonNames = map[int]string{
	ReasonUnspecified:          "unspecified",
	ReasonKeyCompromise:        "keyCompromise",
	ReasonCACompromise:         "cACompromise",
	ReasonAffiliationChanged:   "affiliationChanged",
	ReasonSuperseded:           "superseded",
	ReasonCessationOfOperation: "cessationOfOperation",
	ReasonCertificateHold:      "certificateHold",
	ReasonRemoveFromCRL:        "removeFromCRL",
	ReasonPrivilegeWithdrawn:   "privilegeWithdrawn",
	ReasonAACompromise:         "aACompromise",
}

// ReasonString returns the RFC 5280 name of a CRLReason code.
func ReasonString(code int) string {
	if s, ok := reasonNames[code]; ok {
		return s
	}
	return "reason(" + strconv.Itoa(code) + ")"
}

// ParseReason accepts an RFC 5280 reason name (case-insensitive) or its
// number.
func ParseReason(s string) (int, error) {
	for code, name := range reasonNames {
		if strings.EqualFold(s, name) {
			return code, nil
		}
	}
	if n, err := strconv.Atoi(s); err == nil {
		if _, known := reasonNames[n]; known {
			return n, nil
		}
	}
	return 0, newError(CodeMalformed, "unknown revocation reason %q", s)
}

// FirstOf returns a checker that asks each checker in turn and returns the
// first definitive answer (not revoked, or CodeRevoked). When every one
// fails to establish the status, the last error is returned. Use it to
// prefer OCSP and fall back to CRLs, or the reverse.
func FirstOf(checkers ...RevocationChecker) RevocationChecker {
	return firstOf(checkers)
}

type firstOf []RevocationChecker

func (f firstOf) CheckRevocation(ctx context.Context, cert, root *x509.Certificate, now time.Time) (*RevocationStatus, error) {
	err := error(newError(CodeCRLUnavailable, "no revocation checker configured"))
	for _, c := range f {
		var st *RevocationStatus
		st, err = c.CheckRevocation(ctx, cert, root, now)
		if err == nil || CodeOf(err) == CodeRevoked {
			return st, err
		}
	}
	return nil, err
}
