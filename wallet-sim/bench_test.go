package walletsim

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

// BenchmarkRespond measures answering one DeviceRequest (ReaderAuth
// verification, policy, consent, user verification, device signature over
// DeviceAuthentication) and reports it as a multiple of the raw crypto it
// cannot avoid — one ECDSA P-256 verification (ReaderAuth) and one signature
// (deviceSignature) — measured in the same run.
func BenchmarkRespond(b *testing.B) {
	p := fixturePKI(b)
	w := newTestWallet(b, PlatformAndroid)
	st, _ := mdoc.NewSessionTranscript(nil, nil, mdoc.QRHandover())
	d, _ := mdoc.NewDocRequest(mdoc.ItemsRequest{DocType: mdoc.DocTypeMNC, NameSpaces: map[string]map[string]bool{mdoc.NameSpaceISO23220: {"age_over_20": false, "family_name": false}}})
	if err := d.SignReaderAuth(rand.Reader, p.readers["shop"].key, [][]byte{p.readers["shop"].cert.Raw}, st.Raw); err != nil {
		b.Fatal(err)
	}
	req := &mdoc.DeviceRequest{Version: "1.0", DocRequests: []mdoc.DocRequest{*d}}
	pr := presentation{transport: "bench", transcript: st.Raw, consent: Rules{ApproveAll: true}}

	// Baseline: ECDSA P-256 sign + verify over a SHA-256 digest.
	k := genKey()
	dg := sha256.Sum256([]byte("baseline"))
	const n = 300
	t0 := time.Now()
	for range n {
		sig, _ := ecdsa.SignASN1(rand.Reader, k, dg[:])
		ecdsa.VerifyASN1(&k.PublicKey, dg[:], sig)
	}
	base := float64(time.Since(t0).Nanoseconds()) / n

	b.ResetTimer()
	for b.Loop() {
		resp, _ := w.respond(context.Background(), req, pr)
		if len(resp.Documents) != 1 {
			b.Fatal("no document")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/base, "x-ecdsa-sign+verify")
}
