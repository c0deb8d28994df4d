package obs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
)

func testEngine(log *slog.Logger) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.GET("/api/transactions/:id", func(c *gin.Context) {
		log.InfoContext(c, "handled")
		c.String(http.StatusOK, "tx")
	})
	e.GET("/api/transactions/new", func(c *gin.Context) { c.String(http.StatusCreated, "new") })
	e.POST("/fail", func(c *gin.Context) { c.Status(http.StatusInternalServerError) })
	return e
}

func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestRouteTable(t *testing.T) {
	rt := &routeTable{byMethod: map[string][]route{}}
	rt.add("GET", "/api/transactions/:id")
	rt.add("GET", "/api/transactions/new")
	rt.add("GET", "/static/*file")
	rt.add("GET", "/")
	for path, want := range map[string]string{
		"/api/transactions/abc":   "/api/transactions/:id",
		"/api/transactions/new":   "/api/transactions/new",
		"/api/transactions/":      RouteOther,
		"/api/transactions/a/b":   RouteOther,
		"/static/css/x.css":       "/static/*file",
		"/":                       "/",
		"/random/../path/of/scan": RouteOther,
	} {
		if got := rt.match("GET", path); got != want {
			t.Errorf("match(%q) = %q, want %q", path, got, want)
		}
	}
	if got := rt.match("POST", "/"); got != RouteOther {
		t.Errorf("POST / = %q, want %q (no POST route)", got, RouteOther)
	}
}

func TestHandlerMetricsAndRequestIDs(t *testing.T) {
	var logs bytes.Buffer
	log, err := NewLogger(&logs, LogJSON, slog.LevelDebug)
	if err != nil {
		t.Fatal(err)
	}
	o := New("verifier", log)
	h := o.Handler(testEngine(log))

	rec := get(t, h, "GET", "/api/transactions/t1", map[string]string{HeaderRequestID: "req-42"})
	if rec.Code != 200 || rec.Header().Get(HeaderRequestID) != "req-42" {
		t.Fatalf("honoured id: %d %q", rec.Code, rec.Header().Get(HeaderRequestID))
	}
	// An id that could forge log lines is replaced by a generated one.
	rec = get(t, h, "GET", "/api/transactions/t2", map[string]string{HeaderRequestID: "a\nb"})
	if id := rec.Header().Get(HeaderRequestID); id == "" || strings.ContainsAny(id, "\n") || len(id) != 24 {
		t.Fatalf("replaced id: %q", id)
	}
	get(t, h, "GET", "/api/transactions/new", nil)
	get(t, h, "POST", "/fail", nil)
	get(t, h, "GET", "/no/such/route", nil)

	var handled int
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["msg"] == "handled" && rec["request_id"] == "req-42" {
			handled++
		}
		if rec["msg"] == "http" && rec["request_id"] == nil {
			t.Errorf("access line without request_id: %q", line)
		}
	}
	if handled != 1 {
		t.Errorf("handler's log line with the client's request id: %d, logs:\n%s", handled, logs.String())
	}

	body := get(t, h, "GET", PathMetrics, nil).Body.String()
	for _, want := range []string{
		`mnc_http_requests_total{method="GET",route="/api/transactions/:id",server="verifier",status="200"} 2`,
		`mnc_http_requests_total{method="GET",route="/api/transactions/new",server="verifier",status="201"} 1`,
		`mnc_http_requests_total{method="POST",route="/fail",server="verifier",status="500"} 1`,
		`mnc_http_requests_total{method="GET",route="other",server="verifier",status="404"} 1`,
		`mnc_http_request_duration_seconds_count{method="GET",route="/api/transactions/:id",server="verifier",status="200"} 2`,
		`process_cpu_seconds_total`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestReadyRecovers: a failing dependency makes /readyz 503 with the
// reason, and the same handler answers 200 once it is back — no restart.
func TestReadyRecovers(t *testing.T) {
	o := New("issuer", slog.New(slog.NewTextHandler(io.Discard, nil)))
	var down atomic.Bool
	down.Store(true)
	o.AddCheck("store", func(ctx context.Context) error {
		if down.Load() {
			return errors.New("database is down")
		}
		return ctx.Err()
	})
	h := o.Handler(http.NotFoundHandler())
	if rec := get(t, h, "GET", PathHealth, nil); rec.Code != 200 {
		t.Fatalf("healthz while the store is down: %d (liveness must not depend on it)", rec.Code)
	}
	rec := get(t, h, "GET", PathReady, nil)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "database is down") {
		t.Fatalf("readyz while down: %d %s", rec.Code, rec.Body)
	}
	down.Store(false)
	if rec := get(t, h, "GET", PathReady, nil); rec.Code != 200 {
		t.Fatalf("readyz after recovery: %d %s", rec.Code, rec.Body)
	}
}

func TestNewLoggerRejectsUnknownFormat(t *testing.T) {
	if _, err := NewLogger(io.Discard, "xml", slog.LevelInfo); err == nil || !strings.Contains(err.Error(), "json") {
		t.Fatalf("err = %v, want one naming the formats", err)
	}
}
