package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/mynumber-mdoc/mnc/issuer/pki"
	"github.com/mynumber-mdoc/mnc/mdoc/oid4vci"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestFirstRunServeAndReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(context.Background())
	a, err := Open(ctx, Options{DataDir: dir, Listen: "127.0.0.1:0", PublicURL: "http://issuer.test", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if !a.AdminTokenNew || len(a.AdminToken) != 64 {
		t.Fatalf("admin token %q new=%v", a.AdminToken, a.AdminTokenNew)
	}
	if fi, err := os.Stat(a.AdminTokenPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file %v %v", fi, err)
	}
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, func(s string) { addr <- s }) }()
	resp, err := http.Get("http://" + <-addr + oid4vci.WellKnownIssuerPath)
	if err != nil {
		t.Fatal(err)
	}
	var md oid4vci.IssuerMetadata
	json.NewDecoder(resp.Body).Decode(&md)
	resp.Body.Close()
	if md.CredentialIssuer != "http://issuer.test" || md.MNC == nil || md.MNC.DevAttest == "" {
		t.Fatalf("metadata %+v", md)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	iaca := a.PKI.IACA
	a.Close()
	b, err := Open(context.Background(), Options{DataDir: dir, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.AdminTokenNew || b.AdminToken != a.AdminToken || !b.PKI.IACA.Equal(iaca) {
		t.Fatal("second run did not reuse the token and the IACA")
	}
}

func TestProductionRefusesDevelopmentSetup(t *testing.T) {
	_, err := Open(context.Background(), Options{DataDir: t.TempDir(), Production: true, Logger: quiet()})
	if !errors.Is(err, pki.ErrDevKeysInProduction) {
		t.Fatalf("production with file keys: %v", err)
	}
}
