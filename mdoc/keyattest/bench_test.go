package keyattest_test

import (
	"testing"

	"github.com/mynumber-mdoc/mnc/mdoc/keyattest"
)

// BenchmarkVerifyAndroid: a recorded 5-certificate RKP chain (RSA-4096
// root, P-384 and P-256 below), parse and verify.
func BenchmarkVerifyAndroid(b *testing.B) {
	t := &testing.T{}
	v := androidVectors(t)[2]
	chain := readChain(t, v.File)
	var ders [][]byte
	for _, c := range chain {
		ders = append(ders, c.Raw)
	}
	for b.Loop() {
		c, err := keyattest.ParseAndroidChain(ders)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := keyattest.VerifyAndroid(c, keyattest.AndroidOptions{CurrentTime: v.At, Challenge: mustHex(t, v.Challenge)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyAppAttest: a recorded attestation object, parse and
// verify.
func BenchmarkVerifyAppAttest(b *testing.B) {
	t := &testing.T{}
	v := appleVectors(t)[0]
	raw := readAppleObject(t, v)
	o := keyattest.AppAttestOptions{Environment: keyattest.Development, AppID: v.AppID, ClientDataHash: mustHex(t, v.ClientDataHash), CurrentTime: v.Recorded}
	for b.Loop() {
		obj, err := keyattest.ParseAppAttestObject(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := keyattest.VerifyAppAttest(obj, o); err != nil {
			b.Fatal(err)
		}
	}
}
