package online

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

// A 503 (store unreachable, too many open transactions) tells the client
// when to try again; other refusals do not.
func TestFailRetryAfter(t *testing.T) {
	s := &Server{Service: &Service{log: slog.New(slog.DiscardHandler)}}
	for _, tc := range []struct {
		err        error
		status     int
		retryAfter string
	}{
		{codeErr(CodeStoreUnavailable, "put transaction: connection refused"), http.StatusServiceUnavailable, retryAfterSeconds},
		{codeErr(CodeTooManyTransactions, "too many open transactions"), http.StatusServiceUnavailable, retryAfterSeconds},
		{codeErr(CodeTransactionUnknown, "unknown transaction"), http.StatusNotFound, ""},
	} {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest(http.MethodPost, "/oid4vp/response/x", nil)
		s.fail(c, tc.err)
		if w.Code != tc.status || w.Header().Get("Retry-After") != tc.retryAfter {
			t.Errorf("%v: %d, Retry-After %q; want %d, %q", tc.err, w.Code, w.Header().Get("Retry-After"), tc.status, tc.retryAfter)
		}
	}
}
