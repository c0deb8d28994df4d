package verifier_test

import (
	"bytes"
	"crypto/x509"
	"testing"
)

type x509Cert = x509.Certificate

func replaceOnce(t testing.TB, b, old, new []byte) []byte {
	t.Helper()
	i := bytes.Index(b, old)
	if i < 0 || len(old) != len(new) {
		t.Fatalf("cannot tamper: %q not found", old)
	}
	out := bytes.Clone(b)
	copy(out[i:], new)
	return out
}
