package mdoc

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
)

// TestDeviceSignatureAlgorithms presents with device keys of every curve
// ISO 18013-5 allows (ES256/ES384/ES512, EdDSA) and checks that the COSE_Key
// in the MSO and the deviceSignature round-trip.
func TestDeviceSignatureAlgorithms(t *testing.T) {
	p := fixturePKI(t)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for name, key := range map[string]crypto.Signer{"ES256": mustKey(t), "ES384": p384, "ES512": p521, "EdDSA": ed} {
		t.Run(name, func(t *testing.T) {
			is, err := Issue(IssueOptions{
				DocType: DocTypeMNC, NameSpaces: mncElements(), DeviceKey: key.Public(),
				Signed: testNow, ValidFrom: testNow, ValidUntil: testNow.AddDate(0, 1, 0),
				Signer: p.dsKey, Chain: [][]byte{p.ds.Raw},
			})
			if err != nil {
				t.Fatal(err)
			}
			pub, err := is.IssuerAuth.MSO.DeviceKeyInfo.DeviceKey.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
				t.Fatal("device key changed through the MSO")
			}
			eReader, _ := ecdh.P256().GenerateKey(rand.Reader)
			st := testTranscript(t, eReader)
			sel := map[string][]string{NameSpaceISO23220: {"age_over_18"}}
			resp, err := ParseDeviceResponse(presentResponse(t, is, sel, PresentOptions{SessionTranscript: st, DeviceSigner: key}))
			if err != nil {
				t.Fatal(err)
			}
			rr := VerifyDeviceResponse(resp, &VerifyOptions{Trust: p.trust(), CurrentTime: testNow, SessionTranscript: st})
			if !rr.Valid {
				t.Fatalf("invalid: %v", rr.Documents[0].Errors)
			}
		})
	}
}
