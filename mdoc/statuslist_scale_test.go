package mdoc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	mrand "math/rand/v2"
	"testing"
	"time"
)

// BenchmarkStatusListJapanScale builds, compresses and signs one status
// list the size of Japan's card population, with a realistic share of
// entries set, and reports the token size (docs/scaling.md). Run it with
// -bench StatusListJapanScale -benchtime 1x; it allocates a few tens of MB.
//
// The 2-bit variant (valid, invalid, suspended — the issuer's encoding)
// stops at the entries MaxStatusListBytes allows (64 Mi); a 100 M-card
// population needs two such lists. The 1-bit variant (revoked or not)
// holds 100 M in one.
func BenchmarkStatusListJapanScale(b *testing.B) {
	for _, c := range []struct {
		name    string
		bits    int
		entries int
		share   float64 // entries not valid
	}{
		{"100M-1bit-1pct", 1, 100_000_000, 0.01},
		{"64Mi-2bit-1pct", 2, int(MaxStatusListBytes * 8 / 2), 0.01},
		{"100M-1bit-0.1pct", 1, 100_000_000, 0.001},
	} {
		b.Run(c.name, func(b *testing.B) {
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			rng := mrand.New(mrand.NewPCG(1, 2))
			var size int
			var build, enc, sign time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				l, err := NewStatusList(c.bits, c.entries)
				if err != nil {
					b.Fatal(err)
				}
				for n := int(float64(c.entries) * c.share); n > 0; n-- {
					if err := l.Set(uint64(rng.IntN(c.entries)), 1); err != nil {
						b.Fatal(err)
					}
				}
				t1 := time.Now()
				lst, err := l.Encode()
				if err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				now := time.Now()
				tok, err := SignStatusListToken(key, StatusListTokenOptions{Encoded: lst},
					StatusListClaims{Subject: "https://issuer.example/status/1", IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour), TTL: 5 * time.Minute}, l)
				if err != nil {
					b.Fatal(err)
				}
				t3 := time.Now()
				build, enc, sign = build+t1.Sub(t0), enc+t2.Sub(t1), sign+t3.Sub(t2)
				size = len(tok)
			}
			n := time.Duration(b.N)
			b.ReportMetric(float64(size), "token-bytes")
			b.ReportMetric((build / n).Seconds(), "s-build")
			b.ReportMetric((enc / n).Seconds(), "s-compress")
			b.ReportMetric((sign / n).Seconds(), "s-sign")
		})
	}
}
