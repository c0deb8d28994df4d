package oid4vp

import (
	"fmt"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

// Error codes specific to OpenID4VP, named after the OAuth / OpenID4VP
// error codes (OpenID4VP 1.0 §8.5) so they can be returned to a peer as is.
// They are mdoc.Code values so that mdoc.CodeOf and errors.Is work across
// both packages.
const (
	// CodeInvalidRequest: a request or response parameter is missing,
	// repeated or has a value this profile does not allow.
	CodeInvalidRequest mdoc.Code = "invalid_request"
	// CodeInvalidRequestObject: the request object JWT is malformed,
	// wrongly typed, expired or not signed by the key its x5c names.
	CodeInvalidRequestObject mdoc.Code = "invalid_request_object"
	// CodeInvalidClient: client_id does not match the certificate that
	// signed the request object (x509_san_dns / x509_hash rules).
	CodeInvalidClient mdoc.Code = "invalid_client"
)

// Sentinels for errors.Is.
var (
	ErrInvalidRequest       = &mdoc.Error{Code: CodeInvalidRequest}
	ErrInvalidRequestObject = &mdoc.Error{Code: CodeInvalidRequestObject}
	ErrInvalidClient        = &mdoc.Error{Code: CodeInvalidClient}
)

// errorf builds an *mdoc.Error with a "oid4vp:"-prefixed detail.
func errorf(code mdoc.Code, format string, args ...any) *mdoc.Error {
	return &mdoc.Error{Code: code, Detail: "oid4vp: " + fmt.Sprintf(format, args...)}
}

// wrap builds an *mdoc.Error around err.
func wrap(code mdoc.Code, err error, format string, args ...any) *mdoc.Error {
	return &mdoc.Error{Code: code, Detail: "oid4vp: " + fmt.Sprintf(format, args...), Err: err}
}
