package demo

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServe(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type urls struct{ issuer, verifier string }
	ready := make(chan urls, 1)
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ServeOptions{DataDir: dir, IssuerListen: "127.0.0.1:0", VerifierListen: "127.0.0.1:0", Out: &out,
			Logger: slog.New(slog.DiscardHandler), Ready: func(i, v string) { ready <- urls{i, v} }})
	}()
	var u urls
	select {
	case u = <-ready:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("Serve did not become ready")
	}
	for _, p := range []string{u.issuer + "/.well-known/openid-credential-issuer", u.issuer + "/pki/iaca.pem", u.verifier + "/"} {
		resp, err := http.Get(p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
	for _, f := range []string{"shop.pem", "shop-key.pem", "clinic.pem", "clinic-key.pem", "web.pem"} {
		if _, err := os.Stat(filepath.Join(dir, "verifier", f)); err != nil {
			t.Error(err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	s := out.String()
	for _, want := range []string{u.issuer, u.verifier, "wallet-sim enroll", "--issuer " + u.issuer, "jpki-sim person --dir", u.verifier + "/api/transactions", "mdoc-verifier reader"} {
		if !strings.Contains(s, want) {
			t.Errorf("next steps lack %q:\n%s", want, s)
		}
	}
}

func TestServeRefusesNonLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:0": true, "localhost:8080": true, "[::1]:8080": true, "0.0.0.0:8080": false, ":8080": false, "192.0.2.1:80": false, "nonsense": false} {
		if err := loopbackOnly(addr); (err == nil) != ok {
			t.Errorf("loopbackOnly(%q) = %v", addr, err)
		}
	}
	if err := Serve(context.Background(), ServeOptions{DataDir: t.TempDir(), IssuerListen: "0.0.0.0:0"}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("Serve on 0.0.0.0: %v", err)
	}
}
