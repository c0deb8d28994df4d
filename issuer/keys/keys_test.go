package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func checkSigner(t *testing.T, s crypto.Signer) {
	t.Helper()
	d := sha256.Sum256([]byte("hello"))
	sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(s.Public().(*ecdsa.PublicKey), d[:], sig) {
		t.Fatal("signature does not verify")
	}
}

func testManager(t *testing.T, m Manager) {
	ctx := context.Background()
	if _, err := m.Signer(ctx, "ds", false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	a, err := m.Signer(ctx, "ds", true)
	if err != nil {
		t.Fatal(err)
	}
	checkSigner(t, a)
	b, err := m.Signer(ctx, "ds", false)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Public().(*ecdsa.PublicKey).Equal(b.Public()) {
		t.Fatal("second lookup returned another key")
	}
	c, _ := m.Signer(ctx, "iaca", true)
	if a.Public().(*ecdsa.PublicKey).Equal(c.Public()) {
		t.Fatal("two names share a key")
	}
	if _, err := m.Signer(ctx, "../etc/passwd", true); err == nil {
		t.Fatal("path traversal accepted")
	}
}

func TestFileManager(t *testing.T) {
	dir := t.TempDir()
	m, err := NewFileManager(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	testManager(t, m)
	fi, err := os.Stat(filepath.Join(dir, "keys", "ds.pem"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v %v", fi.Mode(), err)
	}
}

// SoftHSMToken makes a SoftHSM2 token in a temporary directory and returns
// its configuration; it skips the test when SoftHSM2 is not installed
// (fails in CI, which installs it).
func SoftHSMToken(t *testing.T) PKCS11Config {
	t.Helper()
	const module = "/usr/lib/softhsm/libsofthsm2.so"
	util, err := exec.LookPath("softhsm2-util")
	if _, serr := os.Stat(module); err != nil || serr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("SoftHSM2 missing in CI (%v, %v); .ci/run installs softhsm2", err, serr)
		}
		t.Skip("SKIPPING PKCS#11: softhsm2 is not installed (apt-get install softhsm2)")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	os.MkdirAll(filepath.Join(dir, "tokens"), 0o700)
	os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600)
	t.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", "mnc-test", "--pin", "1234", "--so-pin", "5678").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util: %v: %s", err, out)
	}
	return PKCS11Config{Module: module, TokenLabel: "mnc-test", PIN: "1234"}
}

func TestPKCS11Manager(t *testing.T) {
	cfg := SoftHSMToken(t)
	m, err := OpenPKCS11(cfg)
	if err != nil {
		t.Fatal(err)
	}
	testManager(t, m)
	m.Close()
	// Keys persist in the token across sessions.
	m, err = OpenPKCS11(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Signer(context.Background(), "ds", false); err != nil {
		t.Fatalf("key gone after reopen: %v", err)
	}
	bad := cfg
	bad.PIN = "0000"
	if _, err := OpenPKCS11(bad); err == nil {
		t.Fatal("wrong PIN accepted")
	}
}
