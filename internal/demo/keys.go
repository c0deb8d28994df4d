package demo

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"sync"
	"sync/atomic"
)

// rsaKeyBits is the JPKI key size: J-LIS issues RSA-2048 keys.
const rsaKeyBits = 2048

// keySource hands out fresh RSA-2048 keys, each exactly once, generated
// ahead of use by background workers. RSA key generation is the slow part of
// the story (JPKI roots, card keys, the phones' JPKI keys): generating the
// keys the story needs on both cores while the servers start keeps the run
// short without ever reusing a key (unlike testca.KeyPool, which recycles a
// fixed set and is for tests only).
type keySource struct {
	keys chan *rsa.PrivateKey
	errs chan error
	stop chan struct{}
	once sync.Once
	// planned counts the keys the workers will still deliver.
	planned atomic.Int64
}

// newKeySource starts workers generating n keys; more are generated on
// demand when the story needs more than planned.
func newKeySource(n, workers int) *keySource {
	ks := &keySource{keys: make(chan *rsa.PrivateKey, n), errs: make(chan error, workers), stop: make(chan struct{})}
	ks.planned.Store(int64(n))
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	for range workers {
		go func() {
			for range jobs {
				select {
				case <-ks.stop:
					return
				default:
				}
				k, err := rsa.GenerateKey(rand.Reader, rsaKeyBits)
				if err != nil {
					ks.errs <- err
					return
				}
				ks.keys <- k
			}
		}()
	}
	return ks
}

// Next returns a key never handed out before (testca.Options.GenerateKey,
// walletsim.Options.GenerateRSA). Once the planned keys are used up it
// generates one on the spot.
func (ks *keySource) Next() (*rsa.PrivateKey, error) {
	if ks.planned.Add(-1) < 0 {
		return rsa.GenerateKey(rand.Reader, rsaKeyBits)
	}
	select {
	case k := <-ks.keys:
		return k, nil
	case err := <-ks.errs:
		return nil, errors.Join(errors.New("demo: generate RSA key"), err)
	case <-ks.stop:
		return rsa.GenerateKey(rand.Reader, rsaKeyBits)
	}
}

// Close stops the workers after the key they are generating.
func (ks *keySource) Close() { ks.once.Do(func() { close(ks.stop) }) }
