package trust_test

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier/trust"
	testpki "github.com/mynumber-mdoc/mnc/verifier/verifiertest"
)

func writePEM(t *testing.T, path string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReloadDirectory(t *testing.T) {
	a, _ := testpki.NewIssuer("a")
	b, _ := testpki.NewIssuer("b")
	dir := t.TempDir()
	writePEM(t, filepath.Join(dir, "a.pem"), a.IACA.Raw)
	os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not a cert"), 0o644)
	iacas, err := trust.NewIACAs([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iacas.VerifyChain([][]byte{a.DS.Raw}, testpki.Now); err != nil {
		t.Fatalf("a: %v", err)
	}
	if _, err := iacas.VerifyChain([][]byte{b.DS.Raw}, testpki.Now); err == nil {
		t.Fatal("b trusted before it was added")
	}
	if changed, err := iacas.Reload(); changed || err != nil {
		t.Fatalf("reload without change: %v %v", changed, err)
	}
	// Add b: picked up without restart.
	writePEM(t, filepath.Join(dir, "b.crt"), b.IACA.Raw)
	if changed, err := iacas.Reload(); !changed || err != nil {
		t.Fatalf("reload: %v %v", changed, err)
	}
	if _, err := iacas.VerifyChain([][]byte{b.DS.Raw}, testpki.Now); err != nil {
		t.Fatalf("b after reload: %v", err)
	}
	// A broken file keeps the previous roots.
	os.WriteFile(filepath.Join(dir, "broken.pem"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o644)
	if _, err := iacas.Reload(); err == nil {
		t.Fatal("broken file accepted")
	}
	if len(iacas.Roots()) != 2 {
		t.Fatalf("roots after failed reload: %d", len(iacas.Roots()))
	}
	if _, err := iacas.VerifyChain([][]byte{a.DS.Raw}, testpki.Now); err != nil {
		t.Fatalf("a after failed reload: %v", err)
	}
	// Removing a file removes the root.
	os.Remove(filepath.Join(dir, "broken.pem"))
	os.Remove(filepath.Join(dir, "a.pem"))
	time.Sleep(10 * time.Millisecond)
	if _, err := iacas.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := iacas.VerifyChain([][]byte{a.DS.Raw}, testpki.Now); err == nil {
		t.Fatal("a still trusted after removal")
	}
}

func TestDERFileAndStatusTrust(t *testing.T) {
	a, _ := testpki.NewIssuer("a")
	p := filepath.Join(t.TempDir(), "iaca.der")
	os.WriteFile(p, a.IACA.Raw, 0o644)
	iacas, err := trust.NewIACAs([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iacas.StatusListTrust().VerifyChain([][]byte{a.StatusSigner.Raw}, testpki.Now); err != nil {
		t.Fatalf("status signer: %v", err)
	}
	if _, err := trust.NewIACAs([]string{filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Fatal("missing path accepted")
	}
}

func TestReaderCredentials(t *testing.T) {
	r, err := testpki.NewReader(mdoc.ReaderRoles{MedicalInstitution: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trust.NewReaderCredentials([]*x509Cert{r.Cert, r.CA}, r.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := trust.NewReaderCredentials([]*x509Cert{r.Cert}, r.CAKey); err == nil {
		t.Fatal("mismatched key accepted")
	}
	if _, err := trust.NewReaderCredentials([]*x509Cert{r.CA}, r.CAKey); err == nil {
		t.Fatal("CA certificate accepted as reader certificate")
	}
}

func TestParseReaderEphemeralKey(t *testing.T) {
	k, err := trust.ParseReaderEphemeralKey([]byte("de3b4b9e5f72dd9b58406ae3091434da48a6f9fd010d88fcb0958e2cebec947c\n"))
	if err != nil || k == nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "abcd", "zz"} {
		if _, err := trust.ParseReaderEphemeralKey([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
