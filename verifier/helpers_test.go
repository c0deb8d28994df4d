package verifier_test

import (
	"bytes"
	"crypto/x509"
	"reflect"
	"testing"
	"time"
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

var mapAnyType = reflect.TypeOf(map[any]any(nil))

var jst = time.FixedZone("JST", 9*60*60)
