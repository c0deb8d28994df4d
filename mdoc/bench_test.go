package mdoc

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"
)

// measureAgainstCrypto runs op in the benchmark loop and, interleaved with
// it but outside the timer, the bare crypto op needs. Interleaving makes
// both see the same machine load, so the "x-crypto" ratio it reports is
// stable even on a busy machine; "crypto-ns/op" is the baseline.
func measureAgainstCrypto(b *testing.B, op, crypto func()) {
	op()
	crypto()
	b.ReportAllocs()
	b.ResetTimer()
	var opTime, cryptoTime time.Duration
	for b.Loop() {
		t0 := time.Now()
		op()
		opTime += time.Since(t0)
		b.StopTimer()
		t1 := time.Now()
		crypto()
		cryptoTime += time.Since(t1)
		b.StartTimer()
	}
	b.ReportMetric(float64(cryptoTime.Nanoseconds())/float64(b.N), "crypto-ns/op")
	b.ReportMetric(float64(opTime)/float64(cryptoTime), "x-crypto")
}

// twoP256Verifies is the raw crypto a signature-authenticated document
// needs: the issuer signature and the device signature.
func twoP256Verifies(b *testing.B) func() {
	k1, k2 := mustKey(b), mustKey(b)
	h1, h2 := sha256.Sum256([]byte("mso")), sha256.Sum256([]byte("device auth"))
	s1, _ := ecdsa.SignASN1(rand.Reader, k1, h1[:])
	s2, _ := ecdsa.SignASN1(rand.Reader, k2, h2[:])
	return func() {
		if !ecdsa.VerifyASN1(&k1.PublicKey, h1[:], s1) || !ecdsa.VerifyASN1(&k2.PublicKey, h2[:], s2) {
			b.Fatal("verify")
		}
	}
}

func BenchmarkIssue12Elements(b *testing.B) {
	p := fixturePKI(b)
	dev := mustKey(b)
	b.ReportAllocs()
	for b.Loop() {
		issueFixture(b, p, DocTypeMNC, mncElements(), dev, nil)
	}
}

func BenchmarkPresentSignature(b *testing.B) {
	p := fixturePKI(b)
	dev := mustKey(b)
	is := issueFixture(b, p, DocTypeMNC, mncElements(), dev, nil)
	eReader, _ := ecdh.P256().GenerateKey(rand.Reader)
	st := testTranscript(b, eReader)
	sel := map[string][]string{NameSpaceISO23220: {"age_over_20"}}
	b.ReportAllocs()
	for b.Loop() {
		presentResponse(b, is, sel, PresentOptions{SessionTranscript: st, DeviceSigner: dev})
	}
}

func benchVerify(b *testing.B, mac bool) {
	p := fixturePKI(b)
	dev := mustKey(b)
	is := issueFixture(b, p, DocTypeMNC, mncElements(), dev, nil)
	eReader, _ := ecdh.P256().GenerateKey(rand.Reader)
	st := testTranscript(b, eReader)
	sel := map[string][]string{NameSpaceISO23220: {"age_over_20", "age_over_18", "family_name"}}
	po := PresentOptions{SessionTranscript: st, DeviceSigner: dev}
	var crypto func()
	if mac {
		devECDH, _ := dev.ECDH()
		po = PresentOptions{SessionTranscript: st, DeviceKeyAgreement: devECDH, EReaderKey: eReader.PublicKey()}
		// Issuer signature verify + one ECDH for EMacKey.
		k := mustKey(b)
		h := sha256.Sum256([]byte("mso"))
		s, _ := ecdsa.SignASN1(rand.Reader, k, h[:])
		peer, _ := ecdh.P256().GenerateKey(rand.Reader)
		crypto = func() {
			if !ecdsa.VerifyASN1(&k.PublicKey, h[:], s) {
				b.Fatal("verify")
			}
			if _, err := eReader.ECDH(peer.PublicKey()); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		crypto = twoP256Verifies(b)
	}
	raw := presentResponse(b, is, sel, po)
	opts := &VerifyOptions{Trust: p.trust(), CurrentTime: testNow, SessionTranscript: st, EReaderKey: eReader}
	verify := func() {
		resp, err := ParseDeviceResponse(raw)
		if err != nil {
			b.Fatal(err)
		}
		if rr := VerifyDeviceResponse(resp, opts); !rr.Valid {
			b.Fatalf("invalid: %v", rr.Documents[0].Errors)
		}
	}
	verify() // validate the DS chain once: the benchmark measures the warm path
	measureAgainstCrypto(b, verify, crypto)
}

// BenchmarkVerifySignature parses and verifies a one-document DeviceResponse
// with deviceSignature; x-crypto is its cost over two bare P-256 verifies.
func BenchmarkVerifySignature(b *testing.B) { benchVerify(b, false) }

// BenchmarkVerifyMAC does the same with deviceMac; x-crypto is over one
// P-256 verify plus one P-256 ECDH.
func BenchmarkVerifyMAC(b *testing.B) { benchVerify(b, true) }

func BenchmarkP256VerifyTwice(b *testing.B) {
	f := twoP256Verifies(b)
	for b.Loop() {
		f()
	}
}
