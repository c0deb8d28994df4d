package main

import (
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
	"github.com/mynumber-mdoc/mnc/issuer/devpki"
)

// TestRevokeCertCommand: revoke-cert puts the Document Signer on the IACA
// CRL of the data directory; bad input is refused with a clear error.
func TestRevokeCertCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	a, err := app.Open(context.Background(), app.Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	dsPath := filepath.Join(t.TempDir(), "ds.pem")
	os.WriteFile(dsPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.PKI.DS.Raw}), 0o600)
	ds := a.PKI.DS
	a.Close()

	if err := run("revoke-cert", []string{"--data-dir", dir, "--ca", "nope", dsPath}); err == nil || !strings.Contains(err.Error(), "ca must be") {
		t.Fatalf("bad --ca: %v", err)
	}
	if err := run("revoke-cert", []string{"--data-dir", dir, "--ca", "reader-ca", dsPath}); err == nil || !strings.Contains(err.Error(), "not issued") {
		t.Fatalf("wrong CA: %v", err)
	}
	if err := run("revoke-cert", []string{"--data-dir", dir, "--ca", "iaca", "--reason-code", "1", dsPath}); err != nil {
		t.Fatal(err)
	}
	b, err := app.Open(context.Background(), app.Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	l, err := b.PKI.CRL(devpki.CRLIACA, time.Now())
	if err != nil || len(l.RevokedCertificateEntries) != 1 || l.RevokedCertificateEntries[0].SerialNumber.Cmp(ds.SerialNumber) != 0 {
		t.Fatalf("CRL after revoke-cert: %+v %v", l, err)
	}
}

// TestServeRefusesTxCodeWithoutSMTP: the tx_code goes by e-mail only, so
// --require-tx-code without --smtp is a configuration error at start.
func TestServeRefusesTxCodeWithoutSMTP(t *testing.T) {
	err := run("serve", []string{"--data-dir", filepath.Join(t.TempDir(), "data"), "--listen", "127.0.0.1:0", "--require-tx-code"})
	if err == nil || !strings.Contains(err.Error(), "--smtp") {
		t.Fatalf("serve --require-tx-code without --smtp: %v", err)
	}
}
