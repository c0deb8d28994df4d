package trust

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDevReaderCredentials(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "verifier")
	rc, paths, created, err := DevReaderCredentials(dir)
	if err != nil || !created {
		t.Fatalf("first run: created=%v %v", created, err)
	}
	if fi, err := os.Stat(paths.Key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	// The reader certificate chains to the CA file a wallet would trust.
	b, _ := os.ReadFile(paths.CA)
	cas, err := ParseCertificates(b)
	if err != nil || len(cas) != 1 {
		t.Fatalf("CA file: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cas[0])
	if _, err := rc.Certificate.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("reader certificate does not chain to %s: %v", paths.CA, err)
	}
	// The second run loads the same identity instead of making a new one.
	rc2, _, created, err := DevReaderCredentials(dir)
	if err != nil || created || !rc2.Certificate.Equal(rc.Certificate) {
		t.Fatalf("second run: created=%v %v", created, err)
	}
	// A damaged pair is reported, never replaced.
	os.WriteFile(paths.Cert, []byte("junk"), 0o644)
	if _, _, _, err := DevReaderCredentials(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("damaged certificate: %v", err)
	}
	if b, _ := os.ReadFile(paths.Cert); string(b) != "junk" {
		t.Fatal("damaged certificate was overwritten")
	}
}
