package online_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/verifier/online"
	testpki "github.com/mynumber-mdoc/mnc/verifier/verifiertest"
)

// twoP256Verifies returns a measurement of two P-256 ECDSA verifications
// on this machine: the floor of any presentation (issuer signature and
// device signature), and the unit BenchmarkOnlineResponse reports against.
// The benchmark measures it next to every timed response, so that load
// from other processes on a shared machine weighs on both alike.
func twoP256Verifies(clock func() time.Duration) func() time.Duration {
	k := testpki.DeviceKey()
	h := sha256.Sum256([]byte("baseline"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, h[:])
	return func() time.Duration {
		t0 := clock()
		ecdsa.VerifyASN1(&k.PublicKey, h[:], sig)
		ecdsa.VerifyASN1(&k.PublicKey, h[:], sig)
		return clock() - t0
	}
}

// benchClock is the thread's CPU time where the platform has it (see
// threadCPU), else the wall clock.
func benchClock() (func() time.Duration, string) {
	if _, ok := threadCPU(); ok {
		return func() time.Duration { d, _ := threadCPU(); return d }, "thread CPU"
	}
	start := time.Now()
	return func() time.Duration { return time.Since(start) }, "wall"
}

// BenchmarkOnlineResponse is the online verifier's cost from the wallet's
// POST of a direct_post.jwt response to the stored verdict (decrypt,
// parse, verify, judge, store), through the HTTP handler without the
// network, as a multiple of two P-256 verifications measured in the same
// run. Creating the transaction and building the wallet's answer are not
// timed.
func BenchmarkOnlineResponse(b *testing.B) {
	b.Run("log=stderr", func(b *testing.B) { benchOnlineResponse(b, nil) })
	// Without the per-presentation log line: what the write of one line
	// to an unbuffered stderr costs.
	b.Run("log=discard", func(b *testing.B) { benchOnlineResponse(b, slog.New(slog.DiscardHandler)) })
}

func benchOnlineResponse(b *testing.B, log *slog.Logger) {
	e := newEnvLogging(b, log)
	h := e.srv.Handler()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	clock, kind := benchClock()
	b.Logf("timed with %s time", kind)
	measure := twoP256Verifies(clock)
	var spent, base time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := e.create(online.ProtocolOpenID4VP, online.Purpose{Kind: online.PurposeAge, AgeOver: 20})
		form, ru := e.oid4vpWallet(c.Invocation, "")
		u, _ := url.Parse(ru)
		req := httptest.NewRequest(http.MethodPost, u.Path, bytes.NewReader(form))
		req.Header.Set("Content-Type", formType)
		rec := httptest.NewRecorder()
		base += measure()
		b.StartTimer()
		t0 := clock()
		h.ServeHTTP(rec, req)
		spent += clock() - t0
		b.StopTimer()
		base += measure()
		b.StartTimer()
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "redirect_uri") {
			b.Fatalf("POST: %d %s", rec.Code, rec.Body)
		}
	}
	per := spent / time.Duration(b.N)
	b.ReportMetric(float64(per.Microseconds()), "µs-cpu/response")
	b.ReportMetric(float64(spent)/float64(base/2), "x-two-p256-verifies")
}
