package issuer

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// fail answers a database outage with 503, and everything that names its
// own condition as it is, even when a network error is inside it: a CRL
// that could not be fetched is the card's problem to report, not the
// database's, and a body cut short is the client's.
func TestFailStatus(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	s := &Service{cfg: Config{Logger: slog.New(slog.DiscardHandler)}}
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		code       string
		retryAfter bool
	}{
		{"database unreachable", fmt.Errorf("read access token: %w", refused), http.StatusServiceUnavailable, oid4vci.CodeTemporarilyUnavailable, true},
		{"CRL unreachable", &oid4vci.Error{Code: oid4vci.CodeCardRejected, Reason: string(jpki.CodeCRLUnavailable), Err: fmt.Errorf("fetch CRL: %w", refused)},
			http.StatusForbidden, oid4vci.CodeCardRejected, false},
		{"body cut short", bodyError(io.ErrUnexpectedEOF), http.StatusBadRequest, oid4vci.CodeInvalidRequest, false},
		{"internal", fmt.Errorf("parse stored card certificate: boom"), http.StatusInternalServerError, oid4vci.CodeServerError, false},
	} {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest(http.MethodPost, "/credential", nil)
		s.fail(c, tc.err)
		if w.Code != tc.status || (w.Header().Get("Retry-After") != "") != tc.retryAfter || !strings.Contains(w.Body.String(), `"error":"`+tc.code+`"`) {
			t.Errorf("%s: %d %s (Retry-After %q); want %d %s", tc.name, w.Code, w.Body, w.Header().Get("Retry-After"), tc.status, tc.code)
		}
	}
}
