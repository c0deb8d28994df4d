package verifier_test

import (
	"context"
	"testing"

	"github.com/mynumber-mdoc/mnc/verifier"
	testpki "github.com/mynumber-mdoc/mnc/verifier/verifiertest"
)

// FuzzVerify feeds hostile DeviceResponses to the whole procedure: it must
// never panic, never call a response valid unless every document is, and
// never hand out elements of an invalid document.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	st, _, _ := testpki.QRTranscript()
	good := present(f, st.Raw, testpki.Presented{IssuerSigned: fx.mnc(f, nil, nil), Selection: sel, DeviceKey: fx.dev})
	f.Add(good)
	f.Add([]byte{0xa0})
	o := verifier.Options{Trust: fx.iacas, CurrentTime: testpki.Now, SessionTranscript: st.Raw}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := verifier.Verify(context.Background(), b, o)
		if r.Valid && len(r.Documents) == 0 {
			t.Fatal("valid without documents")
		}
		for _, d := range r.Documents {
			if r.Valid && !d.Valid {
				t.Fatal("valid response with an invalid document")
			}
			if !d.Valid && (len(d.Elements) != 0 || d.Values != nil) {
				t.Fatal("elements of an invalid document")
			}
		}
	})
}
