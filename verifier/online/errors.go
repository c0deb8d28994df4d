package online

import (
	"errors"
	"net/http"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vp"
)

// Error codes of the online server, beside the mdoc and oid4vp codes.
const (
	CodeTransactionUnknown   mdoc.Code = "transaction_unknown"
	CodeTransactionExpired   mdoc.Code = "transaction_expired"
	CodeTransactionConsumed  mdoc.Code = "transaction_consumed"
	CodeTransactionForbidden mdoc.Code = "transaction_forbidden" // outcome asked for without the transaction's secret or response_code
	CodeTooManyTransactions  mdoc.Code = "too_many_transactions"
	CodeStateMismatch        mdoc.Code = "state_mismatch"
	CodeWrongProtocol        mdoc.Code = "wrong_protocol"
	// CodeStoreUnavailable: the shared transaction store (PostgreSQL) did
	// not answer; the request may be retried on any replica.
	CodeStoreUnavailable mdoc.Code = "store_unavailable"
)

func codeErr(code mdoc.Code, detail string) error {
	return &mdoc.Error{Code: code, Detail: "online: " + detail}
}

// httpStatus maps an error code to an HTTP status in one place.
func httpStatus(err error) int {
	switch mdoc.CodeOf(err) {
	case CodeTransactionUnknown:
		return http.StatusNotFound
	case CodeTransactionExpired:
		return http.StatusGone
	case CodeTransactionConsumed:
		return http.StatusConflict
	case CodeTransactionForbidden:
		return http.StatusForbidden
	case CodeTooManyTransactions, CodeStoreUnavailable:
		return http.StatusServiceUnavailable
	case mdoc.CodeLimitExceeded:
		return http.StatusRequestEntityTooLarge
	case "":
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// errorBody is the JSON error of every endpoint: OAuth-style error and
// error_description, and the stable code.
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	Code             string `json:"code"`
}

// bodyOf is what a client is told of err. Refusals describe themselves;
// an internal error or an unreachable store is described in general terms
// (the server logs the detail): their text can name the database's host,
// user and schema, which is nobody's business outside.
func bodyOf(err error) errorBody {
	code := mdoc.CodeOf(err)
	oauth, desc := string(oid4vp.CodeInvalidRequest), err.Error()
	var me *mdoc.Error
	if errors.As(err, &me) && (me.Code == oid4vp.CodeInvalidRequestObject || me.Code == oid4vp.CodeInvalidClient) {
		oauth = string(me.Code)
	}
	switch code {
	case "":
		// RFC 6749 §4.1.2.1 names both OAuth codes used here.
		code, oauth, desc = "internal_error", "server_error", "internal error"
	case CodeStoreUnavailable:
		oauth, desc = "temporarily_unavailable", "the verifier cannot reach its transaction store; retry later"
	case CodeTooManyTransactions:
		oauth = "temporarily_unavailable"
	}
	return errorBody{Error: oauth, ErrorDescription: desc, Code: string(code)}
}
