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

func bodyOf(err error) errorBody {
	code := string(mdoc.CodeOf(err))
	if code == "" {
		code = "internal_error"
	}
	oauth := string(oid4vp.CodeInvalidRequest)
	var me *mdoc.Error
	if errors.As(err, &me) && (me.Code == oid4vp.CodeInvalidRequestObject || me.Code == oid4vp.CodeInvalidClient) {
		oauth = string(me.Code)
	}
	return errorBody{Error: oauth, ErrorDescription: err.Error(), Code: code}
}
