package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier/online"
	vt "github.com/mynumber-mdoc/mnc/verifier/verifiertest"
)

func TestBuildServer(t *testing.T) {
	dir := t.TempDir()
	is, _ := vt.NewIssuer("srv")
	rd, _ := vt.NewReader(mdoc.ReaderRoles{}, "")
	w := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
		return p
	}
	keyDER, _ := x509.MarshalECPrivateKey(rd.Key)
	iaca, cert, key := w("iaca.pem", "CERTIFICATE", is.IACA.Raw), w("reader.pem", "CERTIFICATE", rd.Cert.Raw), w("reader.key", "EC PRIVATE KEY", keyDER)
	tf := trustFlags{trust: listFlag{iaca}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, ln, _, err := buildServer(&tf, "127.0.0.1:0", "", cert, key, "x509_hash", 0, nil, "", false, log)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/api/transactions", "application/json", strings.NewReader(`{"protocol":"openid4vp","purpose":"age","ageOver":20}`))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %v %v", err, resp.Status)
	}
	// Misconfigurations are usage errors.
	for _, c := range []struct{ cert, key, prefix string }{{cert, iaca, "x509_hash"}, {cert, key, "redirect_uri"}, {cert, key, "x509_san_dns"}, {"", key, "x509_hash"}} {
		if _, ln, _, err := buildServer(&tf, "127.0.0.1:0", "", c.cert, c.key, c.prefix, 0, nil, "", false, log); err == nil {
			ln.Close()
			t.Errorf("%v accepted", c)
		}
	}
	if _, _, _, err := buildServer(&tf, "127.0.0.1:0", "", cert, key, "x509_hash", 0, []string{iaca}, "", false, log); err == nil {
		t.Error("JPKI roots without CRL dir accepted")
	}
}

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeDevelopmentDefaults: without trust and reader flags, serve
// starts on the development defaults beside the issuer's data directory
// and says where everything is. (--addr is only set so that the test does
// not take the real port 127.0.0.1:8081.)
func TestServeDevelopmentDefaults(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	is, _ := vt.NewIssuer("dev")
	os.MkdirAll(filepath.Join("mnc-issuer-data", "pki"), 0o755)
	os.WriteFile(filepath.Join("mnc-issuer-data", "pki", "iaca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.IACA.Raw}), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errs syncBuffer
	done := make(chan int)
	go func() { done <- runServe(ctx, []string{"--addr", "127.0.0.1:0"}, nil, &out, &errs) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "serving on") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != exitValid {
		t.Fatalf("exit %d: %s %s", code, out.String(), errs.String())
	}
	for _, want := range []string{"development defaults", filepath.Join(dir, "mnc-issuer-data", "pki", "iaca.pem"), filepath.Join(dir, "mnc-verifier-data", "reader.pem"), "made now", "reader CA"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "mnc-verifier-data", "reader-key.pem")); err != nil {
		t.Fatal(err)
	}
	if online.DefaultListen != "127.0.0.1:8081" {
		t.Fatalf("default listen %s: the issuer has 8080, the verifier 8081", online.DefaultListen)
	}
}
