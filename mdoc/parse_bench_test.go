package mdoc

import (
	"crypto/ecdh"
	"crypto/rand"
	"testing"
)

// BenchmarkParseDeviceResponse is the decoding share of BenchmarkVerify*:
// a one-document DeviceResponse with deviceSignature, as a multiple of two
// bare P-256 verifies.
func BenchmarkParseDeviceResponse(b *testing.B) {
	p := fixturePKI(b)
	dev := mustKey(b)
	is := issueFixture(b, p, DocTypeMNC, mncElements(), dev, nil)
	eReader, _ := ecdh.P256().GenerateKey(rand.Reader)
	st := testTranscript(b, eReader)
	sel := map[string][]string{NameSpaceISO23220: {"age_over_20"}}
	raw := presentResponse(b, is, sel, PresentOptions{SessionTranscript: st, DeviceSigner: dev})
	b.Logf("DeviceResponse of %d bytes", len(raw))
	measureAgainstCrypto(b, func() {
		if _, err := ParseDeviceResponse(raw); err != nil {
			b.Fatal(err)
		}
	}, twoP256Verifies(b))
}
