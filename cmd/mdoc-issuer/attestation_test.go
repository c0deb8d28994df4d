package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestAttestationCheckCLI runs `mdoc-issuer attestation check` on a chain
// recorded from a real Pixel (StrongBox): it holds with the recorded
// challenge (exit 0), not with another (exit 1), and a missing --format or
// file is a usage error (exit 2). No data directory is needed.
func TestAttestationCheckCLI(t *testing.T) {
	chain := filepath.Join("..", "..", "mdoc", "keyattest", "testdata", "android", "pixel-strongbox-km4.pem")
	base := []string{"attestation", "check", "--data-dir", filepath.Join(t.TempDir(), "none"), "--format", "android-key", "--at", "2022-07-10T00:00:00Z"}
	if code, out, errs := runCLI(t, append(base, "--challenge", "7465737461736466", chain)...); code != 0 || !strings.Contains(out, "StrongBox") {
		t.Fatalf("recorded chain: exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs := runCLI(t, append(base, "--challenge", "00", chain)...); code != 1 || !strings.Contains(errs, "refused") {
		t.Fatalf("wrong challenge: exit %d\n%s", code, errs)
	}
	if code, _, _ := runCLI(t, "attestation", "check", chain); code != 2 {
		t.Fatalf("no --format: exit %d", code)
	}
	if code, _, _ := runCLI(t, "attestation", "check", "--format", "android-key"); code != 2 {
		t.Fatalf("no file: exit %d", code)
	}
}
