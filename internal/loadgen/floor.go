package loadgen

import (
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
type Floor struct {
	VerifyMicros float64 `json:"p256_verify_us"`
	SignMicros   float64 `json:"p256_sign_us"`
	// Clock says what was timed: "thread CPU" (immune to other processes)
	// or "wall" where the platform has no per-thread clock.
	Clock string `json:"clock"`
}

// measureFloor times floorRounds P-256 ECDSA signatures and verifications
// (SHA-256 digests, as mdoc uses) on one locked OS thread.
func measureFloor() Floor {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	clock, kind := threadClock()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	h := sha256.Sum256([]byte("mnc-load floor"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, h[:])
	t0 := clock()
	for i := 0; i < floorRounds; i++ {
		if _, err := ecdsa.SignASN1(rand.Reader, k, h[:]); err != nil {
			panic(err) // crypto/rand failing is not a load figure
		}
	}
	t1 := clock()
	for i := 0; i < floorRounds; i++ {
		if !ecdsa.VerifyASN1(&k.PublicKey, h[:], sig) {
			panic("P-256 self-check failed")
		}
	}
	t2 := clock()
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / floorRounds }
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
