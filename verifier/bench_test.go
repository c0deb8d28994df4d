package verifier_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier"
	testpki "github.com/mynumber-mdoc/mnc/verifier/verifiertest"
)

// rawP256 measures one P-256 ECDSA verification on this machine, the unit
// the benchmarks report against: a presentation costs at least two (issuer
// signature and device signature).
func rawP256(b *testing.B, parallel bool) time.Duration {
	b.Helper()
	k := testpki.DeviceKey()
	h := sha256.Sum256([]byte("baseline"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, h[:])
	const n = 400
	start := time.Now()
	if !parallel {
		for i := 0; i < n; i++ {
			if !ecdsa.VerifyASN1(&k.PublicKey, h[:], sig) {
				b.Fatal("baseline")
			}
		}
		return time.Since(start) / n
	}
	var done atomic.Int64
	workers := 8
	ch := make(chan struct{})
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < n/workers; i++ {
				ecdsa.VerifyASN1(&k.PublicKey, h[:], sig)
			}
			done.Add(1)
			ch <- struct{}{}
		}()
	}
	for w := 0; w < workers; w++ {
		<-ch
	}
	return time.Since(start) / time.Duration(workers*(n/workers))
}

func benchFixture(b *testing.B) ([]byte, verifier.Options) {
	b.Helper()
	f := newFixture(b)
	st, _, _ := testpki.QRTranscript()
	resp := present(b, st.Raw, testpki.Presented{IssuerSigned: f.mnc(b, nil, nil), Selection: sel, DeviceKey: f.dev})
	o := verifier.Options{Trust: f.iacas, CurrentTime: testpki.Now, SessionTranscript: st.Raw,
		Request: verifier.Request{mdoc.DocTypeMNC: sel}}
	// Warm the chain cache: steady-state verification.
	if r := verifier.Verify(context.Background(), resp, o); !r.Valid {
		b.Fatalf("fixture invalid: %v", r.Codes())
	}
	return resp, o
}

// BenchmarkVerify is one core: verifications per second and the cost in
// raw P-256 verifications measured in the same run.
func BenchmarkVerify(b *testing.B) {
	resp, o := benchFixture(b)
	raw := rawP256(b, false)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if !verifier.Verify(ctx, resp, o).Valid {
			b.Fatal("invalid")
		}
	}
	per := time.Since(start) / time.Duration(b.N)
	b.ReportMetric(float64(time.Second)/float64(per), "verifications/s")
	b.ReportMetric(float64(per)/float64(raw), "x-raw-p256-verify")
}

// BenchmarkVerifyParallel uses all cores (GOMAXPROCS goroutines).
func BenchmarkVerifyParallel(b *testing.B) {
	resp, o := benchFixture(b)
	raw := rawP256(b, true)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !verifier.Verify(ctx, resp, o).Valid {
				b.Error("invalid")
				return
			}
		}
	})
	per := time.Since(start) / time.Duration(b.N)
	b.ReportMetric(float64(time.Second)/float64(per), "verifications/s")
	b.ReportMetric(float64(per)/float64(raw), "x-raw-p256-verify")
}
