package mdoc

import (
	"crypto/ecdh"
	"crypto/rand"
	"testing"
)

func BenchmarkZZParts(b *testing.B) {
	p := fixturePKI(b)
	dev := mustKey(b)
	is := issueFixture(b, p, DocTypeMNC, mncElements(), dev, nil)
	eReader, _ := ecdh.P256().GenerateKey(rand.Reader)
	st := testTranscript(b, eReader)
	sel := map[string][]string{NameSpaceISO23220: {"age_over_20"}}
	raw := presentResponse(b, is, sel, PresentOptions{SessionTranscript: st, DeviceSigner: dev})
	r, _ := ParseDeviceResponse(raw)
	ia := r.Documents[0].IssuerSigned.IssuerAuth.Raw
	b.Logf("resp %d bytes, issuerAuth %d, mso %d, digests %d", len(raw), len(ia), len(r.Documents[0].IssuerSigned.IssuerAuth.MSOBytes.Data), len(r.Documents[0].IssuerSigned.IssuerAuth.MSO.ValueDigests[NameSpaceISO23220]))
	b.Run("whole", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			ParseDeviceResponse(raw)
		}
	})
	b.Run("issuerauth", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			ParseIssuerAuth(ia)
		}
	})
	b.Run("sign1", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			ParseSign1(ia)
		}
	})
	mso := r.Documents[0].IssuerSigned.IssuerAuth.MSOBytes
	b.Run("mso", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var m MobileSecurityObject
			mso.Decode(&m)
		}
	})
	b.Run("msotags", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			checkTags(mso.Data, msoTags)
		}
	})
	b.Run("resptags", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			checkTags(raw, deviceResponseTags)
		}
	})
}
