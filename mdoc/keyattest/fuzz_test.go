package keyattest_test

import (
	"testing"

	"github.com/mynumber-mdoc/mnc/mdoc/keyattest"
)

// The committed corpora in testdata/fuzz hold the recorded real-device
// KeyDescriptions, attestation objects and assertions.

func FuzzParseKeyDescription(f *testing.F) {
	f.Add(keyattest.EncodeKeyDescription(goodParams()))
	f.Fuzz(func(t *testing.T, b []byte) {
		kd, err := keyattest.ParseKeyDescription(b)
		if err != nil {
			if keyattest.CodeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(kd.AttestationChallenge) > keyattest.MaxChallengeLen {
			t.Fatal("challenge over bound")
		}
	})
}

func FuzzParseAndroidChain(f *testing.F) {
	f.Fuzz(func(t *testing.T, leaf, inter []byte) {
		chain, err := keyattest.ParseAndroidChain([][]byte{leaf, inter})
		if err != nil {
			return
		}
		_, err = keyattest.VerifyAndroid(chain, keyattest.AndroidOptions{})
		if err == nil {
			t.Fatal("fuzzed chain verified against Google's roots")
		}
	})
}

func FuzzParseAppAttestObject(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		obj, err := keyattest.ParseAppAttestObject(b)
		if err != nil {
			if keyattest.CodeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// Verification must not panic on anything the parser lets through.
		_, _ = keyattest.VerifyAppAttest(obj, keyattest.AppAttestOptions{Environment: keyattest.Development})
	})
}

func FuzzParseAssertion(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := keyattest.ParseAssertion(b)
		if err != nil && keyattest.CodeOf(err) == "" {
			t.Fatalf("untyped error %v", err)
		}
	})
}
