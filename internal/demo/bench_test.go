package demo

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"
)

// BenchmarkRun measures the whole story (servers, ten steps, 10 RSA-2048
// keys, every presentation) and reports it as a multiple of the raw cost of
// one RSA-2048 key generation measured in the same run, interleaved, so the
// number means the same on any machine: "story/rsa-keygen".
func BenchmarkRun(b *testing.B) {
	var story, keygen time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := rsa.GenerateKey(rand.Reader, rsaKeyBits); err != nil {
			b.Fatal(err)
		}
		keygen += time.Since(t0)
		t1 := time.Now()
		if rep, err := Run(context.Background(), Options{}); err != nil || !rep.OK() {
			b.Fatalf("Run: %v", err)
		}
		story += time.Since(t1)
	}
	b.ReportMetric(float64(story)/float64(keygen), "story/rsa-keygen")
	b.ReportMetric(story.Seconds()/float64(b.N), "s/story")
}
