package issuer

import (
	"net/http"
	"testing"

	"github.com/mynumber-mdoc/mnc/issuer/keys"
	"github.com/mynumber-mdoc/mnc/issuer/keys/softhsmtest"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

// TestIssuerOnSoftHSM runs the whole issuer with every signing key (IACA,
// Document Signer, status list, reader CA, attestation) in a SoftHSM2
// token: a credential is issued whose MSO verifies against the IACA, its
// status list token verifies, and revocation re-signs the list.
func TestIssuerOnSoftHSM(t *testing.T) {
	km, err := keys.OpenPKCS11(softhsmtest.Token(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { km.Close() })
	e := newEnv(t, envOptions{keys: km})
	if e.pki.KeyKind != keys.KindPKCS11 {
		t.Fatalf("PKI key kind %q, want pkcs11", e.pki.KeyKind)
	}
	w := e.newWallet(e.newCard(taro, testca.IssueOptions{}), "iPhone16,1")
	docs, err := w.fetch(w.enrol().CredentialOffer, "")
	if err != nil {
		t.Fatal(err)
	}
	is := docs[oid4vci.ConfigMNC]
	trust := mdoc.NewTrustStore(mdoc.PurposeDocumentSigner, true, e.pki.IACA)
	if _, err := mdoc.VerifyIssuerAuth(&is.IssuerAuth, mdoc.DocTypeMNC, &mdoc.VerifyOptions{Trust: trust, CurrentTime: e.clock()}); err != nil {
		t.Fatalf("MSO signed on the HSM does not verify: %v", err)
	}
	for _, er := range mdoc.VerifyDigests(is.NameSpaces, &is.IssuerAuth.MSO) {
		if !er.Valid {
			t.Fatalf("digest %s: %v", er.Identifier, er.Err)
		}
	}
	if st := e.status(is); st != mdoc.StatusValid {
		t.Fatalf("status %d", st)
	}
	if _, err := w.revokeWithCard(""); err != nil {
		t.Fatal(err)
	}
	if st := e.status(is); st != mdoc.StatusInvalid {
		t.Fatalf("status after revocation %d", st)
	}
	if st, b := adminDo(t, e, http.MethodGet, "/pki/iaca.crl", "", "", ""); st != http.StatusOK {
		t.Fatalf("CRL signed on the HSM: %d %s", st, b)
	}
	getCRL(t, e, "/pki/iaca.crl", e.pki.IACA)
}
