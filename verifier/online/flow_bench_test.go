package online_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/verifier/online"
)

// BenchmarkOnlineFlow is the verifier's CPU for a whole online
// presentation, step by step, as a relying party and a wallet drive it:
// create the transaction, serve the request object, judge the response,
// hand out the outcome. Each step goes through the HTTP handler without
// the network and is timed on the thread's CPU clock; each is reported as
// a multiple of two P-256 verifications measured beside it, so the sum
// says where a presentation's server CPU goes (docs/scaling.md). The
// wallet's work is not timed.
func BenchmarkOnlineFlow(b *testing.B) {
	e := newEnvLogging(b, slog.New(slog.DiscardHandler))
	h := e.srv.Handler()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	clock, kind := benchClock()
	b.Logf("timed with %s time", kind)
	measure := twoP256Verifies(clock)
	var base time.Duration
	var step [4]time.Duration
	timed := func(i int, req *http.Request) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		base += measure()
		t0 := clock()
		h.ServeHTTP(rec, req)
		step[i] += clock() - t0
		return rec
	}
	body, _ := json.Marshal(online.CreateRequest{Protocol: online.ProtocolOpenID4VP, Purpose: online.Purpose{Kind: online.PurposeAge, AgeOver: 20}})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/api/transactions", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := timed(0, req)
		var c online.Created
		if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &c) != nil {
			b.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		e.secrets[c.ID] = c.Secret
		// The wallet fetches the request object (timed here); the test
		// wallet then fetches it again over the network to build its
		// answer (not timed).
		if rec := timed(1, httptest.NewRequest(http.MethodGet, "/oid4vp/request/"+c.ID, nil)); rec.Code != http.StatusOK {
			b.Fatalf("request object: %d", rec.Code)
		}
		b.StopTimer()
		form, ru := e.oid4vpWallet(c.Invocation, "")
		b.StartTimer()
		u, _ := url.Parse(ru)
		req = httptest.NewRequest(http.MethodPost, u.Path, bytes.NewReader(form))
		req.Header.Set("Content-Type", formType)
		if rec := timed(2, req); rec.Code != http.StatusOK {
			b.Fatalf("response: %d %s", rec.Code, rec.Body)
		}
		req = httptest.NewRequest(http.MethodGet, "/api/transactions/"+c.ID, nil)
		req.Header.Set("Authorization", "Bearer "+c.Secret)
		if rec := timed(3, req); rec.Code != http.StatusOK {
			b.Fatalf("outcome: %d %s", rec.Code, rec.Body)
		}
	}
	unit := float64(base) / float64(4*b.N) // one "two verifies" measurement
	var total time.Duration
	for i, name := range []string{"x-create", "x-request", "x-response", "x-outcome"} {
		b.ReportMetric(float64(step[i])/float64(b.N)/unit, name)
		total += step[i]
	}
	b.ReportMetric(float64(total)/float64(b.N)/unit, "x-two-p256-verifies")
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs-cpu/presentation")
}
