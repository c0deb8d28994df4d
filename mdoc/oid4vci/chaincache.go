package oid4vci

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"sync"
	"time"
)

// maxChainCacheEntries bounds a ChainCache; when full it is emptied. An
// issuer sees few distinct wallet-provider attestation chains (one per
// provider and key rotation), so this is rare.
const maxChainCacheEntries = 1024

// ChainCache remembers key attestation x5c chains that verified against a
// root pool, with the window in which every certificate of the verified
// path is valid. A wallet provider signs the key attestations of all its
// wallets with one certificate, so without the cache every credential
// request would build and check the same path again (about one P-256
// verification per certificate, more than the MSO signature it guards).
//
// A hit is exactly what x509 path validation would answer: the chain's
// bytes and the pool are the same (keyed by the pool's identity; a
// CertPool can only gain roots, which never invalidates a path), the
// checks that do not depend on time (signatures, CA and path-length
// constraints, name constraints) passed, and the time is inside the
// cached path's validity window; outside it the chain is verified afresh.
// A ChainCache is safe for concurrent use; the zero value is not usable,
// a nil *ChainCache caches nothing.
type ChainCache struct {
	mu sync.Mutex
	m  map[chainCacheKey]chainWindow
}

type chainCacheKey struct {
	roots *x509.CertPool
	chain [sha256.Size]byte
}

type chainWindow struct{ notBefore, notAfter time.Time }

// NewChainCache returns an empty cache.
func NewChainCache() *ChainCache {
	return &ChainCache{m: make(map[chainCacheKey]chainWindow)}
}

// Len returns the number of cached chains.
func (c *ChainCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// verify checks that certs (leaf first) chain to roots at now, for any
// extended key usage, consulting and filling the cache.
func (c *ChainCache) verify(certs []*x509.Certificate, roots *x509.CertPool, now time.Time) error {
	var key chainCacheKey
	if c != nil {
		key = chainCacheKey{roots: roots, chain: chainDigest(certs)}
		c.mu.Lock()
		w, ok := c.m[key]
		c.mu.Unlock()
		if ok && !now.Before(w.notBefore) && !now.After(w.notAfter) {
			return nil
		}
	}
	inter := x509.NewCertPool()
	for _, cert := range certs[1:] {
		inter.AddCert(cert)
	}
	chains, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil || c == nil || len(chains) == 0 {
		return err
	}
	// The window of the first verified path: every certificate in it,
	// the root from the pool included, is valid throughout.
	w := chainWindow{notBefore: chains[0][0].NotBefore, notAfter: chains[0][0].NotAfter}
	for _, cert := range chains[0][1:] {
		if cert.NotBefore.After(w.notBefore) {
			w.notBefore = cert.NotBefore
		}
		if cert.NotAfter.Before(w.notAfter) {
			w.notAfter = cert.NotAfter
		}
	}
	c.mu.Lock()
	if len(c.m) >= maxChainCacheEntries {
		clear(c.m)
	}
	c.m[key] = w
	c.mu.Unlock()
	return nil
}

// chainDigest hashes the chain's DER, each length-prefixed so that no two
// chains share a digest by moving bytes between certificates.
func chainDigest(certs []*x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	var n [4]byte
	for _, cert := range certs {
		binary.BigEndian.PutUint32(n[:], uint32(len(cert.Raw)))
		h.Write(n[:])
		h.Write(cert.Raw)
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}
