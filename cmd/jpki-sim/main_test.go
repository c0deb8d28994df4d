package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/applet"
	"github.com/mynumber-mdoc/mnc/jpki/card"
	"github.com/spf13/pflag"
)

// sim runs the CLI and returns its exit code and output.
func sim(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func mustSim(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := sim(t, args...)
	if code != exitOK {
		t.Fatalf("jpki-sim %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// verifyWithLibrary is the relying party of the "done when": read
// the card through the card client over the applet transport, sign a
// nonce, verify with chain and CRL.
func verifyWithLibrary(t *testing.T, cardPath, pin, caDir string) (*jpki.AuthResult, error) {
	t.Helper()
	a, err := applet.Open(cardPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := card.New(card.InMemory(a))
	if err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	if tok, err := c.ReadToken(ctx); err != nil || (tok != jpki.TokenCard && tok != jpki.TokenGPSE) {
		t.Fatalf("token %q %v", tok, err)
	}
	if err := c.VerifyAuthPIN(ctx, pin); err != nil {
		t.Fatal(err)
	}
	certDER, err := c.ReadAuthCertificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nonce, err := jpki.NewNonce(nil)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := c.SignChallenge(ctx, nonce)
	if err != nil {
		t.Fatal(err)
	}
	roots := &jpki.Roots{}
	if err := roots.AppendPEM(readFile(t, filepath.Join(caDir, "roots.pem"))); err != nil {
		t.Fatal(err)
	}
	v := &jpki.Verifier{Roots: roots, Mode: jpki.ModeTest, Revocation: &jpki.CRLChecker{Source: jpki.CRLDir(filepath.Join(caDir, "crl"))}}
	return v.VerifyAuth(ctx, nonce, certDER, sig, jpki.VerifyOptions{})
}

func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	cardPath := filepath.Join(dir, "card.json")
	mustSim(t, "init", "--dir", ca)
	out := mustSim(t, "person", "--dir", ca, "--name", "山田\u3000太郎", "--birth", "1990-04-01", "--sex", "1",
		"--address", "東京都千代田区千代田1-1", "--out", cardPath, "--sign-password", "ABC123", "--auth-pin", "1234")
	if !strings.Contains(out, "era heisei") {
		t.Errorf("person output %q", out)
	}
	mustSim(t, "crl", "--dir", ca)

	res, err := verifyWithLibrary(t, cardPath, "1234", ca)
	if err != nil {
		t.Fatalf("fresh card: %v", err)
	}
	if res.ID == "" || res.Revocation == nil {
		t.Errorf("result %+v", res)
	}
	out = mustSim(t, "auth", "--card", cardPath, "--pin", "1234", "--roots", filepath.Join(ca, "roots.pem"), "--crl-dir", filepath.Join(ca, "crl"), "--test-roots")
	if !strings.Contains(out, "authenticated: id "+res.ID) {
		t.Errorf("auth output %q", out)
	}
	// Production mode refuses the JPKI-TEST root with a clear reason.
	code, _, errOut := sim(t, "auth", "--card", cardPath, "--pin", "1234", "--roots", filepath.Join(ca, "roots.pem"), "--crl-dir", filepath.Join(ca, "crl"))
	if code != exitFail || !strings.Contains(errOut, "test_root_in_production") {
		t.Errorf("production mode: exit %d %q", code, errOut)
	}

	// Find the auth certificate's serial in the listing and revoke it.
	serial := ""
	for _, line := range strings.Split(mustSim(t, "list", "--dir", ca), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == "auth" {
			serial = f[0]
		}
	}
	if serial == "" {
		t.Fatal("no auth certificate listed")
	}
	mustSim(t, "revoke", "--dir", ca, "--serial", serial, "--reason", "keyCompromise")
	// Until a new CRL is published, verifiers cannot know.
	if _, err := verifyWithLibrary(t, cardPath, "1234", ca); err != nil {
		t.Fatalf("before the new CRL: %v", err)
	}
	mustSim(t, "crl", "--dir", ca)
	_, err = verifyWithLibrary(t, cardPath, "1234", ca)
	if !errors.Is(err, jpki.ErrRevoked) {
		t.Fatalf("after revoke + crl: %v, want revoked", err)
	}
	if rev, ok := jpki.RevokedDetail(err); !ok || rev.Reason != jpki.ReasonKeyCompromise {
		t.Errorf("revocation detail %+v", rev)
	}
	code, _, errOut = sim(t, "auth", "--card", cardPath, "--pin", "1234", "--roots", filepath.Join(ca, "roots.pem"), "--crl-dir", filepath.Join(ca, "crl"), "--test-roots")
	if code != exitFail || !strings.Contains(errOut, "refused (revoked)") {
		t.Errorf("CLI after revoke: exit %d %q", code, errOut)
	}
}

func TestPhoneAndLinkedRevocation(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	cardPath := filepath.Join(dir, "card.json")
	phonePath := filepath.Join(dir, "phone.json")
	mustSim(t, "init", "--dir", ca)
	mustSim(t, "person", "--dir", ca, "--name", "佐藤\u3000花子", "--birth", "1926-12-25", "--sex", "2",
		"--address", "大阪府", "--out", cardPath, "--sign-password", "ABC123", "--auth-pin", "1234", "--municipality", "Kita-ku")
	mustSim(t, "phone", "--dir", ca, "--card", cardPath, "--card-password", "ABC123", "--out", phonePath,
		"--sign-password", "PHONE12", "--auth-pin", "5678")
	mustSim(t, "crl", "--dir", ca)
	res, err := verifyWithLibrary(t, phonePath, "5678", ca)
	if err != nil {
		t.Fatal(err)
	}
	if res.Form != jpki.FormSmartphone {
		t.Errorf("form %s", res.Form)
	}
	show := mustSim(t, "show", phonePath)
	if !strings.Contains(show, "token JPKIAPGPSETOKEN") || !strings.Contains(show, "昭和元年12月25日") || !strings.Contains(show, "smartphone signature") {
		t.Errorf("show output:\n%s", show)
	}
	// Revoking the card's signature certificate (serial 1001) revokes the phone too.
	out := mustSim(t, "revoke", "--dir", ca, "--serial", "1001", "--reason", "affiliationChanged")
	if strings.Count(out, "revoked serial") != 3 {
		t.Errorf("linked revocation output %q", out)
	}
	mustSim(t, "crl", "--dir", ca)
	if _, err := verifyWithLibrary(t, phonePath, "5678", ca); !errors.Is(err, jpki.ErrRevoked) {
		t.Fatalf("phone after card revocation: %v", err)
	}
}

func TestEraFlag(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	mustSim(t, "init", "--dir", ca)
	base := []string{"person", "--dir", ca, "--name", "田中\u3000一", "--sex", "3", "--address", "東京都", "--sign-password", "ABC123", "--auth-pin", "1234"}
	tests := []struct {
		birth, era string
		code       int
		want       string
	}{
		{"1912-07-30", "auto", exitOK, "era taisho"},
		{"1912-07-30", "meiji", exitOK, "era meiji"}, // first day of Taisho, written as Meiji
		{"1950-01-01", "unknown", exitOK, "era unknown"},
		{"1950-00-00", "auto", exitOK, "era unknown"},
		{"1990-04-01", "showa", exitUsage, ""},
		{"1990-02-30", "auto", exitUsage, ""},
		{"1990/04/01", "auto", exitUsage, ""},
		{"1990-04-01", "edo", exitUsage, ""},
	}
	for i, tt := range tests {
		args := append(append([]string(nil), base...), "--birth", tt.birth, "--era", tt.era, "--out", filepath.Join(dir, "c"+string(rune('a'+i))+".json"))
		code, out, errOut := sim(t, args...)
		if code != tt.code || !strings.Contains(out, tt.want) {
			t.Errorf("--birth %s --era %s: exit %d, out %q, err %q", tt.birth, tt.era, code, out, errOut)
		}
	}
}

func TestUsage(t *testing.T) {
	code, out, _ := sim(t, "--help")
	if code != exitOK {
		t.Errorf("--help exit %d", code)
	}
	// Every command is listed, and every command's own help documents
	// each of its flags, with a summary and an example.
	for _, c := range newRootCmd().Commands() {
		if !strings.Contains(out, "\n  "+c.Name()) {
			t.Errorf("--help lacks command %s", c.Name())
		}
		code, help, _ := sim(t, c.Name(), "--help")
		if code != exitOK || !strings.Contains(help, "Examples:") || !strings.Contains(out, c.Short) || c.Long == "" {
			t.Errorf("%s --help: exit %d %q", c.Name(), code, help)
		}
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if !strings.Contains(help, "--"+f.Name) {
				t.Errorf("%s --help lacks --%s", c.Name(), f.Name)
			}
		})
	}
	for _, args := range [][]string{{}, {"nope"}, {"init"}, {"person", "--dir", t.TempDir()}, {"revoke", "--dir", "x", "--serial", "abc"}, {"init", "--bogus"}, {"show"}, {"show", "a", "b"}, {"init", "--dir", "x", "--now", "yesterday"}} {
		if code, _, _ := sim(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, _, errOut := sim(t, "list", "--dir", filepath.Join(t.TempDir(), "none")); code != exitFail || !strings.Contains(errOut, "init") {
		t.Errorf("missing CA: exit %d %q", code, errOut)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
