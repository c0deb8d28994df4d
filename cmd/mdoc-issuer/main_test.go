package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/app"
	"github.com/mynumber-mdoc/mnc/issuer/pki"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func openApp(t *testing.T, dir string) *app.App {
	t.Helper()
	a, err := app.Open(context.Background(), app.Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestRevokeCertCommand: revoke-cert puts the Document Signer on the IACA
// CRL of the data directory; bad input is refused with a clear error.
func TestRevokeCertCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	a := openApp(t, dir)
	dsPath := filepath.Join(t.TempDir(), "ds.pem")
	os.WriteFile(dsPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.PKI.DS.Raw}), 0o600)
	ds := a.PKI.DS
	a.Close()

	if code, _, errs := runCLI(t, "revoke-cert", "--data-dir", dir, "--ca", "nope", dsPath); code != 2 || !strings.Contains(errs, "ca must be") {
		t.Fatalf("bad --ca: %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, "revoke-cert", "--data-dir", dir, "--ca", "reader-ca", dsPath); code != 1 || !strings.Contains(errs, "not issued") {
		t.Fatalf("wrong CA: %d %s", code, errs)
	}
	// Flags after the argument work as before.
	if code, out, errs := runCLI(t, "revoke-cert", dsPath, "--data-dir", dir, "--ca", "iaca", "--reason-code", "1"); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke-cert: %d %s %s", code, out, errs)
	}
	b := openApp(t, dir)
	defer b.Close()
	l, err := b.PKI.CRL(pki.CRLIACA, time.Now())
	if err != nil || len(l.RevokedCertificateEntries) != 1 || l.RevokedCertificateEntries[0].SerialNumber.Cmp(ds.SerialNumber) != 0 {
		t.Fatalf("CRL after revoke-cert: %+v %v", l, err)
	}
}

// TestServeRefusesTxCodeWithoutSMTP: the tx_code goes by e-mail only, so
// --require-tx-code without --smtp is a configuration error at start,
// found before anything is created.
func TestServeRefusesTxCodeWithoutSMTP(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	code, _, errs := runCLI(t, "serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--require-tx-code")
	if code != 2 || !strings.Contains(errs, "--smtp") {
		t.Fatalf("serve --require-tx-code without --smtp: %d %s", code, errs)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("data directory created by a refused start: %v", err)
	}
}

// TestAdminCommandsNeedAnInitialisedDataDir: administration commands never
// create a PKI; a data directory serve has not set up is an error (exit 1)
// that says how to make one.
func TestAdminCommandsNeedAnInitialisedDataDir(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	pub := filepath.Join(t.TempDir(), "pub.pem")
	os.WriteFile(pub, []byte("not used"), 0o644)
	for _, args := range [][]string{
		{"list-devices"},
		{"reader-cert", "--pubkey", pub, "--cn", "Shop"},
		{"iaca"},
		{"blocks", "--json"},
		{"suspend", "--person", "P-1"},
	} {
		code, out, errs := runCLI(t, append(args, "--data-dir", missing)...)
		if code != 1 || !strings.Contains(out+errs, "not initialised") || !strings.Contains(out+errs, "serve --data-dir") {
			t.Errorf("%v: exit %d %q %q", args, code, out, errs)
		}
		if _, err := os.Stat(missing); !os.IsNotExist(err) {
			t.Fatalf("%v created the data directory", args)
		}
	}
	// With --json the error is JSON on stderr with its code.
	if _, _, errs := runCLI(t, "blocks", "--json", "--data-dir", missing); !strings.Contains(errs, `"code":"data_dir_not_initialised"`) {
		t.Errorf("JSON error: %q", errs)
	}
}

// TestDefaultDataDir: without --data-dir the issuer lives in the user's
// data directory, not in the working directory, and says so at start.
func TestDefaultDataDir(t *testing.T) {
	xdg := t.TempDir()
	t.Setenv("XDG_DATA_HOME", xdg)
	// A refused start still prints where the data would be.
	_, out, _ := runCLI(t, "serve", "--require-tx-code")
	want := filepath.Join(xdg, "mnc", "issuer")
	if !strings.Contains(out, "data directory "+want) {
		t.Fatalf("start-up line %q does not name %s", out, want)
	}
	if code, _, errs := runCLI(t, "list-devices"); code != 1 || !strings.Contains(errs, want) {
		t.Fatalf("list-devices on the default: %d %s", code, errs)
	}
}

func TestUsage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	openApp(t, dir).Close()
	for _, args := range [][]string{
		{},
		{"bogus"},
		{"list-devices", "--bogus"},
		{"list-devices", "extra"},
		{"list-devices", "--limit", "many"},
		{"block-model"},
		{"block-model", "a", "b"},
		{"suspend"},
		{"suspend", "--device", "D", "--person", "P"},
		{"reader-cert", "--cn", "Shop"},
		{"revoke-cert", "x.pem"},
	} {
		code, out, errs := runCLI(t, append(args, "--data-dir", dir)...)
		if code != 2 || out != "" || !strings.Contains(errs, "mdoc-issuer") {
			t.Errorf("%v: exit %d %q %q", args, code, out, errs)
		}
	}
	// A subcommand's help is its own: a summary, an example, its flags,
	// not the list of every command.
	code, out, _ := runCLI(t, "block-model", "--help")
	if code != 0 || !strings.Contains(out, "--suspend-existing") || !strings.Contains(out, "Examples:") || strings.Contains(out, "insurance-import") || strings.Contains(out, "--smtp") {
		t.Errorf("block-model --help: %d %q", code, out)
	}
	if code, out, _ := runCLI(t, "--help"); code != 0 || !strings.Contains(out, "insurance-import") {
		t.Errorf("--help: %d %q", code, out)
	}
}
