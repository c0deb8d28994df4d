package walletsim

import (
	"bytes"
	"context"
	"testing"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

// TestParsedCredentials: a decoded credential is reused only for the bytes
// it came from and only while the wallet holds it.
func TestParsedCredentials(t *testing.T) {
	w := newTestWallet(t, PlatformAndroid)
	mnc, hic := w.credentialFor(mdoc.DocTypeMNC), w.credentialFor(mdoc.DocTypeHIC)
	is1, err := w.issuerSigned(mnc)
	if err != nil {
		t.Fatal(err)
	}
	if is2, _ := w.issuerSigned(mnc); is2 != is1 {
		t.Fatal("the same credential was decoded again")
	}
	if _, err := w.issuerSigned(hic); err != nil {
		t.Fatal(err)
	}

	// Other bytes under the same id: decoded anew, never the old answer.
	other := *mnc
	other.IssuerSigned = hic.IssuerSigned
	is3, err := w.issuerSigned(&other)
	if err != nil || is3 == is1 || is3.IssuerAuth.MSO.DocType != mdoc.DocTypeHIC {
		t.Fatalf("changed bytes: %v, %v", is3 == is1, err)
	}
	if !bytes.Equal(w.parsed[mnc.ID].raw, hic.IssuerSigned) {
		t.Fatal("the entry does not record the bytes it was decoded from")
	}

	// A deleted credential's entry goes at the next decoding, and a
	// credential no longer held is not kept.
	if err := w.DeleteCredential(hic.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.issuerSigned(mnc); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.parsed[hic.ID]; ok {
		t.Fatal("a deleted credential stayed decoded")
	}
	if _, err := w.issuerSigned(hic); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.parsed[hic.ID]; ok {
		t.Fatal("a credential the wallet does not hold was kept")
	}

	// A remote delete leaves nothing decoded.
	if err := w.RemoteDelete(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	if len(w.parsed) != 0 {
		t.Fatalf("%d decoded credentials after a remote delete", len(w.parsed))
	}
}
