package online_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/verifier/online"
)

func TestWaitForIssuerIACA(t *testing.T) {
	iaca := filepath.Join(t.TempDir(), "issuer", "pki", "iaca.pem")
	if err := online.WaitForIssuerIACA(context.Background(), iaca, online.IssuerIACAOptions{Wait: -1}); err == nil {
		t.Fatal("no issuer IACA and no wait: want an error naming --trust")
	}
	// The issuer comes up while the verifier waits.
	go func() {
		time.Sleep(300 * time.Millisecond)
		os.MkdirAll(filepath.Dir(iaca), 0o755)
		os.WriteFile(iaca, []byte("-----BEGIN CERTIFICATE-----\n"), 0o644)
	}()
	waited := false
	if err := online.WaitForIssuerIACA(context.Background(), iaca, online.IssuerIACAOptions{Wait: 10 * time.Second, Waiting: func(string) { waited = true }}); err != nil || !waited {
		t.Fatalf("wait: %v (waited %v)", err, waited)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := online.WaitForIssuerIACA(ctx, filepath.Join(t.TempDir(), "never.pem"), online.IssuerIACAOptions{}); err == nil {
		t.Fatal("cancelled wait returned nil")
	}
}
