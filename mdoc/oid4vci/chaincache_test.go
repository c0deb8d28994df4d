package oid4vci

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// providerChain makes a root and a wallet-provider leaf it issued; the
// leaf's validity [t0-30m, t0+2h] lies inside the root's [t0-1h, t0+24h].
func providerChain(t testing.TB) (*x509.CertPool, *ecdsa.PrivateKey, *x509.Certificate) {
	rootKey, root := attestationCA(t)
	leafKey := ecKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "wallet provider key attestation"},
		NotBefore: t0.Add(-30 * time.Minute), NotAfter: t0.Add(2 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root, &leafKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return pool, leafKey, leaf
}

// TestChainCacheAgreesWithX509: at every instant a warmed cache answers
// what path validation without a cache answers — the window is the
// intersection of the path's certificates, a chain cached for one pool
// is not trusted under another, and a different chain is looked up anew.
func TestChainCacheAgreesWithX509(t *testing.T) {
	pool, _, leaf := providerChain(t)
	_, otherRoot := attestationCA(t)
	otherPool := x509.NewCertPool()
	otherPool.AddCert(otherRoot)
	_, _, strangerLeaf := providerChain(t) // issued by a root not in pool

	c := NewChainCache()
	if err := c.verify([]*x509.Certificate{leaf}, pool, t0); err != nil {
		t.Fatalf("warm the cache: %v", err)
	}
	if c.Len() != 1 {
		t.Fatalf("cache holds %d chains, want 1", c.Len())
	}
	for _, tc := range []struct {
		name  string
		chain *x509.Certificate
		pool  *x509.CertPool
		at    time.Time
		ok    bool
	}{
		{"inside the window", leaf, pool, t0.Add(time.Hour), true},
		{"at the leaf's notBefore", leaf, pool, t0.Add(-30 * time.Minute), true},
		{"at the leaf's notAfter", leaf, pool, t0.Add(2 * time.Hour), true},
		{"before the leaf (root valid)", leaf, pool, t0.Add(-45 * time.Minute), false},
		{"after the leaf (root valid)", leaf, pool, t0.Add(3 * time.Hour), false},
		{"after the root", leaf, pool, t0.Add(48 * time.Hour), false},
		{"another pool", leaf, otherPool, t0, false},
		{"another chain", strangerLeaf, pool, t0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chain := []*x509.Certificate{tc.chain}
			plain := (*ChainCache)(nil).verify(chain, tc.pool, tc.at)
			cached := c.verify(chain, tc.pool, tc.at)
			if (plain == nil) != tc.ok || (cached == nil) != tc.ok {
				t.Fatalf("uncached %v, cached %v; want ok=%v", plain, cached, tc.ok)
			}
		})
	}
	if c.Len() != 1 {
		t.Fatalf("failed verifications were cached: %d entries", c.Len())
	}
}

// TestChainCacheBound: a full cache is emptied rather than grown.
func TestChainCacheBound(t *testing.T) {
	pool, _, leaf := providerChain(t)
	c := NewChainCache()
	for i := range maxChainCacheEntries {
		c.m[chainCacheKey{chain: [32]byte{byte(i), byte(i >> 8)}}] = chainWindow{}
	}
	if err := c.verify([]*x509.Certificate{leaf}, pool, t0); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 1 {
		t.Fatalf("cache holds %d chains after overflow, want 1", c.Len())
	}
}

// BenchmarkVerifyKeyAttestation: a wallet provider's key attestation
// verified with and without the chain cache.
func BenchmarkVerifyKeyAttestation(b *testing.B) {
	pool, leafKey, leaf := providerChain(b)
	ka, err := SignKeyAttestation(leafKey, [][]byte{leaf.Raw}, KeyAttestationOptions{
		Keys: []crypto.PublicKey{&ecKey(b).PublicKey}, KeyStorage: []string{KeyStorageHigh}, IssuedAt: t0})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		cache *ChainCache
	}{{"uncached", nil}, {"cached", NewChainCache()}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := VerifyKeyAttestation(ka, VerifyKeyAttestationOptions{Roots: pool, Now: t0, Chains: bc.cache}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
