package online_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier/online"
	testpki "github.com/mynumber-mdoc/mnc/verifier/verifiertest"
)

func TestDevelopmentDefaults(t *testing.T) {
	dir := t.TempDir()
	iaca := filepath.Join(dir, "issuer", "pki", "iaca.pem")
	o := online.DevOptions{Dir: filepath.Join(dir, "verifier"), IssuerIACA: iaca, Wait: -1}
	if _, err := online.Development(context.Background(), o); err == nil {
		t.Fatal("no issuer IACA and no wait: want an error naming --trust")
	}
	// The issuer comes up while the verifier waits.
	is, _ := testpki.NewIssuer("dev")
	go func() {
		time.Sleep(300 * time.Millisecond)
		os.MkdirAll(filepath.Dir(iaca), 0o755)
		os.WriteFile(iaca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.IACA.Raw}), 0o644)
	}()
	o.Wait = 10 * time.Second
	waited := false
	o.Waiting = func(string) { waited = true }
	d, err := online.Development(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Created || !waited || d.Credentials == nil || d.IssuerIACA != iaca {
		t.Fatalf("setup %+v waited=%v", d, waited)
	}
	if err := mdoc.CheckReaderProfile(d.Credentials.Certificate); err != nil {
		t.Fatalf("reader profile: %v", err)
	}
	if fi, err := os.Stat(d.ReaderKey); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("reader key file: %v %v", fi, err)
	}
	// Second start: the same reader certificate, nothing recreated.
	d2, err := online.Development(context.Background(), o)
	if err != nil || d2.Created || !bytes.Equal(d2.Credentials.Certificate.Raw, d.Credentials.Certificate.Raw) {
		t.Fatalf("second start: %+v %v", d2, err)
	}
}
