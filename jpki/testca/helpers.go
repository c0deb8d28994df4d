package testca

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"sync"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/applet"
)

func pemCert(der []byte) []byte {
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	return b.Bytes()
}

// KeyPool hands out RSA-2048 keys round-robin from a fixed set generated
// once, so that test suites do not pay for a key generation per
// certificate. Consecutive keys differ as long as the pool holds more than
// one. Never use it outside tests.
type KeyPool struct {
	mu   sync.Mutex
	keys []*rsa.PrivateKey
	next int
}

// NewKeyPool generates n keys.
func NewKeyPool(n int) (*KeyPool, error) {
	p := &KeyPool{}
	for range n {
		k, err := rsa.GenerateKey(rand.Reader, KeyBits)
		if err != nil {
			return nil, err
		}
		p.keys = append(p.keys, k)
	}
	return p, nil
}

// Next returns the next key; use it as Options.GenerateKey.
func (p *KeyPool) Next() (*rsa.PrivateKey, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.keys[p.next%len(p.keys)]
	p.next++
	return k, nil
}

// IssueOne issues one person's card credentials from a fresh CA whose
// keys come from a small pool: the whole setup of tests that need a card
// but not the CA that made it.
func IssueOne(p Person) (*Credentials, error) {
	pool, err := NewKeyPool(4)
	if err != nil {
		return nil, err
	}
	ca, err := New(Options{GenerateKey: pool.Next})
	if err != nil {
		return nil, err
	}
	return ca.IssueCard(p, IssueOptions{})
}

// AppletConfig returns the applet configuration that puts c on a token
// with the given reference data.
func (c *Credentials) AppletConfig(token jpki.Token, signPassword, authPIN string) applet.Config {
	return applet.Config{
		Token:   token,
		SignKey: c.SignKey, SignCert: c.SignCert.Raw, SignCACert: c.SignCACert.Raw,
		AuthKey: c.AuthKey, AuthCert: c.AuthCert.Raw, AuthCACert: c.AuthCACert.Raw,
		SignPassword: signPassword, AuthPIN: authPIN,
	}
}
