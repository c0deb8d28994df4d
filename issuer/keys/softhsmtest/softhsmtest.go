// Package softhsmtest makes throw-away SoftHSM2 tokens for tests that run
// the issuer's keys behind PKCS#11.
package softhsmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mynumber-mdoc/mnc/issuer/keys"
)

// Module is Debian's SoftHSM2 PKCS#11 module.
const Module = "/usr/lib/softhsm/libsofthsm2.so"

// Token initialises a fresh SoftHSM2 token in a temporary directory
// (SOFTHSM2_CONF is set for the test) and returns its configuration. When
// SoftHSM2 is missing the test fails under CI (which installs it) and is
// skipped loudly otherwise.
func Token(t testing.TB) keys.PKCS11Config {
	t.Helper()
	util, err := exec.LookPath("softhsm2-util")
	if _, serr := os.Stat(Module); err != nil || serr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("SoftHSM2 missing in CI (%v, %v); .ci/run installs softhsm2", err, serr)
		}
		t.Skip("SKIPPING PKCS#11: softhsm2 is not installed (apt-get install softhsm2)")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.MkdirAll(filepath.Join(dir, "tokens"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", "mnc-test", "--pin", "1234", "--so-pin", "5678").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util: %v: %s", err, out)
	}
	return keys.PKCS11Config{Module: Module, TokenLabel: "mnc-test", PIN: "1234"}
}
