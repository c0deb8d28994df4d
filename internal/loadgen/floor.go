package loadgen

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"runtime"
	"time"
)

// floorRounds is how many signatures and verifications one floor
// measurement times: enough to average out scheduling, few enough to take
// well under a second on a busy two-core machine.
const floorRounds = 300

// Floor is the raw P-256 cost on this machine: the unit the servers' CPU
// per operation is divided by. A presentation cannot cost less than two
// verifications (the issuer's signature over the MSO and the device
// signature); a credential not less than one signature.
//
// VerifyMicros and SignMicros are sampled during the measured window, on
// the machine as loaded as the servers were: on a small machine the
// servers, the wallets and the sampler share cores (often hyperthreads of
// one physical core), and every instruction — the servers' and the
// floor's — costs more CPU time than on a quiet machine. Dividing a loaded
// server's CPU by a quiet machine's floor would count that contention as
// the servers' overhead. The quiet figures, measured before and after the
// window, are kept beside them.
type Floor struct {
	VerifyMicros float64 `json:"p256_verify_us"`
	SignMicros   float64 `json:"p256_sign_us"`
	// Samples is how many sampling rounds made VerifyMicros and
	// SignMicros during the window; 0 means the window was too short and
	// they are the quiet figures.
	Samples           int     `json:"samples"`
	QuietVerifyMicros float64 `json:"quiet_p256_verify_us"`
	QuietSignMicros   float64 `json:"quiet_p256_sign_us"`
	// Clock says what was timed: "thread CPU" (immune to other processes)
	// or "wall" where the platform has no per-thread clock.
	Clock string `json:"clock"`
}

// measureFloor times floorRounds P-256 ECDSA signatures and verifications
// (SHA-256 digests, as mdoc uses) on one locked OS thread.
func measureFloor() Floor { return measureFloorRounds(floorRounds) }

func measureFloorRounds(rounds int) Floor {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	clock, kind := threadClock()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	h := sha256.Sum256([]byte("mnc-load floor"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, h[:])
	t0 := clock()
	for i := 0; i < rounds; i++ {
		if _, err := ecdsa.SignASN1(rand.Reader, k, h[:]); err != nil {
			panic(err) // crypto/rand failing is not a load figure
		}
	}
	t1 := clock()
	for i := 0; i < rounds; i++ {
		if !ecdsa.VerifyASN1(&k.PublicKey, h[:], sig) {
			panic("P-256 self-check failed")
		}
	}
	t2 := clock()
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(rounds) }
	return Floor{SignMicros: us(t1 - t0), VerifyMicros: us(t2 - t1), Clock: kind}
}

// threadClock returns the calling thread's CPU clock where the platform
// has one, else the wall clock.
func threadClock() (func() time.Duration, string) {
	if _, ok := threadCPU(); ok {
		return func() time.Duration { d, _ := threadCPU(); return d }, "thread CPU"
	}
	start := time.Now()
	return func() time.Duration { return time.Since(start) }, "wall"
}

// Sampling during the window: sampleRounds signatures and verifications
// every sampleEvery, about 0.5% of one core — small beside the load, and
// counted in the load tool's own CPU.
const (
	sampleRounds = 10
	sampleEvery  = 200 * time.Millisecond
)

// sampleFloor measures the floor in small rounds until ctx ends and
// returns their mean and how many rounds ran.
func sampleFloor(ctx context.Context) (Floor, int) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	var sum Floor
	n := 0
	for {
		select {
		case <-ctx.Done():
			if n == 0 {
				return Floor{}, 0
			}
			return Floor{VerifyMicros: sum.VerifyMicros / float64(n), SignMicros: sum.SignMicros / float64(n), Clock: sum.Clock}, n
		case <-t.C:
			f := measureFloorRounds(sampleRounds)
			sum.VerifyMicros += f.VerifyMicros
			sum.SignMicros += f.SignMicros
			sum.Clock = f.Clock
			n++
		}
	}
}
