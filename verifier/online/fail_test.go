package online

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// A 503 (store unreachable, too many open transactions) tells the client
// when to try again; other refusals do not. Nothing of an internal error's
// or an unreachable store's text (database host, user) reaches the client.
func TestFailAnswer(t *testing.T) {
	gin.SetMode(gin.TestMode)
	s := &Server{Service: &Service{log: slog.New(slog.DiscardHandler)}}
	for _, tc := range []struct {
		err        error
		status     int
		retryAfter string
		body       string // a member of the JSON body
	}{
		{codeErr(CodeStoreUnavailable, "put transaction: failed to connect to host=db.internal user=mnc: connection refused"),
			http.StatusServiceUnavailable, retryAfterSeconds, `"error":"temporarily_unavailable"`},
		{codeErr(CodeTooManyTransactions, "too many open transactions"), http.StatusServiceUnavailable, retryAfterSeconds, `"code":"too_many_transactions"`},
		{codeErr(CodeTransactionUnknown, "unknown transaction"), http.StatusNotFound, "", `online: unknown transaction"`},
		{fmt.Errorf("render: template: host=db.internal"), http.StatusInternalServerError, "", `"error":"server_error"`},
	} {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest(http.MethodPost, "/oid4vp/response/x", nil)
		s.fail(c, tc.err)
		if w.Code != tc.status || w.Header().Get("Retry-After") != tc.retryAfter {
			t.Errorf("%v: %d, Retry-After %q; want %d, %q", tc.err, w.Code, w.Header().Get("Retry-After"), tc.status, tc.retryAfter)
		}
		if b := w.Body.String(); !strings.Contains(b, tc.body) || strings.Contains(b, "db.internal") {
			t.Errorf("%v: body %s; want %s and no internal detail", tc.err, b, tc.body)
		}
	}
}
