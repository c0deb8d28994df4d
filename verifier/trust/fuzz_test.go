package trust_test

import (
	"testing"

	"github.com/mynumber-mdoc/mnc/verifier/trust"
	testpki "github.com/mynumber-mdoc/mnc/verifier/verifiertest"
)

// FuzzParseCertificates: trust files are operator input, but a broken or
// hostile one must fail cleanly.
func FuzzParseCertificates(f *testing.F) {
	is, _ := testpki.NewIssuer("fz")
	f.Add(is.IACA.Raw)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := trust.ParseCertificates(b)
		if err == nil && len(cs) == 0 {
			t.Fatal("no certificates and no error")
		}
		_, _ = trust.ParseReaderEphemeralKey(b)
	})
}
